// Queries: search, recall, spread, complete, consolidate, and
// the v1 additions: batch search and batch recall (many queries in one request), and embeddings
// as base64 float32 or an application/octet-stream body (embedding_input.hpp).
#include <charconv>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_set>
#include <vector>

#include "api_error.hpp"
#include "context.hpp"
#include "embedding_input.hpp"
#include "engram/completion.hpp"
#include "engram/consolidation.hpp"
#include "engram/errors.hpp"
#include "engram/recall.hpp"
#include "engram/space.hpp"
#include "engram/spread.hpp"
#include "json_writer.hpp"
#include "rollout.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

// JSON Schemas as API v1 documented them (tests/server/recorded/openapi-starlette.json); the
// embedding fields also document the base64 form (a v1 addition).
std::string search_schema() {
  return R"({"additionalProperties": false, "properties": {"embedding": )" + embedding_schema_json("Embedding") +
         R"(, "k": {"default": 10, "maximum": {{max_k}}, "minimum": 1, "title": "K", "type": "integer"}, "ef": {"anyOf": [{"maximum": 100000, "minimum": 1, "type": "integer"}, {"type": "null"}], "default": null, "title": "Ef"}}, "required": ["embedding"], "title": "Search", "type": "object"})";
}

std::string recall_schema() {
  return R"({"additionalProperties": false, "properties": {"cue": )" + embedding_schema_json("Cue") +
         R"(, "k": {"default": 10, "maximum": {{max_k}}, "minimum": 1, "title": "K", "type": "integer"}, "mode": {"default": "blended", "enum": ["blended", "episodic", "semantic"], "title": "Mode", "type": "string"}, "semantic_weight": {"default": 0.3, "maximum": 1.0, "minimum": 0.0, "title": "Semantic Weight", "type": "number"}, "threshold": {"default": 0.0, "maximum": 1.0, "minimum": -1.0, "title": "Threshold", "type": "number"}, "now": {"anyOf": [{"type": "number"}, {"type": "null"}], "default": null, "title": "Now"}, "decay": {"anyOf": [{"enum": ["two_component", "exponential", "power_law", "hybrid"], "type": "string"}, {"type": "null"}], "default": "two_component", "title": "Decay"}, "include_concepts": {"default": true, "title": "Include Concepts", "type": "boolean"}, "spreading": {"default": true, "title": "Spreading", "type": "boolean"}, "spread_hops": {"default": 2, "maximum": 8, "minimum": 0, "title": "Spread Hops", "type": "integer"}}, "required": ["cue"], "title": "Recall", "type": "object"})";
}

constexpr const char* kSpreadSchema =
    R"({"additionalProperties": false, "properties": {"seeds": {"anyOf": [{"items": {"format": "int64", "maximum": 9223372036854775807, "minimum": -9223372036854775808, "type": "integer"}, "minItems": 1, "type": "array"}, {"additionalProperties": {"exclusiveMinimum": 0.0, "maximum": 1.0, "type": "number"}, "minProperties": 1, "propertyNames": {"pattern": "^-?(?:[0-9]{1,18}|[0-8][0-9]{18}|9(?:[0-1][0-9]{17}|2(?:[0-1][0-9]{16}|2(?:[0-2][0-9]{15}|3(?:[0-2][0-9]{14}|3(?:[0-6][0-9]{13}|7(?:[0-1][0-9]{12}|2(?:0(?:[0-2][0-9]{10}|3(?:[0-5][0-9]{9}|6(?:[0-7][0-9]{8}|8(?:[0-4][0-9]{7}|5(?:[0-3][0-9]{6}|4(?:[0-6][0-9]{5}|7(?:[0-6][0-9]{4}|7(?:[0-4][0-9]{3}|5(?:[0-7][0-9]{2}|8(?:0(?:[0-6]|7)))))))))))))))))))$"}, "type": "object"}], "description": "memory ids (activation 1.0 each) or an object id -> activation in (0, 1]", "title": "Seeds"}, "max_hops": {"default": 3, "maximum": 16, "minimum": 0, "title": "Max Hops", "type": "integer"}, "decay": {"default": "exponential", "enum": ["exponential", "power_law", "linear"], "title": "Decay", "type": "string"}, "decay_rate": {"anyOf": [{"maximum": 100.0, "minimum": 0.0, "type": "number"}, {"type": "null"}], "default": null, "title": "Decay Rate"}, "threshold": {"default": 0.1, "maximum": 1.0, "minimum": 0.0, "title": "Threshold", "type": "number"}, "fan_effect": {"default": true, "title": "Fan Effect", "type": "boolean"}, "max_results": {"anyOf": [{"maximum": {{max_k}}, "minimum": 1, "type": "integer"}, {"type": "null"}], "default": null, "title": "Max Results"}, "direction_weights": {"anyOf": [{"additionalProperties": {"maximum": 1.0, "minimum": 0.0, "type": "number"}, "propertyNames": {"enum": ["upward", "downward", "lateral", "episodic"]}, "type": "object"}, {"type": "null"}], "default": null, "description": "per-direction weights overriding upward 0.8, downward 0.6, lateral 0.4, episodic 0.3", "title": "Direction Weights"}}, "required": ["seeds"], "title": "Spread", "type": "object"})";

constexpr const char* kCompleteSchema =
    R"({"additionalProperties": false, "properties": {"partial": {"description": "null marks an unknown dimension", "items": {"anyOf": [{"maximum": 3.4028234663852886e+38, "minimum": -3.4028234663852886e+38, "type": "number"}, {"type": "null"}]}, "maxItems": 65536, "minItems": 1, "title": "Partial", "type": "array"}, "neighbors": {"default": 8, "maximum": 256, "minimum": 1, "title": "Neighbors", "type": "integer"}, "hypotheses": {"default": 3, "maximum": 32, "minimum": 1, "title": "Hypotheses", "type": "integer"}, "ca1_threshold": {"default": 0.7, "maximum": 1.0, "minimum": 0.0, "title": "Ca1 Threshold", "type": "number"}}, "required": ["partial"], "title": "Complete", "type": "object"})";

constexpr const char* kConsolidateSchema =
    R"({"additionalProperties": false, "properties": {"similarity_threshold": {"anyOf": [{"maximum": 1.0, "minimum": 0.0, "type": "number"}, {"type": "null"}], "default": null, "title": "Similarity Threshold"}, "coherence_threshold": {"anyOf": [{"maximum": 1.0, "minimum": 0.0, "type": "number"}, {"type": "null"}], "default": null, "title": "Coherence Threshold"}, "min_cluster_size": {"anyOf": [{"maximum": 2048, "minimum": 2, "type": "integer"}, {"type": "null"}], "default": null, "title": "Min Cluster Size"}, "max_concepts_per_run": {"anyOf": [{"maximum": 100000, "minimum": 0, "type": "integer"}, {"type": "null"}], "default": null, "title": "Max Concepts Per Run"}}, "title": "Consolidate", "type": "object"})";

static_assert(kMaxMinClusterSize == 2048, "kConsolidateSchema states min_cluster_size's maximum");

std::string batch_schema(std::string_view title, std::string_view item) {
  return R"({"additionalProperties": false, "properties": {"queries": {"description": "one query per item, answered in order; at most the server's max_batch", "items": {"$ref": "#/components/schemas/)" +
         std::string(item) +
         R"("}, "maxItems": {{max_batch}}, "minItems": 1, "title": "Queries", "type": "array"}}, "required": ["queries"], "title": ")" +
         std::string(title) + R"(", "type": "object"})";
}

constexpr const char* kOctetSearch =
    R"J({"contentEncoding": "binary", "description": "the query embedding as raw little-endian float32 values (4 bytes each); k and ef come from the query string (?k=10&ef=64)", "type": "string"})J";

void check_dim(const Space& sp, const std::vector<float>& v, std::string_view what) {
  if (v.size() != sp.dim()) {
    throw DimensionError(std::string(what) + " has " + std::to_string(v.size()) + " dimensions; space '" + sp.name() +
                         "' expects " + std::to_string(sp.dim()));
  }
}

void batch_limit(const RequestContext& ctx, std::size_t n, std::string_view what) {
  if (static_cast<std::int64_t>(n) > ctx.state.config.max_batch) {
    throw ApiError(413, "batch_too_large",
                   "batch of " + std::to_string(n) + " " + std::string(what) + " exceeds the limit of " +
                       std::to_string(ctx.state.config.max_batch) + "; split it");
  }
}

// Runs one item of a batch; an engine error names the item ("queries[3]: ...").
template <class F>
auto item_call(std::size_t i, F&& f) {
  try {
    return f();
  } catch (const ApiError&) {
    throw;
  } catch (const std::exception& e) {
    auto err = from_exception(e);
    if (!err) throw;
    throw ApiError(err->status, err->code, "queries[" + std::to_string(i) + "]: " + err->what(), err->retry_after_s);
  }
}

// ------------------------------------------------------------------------------------ search
struct SearchQuery {
  std::vector<float> embedding;
  std::size_t k = 10;
  std::optional<std::size_t> ef;
};

SearchQuery read_search(RequestContext& ctx, ObjectReader o) {
  SearchQuery q;
  q.embedding = read_embedding(o.required("embedding"));
  q.k = static_cast<std::size_t>(ctx.check_k(o.opt_int("k", 1, INT64_MAX).value_or(10)));
  if (auto ef = o.opt_int("ef", 1, 100000)) q.ef = static_cast<std::size_t>(*ef);
  o.finish();
  return q;
}

// One query-string integer (octet-stream requests): ASCII digits only, in range.
std::optional<std::int64_t> query_int(const RequestContext& ctx, std::string_view name, std::int64_t lo,
                                      std::int64_t hi) {
  std::string_view q = ctx.query;
  std::optional<std::int64_t> out;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    if (key != "k" && key != "ef") {
      throw ApiError(400, "invalid_input",
                     "unknown query parameter '" + std::string(key.substr(0, 40)) + "'; expected k and ef");
    }
    if (key != name) continue;
    const std::string_view val = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::int64_t v = 0;
    bool ok = !val.empty() && val.size() <= 19;
    for (char c : val) ok = ok && c >= '0' && c <= '9';
    if (ok) ok = std::from_chars(val.data(), val.data() + val.size(), v).ec == std::errc{};
    if (!ok || v < lo || v > hi) {
      throw ApiError(400, "invalid_input",
                     "query parameter " + std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
                         std::to_string(hi) + "], got '" + std::string(val.substr(0, 40)) + "'");
    }
    out = v;
  }
  return out;
}

void write_hits(JsonWriter& w, const std::vector<SearchHit>& hits) {
  w.begin_array();
  for (const auto& h : hits) w.begin_object().field_id("id", h.id).field("score", h.similarity).end_object();
  w.end_array();
}

Response search(RequestContext& ctx) {
  SearchQuery q;
  if (is_octet_stream(ctx)) {
    q.embedding = decode_f32le(ctx.body, "embedding (application/octet-stream body)");
    q.k = static_cast<std::size_t>(ctx.check_k(query_int(ctx, "k", 1, INT64_MAX).value_or(10)));
    if (auto ef = query_int(ctx, "ef", 1, 100000)) q.ef = static_cast<std::size_t>(*ef);
  } else {
    q = read_search(ctx, ctx.json());
  }
  auto sp = ctx.engine().space(*ctx.space);
  check_dim(*sp, q.embedding, "embedding");
  const auto hits = sp->search(q.embedding, q.k, q.ef);
  JsonWriter w = ctx.writer();
  w.begin_object().key("results");
  write_hits(w, hits);
  w.end_object();
  return Response::json(w.take());
}

Response search_batch(RequestContext& ctx) {
  auto o = ctx.json();
  const auto items = o.required("queries").as_array(1);
  o.finish();
  batch_limit(ctx, items.size(), "queries");
  std::vector<SearchQuery> qs;
  qs.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) qs.push_back(read_search(ctx, items.at(i).as_object()));
  auto sp = ctx.engine().space(*ctx.space);
  for (std::size_t i = 0; i < qs.size(); ++i)
    check_dim(*sp, qs[i].embedding, "queries[" + std::to_string(i) + "].embedding");
  std::vector<std::vector<SearchHit>> hits;  // answered first, written after: the serialise stage
  hits.reserve(qs.size());
  for (std::size_t i = 0; i < qs.size(); ++i) {
    hits.push_back(item_call(i, [&] { return sp->search(qs[i].embedding, qs[i].k, qs[i].ef); }));
  }
  JsonWriter w = ctx.writer();
  w.begin_object().key("results").begin_array();
  for (const auto& h : hits) write_hits(w, h);
  w.end_array().end_object();
  return Response::json(w.take());
}

// ------------------------------------------------------------------------------------ recall
struct RecallQuery {
  std::vector<float> cue;
  RecallParams p;
};

template <class T>
T pick(std::string_view path, std::string_view got, std::initializer_list<std::pair<std::string_view, T>> options) {
  std::string names;
  for (const auto& [n, v] : options) {
    if (n == got) return v;
    names += (names.empty() ? "" : ", ") + std::string(n);
  }
  throw ApiError(400, "invalid_input",
                 "invalid request body: " + std::string(path) + ": expected one of " + names + ", got \"" +
                     std::string(got.substr(0, 40)) + "\"");
}

RecallQuery read_recall(RequestContext& ctx, ObjectReader o) {
  RecallQuery q;
  q.cue = read_embedding(o.required("cue"));
  q.p.k = static_cast<std::size_t>(ctx.check_k(o.opt_int("k", 1, INT64_MAX).value_or(10)));
  if (auto m = o.opt_string("mode")) {
    q.p.mode = pick<RecallMode>(
        o.child_path("mode"), *m,
        {{"blended", RecallMode::Blended}, {"episodic", RecallMode::Episodic}, {"semantic", RecallMode::Semantic}});
  }
  q.p.semantic_weight = o.opt_number("semantic_weight", 0.0, 1.0).value_or(0.3);
  q.p.threshold = o.opt_number("threshold", -1.0, 1.0).value_or(0.0);
  q.p.now = o.opt_number("now", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
  if (auto d = o.opt_string("decay")) {
    static constexpr std::string_view kDecays[] = {"two_component", "exponential", "power_law", "hybrid"};
    bool known = false;
    for (auto n : kDecays) known = known || n == *d;
    if (!known)
      pick<int>(o.child_path("decay"), *d, {{"two_component", 0}, {"exponential", 0}, {"power_law", 0}, {"hybrid", 0}});
    q.p.decay = decay::model_from_name(std::string(*d));
  } else if (o.present("decay")) {
    q.p.decay.reset();  // null: no temporal decay (absent: the default model)
  }
  q.p.include_concepts = o.opt_bool("include_concepts").value_or(true);
  q.p.spreading = o.opt_bool("spreading").value_or(true);
  q.p.spread_hops = static_cast<std::uint32_t>(o.opt_int("spread_hops", 0, 8).value_or(2));
  o.finish();
  return q;
}

void write_recollections(JsonWriter& w, const std::vector<Recollection>& rows) {
  w.begin_array();
  for (const auto& r : rows) {
    w.begin_object().field_id("id", r.id).field("kind", kind_name(r.kind)).field("score", r.score);
    w.field("confidence", r.confidence).field("activation", r.activation).key("provenance").begin_object();
    w.field("kind", provenance_name(r.provenance)).field("episodic_weight", r.episodic_weight);
    w.field("semantic_weight", r.semantic_weight).end_object();
    w.field("episodic", r.episodic).field("semantic", r.semantic).end_object();
  }
  w.end_array();
}

// ------------------------------------------------------------------------- staged rollout
// The request's side of each flag in rollout (rollout.hpp): set on the recall's parameters, named
// in the Engram-Features answer header, and the flags to shadow (compute with the flag on too).
struct RolloutSides {
  std::string header;  // "blended_recall=on, fan_effect=off"; empty: no flag in rollout
  std::vector<RolloutFlag> shadowed;
};

RolloutSides apply_rollout(const RequestContext& ctx, RecallParams& p) {
  RolloutSides sides;
  std::string_view key = "anonymous";
  if (const auto h = ctx.header("engram-rollout-key"); h && !h->empty()) {
    key = *h;
  } else if (ctx.principal && !ctx.principal->key_id.empty()) {
    key = ctx.principal->key_id;
  }
  for (const RolloutFlag f : kRolloutFlags) {
    const auto a = assign_rollout(ctx.engine().features(), f, key);
    if (!a) continue;
    (f == RolloutFlag::BlendedRecall ? p.blended_recall : p.fan_effect) = a->on;
    if (a->shadow) sides.shadowed.push_back(f);
    sides.header += (sides.header.empty() ? "" : ", ") + std::string(rollout_flag_name(f)) + (a->on ? "=on" : "=off");
  }
  return sides;
}

// Shadow: the same recall with the shadowed flags on, compared with the served answer (the share
// of the served top-k ids the flag-on path would not have returned), counted per flag.
void shadow_recall(const RequestContext& ctx, const Space& sp, const RecallQuery& q, const RolloutSides& sides,
                   const std::vector<Recollection>& served) {
  if (sides.shadowed.empty()) return;
  RecallParams on = q.p;
  for (const RolloutFlag f : sides.shadowed)
    (f == RolloutFlag::BlendedRecall ? on.blended_recall : on.fan_effect) = true;
  const auto alt = recall(sp, q.cue, on);
  std::unordered_set<std::int64_t> alt_ids;
  for (const auto& r : alt) alt_ids.insert(r.id);
  std::size_t missing = 0;
  for (const auto& r : served) missing += alt_ids.count(r.id) ? 0 : 1;
  const double difference =
      served.empty() ? (alt.empty() ? 0.0 : 1.0) : static_cast<double>(missing) / static_cast<double>(served.size());
  for (const RolloutFlag f : sides.shadowed) {
    const ServerMetrics::Labels labels{{"flag", std::string(rollout_flag_name(f))}};
    ctx.state.metrics.inc("engram_rollout_shadow_recalls_total",
                          "Recalls served with a flag off and computed again with it on (shadow stage).", 1.0, labels);
    ctx.state.metrics.inc("engram_rollout_shadow_difference_total",
                          "Sum over shadowed recalls of the share of served top-k ids the flag-on path did not return.",
                          difference, labels);
    if (missing > 0) {
      ctx.state.metrics.inc("engram_rollout_shadow_differing_total",
                            "Shadowed recalls whose flag-on top-k differs from the served one.", 1.0, labels);
    }
  }
}

Response recall_one(RequestContext& ctx) {
  RecallQuery q = read_recall(ctx, ctx.json());
  auto sp = ctx.engine().space(*ctx.space);
  check_dim(*sp, q.cue, "cue");
  const RolloutSides sides = apply_rollout(ctx, q.p);
  const auto rows = recall(*sp, q.cue, q.p);
  shadow_recall(ctx, *sp, q, sides, rows);
  JsonWriter w = ctx.writer();
  w.begin_object().key("results");
  write_recollections(w, rows);
  w.end_object();
  Response r = Response::json(w.take());
  if (!sides.header.empty()) r.headers.emplace_back("Engram-Features", sides.header);
  return r;
}

Response recall_batch(RequestContext& ctx) {
  auto o = ctx.json();
  const auto items = o.required("queries").as_array(1);
  o.finish();
  batch_limit(ctx, items.size(), "queries");
  std::vector<RecallQuery> qs;
  qs.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) qs.push_back(read_recall(ctx, items.at(i).as_object()));
  auto sp = ctx.engine().space(*ctx.space);
  for (std::size_t i = 0; i < qs.size(); ++i) check_dim(*sp, qs[i].cue, "queries[" + std::to_string(i) + "].cue");
  RolloutSides sides;  // one request, one rollout key: the same side for every query
  for (auto& q : qs) sides = apply_rollout(ctx, q.p);
  std::vector<std::vector<Recollection>> answers;  // answered first, written after: the serialise stage
  answers.reserve(qs.size());
  for (std::size_t i = 0; i < qs.size(); ++i) {
    answers.push_back(item_call(i, [&] { return recall(*sp, qs[i].cue, qs[i].p); }));
    shadow_recall(ctx, *sp, qs[i], sides, answers.back());
  }
  JsonWriter w = ctx.writer();
  w.begin_object().key("results").begin_array();
  for (const auto& rows : answers) write_recollections(w, rows);
  w.end_array().end_object();
  Response r = Response::json(w.take());
  if (!sides.header.empty()) r.headers.emplace_back("Engram-Features", sides.header);
  return r;
}

// ------------------------------------------------------------------------------------ spread
// A seed id written as an object key: ASCII digits with an optional '-', within int64.
std::int64_t seed_key(std::string_view key, const std::string& path) {
  const std::size_t start = !key.empty() && key[0] == '-' ? 1 : 0;
  bool ok = key.size() > start && key.size() <= 20;
  for (std::size_t i = start; ok && i < key.size(); ++i) ok = key[i] >= '0' && key[i] <= '9';
  std::int64_t v = 0;
  if (ok) ok = std::from_chars(key.data(), key.data() + key.size(), v).ec == std::errc{};
  if (!ok) {
    throw ApiError(400, "invalid_input",
                   "invalid request body: " + path +
                       ": seed object keys must be integer memory ids (ASCII digits, 64-bit), got \"" +
                       std::string(key.substr(0, 40)) + "\"");
  }
  return v;
}

Response spread(RequestContext& ctx) {
  auto o = ctx.json();
  std::vector<Seed> seeds;
  const auto sv = o.required("seeds");
  if (sv.element().is_object()) {
    // a copy: iterating get_object().value_unsafe() directly would dangle (the result is a temporary)
    const simdjson::dom::object seed_obj = sv.element().get_object().value_unsafe();
    for (auto field : seed_obj) {
      const std::string path = sv.path() + "." + std::string(field.key.substr(0, 40));
      const std::int64_t id = seed_key(field.key, sv.path());
      seeds.push_back({id, ValueReader(field.value, path)
                               .as_number(-std::numeric_limits<double>::max(), std::numeric_limits<double>::max())});
    }
  } else if (sv.element().is_array()) {
    const auto a = sv.as_array();
    for (std::size_t i = 0; i < a.size(); ++i) seeds.push_back({a.at(i).as_id(), 1.0});
  } else {
    throw ApiError(400, "invalid_input",
                   "invalid request body: seeds: expected an array of memory ids or an object id -> activation, got " +
                       describe(sv.element()))
        .at("seeds");
  }
  if (seeds.empty()) throw ApiError(400, "invalid_input", "seeds must name at least one memory id").at("seeds");
  SpreadConfig c;
  c.max_hops = static_cast<std::uint32_t>(o.opt_int("max_hops", 0, 16).value_or(3));
  if (auto d = o.opt_string("decay")) {
    c.decay = pick<HopDecay>(
        o.child_path("decay"), *d,
        {{"exponential", HopDecay::Exponential}, {"power_law", HopDecay::PowerLaw}, {"linear", HopDecay::Linear}});
  }
  c.decay_rate = o.opt_number("decay_rate", 0.0, 100.0);
  c.threshold = o.opt_number("threshold", 0.0, 1.0).value_or(0.1);
  c.fan_effect = o.opt_bool("fan_effect").value_or(true);
  const auto max_results = o.opt_int("max_results", 1, INT64_MAX);
  c.max_results =
      static_cast<std::size_t>(max_results ? ctx.check_k(*max_results, "max_results") : ctx.state.config.max_k);
  if (auto dw = o.get("direction_weights")) {
    auto d = dw->as_object();
    if (auto v = d.opt_number("upward", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max()))
      c.direction.upward = *v;
    if (auto v = d.opt_number("downward", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max()))
      c.direction.downward = *v;
    if (auto v = d.opt_number("lateral", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max()))
      c.direction.lateral = *v;
    if (auto v = d.opt_number("episodic", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max()))
      c.direction.episodic = *v;
    d.finish();
  }
  o.finish();
  auto sp = ctx.engine().space(*ctx.space);
  const auto rows = sp->spread(seeds, c);
  JsonWriter w = ctx.writer();
  w.begin_object().key("results").begin_array();
  for (const auto& r : rows)
    w.begin_object().field_id("id", r.id).field("activation", r.activation).field("hops", r.hops).end_object();
  w.end_array().end_object();
  return Response::json(w.take());
}

// ---------------------------------------------------------------------------------- complete
Response complete_route(RequestContext& ctx) {
  auto o = ctx.json();
  const auto pv = o.required("partial");
  const auto a = pv.as_array(0, kMaxEmbeddingDim);
  if (a.size() == 0) throw ApiError(400, "invalid_input", "partial must be a non-empty array").at("partial");
  std::vector<float> partial(a.size(), 0.0f);
  std::vector<std::uint8_t> mask(a.size(), 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = a.at(i);
    if (x.is_null()) continue;
    partial[i] = static_cast<float>(x.as_number(-std::numeric_limits<float>::max(), std::numeric_limits<float>::max()));
    mask[i] = 1;
  }
  CompletionParams p;
  p.neighbors = static_cast<std::size_t>(o.opt_int("neighbors", 1, 256).value_or(8));
  p.hypotheses = static_cast<std::size_t>(o.opt_int("hypotheses", 1, 32).value_or(3));
  p.ca1_threshold = o.opt_number("ca1_threshold", 0.0, 1.0).value_or(0.7);
  o.finish();
  auto sp = ctx.engine().space(*ctx.space);
  const Completion c = complete(*sp, partial, mask, p);
  JsonWriter w = ctx.writer();
  const auto floats = [&](const std::vector<float>& v) {
    w.begin_array();
    for (float f : v) w.value(f);
    w.end_array();
  };
  w.begin_object().key("vector");
  floats(c.vector);
  w.field("confidence", c.confidence).field("accepted", c.accepted).key("sources").begin_array();
  for (auto s : c.sources) w.id(s);
  w.end_array().key("source_similarity");
  floats(c.source_similarity);
  w.key("alternatives").begin_array();
  for (const auto& h : c.alternatives) {
    w.begin_object().key("vector");
    floats(h.vector);
    w.field("confidence", h.confidence).field_id("source", h.source).field("kind", kind_name(h.kind)).end_object();
  }
  w.end_array().field("known_dims", static_cast<std::uint64_t>(c.known_dims));
  w.field("provenance", "pattern-completed").end_object();
  return Response::json(w.take());
}

// ------------------------------------------------------------------------------- consolidate
Response consolidate_route(RequestContext& ctx) {
  auto o = ctx.json();
  ConsolidationParams p = read_consolidation_params(o);
  o.finish();
  // A request's consolidation holds one unit of its key's worker budget, so it runs on one core:
  // TBB's parallel loops would take every core from the other tenants (workflow 108).
  p.parallel = false;
  auto sp = ctx.engine().space(*ctx.space);
  const ConsolidationReport r = consolidate(*sp, p);
  ctx.state.log.info("consolidation_run", {{"space", *ctx.space},
                                           {"formed", static_cast<std::uint64_t>(r.concepts_formed)},
                                           {"updated", static_cast<std::uint64_t>(r.concepts_updated)},
                                           {"seconds", std::round(r.duration_s * 1e4) / 1e4}});
  // an operator's evidence that a breaker held formations back (the metric is a gauge per space)
  const std::pair<bool, const char*> breakers[] = {{r.rate_breaker_tripped, "rate"},
                                                   {r.ratio_breaker_tripped, "ratio"}};
  for (const auto& [tripped, breaker] : breakers) {
    if (tripped) {
      ctx.state.log.warning(
          "circuit_breaker_open",
          {{"space", *ctx.space}, {"breaker", breaker}, {"deferred", static_cast<std::uint64_t>(r.clusters_deferred)}});
    }
  }
  const auto u = [](std::size_t v) { return static_cast<std::uint64_t>(v); };
  JsonWriter w = ctx.writer();
  w.begin_object()
      .field("episodes_considered", u(r.episodes_considered))
      .field("concepts_formed", u(r.concepts_formed));
  w.field("concepts_updated", u(r.concepts_updated)).field("concepts_dissolved", u(r.concepts_dissolved));
  w.field("episodes_bound", u(r.episodes_bound)).field("clusters_found", u(r.clusters_found));
  w.field("clusters_incoherent", u(r.clusters_incoherent)).field("clusters_deferred", u(r.clusters_deferred));
  w.field("rate_breaker_tripped", r.rate_breaker_tripped).field("ratio_breaker_tripped", r.ratio_breaker_tripped);
  w.field("formation_disabled", r.formation_disabled).field("duration_s", r.duration_s).key("formed").begin_array();
  for (auto id : r.formed) w.id(id);
  w.end_array().key("updated").begin_array();
  for (auto id : r.updated) w.id(id);
  w.end_array().field("blocks_reused", u(r.blocks_reused)).end_object();
  return Response::json(w.take());
}

}  // namespace

void register_queries_routes(RouteTable& t) {
  const std::string S = "/api/v1/spaces/{space}";
  const std::vector<std::string> tags{"queries"};
  t.add({.method = "POST",
         .path = S + "/search",
         .role = Role::Read,
         .summary = "Nearest memories by cosine similarity",
         .tags = tags,
         .operation_id = "search",
         .handler = search,
         .body = BodySchema{"Search", search_schema(), {{"application/octet-stream", kOctetSearch}}}});
  t.add({.method = "POST",
         .path = S + "/recall",
         .role = Role::Read,
         .summary = "Recall (blended, episodic or semantic)",
         .tags = tags,
         .operation_id = "recall",
         .handler = recall_one,
         .body = BodySchema{"Recall", recall_schema()}});
  t.add({.method = "POST",
         .path = S + "/search/batch",
         .role = Role::Read,
         .summary = "Many searches in one request (results in order)",
         .tags = tags,
         .operation_id = "search_batch",
         .handler = search_batch,
         .body = BodySchema{"SearchBatch", batch_schema("SearchBatch", "Search"), {}, {{"Search", search_schema()}}},
         .responses = {{413, "batch too large"}},
         .exec = Exec::Worker});
  t.add({.method = "POST",
         .path = S + "/recall/batch",
         .role = Role::Read,
         .summary = "Many recalls in one request (results in order)",
         .tags = tags,
         .operation_id = "recall_batch",
         .handler = recall_batch,
         .body = BodySchema{"RecallBatch", batch_schema("RecallBatch", "Recall"), {}, {{"Recall", recall_schema()}}},
         .responses = {{413, "batch too large"}},
         .exec = Exec::Worker});
  t.add({.method = "POST",
         .path = S + "/spread",
         .role = Role::Read,
         .summary = "Spreading activation from seed memories",
         .tags = tags,
         .operation_id = "spread",
         .handler = spread,
         .body = BodySchema{"Spread", kSpreadSchema},
         .exec = Exec::Worker});  // wide spreads walk much of the graph
  t.add({.method = "POST",
         .path = S + "/complete",
         .role = Role::Read,
         .summary = "Complete a partial embedding",
         .tags = tags,
         .operation_id = "complete",
         .handler = complete_route,
         .body = BodySchema{"Complete", kCompleteSchema},
         .exec = Exec::Worker});
  t.add({.method = "POST",
         .path = S + "/consolidate",
         .role = Role::Write,
         .summary = "Consolidate the space now",
         .tags = {"consolidation"},
         .operation_id = "consolidate",
         .handler = consolidate_route,
         .body = BodySchema{"Consolidate", kConsolidateSchema},
         .exec = Exec::Worker});
}

ConsolidationParams read_consolidation_params(ObjectReader& o) {
  ConsolidationParams p;
  if (auto v = o.opt_number("similarity_threshold", 0.0, 1.0)) p.similarity_threshold = *v;
  if (auto v = o.opt_number("coherence_threshold", 0.0, 1.0)) p.coherence_threshold = *v;
  // at most max_component (not settable over HTTP): a larger cluster size could never be met, and
  // the engine's own refusal would name a parameter the request cannot set
  if (auto v = o.opt_int("min_cluster_size", 2, kMaxMinClusterSize)) p.min_cluster_size = static_cast<std::size_t>(*v);
  if (auto v = o.opt_int("max_concepts_per_run", 0, 100000)) p.max_concepts_per_run = static_cast<std::size_t>(*v);
  return p;
}

}  // namespace engram::server

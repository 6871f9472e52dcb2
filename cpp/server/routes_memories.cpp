// Memories: remember (single and batch, idempotent through the engine's per-space keys), get,
// forget, link.
//
// Idempotency keys are the engine's (Space::remember with an IdempotencyKey): looked up, stored
// and recorded in one step and one WAL record, per space and bounded per space, so another
// space's flood never evicts them (defect 2), and a write answered 503 storage_unavailable keeps
// its key: the retry replays the stored id instead of storing twice (defect 1). The fingerprint
// is the SHA-256 of the raw body, as API v1's first server computed it, so keys recorded in a data
// directory it wrote still replay here.
#include <openssl/evp.h>

#include <memory>

#include "api_error.hpp"
#include "context.hpp"
#include "embedding_input.hpp"
#include "engram/graph.hpp"
#include "engram/idempotency.hpp"
#include "engram/space.hpp"
#include "json_writer.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

constexpr std::size_t kMaxKeyChars = 200;

// JSON Schemas of the request models, as API v1 documented them
// (tests/server/recorded/openapi-starlette.json; test_native.py compares them), but for the embedding, which also
// takes the base64 float32 form (a v1 addition, embedding_input.hpp).
constexpr const char* kItemFields =
    R"("content":{"default":"","title":"Content","type":"string"},)"
    R"("confidence":{"default":1.0,"maximum":1.0,"minimum":0.0,"title":"Confidence","type":"number"},)"
    R"("timestamp":{"anyOf":[{"type":"number"},{"type":"null"}],"default":null,)"
    R"("description":"seconds since the epoch; engine clock when absent","title":"Timestamp"},)"
    R"("metadata":{"anyOf":[{"additionalProperties":{"type":"string"},"maxProperties":256,"type":"object"},{"type":"null"}],)"
    R"("default":null,"title":"Metadata"})";

std::string item_properties() { return R"("embedding":)" + embedding_schema_json("Embedding") + "," + kItemFields; }

std::string remember_item_schema() {
  return std::string(R"({"additionalProperties":false,"properties":{)") + item_properties() +
         R"(},"required":["embedding"],"title":"RememberItem","type":"object"})";
}

std::string remember_schema() {
  return std::string(R"({"additionalProperties":false,"properties":{)") + item_properties() +
         R"(,"idempotency_key":{"anyOf":[{"maxLength":200,"minLength":1,"type":"string"},{"type":"null"}],)"
         R"("default":null,"description":"replaying a key returns the first result","title":"Idempotency Key"}},)"
         R"("required":["embedding"],"title":"Remember","type":"object"})";
}

constexpr const char* kRememberBatchSchema =
    R"({"additionalProperties":false,"properties":{)"
    R"("items":{"items":{"$ref":"#/components/schemas/RememberItem"},"maxItems":{{max_batch}},"minItems":1,"title":"Items","type":"array"},)"
    R"("idempotency_key":{"anyOf":[{"maxLength":200,"minLength":1,"type":"string"},{"type":"null"}],)"
    R"("default":null,"title":"Idempotency Key"}},"required":["items"],"title":"RememberBatch","type":"object"})";

constexpr const char* kLinkSchema =
    R"({"additionalProperties":false,"properties":{)"
    R"("src":{"format":"int64","maximum":9223372036854775807,"minimum":-9223372036854775808,"title":"Src","type":"integer"},)"
    R"("dst":{"format":"int64","maximum":9223372036854775807,"minimum":-9223372036854775808,"title":"Dst","type":"integer"},)"
    R"("weight":{"default":1.0,"maximum":1000000.0,"minimum":0.0,"title":"Weight","type":"number"},)"
    R"("kind":{"default":"association","enum":["association","binding","hierarchy"],"title":"Kind","type":"string"},)"
    R"("strength":{"default":1.0,"maximum":1.0,"minimum":0.0,"title":"Strength","type":"number"},)"
    R"("contribution":{"default":1.0,"maximum":1.0,"minimum":0.0,"title":"Contribution","type":"number"}},)"
    R"("required":["src","dst"],"title":"Link","type":"object"})";

// Characters (code points) of UTF-8 text, as Python's len() counts a str.
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The request's idempotency key: the Idempotency-Key header or the body's field (not two
// different ones), 1 to 200 characters; nullopt when neither is given.
std::optional<std::string> idempotency_key(const RequestContext& ctx, std::optional<std::string_view> body_key) {
  const auto header = ctx.header("idempotency-key");
  if (header && body_key && *header != *body_key) {
    throw ApiError(400, "invalid_input", "the Idempotency-Key header and idempotency_key field differ; send one");
  }
  const auto key = header ? header : body_key;
  if (!key) return std::nullopt;
  const std::size_t n = code_points(*key);
  if (n < 1 || n > kMaxKeyChars) {
    throw ApiError(400, "invalid_input", "an idempotency key must be 1 to 200 characters, got " + std::to_string(n));
  }
  return std::string(*key);
}

// sha256(kind \0 raw body) in hex: a request's fingerprint, stored with its idempotency key so a
// reuse of the key with another body is refused (409 idempotency_conflict).
std::string fingerprint(std::string_view kind, std::string_view raw) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  const char zero = '\0';
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(md.get(), kind.data(), kind.size()) != 1 || EVP_DigestUpdate(md.get(), &zero, 1) != 1 ||
      EVP_DigestUpdate(md.get(), raw.data(), raw.size()) != 1 || EVP_DigestFinal_ex(md.get(), out, &n) != 1) {
    throw std::runtime_error("SHA-256 of the request body failed (OpenSSL)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * n);
  for (unsigned i = 0; i < n; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 15]);
  }
  return hex;
}

// One RememberItem's fields (the caller reads idempotency_key, where the model has it, and
// calls finish()). The embedding is kept in `storage`, which the EpisodeInput borrows.
EpisodeInput read_item(ObjectReader& o, std::vector<float>& storage) {
  storage = read_embedding(o.required("embedding"));
  EpisodeInput e;
  e.embedding = storage.data();
  e.embedding_size = storage.size();
  if (auto c = o.opt_string("content")) e.content = std::string(*c);
  if (auto c = o.opt_number("confidence", 0.0, 1.0)) e.confidence = *c;
  if (auto t = o.opt_number("timestamp", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max())) {
    e.timestamp = *t;
    e.has_timestamp = true;
  }
  if (auto m = o.get("metadata")) {
    ObjectReader meta = m->as_object();
    std::vector<std::string_view> seen;
    const simdjson::dom::object fields = m->element().get_object().value_unsafe();  // a copy: the result is a temporary
    for (auto field : fields) {
      const std::string_view k = field.key;
      for (auto s : seen)
        if (s == k)
          throw ApiError(400, "invalid_input", "invalid request body: " + meta.child_path(k) + ": duplicate field")
              .at(meta.child_path(k));
      seen.push_back(k);
      const std::string_view v = ValueReader(field.value, meta.child_path(k)).as_string();
      e.metadata.emplace_back(std::string(k), std::string(v));
    }
  }
  return e;
}

void write_id_result(JsonWriter& w, std::int64_t id, bool replayed) {
  w.begin_object().field_id("id", id).field("replayed", replayed).end_object();
}

Response remember(RequestContext& ctx) {
  auto o = ctx.json();
  std::vector<float> storage;
  EpisodeInput e = read_item(o, storage);
  const auto body_key = o.opt_string("idempotency_key", 1, SIZE_MAX);
  o.finish();
  const auto key = idempotency_key(ctx, body_key);
  auto sp = ctx.engine().space(*ctx.space);
  if (!key) {
    const auto id = sp->remember(std::move(e));
    JsonWriter w = ctx.writer();  // after the engine's answer: the serialise stage starts here
    write_id_result(w, id, false);
    return Response::json(w.take(), 201);
  }
  const Remembered r = sp->remember(std::move(e), IdempotencyKey{*key, fingerprint("remember", ctx.body)});
  JsonWriter w = ctx.writer();
  write_id_result(w, r.id, r.replayed);
  return Response::json(w.take(), r.replayed ? 200 : 201);
}

Response remember_batch(RequestContext& ctx) {
  auto o = ctx.json();
  const ArrayReader items = o.required("items").as_array(1);
  const auto limit = static_cast<std::size_t>(ctx.state.config.max_batch);
  if (items.size() > limit) {  // before reading a single item: bounded work for a refused batch
    throw ApiError(413, "batch_too_large",
                   "batch of " + std::to_string(items.size()) + " items exceeds the limit of " + std::to_string(limit) +
                       "; split it");
  }
  const auto body_key = o.opt_string("idempotency_key", 1, SIZE_MAX);
  o.finish();
  std::vector<std::vector<float>> storage(items.size());
  std::vector<EpisodeInput> episodes;
  episodes.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    ObjectReader item = items.at(i).as_object();
    episodes.push_back(read_item(item, storage[i]));
    item.finish();
  }
  auto sp = ctx.engine().space(*ctx.space);
  for (const auto& e : episodes) {
    if (e.embedding_size != episodes.front().embedding_size) {
      throw ApiError(400, "dimension_mismatch",
                     "all embeddings of a batch must have the space's dimension " + std::to_string(sp->dim()));
    }
  }
  const auto key = idempotency_key(ctx, body_key);
  RememberedBatch r;
  if (key) {
    r = sp->remember_batch(std::move(episodes), IdempotencyKey{*key, fingerprint("batch", ctx.body)});
  } else {
    r.ids = sp->remember_batch(std::move(episodes));
  }
  JsonWriter w = ctx.writer();
  w.begin_object().key("ids").begin_array();
  for (const auto id : r.ids) w.id(id);
  w.end_array().field("replayed", r.replayed).end_object();
  return Response::json(w.take(), r.replayed ? 200 : 201);
}

Response get_memory(RequestContext& ctx) {
  const std::int64_t id = ctx.path_int("memory_id");
  const MemoryView m = ctx.engine().space(*ctx.space)->get(id);
  JsonWriter w = ctx.writer();
  w.begin_object().field_id("id", m.id).field("kind", kind_name(m.kind)).key("embedding").begin_array();
  for (const float x : m.embedding) w.value(x);
  w.end_array().field("content", m.content).field("confidence", m.confidence).field("timestamp", m.timestamp);
  w.key("metadata").begin_object();
  for (const auto& [k, v] : m.metadata) w.field(k, v);
  w.end_object().end_object();
  return Response::json(w.take());
}

Response forget(RequestContext& ctx) {
  const std::int64_t id = ctx.path_int("memory_id");
  ctx.engine().space(*ctx.space)->forget(id);
  JsonWriter w = ctx.writer();
  w.begin_object().field_id("forgotten", id).end_object();
  return Response::json(w.take());
}

Response link(RequestContext& ctx) {
  auto o = ctx.json();
  const std::int64_t src = o.required("src").as_id();
  const std::int64_t dst = o.required("dst").as_id();
  const double weight = o.opt_number("weight", 0.0, 1e6).value_or(1.0);
  EdgeKind kind = EdgeKind::Association;
  if (auto v = o.get("kind")) {
    const std::string_view name = v->as_string();
    const auto k = parse_edge_kind(name);
    if (!k) {
      throw ApiError(400, "invalid_input",
                     "invalid request body: " + v->path() + ": expected 'association', 'binding' or 'hierarchy', got " +
                         describe(v->element()));
    }
    kind = *k;
  }
  const double strength = o.opt_number("strength", 0.0, 1.0).value_or(1.0);
  const double contribution = o.opt_number("contribution", 0.0, 1.0).value_or(1.0);
  o.finish();
  const bool created = ctx.engine()
                           .space(*ctx.space)
                           ->link(src, dst, kind, static_cast<float>(weight), static_cast<float>(strength),
                                  static_cast<float>(contribution));
  JsonWriter w = ctx.writer();
  w.begin_object().field("created", created).end_object();
  return Response::json(w.take());
}

}  // namespace

std::string link_schema() { return kLinkSchema; }

void register_memories_routes(RouteTable& t) {
  const std::string S = "/api/v1/spaces/{space}";
  const std::vector<std::string> tags{"memories"};
  t.add({.method = "POST",
         .path = S + "/memories",
         .role = Role::Write,
         .summary = "Remember one episode (Idempotency-Key supported)",
         .tags = tags,
         .operation_id = "remember",
         .handler = remember,
         .body = BodySchema{"Remember", remember_schema()},
         .status = 201,
         .responses = {{409, "idempotency key reused with another payload"},
                       {507, "memory_pressure: the engine's memory budget is at its critical level (see Retry-After)"}},
         .exec = Exec::DurableWrite});
  t.add({.method = "POST",
         .path = S + "/memories/batch",
         .role = Role::Write,
         .summary = "Remember episodes at once (all or nothing)",
         .tags = tags,
         .operation_id = "remember_batch",
         .handler = remember_batch,
         .body = BodySchema{"RememberBatch", kRememberBatchSchema, {}, {{"RememberItem", remember_item_schema()}}},
         .status = 201,
         .responses = {{413, "batch too large"},
                       {507, "memory_pressure: the engine's memory budget is at its critical level (see Retry-After)"}},
         .exec = Exec::Worker});
  t.add({.method = "GET",
         .path = S + "/memories/{memory_id}",
         .role = Role::Read,
         .summary = "One memory by id",
         .tags = tags,
         .operation_id = "get_memory",
         .handler = get_memory});
  t.add({.method = "DELETE",
         .path = S + "/memories/{memory_id}",
         .role = Role::Write,
         .summary = "Forget a memory",
         .tags = tags,
         .operation_id = "forget",
         .handler = forget,
         .exec = Exec::Worker});
  t.add({.method = "POST",
         .path = S + "/links",
         .role = Role::Write,
         .summary = "Link two memories of the space",
         .tags = tags,
         .operation_id = "link",
         .handler = link,
         .body = BodySchema{"Link", kLinkSchema},
         .exec = Exec::DurableWrite});
}

}  // namespace engram::server

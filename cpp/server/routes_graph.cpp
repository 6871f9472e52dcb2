// A space's graph read back: neighbours (one memory or a batch), concepts and their bindings;
// and batch linking. The batch neighbours route deduplicates its
// ids and bounds its response (defect 8 of issue 13: one request of repeated ids produced 176 MB).
#include <algorithm>
#include <string>
#include <unordered_set>
#include <vector>

#include "api_error.hpp"
#include "context.hpp"
#include "engram/errors.hpp"
#include "engram/graph.hpp"
#include "engram/memory.hpp"
#include "engram/space.hpp"
#include "json_writer.hpp"
#include "pagination.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

// The largest batch-neighbours response: beyond it the request is refused (413) with the
// figures, instead of building an unbounded body; clients split the ids.
constexpr std::size_t kMaxNeighborsResponseBytes = std::size_t{32} << 20;

constexpr const char* kLinkBatchSchema =
    R"({"additionalProperties": false, "properties": {"edges": {"description": "directed edges, applied in order", "items": {"$ref": "#/components/schemas/Link"}, "maxItems": {{max_batch}}, "minItems": 1, "title": "Edges", "type": "array"}}, "required": ["edges"], "title": "LinkBatch", "type": "object"})";

constexpr const char* kNeighborBatchSchema =
    R"({"additionalProperties": false, "properties": {"ids": {"description": "memory ids whose out-edges to read; a repeated id is read once", "items": {"format": "int64", "maximum": 9223372036854775807, "minimum": -9223372036854775808, "type": "integer"}, "maxItems": {{max_batch}}, "minItems": 1, "title": "Ids", "type": "array"}, "records": {"default": false, "description": "also return every neighbour's memory record", "title": "Records", "type": "boolean"}}, "required": ["ids"], "title": "NeighborBatch", "type": "object"})";

void batch_limit(const RequestContext& ctx, std::size_t n, std::string_view what) {
  if (static_cast<std::int64_t>(n) > ctx.state.config.max_batch) {
    throw ApiError(413, "batch_too_large",
                   "batch of " + std::to_string(n) + " " + std::string(what) + " exceeds the limit of " +
                       std::to_string(ctx.state.config.max_batch) + "; split it");
  }
}

// rows[first, last) (all of them by default)
void write_edges(JsonWriter& w, const std::vector<Edge>& rows, std::size_t first = 0,
                 std::size_t last = static_cast<std::size_t>(-1)) {
  w.begin_array();
  for (std::size_t i = first; i < std::min(last, rows.size()); ++i) {
    const Edge& e = rows[i];
    w.begin_object()
        .field_id("id", e.other)
        .field("weight", e.weight)
        .field("kind", edge_kind_name(e.kind))
        .end_object();
  }
  w.end_array();
}

// A memory record as API v1 answers it (GET .../memories/{id} writes the same fields).
void write_memory(JsonWriter& w, const MemoryView& m) {
  w.begin_object().field_id("id", m.id).field("kind", kind_name(m.kind)).key("embedding").begin_array();
  for (float f : m.embedding) w.value(f);
  w.end_array().field("content", m.content).field("confidence", m.confidence).field("timestamp", m.timestamp);
  w.key("metadata").begin_object();
  for (const auto& [k, v] : m.metadata) w.field(k, v);
  w.end_object().end_object();
}

Response neighbors(RequestContext& ctx) {
  const PageQuery q = page_query(ctx);
  auto sp = ctx.engine().space(*ctx.space);
  auto rows = sp->neighbors(ctx.path_int("memory_id"));
  if (q.paged) std::sort(rows.begin(), rows.end(), [](const Edge& a, const Edge& b) { return a.other < b.other; });
  const Page p = page_of(q, rows.size(), [&](std::size_t i) { return rows[i].other; });
  JsonWriter w = ctx.writer();
  w.begin_object().key("neighbors");
  write_edges(w, rows, p.first, p.last);
  write_next_cursor(w, q, p);
  w.end_object();
  return Response::json(w.take());
}

void too_large(std::size_t done, std::size_t total) {
  throw ApiError(413, "response_too_large",
                 "the neighbours of these ids exceed the response limit of " +
                     std::to_string(kMaxNeighborsResponseBytes >> 20) + " MiB after " + std::to_string(done) + " of " +
                     std::to_string(total) + " ids; ask for fewer ids per request (or without records)");
}

Response neighbors_batch(RequestContext& ctx) {
  auto o = ctx.json();
  const auto a = o.required("ids").as_array(1);
  const bool records = o.opt_bool("records").value_or(false);
  o.finish();
  batch_limit(ctx, a.size(), "ids");
  // each id once, in first-seen order: a repeated id adds nothing to the answer (defect 8)
  std::vector<std::int64_t> ids;
  std::unordered_set<std::int64_t> seen_ids;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::int64_t id = a.at(i).as_id();
    if (seen_ids.insert(id).second) ids.push_back(id);
  }
  auto sp = ctx.engine().space(*ctx.space);
  JsonWriter w = ctx.writer();
  w.begin_object().key("results").begin_array();
  std::vector<std::int64_t> neighbour_ids;
  std::unordered_set<std::int64_t> seen;
  std::size_t done = 0;
  for (const auto id : ids) {
    const auto rows = sp->neighbors(id);
    w.begin_object().field_id("id", id).key("neighbors");
    write_edges(w, rows);
    w.end_object();
    if (records)
      for (const auto& e : rows)
        if (seen.insert(e.other).second) neighbour_ids.push_back(e.other);
    ++done;
    if (w.str().size() > kMaxNeighborsResponseBytes) too_large(done, ids.size());
  }
  w.end_array();
  if (records) {
    w.key("records").begin_array();
    for (const auto id : neighbour_ids) {
      write_memory(w, sp->get(id));
      if (w.str().size() > kMaxNeighborsResponseBytes) too_large(ids.size(), ids.size());
    }
    w.end_array();
  }
  w.end_object();
  return Response::json(w.take());
}

Response link_batch(RequestContext& ctx) {
  auto o = ctx.json();
  const auto a = o.required("edges").as_array(1);
  o.finish();
  batch_limit(ctx, a.size(), "edges");
  struct LinkItem {
    std::int64_t src, dst;
    float weight;
    EdgeKind kind;
    float strength, contribution;
  };
  std::vector<LinkItem> items;
  items.reserve(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {  // every edge is validated before any is applied
    auto e = a.at(i).as_object();
    LinkItem it{};
    it.src = e.required("src").as_id();
    it.dst = e.required("dst").as_id();
    it.weight = static_cast<float>(e.opt_number("weight", 0.0, 1e6).value_or(1.0));
    it.kind = EdgeKind::Association;
    if (auto k = e.opt_string("kind")) {
      if (*k == "binding") {
        it.kind = EdgeKind::Binding;
      } else if (*k == "hierarchy") {
        it.kind = EdgeKind::Hierarchy;
      } else if (*k != "association") {
        throw ApiError(400, "invalid_input",
                       "invalid request body: " + e.child_path("kind") +
                           ": expected one of association, binding, hierarchy, got \"" + std::string(k->substr(0, 40)) +
                           "\"");
      }
    }
    it.strength = static_cast<float>(e.opt_number("strength", 0.0, 1.0).value_or(1.0));
    it.contribution = static_cast<float>(e.opt_number("contribution", 0.0, 1.0).value_or(1.0));
    e.finish();
    items.push_back(it);
  }
  auto sp = ctx.engine().space(*ctx.space);
  JsonWriter w = ctx.writer();
  w.begin_object().key("created").begin_array();
  // edges apply in order; the first invalid one stops the batch with its index in the error
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& e = items[i];
    try {
      w.value(sp->link(e.src, e.dst, e.kind, e.weight, e.strength, e.contribution));
    } catch (const std::exception& ex) {
      auto err = from_exception(ex);
      if (!err) throw;
      throw ApiError(err->status, err->code,
                     "edges[" + std::to_string(i) + "] (" + std::to_string(e.src) + " -> " + std::to_string(e.dst) +
                         "): " + err->what() + "; the " + std::to_string(i) + " edges before it were applied",
                     err->retry_after_s);
    }
  }
  w.end_array().end_object();
  return Response::json(w.take());
}

Response concepts(RequestContext& ctx) {
  const PageQuery q = page_query(ctx);
  auto sp = ctx.engine().space(*ctx.space);
  auto rows = sp->concepts();
  if (q.paged) std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  const Page p = page_of(q, rows.size(), [&](std::size_t i) { return rows[i].id; });
  JsonWriter w = ctx.writer();
  w.begin_object().key("concepts").begin_array();
  for (std::size_t i = p.first; i < p.last; ++i) {
    const auto& c = rows[i];
    w.begin_object().field_id("id", c.id).key("centroid").begin_array();
    for (float f : c.centroid) w.value(f);
    w.end_array().field("coherence", c.coherence).field("confidence", c.confidence);
    w.field("formed_at", c.formed_at).field("updated_at", c.updated_at).key("members").begin_array();
    for (auto m : c.members) w.id(m);
    w.end_array().end_object();
  }
  w.end_array();
  write_next_cursor(w, q, p);
  w.end_object();
  return Response::json(w.take());
}

Response id_list(const RequestContext& ctx, std::string_view key, std::vector<std::int64_t> ids) {
  const PageQuery q = page_query(ctx);
  if (q.paged) std::sort(ids.begin(), ids.end());
  const Page p = page_of(q, ids.size(), [&](std::size_t i) { return ids[i]; });
  JsonWriter w = ctx.writer();
  w.begin_object().key(key).begin_array();
  for (std::size_t i = p.first; i < p.last; ++i) w.id(ids[i]);
  w.end_array();
  write_next_cursor(w, q, p);
  w.end_object();
  return Response::json(w.take());
}

Response concept_members(RequestContext& ctx) {
  auto sp = ctx.engine().space(*ctx.space);
  return id_list(ctx, "members", sp->concept_members(ctx.path_int("concept_id")));
}

Response episode_concepts(RequestContext& ctx) {
  auto sp = ctx.engine().space(*ctx.space);
  return id_list(ctx, "concepts", sp->episode_concepts(ctx.path_int("memory_id")));
}

}  // namespace

void register_graph_routes(RouteTable& t) {
  const std::string S = "/api/v1/spaces/{space}";
  const std::vector<std::string> tags{"graph"};
  t.add({.method = "GET",
         .path = S + "/memories/{memory_id}/neighbors",
         .role = Role::Read,
         .summary = "A memory's out-edges",
         .tags = tags,
         .operation_id = "neighbors",
         .handler = neighbors});
  t.add({.method = "POST",
         .path = S + "/neighbors",
         .role = Role::Read,
         .summary = "Out-edges of many memories at once (optionally with the neighbours' records)",
         .tags = tags,
         .operation_id = "neighbors_batch",
         .handler = neighbors_batch,
         .body = BodySchema{"NeighborBatch", kNeighborBatchSchema},
         .responses = {{413, "batch too large"}},
         .exec = Exec::Worker});
  t.add({.method = "POST",
         .path = S + "/links/batch",
         .role = Role::Write,
         .summary = "Link many pairs of memories in order",
         .tags = tags,
         .operation_id = "link_batch",
         .handler = link_batch,
         .body = BodySchema{"LinkBatch", kLinkBatchSchema, {}, {{"Link", link_schema()}}},
         .responses = {{413, "batch too large"}},
         .exec = Exec::Worker});  // durable WAL writes
  t.add({.method = "GET",
         .path = S + "/concepts",
         .role = Role::Read,
         .summary = "Every live concept of the space",
         .tags = tags,
         .operation_id = "concepts",
         .handler = concepts,
         .exec = Exec::Worker});  // every centroid of the space
  t.add({.method = "GET",
         .path = S + "/concepts/{concept_id}/members",
         .role = Role::Read,
         .summary = "A concept's member episodes",
         .tags = tags,
         .operation_id = "concept_members",
         .handler = concept_members});
  t.add({.method = "GET",
         .path = S + "/memories/{memory_id}/concepts",
         .role = Role::Read,
         .summary = "Concepts an episode is bound to",
         .tags = tags,
         .operation_id = "episode_concepts",
         .handler = episode_concepts});
}

}  // namespace engram::server

// Spaces: create, list, inspect, validate, drop.
#include <algorithm>

#include "api_error.hpp"
#include "context.hpp"
#include "engram/space.hpp"
#include "engram/validation.hpp"
#include "json_writer.hpp"
#include "pagination.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

constexpr std::int64_t kMaxDim = 65536;

// JSON Schema of CreateSpace, as API v1 documented it (tests/server/recorded/openapi-starlette.json;
// test_native.py compares the documents).
std::string create_space_schema() {
  JsonWriter w;
  const auto opt_int = [&](std::string_view name, std::string_view title, std::int64_t lo, std::int64_t hi,
                           std::string_view description) {
    w.key(name).begin_object().key("anyOf").begin_array();
    w.begin_object().field("maximum", hi).field("minimum", lo).field("type", "integer").end_object();
    w.begin_object().field("type", "null").end_object().end_array();
    w.key("default").null();
    if (!description.empty()) w.field("description", description);
    w.field("title", title).end_object();
  };
  w.begin_object().field("additionalProperties", false).key("properties").begin_object();
  w.key("name").begin_object();
  w.field("description", "space name, unique in the engine: " + std::string(kSpaceNameRule));
  w.field("maxLength", static_cast<std::uint64_t>(kSpaceNameMax)).field("minLength", 1);
  w.field("pattern", kSpaceNamePattern).field("title", "Name").field("type", "string").end_object();
  opt_int("dim", "Dim", 1, kMaxDim, "embedding dimension (engine default)");
  opt_int("M", "M", 2, 128, "");
  opt_int("ef_construction", "Ef Construction", 1, 4096, "");
  opt_int("ef_search", "Ef Search", 1, 4096, "");
  opt_int("max_memories", "Max Memories", 1, std::int64_t{1} << 40, "");
  w.end_object();
  w.key("required").begin_array().value("name").end_array();
  w.field("title", "CreateSpace").field("type", "object").end_object();
  return w.take();
}

std::string checked_name(std::string_view name) {
  if (!is_valid_space_name(name)) {
    throw ApiError(400, "invalid_input",
                   "invalid space name '" + preview(name, 64) + "'; expected " + std::string(kSpaceNameRule));
  }
  return std::string(name);
}

Response list_spaces(RequestContext& ctx) {
  const PageQuery q = page_query(ctx);
  std::vector<std::string> names;
  for (auto& n : ctx.engine().space_names())
    if (ctx.principal->grants(n)) names.push_back(std::move(n));  // a key sees only its own spaces
  if (q.paged) std::sort(names.begin(), names.end());
  const Page p = page_of(q, names.size(), [&](std::size_t i) { return names[i]; });
  JsonWriter w = ctx.writer();
  w.begin_object().key("spaces").begin_array();
  for (std::size_t i = p.first; i < p.last; ++i) w.value(names[i]);
  w.end_array();
  write_next_cursor(w, q, p);
  w.end_object();
  return Response::json(w.take());
}

std::optional<std::string> create_space_name(RequestContext& ctx) {
  auto o = ctx.json();
  auto name = o.get("name");
  if (!name) return std::nullopt;  // the handler reports the missing field with the others
  return checked_name(name->as_string(1, kSpaceNameMax));
}

Response create_space(RequestContext& ctx) {
  auto o = ctx.json();
  const std::string name = checked_name(o.required("name").as_string(1, kSpaceNameMax));
  SpaceConfig c = ctx.engine().config().space;  // the engine's defaults, overridden where given
  if (auto v = o.opt_int("dim", 1, kMaxDim)) c.dim = static_cast<std::size_t>(*v);
  if (auto v = o.opt_int("M", 2, 128)) c.hnsw.M = static_cast<std::uint32_t>(*v);
  if (auto v = o.opt_int("ef_construction", 1, 4096)) c.hnsw.ef_construction = static_cast<std::uint32_t>(*v);
  if (auto v = o.opt_int("ef_search", 1, 4096)) c.hnsw.ef_search = static_cast<std::uint32_t>(*v);
  if (auto v = o.opt_int("max_memories", 1, std::int64_t{1} << 40)) c.max_memories = static_cast<std::size_t>(*v);
  o.finish();
  auto sp = ctx.engine().create_space(name, c);
  ctx.state.log.info(
      "space_created",
      {{"space", sp->name()}, {"dim", static_cast<std::uint64_t>(sp->dim())}, {"key", ctx.principal->key_id}});
  JsonWriter w = ctx.writer();
  w.begin_object().field("name", sp->name()).field("dim", static_cast<std::uint64_t>(sp->dim()));
  w.field("memories", 0).end_object();
  return Response::json(w.take(), 201);
}

Response get_space(RequestContext& ctx) {
  auto sp = ctx.engine().space(*ctx.space);
  JsonWriter w = ctx.writer();
  w.begin_object().field("name", sp->name()).field("dim", static_cast<std::uint64_t>(sp->dim()));
  w.field("memories", static_cast<std::uint64_t>(sp->size())).end_object();
  return Response::json(w.take());
}

Response space_stats(RequestContext& ctx) {
  auto sp = ctx.engine().space(*ctx.space);
  const SpaceStats s = sp->stats();
  const auto& h = sp->config().hnsw;
  const auto dim = static_cast<std::uint64_t>(sp->dim());
  JsonWriter w = ctx.writer();
  w.begin_object().field("name", sp->name()).field("dim", dim).key("stats").begin_object();
  w.field("space", sp->name()).field("dim", dim).field("episodes", s.episodes).field("concepts", s.concepts);
  w.field("forgotten", s.forgotten).key("memory_bytes").begin_object();
  w.field("vectors", s.vector_bytes).field("index_links", s.index_link_bytes).field("index_nodes", s.index_node_bytes);
  w.field("records", s.record_bytes).field("content", s.content_bytes).field("metadata", s.metadata_bytes);
  w.field("concepts", s.concept_bytes).field("edges", s.edge_bytes).field("total", s.total_bytes()).end_object();
  w.key("index").begin_object().field("M", h.M).field("ef_construction", h.ef_construction);
  w.field("ef_search", h.ef_search).field("top_level", s.index_top_level).end_object();
  w.end_object().end_object();
  return Response::json(w.take());
}

Response validate_space(RequestContext& ctx) {
  auto sp = ctx.engine().space(*ctx.space);
  const IntegrityReport r = sp->validate();
  JsonWriter w = ctx.writer();
  w.begin_object().key("validation").begin_object();
  w.field("ok", r.ok()).field("nodes", r.index.nodes).field("deleted", r.index.deleted);
  w.field("broken_links", r.index.broken_links).field("layer_violations", r.index.layer_violations);
  w.field("dangling_ids", r.index.dangling_ids).field("unreachable", r.index.unreachable);
  w.field("records", r.records).field("record_index_mismatches", r.record_index_mismatches);
  w.field("concepts", r.concepts).field("orphaned_concepts", r.orphaned_concepts);
  w.field("one_sided_bindings", r.one_sided_bindings).field("edges_to_missing", r.edges_to_missing);
  w.end_object().end_object();
  return Response::json(w.take());
}

Response drop_space(RequestContext& ctx) {
  ctx.engine().drop_space(*ctx.space);
  ctx.state.log.info("space_dropped", {{"space", *ctx.space}, {"key", ctx.principal->key_id}});
  JsonWriter w = ctx.writer();
  w.begin_object().field("dropped", *ctx.space).end_object();
  return Response::json(w.take());
}

}  // namespace

void register_spaces_routes(RouteTable& t) {
  const std::string P = "/api/v1/spaces";
  const std::string S = P + "/{space}";
  const std::vector<std::string> tags{"spaces"};
  t.add({.method = "GET",
         .path = P,
         .role = Role::Read,
         .summary = "List the spaces this key may use",
         .tags = tags,
         .operation_id = "list_spaces",
         .handler = list_spaces});
  t.add({.method = "POST",
         .path = P,
         .role = Role::Admin,
         .summary = "Create a space",
         .tags = tags,
         .operation_id = "create_space",
         .handler = create_space,
         .body = BodySchema{"CreateSpace", create_space_schema()},
         .status = 201,
         .responses = {{409, "space exists"}},
         .exec = Exec::Worker,  // a durable WAL write
         .space_from = create_space_name});
  t.add({.method = "GET",
         .path = S,
         .role = Role::Read,
         .summary = "A space's name, dimension and size",
         .tags = tags,
         .operation_id = "get_space",
         .handler = get_space});
  t.add({.method = "GET",
         .path = S + "/stats",
         .role = Role::Read,
         .summary = "A space's counts and memory use",
         .tags = tags,
         .operation_id = "space_stats",
         .handler = space_stats,
         .exec = Exec::Worker});
  t.add({.method = "GET",
         .path = S + "/validate",
         .role = Role::Read,
         .summary = "Integrity counts of a space's index and records",
         .tags = tags,
         .operation_id = "validate_space",
         .handler = validate_space,
         .exec = Exec::Worker});  // walks the whole index
  t.add({.method = "DELETE",
         .path = S,
         .role = Role::Admin,
         .summary = "Drop a space and all its memories",
         .tags = tags,
         .operation_id = "drop_space",
         .handler = drop_space,
         .exec = Exec::Worker});
}

}  // namespace engram::server

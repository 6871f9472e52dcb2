// Operations: liveness, readiness, Prometheus metrics and the OpenAPI document (no key needed).
#include <mutex>

#include "api_version.hpp"
#include "context.hpp"
#include "json_writer.hpp"
#include "openapi.hpp"
#include "routes.hpp"

#ifndef ENGRAM_VERSION
#define ENGRAM_VERSION "0.0.0"
#endif

namespace engram::server {

namespace {

Response live(RequestContext& ctx) {
  JsonWriter w = ctx.writer();
  w.begin_object().field("status", "live").field("phase", phase_name(ctx.state.phase())).end_object();
  return Response::json(w.take());
}

Response ready(RequestContext& ctx) {
  const Phase p = ctx.state.phase();
  JsonWriter w = ctx.writer();
  if (p != Phase::Ready) {
    w.begin_object().field("status", "not_ready").field("phase", phase_name(p));
    if (!ctx.state.open_error().empty() && p == Phase::Failed) w.field("error", ctx.state.open_error());
    w.end_object();
    Response r = Response::json(w.take(), 503);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  w.begin_object().field("status", "ready").field("phase", phase_name(p)).end_object();
  return Response::json(w.take());
}

// Per-space series (space names, counts) are served when --metrics-per-space is set or the
// scrape carries a valid key granted every space ("*"); otherwise they are dropped (defect 4).
// A missing or bad key is not an error here: scrapers without keys still get the rest.
bool per_space_allowed(const RequestContext& ctx) {
  if (ctx.state.config.metrics_per_space || !ctx.state.keys) return true;
  const auto auth = ctx.header("authorization");
  if (!auth) return false;
  try {
    return ctx.state.keys->authenticate(*auth)->all_spaces();
  } catch (const std::exception&) {
    return false;
  }
}

Response metrics(RequestContext& ctx) {
  std::string text;
  if (auto engine = ctx.state.engine_ptr(); engine && !engine->closed()) {
    std::string eng = engine->prometheus();
    if (!per_space_allowed(ctx)) eng = strip_per_space_series(eng);
    while (!eng.empty() && eng.back() == '\n') eng.pop_back();
    text = eng + "\n";
  }
  text += ctx.state.metrics.render();
  return Response{200, std::move(text), "text/plain; version=0.0.4; charset=utf-8", {}};
}

Response openapi(RequestContext& ctx) {
  static std::once_flag once;
  static std::string doc;
  std::call_once(once, [&] {
    doc = openapi_document(ctx.state.routes, ENGRAM_VERSION, {ctx.state.config.max_k, ctx.state.config.max_batch});
  });
  return Response::json(doc);
}

}  // namespace

void register_ops_routes(RouteTable& t) {
  const std::vector<std::string> tags{"operations"};
  t.add({.method = "GET",
         .path = "/health/live",
         .role = Role::Public,
         .summary = "Liveness: the process serves HTTP",
         .tags = tags,
         .operation_id = "live",
         .handler = live});
  t.add({.method = "GET",
         .path = "/health/ready",
         .role = Role::Public,
         .summary = "Readiness: the engine is open and recovered",
         .tags = tags,
         .operation_id = "ready",
         .handler = ready,
         .responses = {{503, "not ready"}}});
  t.add({.method = "GET",
         .path = "/metrics",
         .role = Role::Public,
         .summary = "Prometheus metrics (engine and server)",
         .tags = tags,
         .operation_id = "metrics",
         .handler = metrics,
         .media_type = "text/plain"});
  t.add({.method = "GET",
         .path = std::string(kMigrationNotesPath),
         .role = Role::Public,
         .summary = "How to move from API v1 (deprecated) to v2: the Link of every v1 answer points here",
         .tags = tags,
         .operation_id = "migration_notes",
         .handler =
             [](RequestContext&) {
               return Response{200, std::string(migration_notes()), "text/markdown", {}};
             },
         .media_type = "text/markdown"});
  t.add({.method = "GET",
         .path = "/openapi.json",
         .role = Role::Public,
         .summary = "This API's OpenAPI 3.1 document",
         .tags = tags,
         .operation_id = "openapi",
         .handler = openapi});
}

}  // namespace engram::server

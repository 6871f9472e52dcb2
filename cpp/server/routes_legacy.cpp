// The upstream engine's remember route, kept for its clients and deprecated
// (POST /api/v1/memories/remember). The space is resolved as upstream did (X-Memory-Space header,
// then ?space=, then the body's memory_space_id, then "default"), but sources that disagree are
// an error and authorisation is checked on the resolved space (the HTTP layer does, after
// space_from), which closes the upstream cross-tenant hole. Responses carry Deprecation and
// Sunset headers and a Link to the successor; each use is logged.
#include "api_error.hpp"
#include "context.hpp"
#include "embedding_input.hpp"
#include "engram/space.hpp"
#include "engram/validation.hpp"
#include "json_writer.hpp"
#include "routes.hpp"

namespace engram::server {

namespace {

constexpr const char* kDeprecatedSince = "@1767225600";  // RFC 9745 structured date: 2026-01-01T00:00:00Z
constexpr std::size_t kMaxContentChars = 100000;

std::string legacy_remember_schema() {
  return std::string(
             R"({"additionalProperties":false,"description":"The upstream route's body (deprecated): space from )"
             R"(X-Memory-Space, ?space= or this field.","properties":{)"
             R"("content":{"maxLength":100000,"title":"Content","type":"string"},)"
             R"("embedding":)") +
         embedding_schema_json("Embedding") +
         R"(,"confidence":{"default":0.7,"maximum":1.0,"minimum":0.0,"title":"Confidence","type":"number"},)"
         R"("memory_space_id":{"anyOf":[{"maxLength":)" +
         std::to_string(kSpaceNameMax) + R"(,"minLength":1,"pattern":)" +
         [] {
           std::string s;
           JsonWriter::append_string(s, kSpaceNamePattern);
           return s;
         }() +
         R"(,"type":"string"},{"type":"null"}],"default":null,"title":"Memory Space Id"}},)"
         R"("required":["content","embedding"],"title":"LegacyRemember","type":"object"})";
}

// The last value of a query parameter, decoded as a form ('+' is a space), or nullopt.
std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    for (auto& c : key) c = c == '+' ? ' ' : c;
    if (percent_decode(key) != name) continue;
    std::string value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    for (auto& c : value) c = c == '+' ? ' ' : c;
    found = percent_decode(value);
  }
  return found;
}

std::optional<std::string> body_space(RequestContext& ctx) {
  auto o = ctx.json();
  auto v = o.get("memory_space_id");
  if (!v) return std::nullopt;
  const std::string_view name = v->as_string(1, kSpaceNameMax);
  if (!is_valid_space_name(name)) {
    throw ApiError(400, "invalid_input",
                   "invalid request body: memory_space_id: invalid space name '" + preview(name, 64) + "'; expected " +
                       std::string(kSpaceNameRule));
  }
  return std::string(name);
}

std::optional<std::string> resolve_space(RequestContext& ctx) {
  std::vector<std::pair<const char*, std::string>> given;
  if (auto h = ctx.header("x-memory-space")) given.emplace_back("X-Memory-Space header", std::string(*h));
  if (auto q = query_param(ctx.query, "space")) given.emplace_back("space query parameter", std::move(*q));
  if (auto b = body_space(ctx)) given.emplace_back("memory_space_id field", std::move(*b));
  for (const auto& g : given) {
    if (g.second != given.front().second) {
      std::string names;
      for (const auto& [source, value] : given) {
        names += (names.empty() ? "" : ", ") + std::string(source) + " '" + preview(value, 64) + "'";
      }
      throw ApiError(400, "ambiguous_space", "the request names different spaces: " + names + "; name one");
    }
  }
  const std::string space = given.empty() ? std::string("default") : given.front().second;
  if (!is_valid_space_name(space)) {
    throw ApiError(400, "invalid_input",
                   "invalid space name '" + preview(space, 64) + "'; expected " + std::string(kSpaceNameRule));
  }
  return space;
}

Response legacy_remember(RequestContext& ctx) {
  auto o = ctx.json();
  const std::string_view content_view = o.required("content").as_string();
  std::size_t chars = 0;
  for (const char c : content_view) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  if (chars > kMaxContentChars) {
    throw ApiError(400, "invalid_input",
                   "invalid request body: content: expected at most 100000 characters, got " + std::to_string(chars));
  }
  std::vector<float> embedding = read_embedding(o.required("embedding"));
  const double confidence = o.opt_number("confidence", 0.0, 1.0).value_or(0.7);
  o.get("memory_space_id");  // read by resolve_space
  o.finish();
  EpisodeInput e;
  e.embedding = embedding.data();
  e.embedding_size = embedding.size();
  e.content = std::string(content_view);
  e.confidence = confidence;
  const std::int64_t id = ctx.engine().space(*ctx.space)->remember(std::move(e));
  ctx.state.log.warning("deprecated_route_used", {{"route", "/api/v1/memories/remember"},
                                                  {"successor", "/api/v1/spaces/{space}/memories"},
                                                  {"key", ctx.principal->key_id}});
  JsonWriter w;
  w.begin_object().field("memory_id", id).field("space", *ctx.space).end_object();
  Response r = Response::json(w.take(), 201);
  r.headers.emplace_back("Deprecation", kDeprecatedSince);
  r.headers.emplace_back("Sunset", ctx.state.config.deprecated_sunset);
  r.headers.emplace_back("Link", "</api/v1/spaces/" + *ctx.space + "/memories>; rel=\"successor-version\"");
  return r;
}

}  // namespace

void register_legacy_routes(RouteTable& t) {
  t.add({.method = "POST",
         .path = "/api/v1/memories/remember",
         .role = Role::Write,
         .summary = "Remember (upstream-compatible; deprecated, use /spaces/{space}/memories)",
         .tags = {"memories"},
         .operation_id = "legacy_remember",
         .handler = legacy_remember,
         .body = BodySchema{"LegacyRemember", legacy_remember_schema()},
         .status = 201,
         .exec = Exec::DurableWrite,
         .deprecated = true,
         .space_from = resolve_space});
}

}  // namespace engram::server

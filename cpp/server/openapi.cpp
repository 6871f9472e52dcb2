#include "openapi.hpp"

#include <simdjson.h>

#include <map>
#include <set>
#include <stdexcept>

#include "engram/validation.hpp"
#include "json_writer.hpp"

namespace engram::server {

namespace {
const std::map<int, std::string>& error_statuses() {
  static const std::map<int, std::string> m = {
      {400, "bad input"},
      {401, "missing or unknown API key"},
      {403, "key lacks the role or the space"},
      {404, "unknown space, memory or route"},
      {413, "body or batch too large"},
      {429, "overloaded (see Retry-After)"},
      {503, "not ready or shutting down (see Retry-After)"},
  };
  return m;
}

constexpr std::string_view kIdPattern = "^-?[0-9]{1,19}$";

void param_schema(JsonWriter& w, std::string_view name, int version) {
  w.begin_object();
  if (version >= 2 && name != "space") {
    w.field("type", "string").field("pattern", kIdPattern).field("description", "a memory id (decimal digits)");
  } else if (name == "space") {
    w.field("type", "string").field("minLength", 1).field("maxLength", static_cast<std::uint64_t>(kSpaceNameMax));
    w.field("pattern", kSpaceNamePattern);
  } else {
    w.field("type", "integer").field("format", "int64");
  }
  w.end_object();
}

// A schema with the server's limits in place of their tokens (DocumentLimits).
std::string with_limits(std::string schema, const DocumentLimits& limits) {
  const std::pair<std::string_view, std::int64_t> tokens[] = {{"{{max_k}}", limits.max_k},
                                                              {"{{max_batch}}", limits.max_batch}};
  for (const auto& [token, value] : tokens) {
    for (auto at = schema.find(token); at != std::string::npos; at = schema.find(token, at)) {
      schema.replace(at, token.size(), std::to_string(value));
    }
  }
  return schema;
}

constexpr std::string_view kSchemaRef = "#/components/schemas/";

bool mentions_ids(const std::string& schema) { return schema.find("\"int64\"") != std::string::npos; }

// A schema rewritten for API v2: every int64 (a memory id) also takes its decimal digits as a
// string, the form v2 writes ids in (ValueReader::as_id reads both), and a reference to a schema
// with ids (`renamed`) refers to its v2 form, <name>V2.
void write_v2(JsonWriter& w, simdjson::dom::element e, const std::set<std::string>& renamed) {
  using simdjson::dom::element_type;
  if (e.type() == element_type::ARRAY) {
    const simdjson::dom::array a = e.get_array().value_unsafe();  // a copy: the result is a temporary
    w.begin_array();
    for (auto x : a) write_v2(w, x, renamed);
    w.end_array();
    return;
  }
  if (e.type() != element_type::OBJECT) {
    w.raw(simdjson::minify(e));
    return;
  }
  const simdjson::dom::object o = e.get_object().value_unsafe();
  std::string_view format;
  const bool id = o["format"].get(format) == simdjson::SUCCESS && format == "int64";
  if (id) {
    w.begin_object().key("anyOf").begin_array();
    w.begin_object().field("type", "string").field("pattern", kIdPattern).end_object();
  }
  w.begin_object();
  for (auto field : o) {
    w.key(field.key);
    std::string_view ref;
    if (field.key == "$ref" && field.value.get(ref) == simdjson::SUCCESS && ref.starts_with(kSchemaRef) &&
        renamed.count(std::string(ref.substr(kSchemaRef.size())))) {
      w.value(std::string(ref) + "V2");
    } else {
      write_v2(w, field.value, renamed);
    }
  }
  w.end_object();
  if (id) w.end_array().field("description", "a memory id: decimal digits as a string (or an integer)").end_object();
}

std::string v2_schema(const std::string& schema, const std::set<std::string>& renamed) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto err = parser.parse(schema).get(root); err != simdjson::SUCCESS) {
    // the route's own schema: invalid JSON is a bug of this program
    throw std::logic_error(std::string("invalid request-body schema (") + simdjson::error_message(err) +
                           "): " + schema);
  }
  JsonWriter w;
  write_v2(w, root, renamed);
  return w.take();
}

// Whether API v2 reads a body differently: its schema, or one it refers to, has memory ids
// (int64) to take as strings.
bool has_ids(const Route& r) {
  if (!r.body) return false;
  if (mentions_ids(r.body->json_schema)) return true;
  for (const auto& [name, def] : r.body->defs)
    if (mentions_ids(def)) return true;
  return false;
}

// The component name of a route's body: v2's own (<name>V2) where it has ids.
std::string body_name(const Route& r) { return r.version >= 2 && has_ids(r) ? r.body->name + "V2" : r.body->name; }

// v1's Error, or v2's ErrorV2: one shape, every key present, field and retry_after_ms nullable.
void error_schema(JsonWriter& w, int version) {
  w.begin_object().field("type", "object").key("required").begin_array().value("error").end_array();
  w.key("properties").begin_object().key("error").begin_object().field("type", "object");
  w.key("required").begin_array().value("code").value("message").value("status").value("request_id");
  if (version >= 2) w.value("field").value("retry_after_ms");
  w.end_array();
  if (version >= 2) w.field("additionalProperties", false);
  w.key("properties").begin_object();
  w.key("code")
      .begin_object()
      .field("type", "string")
      .field("description", "stable machine-readable code")
      .end_object();
  w.key("message")
      .begin_object()
      .field("type", "string")
      .field("description", "what was wrong and what is expected")
      .end_object();
  w.key("status").begin_object().field("type", "integer").end_object();
  w.key("request_id").begin_object().field("type", "string").end_object();
  if (version >= 2) {
    w.key("field")
        .begin_object()
        .key("type")
        .begin_array()
        .value("string")
        .value("null")
        .end_array()
        .field("description", "the request field the error is about, as a JSON Pointer (RFC 6901), or null")
        .end_object();
    w.key("retry_after_ms").begin_object().key("type").begin_array().value("integer").value("null").end_array();
    w.end_object();
  } else {
    w.key("retry_after_ms").begin_object().field("type", "integer").end_object();
  }
  w.end_object().end_object().end_object().end_object();
}
}  // namespace

std::string openapi_document(const RouteTable& table, const std::string& engram_version, const DocumentLimits& limits) {
  JsonWriter w;
  w.begin_object().field("openapi", "3.1.0");
  w.key("info").begin_object().field("title", "Engram");
  w.field("version", engram_version + " (API v1, deprecated, and v2)");
  w.field("description",
          "API v2 lives under /api/v2 and v1, deprecated, under /api/v1 (/api/... takes the version from the "
          "Accept-Version header, else v2); v2 writes memory ids as strings of decimal digits and both read ids "
          "as integers or such strings; v1 answers carry Deprecation, Sunset and a Link to the migration notes "
          "(/api/migration/v1-to-v2). "
          "Errors are JSON {error: {code, message, status, request_id}}; every response carries X-Request-Id and "
          "Engram-API-Version. Streaming ingestion is a WebSocket at /api/v2/spaces/{space}/stream (or /api/v1/...), "
          "not listed as an "
          "operation: JSON text frames; the client sends {type: observation, seq, embedding, content, confidence, "
          "timestamp, metadata, idempotency_key} with increasing seq; the server sends ready first, then in seq "
          "order ack {seq, id, replayed} once stored (durable and searchable) or reject {seq, code, message, "
          "retryable}, flow {state, queue_depth} as its queue fills, draining at shutdown (close 1001), and error "
          "{code, message, close} before closing 4400, 4413 or 4429 on a frame it cannot tie to a seq. Embeddings in "
          "request bodies are JSON arrays of "
          "numbers or, as a v1 addition, strings of standard padded base64 of little-endian float32 values; search "
          "also takes the raw float32 bytes as an application/octet-stream body. HEAD is answered on every GET "
          "route with the GET's status and headers and no body; a method a path does not serve is 405 "
          "method_not_allowed with an Allow header listing those it does; an unknown path is 404 route_not_found.");
  w.end_object();
  // paths, in declaration order, grouped by path
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Route*>> by_path;
  for (const auto& r : table.routes()) {
    if (!by_path.count(r.path)) order.push_back(r.path);
    by_path[r.path].push_back(&r);
  }
  w.key("paths").begin_object();
  for (const auto& path : order) {
    w.key(path).begin_object();
    for (const Route* r : by_path[path]) {
      std::string m = r->method;
      for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      w.key(m).begin_object();
      w.field("operationId", r->operation_id).field("summary", r->summary);
      w.key("tags").begin_array();
      for (const auto& t : r->tags) w.value(t);
      w.end_array();
      w.key("responses").begin_object();
      w.key(std::to_string(r->status)).begin_object().field("description", "success");
      w.key("content").begin_object().key(r->media_type).begin_object().key("schema").begin_object().end_object();
      w.end_object().end_object().end_object();
      std::map<int, std::string> errors = error_statuses();
      for (const auto& [s, text] : r->responses) errors[s] = text;
      for (const auto& [s, text] : errors) {
        if (s == r->status) continue;
        w.key(std::to_string(s)).begin_object().field("description", text);
        w.key("content").begin_object().key("application/json").begin_object().key("schema").begin_object();
        w.field("$ref", std::string("#/components/schemas/") + (r->version >= 2 ? "ErrorV2" : "Error"));
        w.end_object().end_object().end_object().end_object();
      }
      w.end_object();
      if (r->role == Role::Public) {
        w.key("security").begin_array().end_array();
      } else {
        std::string d = "Requires a key with role '" + std::string(role_name(r->role)) + "'";
        if (r->engine_wide) {
          d += " granted every space ('*'): it acts on the whole engine.";
        } else if (r->path.find("{space}") != std::string::npos || r->space_from) {
          d += " granted this space.";
        } else {
          d += ".";
        }
        w.field("description", d);
      }
      if (r->deprecated || r->version == 1) w.field("deprecated", true);  // all of v1: docs/api-versions.md
      std::vector<std::string> params;
      for (std::size_t i = r->path.find('{'); i != std::string::npos; i = r->path.find('{', i + 1)) {
        params.push_back(r->path.substr(i + 1, r->path.find('}', i) - i - 1));
      }
      if (!params.empty()) {
        w.key("parameters").begin_array();
        for (const auto& p : params) {
          w.begin_object().field("name", p).field("in", "path").field("required", true).key("schema");
          param_schema(w, p, r->version);
          w.end_object();
        }
        w.end_array();
      }
      if (r->body) {
        w.key("requestBody").begin_object().field("required", true).key("content").begin_object();
        w.key("application/json").begin_object().key("schema").begin_object();
        w.field("$ref", "#/components/schemas/" + body_name(*r)).end_object().end_object();
        for (const auto& [media, schema] : r->body->other_content)
          w.key(media).begin_object().key("schema").raw(with_limits(schema, limits)).end_object();
        w.end_object().end_object();
      }
      w.end_object();
    }
    w.end_object();
  }
  w.end_object();
  w.key("components").begin_object().key("schemas").begin_object();
  std::map<std::string, std::string> schemas;
  for (const auto& r : table.routes())
    if (r.body) {
      const bool v2 = r.version >= 2 && has_ids(r);
      std::set<std::string> renamed;  // v2: the referenced schemas with ids, named <name>V2
      for (const auto& [name, def] : r.body->defs)
        if (v2 && mentions_ids(def)) renamed.insert(name);
      const std::string schema = with_limits(r.body->json_schema, limits);
      schemas[body_name(r)] = v2 ? v2_schema(schema, renamed) : schema;
      for (const auto& [name, def] : r.body->defs) {
        const std::string d = with_limits(def, limits);
        schemas[renamed.count(name) ? name + "V2" : name] = renamed.count(name) ? v2_schema(d, renamed) : d;
      }
    }
  for (const auto& [name, schema] : schemas) w.key(name).raw(schema);
  w.key("Error");
  error_schema(w, 1);
  w.key("ErrorV2");
  error_schema(w, 2);
  w.end_object();
  w.key("securitySchemes").begin_object().key("apiKey").begin_object().field("type", "http").field("scheme", "bearer");
  w.end_object().end_object().end_object();
  w.key("security").begin_array().begin_object().key("apiKey").begin_array().end_array().end_object().end_array();
  w.end_object();
  return w.take();
}

}  // namespace engram::server

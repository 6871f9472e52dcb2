// The route table, declared once: method, path template, role, whether the route acts on the
// whole engine, summary, tags, request-body schema, success status, extra responses, and where
// the handler runs (inline on an IO thread for short engine calls; on the bounded worker pool
// for anything that can block or take long). The HTTP layer, the auth layer and /openapi.json
// all read this table, so the document cannot drift from the code.
//
// A route group is one file with one function, `void register_<group>_routes(RouteTable&)`,
// listed once in routes.cpp (register_all_routes).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth.hpp"

namespace engram::server {

class RequestContext;

struct Response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  static Response json(std::string body, int status = 200) {
    return Response{status, std::move(body), "application/json", {}};
  }
};

using Handler = std::function<Response(RequestContext&)>;

// Inline: on the IO thread. Worker: on the bounded pool. DurableWrite: a short write that blocks
// only on the WAL (the group commit or fsync): on the pool for a durable engine, inline for an
// in-memory one, where nothing waits and the hop to the pool and back would only add two
// thread wake-ups and a worker-budget slot to a sub-millisecond call.
enum class Exec { Inline, Worker, DurableWrite };

// A request body's model: its name (components/schemas/<name>) and JSON Schema (JSON text). The
// handler reads the body with the strict reader (json_reader.hpp) under the same constraints.
struct BodySchema {
  std::string name;
  std::string json_schema;
  // API v1 additions: other accepted content types (media type -> schema JSON, e.g.
  // application/octet-stream).
  std::vector<std::pair<std::string, std::string>> other_content = {};
  // Further component schemas the schema refers to ("$ref": "#/components/schemas/<name>").
  std::vector<std::pair<std::string, std::string>> defs = {};
};

struct Route {
  std::string method;
  std::string path;  // template: /api/v1/spaces/{space}/memories/{memory_id}
  Role role = Role::Public;
  std::string summary;
  std::vector<std::string> tags;
  std::string operation_id;
  Handler handler;
  std::optional<BodySchema> body;
  int status = 200;
  std::map<int, std::string> responses;         // extra documented responses
  std::string media_type = "application/json";  // of the success response, as the document declares it
  Exec exec = Exec::Inline;
  bool engine_wide = false;  // needs a key granted "*" (auth.hpp)
  bool deprecated = false;
  // The API version the route belongs to (its path starts /api/v<version>; routes outside /api are
  // version 0). register_all_routes declares v1 and derives v2 from it (routes.cpp).
  int version = 1;
  // For routes whose space is not in the path (create: the body's name), called after the body
  // is parsed; the auth layer then checks the grant on it.
  std::function<std::optional<std::string>(RequestContext&)> space_from;
  // Routes run on the pool: units of the caller's worker-pool budget this call takes while it runs
  // (admission.hpp, defect 9). 1 for an ordinary blocking call; more for expensive ones
  // (consolidation, big batches, wide spreads); 0: not budgeted. Inline routes are never budgeted.
  std::int64_t cost = 1;
};

struct PathParams {
  std::vector<std::pair<std::string_view, std::string>> values;  // name (from the template), decoded
  const std::string* get(std::string_view name) const {
    for (const auto& [k, v] : values)
      if (k == name) return &v;
    return nullptr;
  }
};

class RouteTable {
 public:
  void add(Route r);
  struct Match {
    const Route* route = nullptr;
    PathParams params;
    bool path_known = false;  // some route has this path (a method mismatch is then 405)
    // When no route matched: the methods served on this path, for a 405's Allow header, in
    // declaration order, HEAD after GET (HEAD is answered on every GET route, as HTTP requires of
    // a general-purpose server). Incomplete when a route matched (not needed then).
    std::vector<std::string> allow;
  };
  // HEAD matches the path's GET route (the HTTP layer then sends the GET's headers, no body).
  Match match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // literal, or "{name}"
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

// Match::allow as an Allow header value ("GET, HEAD, DELETE").
std::string allow_header(const std::vector<std::string>& methods);

// Percent-decoding of one path segment ("%2E" -> "."); invalid escapes stay as they are.
std::string percent_decode(std::string_view s);

}  // namespace engram::server

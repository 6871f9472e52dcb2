// What a handler sees of one request. Built by the HTTP layer after the route matched, the key
// was authenticated and authorised on the path's space, and the body was read within its limits;
// handlers read typed fields with json() (strict: json_reader.hpp) and return a Response or throw
// (ApiError, or an engine exception mapped by api_error.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engram/stage_trace.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "router.hpp"
#include "state.hpp"

namespace engram::server {

class RequestContext {
 public:
  RequestContext(ServerState& state, const Route& route, std::string request_id) noexcept
      : state(state), route(route), request_id(std::move(request_id)) {}

  ServerState& state;
  const Route& route;
  std::string request_id;
  std::string method;
  std::string path;   // decoded only per parameter; as received otherwise
  std::string query;  // after '?', raw
  PathParams params;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::shared_ptr<const Principal> principal;
  std::optional<std::string> space;  // the path's {space}, or route.space_from's
  std::string body;                  // raw bytes as received

  // A header value (name in lower case), or nullopt.
  std::optional<std::string_view> header(std::string_view lower_name) const;
  // A path parameter as text; std::logic_error if the template has no such parameter.
  const std::string& param(std::string_view name) const;
  // A path parameter as an int64 memory id: digits only, in range (ApiError 400 otherwise).
  std::int64_t path_int(std::string_view name) const;
  // The body as a strict JSON object (parsed once; invalid_json / invalid_input errors).
  ObjectReader json();
  // k checked against the server's max_k (400 limit_exceeded beyond).
  std::int64_t check_k(std::int64_t k, std::string_view name = "k") const;
  Engine& engine() const { return state.engine_in_flight(); }
  // A response writer whose memory ids follow the route's API version (numbers in v1, strings in v2).
  // Its first call marks the start of the response's serialisation (the "serialise" stage of
  // engram_http_request_stage_seconds): handlers make their writer once the engine has answered.
  JsonWriter writer() const {
    if (serialise_start_ns == 0) serialise_start_ns = trace::unix_nanos();
    return JsonWriter(route.version >= 2 ? IdStyle::String : IdStyle::Number);
  }
  mutable std::int64_t serialise_start_ns = 0;

 private:
  std::unique_ptr<JsonDocument> doc_;
};

}  // namespace engram::server

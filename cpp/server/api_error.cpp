#include "api_error.hpp"

#include "engram/errors.hpp"
#include "json_writer.hpp"

namespace engram::server {

std::optional<ApiError> from_exception(const std::exception& e) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) return *api;
  const auto make = [&](int status, const char* code) {
    std::string msg = e.what();
    if (msg.empty()) msg = code;
    return ApiError(status, code, msg, status == 503 ? std::optional<double>(1.0) : std::nullopt);
  };
  if (dynamic_cast<const DimensionError*>(&e)) return make(400, "dimension_mismatch");
  if (dynamic_cast<const InvalidInputError*>(&e)) return make(400, "invalid_input");
  if (dynamic_cast<const SpaceNotFound*>(&e)) return make(404, "space_not_found");
  if (dynamic_cast<const MemoryNotFound*>(&e)) return make(404, "memory_not_found");
  if (dynamic_cast<const SpaceExists*>(&e)) return make(409, "space_exists");
  if (dynamic_cast<const IdempotencyConflict*>(&e)) return make(409, "idempotency_conflict");
  if (dynamic_cast<const CapacityError*>(&e)) return make(409, "capacity_exceeded");
  if (const auto* mp = dynamic_cast<const MemoryPressureError*>(&e)) {
    return ApiError(507, "memory_pressure", mp->what(), mp->retry_after_s());  // nothing stored
  }
  if (dynamic_cast<const CorruptionError*>(&e)) return make(500, "corruption");
  if (dynamic_cast<const StorageError*>(&e)) return make(503, "storage_unavailable");
  if (dynamic_cast<const ClosedError*>(&e)) return make(503, "shutting_down");
  return std::nullopt;
}

ApiError not_found_route(std::string_view path) {
  return ApiError(404, "route_not_found",
                  "no route " + std::string(path) + "; the API lives under /api/v1 (see /openapi.json)");
}

std::string json_pointer(std::string_view path) {
  std::string out;
  std::string token;
  const auto flush = [&] {
    out.push_back('/');
    for (const char c : token) {  // RFC 6901 escapes
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out.push_back(c);
      }
    }
    token.clear();
  };
  bool pending = false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '.' || c == '[') {
      if (pending || !token.empty()) flush();
      pending = c == '[';
    } else if (c == ']') {
      flush();
      pending = false;
    } else {
      token.push_back(c);
      pending = true;
    }
  }
  if (!token.empty()) flush();
  return out;
}

ApiError&& ApiError::at(std::string_view path) && {
  field = json_pointer(path);
  return std::move(*this);
}

std::string error_body(const ApiError& e, std::string_view request_id, int version) {
  JsonWriter w;
  w.begin_object().key("error").begin_object();
  w.field("code", e.code).field("message", std::string_view(e.what())).field("status", e.status);
  w.field("request_id", request_id);
  const std::optional<std::int64_t> retry_ms =
      e.retry_after_s ? std::optional<std::int64_t>(static_cast<std::int64_t>(*e.retry_after_s * 1000)) : std::nullopt;
  if (version >= 2) {
    w.key("field");
    e.field ? w.value(*e.field) : w.null();
    w.key("retry_after_ms");
    retry_ms ? w.value(*retry_ms) : w.null();
  } else if (retry_ms) {
    w.field("retry_after_ms", *retry_ms);
  }
  w.end_object().end_object();
  return w.take();
}

}  // namespace engram::server

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

std::string error_body(const ApiError& e, std::string_view request_id) {
  JsonWriter w;
  w.begin_object().key("error").begin_object();
  w.field("code", e.code).field("message", std::string_view(e.what())).field("status", e.status);
  w.field("request_id", request_id);
  if (e.retry_after_s) w.field("retry_after_ms", static_cast<std::int64_t>(*e.retry_after_s * 1000));
  w.end_object().end_object();
  return w.take();
}

}  // namespace engram::server

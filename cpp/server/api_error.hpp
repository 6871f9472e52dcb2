// API errors: an HTTP status, a stable machine code and a message saying what was wrong and what
// is expected (engram/client/errors.py maps the same codes onto exceptions). Handlers throw ApiError or let engine
// exceptions (engram/errors.hpp) escape; from_exception maps the latter onto codes once.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

namespace engram::server {

struct ApiError : std::runtime_error {
  ApiError(int status_, std::string code_, const std::string& message,
           std::optional<double> retry_after_s_ = std::nullopt)
      : std::runtime_error(message), status(status_), code(std::move(code_)), retry_after_s(retry_after_s_) {}
  int status;
  std::string code;
  std::optional<double> retry_after_s;  // sets Retry-After and retry_after_ms
  // The request field the error is about, as a JSON Pointer (RFC 6901: "/items/3/embedding");
  // API v2 answers it (docs/api-versions.md). Set by the strict body reader (json_reader.hpp).
  std::optional<std::string> field;
  // This error with its field, from a reader path ("items[3].embedding"): throw ApiError(...).at(path).
  ApiError&& at(std::string_view path) &&;
};

// "items[3].embedding" (the readers' path notation) as a JSON Pointer, "/items/3/embedding".
std::string json_pointer(std::string_view path);

// The API error for an engine exception (the most specific class first); nullopt for anything
// else, which is a bug and answered 500 "internal".
std::optional<ApiError> from_exception(const std::exception& e);

ApiError not_found_route(std::string_view path);

// API v1: {"error": {code, message, status, request_id[, retry_after_ms]}}. API v2 (version >= 2):
// one shape with every key always present, {"error": {code, message, status, request_id, field,
// retry_after_ms}}, field and retry_after_ms null when they do not apply.
std::string error_body(const ApiError& e, std::string_view request_id, int version = 1);

}  // namespace engram::server

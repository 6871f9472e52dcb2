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
};

// The API error for an engine exception (the most specific class first); nullopt for anything
// else, which is a bug and answered 500 "internal".
std::optional<ApiError> from_exception(const std::exception& e);

ApiError not_found_route(std::string_view path);

// {"error": {code, message, status, request_id[, retry_after_ms]}}
std::string error_body(const ApiError& e, std::string_view request_id);

}  // namespace engram::server

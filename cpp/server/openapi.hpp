// The OpenAPI 3.1 document, generated from the route table (API v1's layout,
// tests/server/recorded/openapi-starlette.json):
// paths with their parameters (the space-name rule from validation.hpp), request bodies
// referencing components/schemas, every route's error responses with the Error schema, and the
// bearer security scheme. Built once at start (the table is immutable after registration).
#pragma once

#include <cstdint>
#include <string>

#include "router.hpp"

namespace engram::server {

inline constexpr const char* kApiVersion = "1";

// This server's limits, which request schemas state as bounds: a schema writes {{max_k}} or
// {{max_batch}} where a number goes (k, max_results; batch sizes), and the document has the
// configured value there, so a body the document allows is one this server accepts.
struct DocumentLimits {
  std::int64_t max_k = 0;
  std::int64_t max_batch = 0;
};
std::string openapi_document(const RouteTable& routes, const std::string& engram_version, const DocumentLimits& limits);

}  // namespace engram::server

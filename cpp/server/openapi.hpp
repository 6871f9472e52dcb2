// The OpenAPI 3.1 document, generated from the route table (engram/server/openapi.py's layout):
// paths with their parameters (the space-name rule from validation.hpp), request bodies
// referencing components/schemas, every route's error responses with the Error schema, and the
// bearer security scheme. Built once at start (the table is immutable after registration).
#pragma once

#include <string>

#include "router.hpp"

namespace engram::server {

inline constexpr const char* kApiVersion = "1";
std::string openapi_document(const RouteTable& routes, const std::string& engram_version);

}  // namespace engram::server

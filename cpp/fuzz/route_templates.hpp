// The method and path template of every route engramd registers (cpp/server/routes_*.cpp), and
// whether it takes a body, for the request fuzzer: it matches fuzzed targets against the same
// templates with the server's RouteTable without linking the handlers (and with them the engine).
// cpp/tests/server/fuzz_routes_test.cpp checks this list against register_all_routes, so a new
// route that is not added here fails the C++ tests.
#pragma once

#include <array>
#include <string_view>

namespace engram::fuzz {

struct RouteTemplate {
  std::string_view method;
  std::string_view path;
  bool body;  // a JSON request body (some also take application/octet-stream)
};

// API v2 (docs/api-versions.md) has every v1 route but the deprecated upstream one.
inline constexpr std::array<RouteTemplate, 74> kRouteTemplates = {{
    {"GET", "/health/live", false},
    {"GET", "/health/ready", false},
    {"GET", "/metrics", false},
    {"GET", "/openapi.json", false},
    {"GET", "/api/migration/v1-to-v2", false},
    {"GET", "/api/v1/spaces", false},
    {"POST", "/api/v1/spaces", true},
    {"GET", "/api/v1/spaces/{space}", false},
    {"GET", "/api/v1/spaces/{space}/stats", false},
    {"GET", "/api/v1/spaces/{space}/validate", false},
    {"DELETE", "/api/v1/spaces/{space}", false},
    {"POST", "/api/v1/spaces/{space}/memories", true},
    {"POST", "/api/v1/spaces/{space}/memories/batch", true},
    {"GET", "/api/v1/spaces/{space}/memories/{memory_id}", false},
    {"DELETE", "/api/v1/spaces/{space}/memories/{memory_id}", false},
    {"POST", "/api/v1/spaces/{space}/links", true},
    {"POST", "/api/v1/memories/remember", true},
    {"GET", "/api/v1/consolidation", false},
    {"POST", "/api/v1/consolidation/start", true},
    {"POST", "/api/v1/consolidation/stop", false},
    {"POST", "/api/v1/consolidation/pause", false},
    {"POST", "/api/v1/consolidation/resume", false},
    {"GET", "/api/v1/stats", false},
    {"GET", "/api/v1/admin/features", false},
    {"PUT", "/api/v1/admin/features", true},
    {"POST", "/api/v1/admin/backup", true},
    {"GET", "/api/v1/admin/backups", false},
    {"GET", "/api/v1/spaces/{space}/memories/{memory_id}/neighbors", false},
    {"POST", "/api/v1/spaces/{space}/neighbors", true},
    {"POST", "/api/v1/spaces/{space}/links/batch", true},
    {"GET", "/api/v1/spaces/{space}/concepts", false},
    {"GET", "/api/v1/spaces/{space}/concepts/{concept_id}/members", false},
    {"GET", "/api/v1/spaces/{space}/memories/{memory_id}/concepts", false},
    {"POST", "/api/v1/spaces/{space}/search", true},
    {"POST", "/api/v1/spaces/{space}/recall", true},
    {"POST", "/api/v1/spaces/{space}/search/batch", true},
    {"POST", "/api/v1/spaces/{space}/recall/batch", true},
    {"POST", "/api/v1/spaces/{space}/spread", true},
    {"POST", "/api/v1/spaces/{space}/complete", true},
    {"POST", "/api/v1/spaces/{space}/consolidate", true},
    {"GET", "/api/v2/spaces", false},
    {"POST", "/api/v2/spaces", true},
    {"GET", "/api/v2/spaces/{space}", false},
    {"GET", "/api/v2/spaces/{space}/stats", false},
    {"GET", "/api/v2/spaces/{space}/validate", false},
    {"DELETE", "/api/v2/spaces/{space}", false},
    {"POST", "/api/v2/spaces/{space}/memories", true},
    {"POST", "/api/v2/spaces/{space}/memories/batch", true},
    {"GET", "/api/v2/spaces/{space}/memories/{memory_id}", false},
    {"DELETE", "/api/v2/spaces/{space}/memories/{memory_id}", false},
    {"POST", "/api/v2/spaces/{space}/links", true},
    {"GET", "/api/v2/consolidation", false},
    {"POST", "/api/v2/consolidation/start", true},
    {"POST", "/api/v2/consolidation/stop", false},
    {"POST", "/api/v2/consolidation/pause", false},
    {"POST", "/api/v2/consolidation/resume", false},
    {"GET", "/api/v2/stats", false},
    {"GET", "/api/v2/admin/features", false},
    {"PUT", "/api/v2/admin/features", true},
    {"POST", "/api/v2/admin/backup", true},
    {"GET", "/api/v2/admin/backups", false},
    {"GET", "/api/v2/spaces/{space}/memories/{memory_id}/neighbors", false},
    {"POST", "/api/v2/spaces/{space}/neighbors", true},
    {"POST", "/api/v2/spaces/{space}/links/batch", true},
    {"GET", "/api/v2/spaces/{space}/concepts", false},
    {"GET", "/api/v2/spaces/{space}/concepts/{concept_id}/members", false},
    {"GET", "/api/v2/spaces/{space}/memories/{memory_id}/concepts", false},
    {"POST", "/api/v2/spaces/{space}/search", true},
    {"POST", "/api/v2/spaces/{space}/recall", true},
    {"POST", "/api/v2/spaces/{space}/search/batch", true},
    {"POST", "/api/v2/spaces/{space}/recall/batch", true},
    {"POST", "/api/v2/spaces/{space}/spread", true},
    {"POST", "/api/v2/spaces/{space}/complete", true},
    {"POST", "/api/v2/spaces/{space}/consolidate", true},
}};

}  // namespace engram::fuzz

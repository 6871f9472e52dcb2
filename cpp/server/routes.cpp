#include "routes.hpp"

#include <string_view>
#include <vector>

namespace engram::server {

namespace {
constexpr std::string_view kV1 = "/api/v1/";
constexpr std::string_view kV2 = "/api/v2/";

// API v2 (docs/api-versions.md) serves every route of v1 but the deprecated upstream one, with the
// same handlers: what differs is decided by Route::version where the handler writes or reads a
// memory id (RequestContext::writer, ValueReader::as_id) and by the HTTP layer (headers).
void derive_v2(RouteTable& t) {
  std::vector<Route> v2;
  for (const auto& r : t.routes()) {
    if (r.version != 1 || r.deprecated) continue;
    Route c = r;
    c.path = std::string(kV2) + r.path.substr(kV1.size());
    c.version = 2;
    c.operation_id = r.operation_id + "_v2";
    v2.push_back(std::move(c));
  }
  for (auto& r : v2) t.add(std::move(r));
}
}  // namespace

void register_all_routes(RouteTable& t) {
  register_ops_routes(t);
  register_spaces_routes(t);
  register_memories_routes(t);
  register_legacy_routes(t);
  register_admin_routes(t);
  register_graph_routes(t);
  register_queries_routes(t);
  register_backup_routes(t);
  derive_v2(t);
}

}  // namespace engram::server

#include "routes.hpp"

namespace engram::server {

void register_all_routes(RouteTable& t) {
  register_ops_routes(t);
  register_spaces_routes(t);
  register_memories_routes(t);
  register_legacy_routes(t);
  register_admin_routes(t);
  register_graph_routes(t);
  register_queries_routes(t);
  register_backup_routes(t);
}

}  // namespace engram::server

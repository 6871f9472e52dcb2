#include "routes.hpp"

namespace engram::server {

void register_all_routes(RouteTable& t) {
  register_ops_routes(t);
  register_spaces_routes(t);
  register_graph_routes(t);
  register_queries_routes(t);
  // later parts of issue 13: memories, graph, queries, admin, legacy (one line each)
}

}  // namespace engram::server

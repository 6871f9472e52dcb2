// The route groups. Each group lives in its own file and registers its routes with one
// function; register_all_routes (routes.cpp) lists the groups in order (the order is the
// matching order: the first route whose method and path match answers). Adding a group: write routes_<group>.cpp with
// register_<group>_routes, declare it here, add one line to routes.cpp.
#pragma once

#include "engram/consolidation.hpp"
#include "json_reader.hpp"
#include "router.hpp"

namespace engram::server {

void register_ops_routes(RouteTable& t);
void register_spaces_routes(RouteTable& t);
void register_memories_routes(RouteTable& t);
void register_legacy_routes(RouteTable& t);
void register_admin_routes(RouteTable& t);
void register_queries_routes(RouteTable& t);
void register_graph_routes(RouteTable& t);
void register_backup_routes(RouteTable& t);

void register_all_routes(RouteTable& t);

// The optional consolidation parameters of a request body (POST .../consolidate and the
// background consolidator's start), with their bounds; routes_queries.cpp.
ConsolidationParams read_consolidation_params(ObjectReader& o);
// The largest min_cluster_size a request may ask for: the engine's max_component, which requests
// cannot change (the documents' schemas state the same number).
inline constexpr std::int64_t kMaxMinClusterSize = static_cast<std::int64_t>(kDefaultMaxComponent);

// The JSON Schema of one link (POST .../links and each edge of .../links/batch); routes_memories.cpp.
std::string link_schema();

}  // namespace engram::server

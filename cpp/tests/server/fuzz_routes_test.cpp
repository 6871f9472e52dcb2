// The request fuzzer (cpp/fuzz) matches targets against its own copy of the route templates so it
// need not link the handlers and the engine; this keeps that copy equal to what engramd registers.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <tuple>

#include "../../fuzz/route_templates.hpp"
#include "router.hpp"
#include "routes.hpp"

using namespace engram::server;

TEST(FuzzRoutes, TemplatesEqualTheRegisteredRoutes) {
  RouteTable table;
  register_all_routes(table);
  std::set<std::tuple<std::string, std::string, bool>> registered, fuzzed;
  for (const auto& r : table.routes()) {
    // the test build's fault controls are not fuzzed: a fuzzed plan may crash the fuzzer's own process
    if (r.path.ends_with("/admin/faults")) continue;
    registered.emplace(r.method, r.path, r.body.has_value());
  }
  for (const auto& r : engram::fuzz::kRouteTemplates) fuzzed.emplace(r.method, r.path, r.body);
  for (const auto& [m, p, b] : registered) {
    EXPECT_TRUE(fuzzed.count({m, p, b})) << m << " " << p << (b ? " (body)" : "")
                                         << " is registered but missing from cpp/fuzz/route_templates.hpp";
  }
  for (const auto& [m, p, b] : fuzzed) {
    EXPECT_TRUE(registered.count({m, p, b}))
        << m << " " << p << (b ? " (body)" : "") << " is in cpp/fuzz/route_templates.hpp but not registered";
  }
}

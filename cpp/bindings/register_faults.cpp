// The build's flavour and, in the test build only, fault injection (fault.hpp, docs/faults.md):
// engram._core.build_info() in every build; engram._core.faults (set a plan, read its counters)
// only when ENGRAM_FAULT_INJECTION is on. A release _core has no fault API.
#include <string>
#include <vector>

#include "convert.hpp"
#include "engram/fault.hpp"
#include "register.hpp"

namespace engram::bind {

void register_faults(py::module_& m) {
  py::class_<BuildInfo>(m, "BuildInfo", "Which build this is.")
      .def_property_readonly(
          "flavour", [](const BuildInfo& b) { return std::string(b.flavour); },
          "'release', or 'test' (crash points, fault injection, test-only delays and leaks).")
      .def_readonly("fault_injection", &BuildInfo::fault_injection);
  m.def(
      "build_info", [] { return build_info(); }, "The build's flavour.");
#ifdef ENGRAM_FAULT_INJECTION
  if (const std::string err = faults::environment_error(); !err.empty()) throw py::import_error(err);
  py::module_ f = m.def_submodule("faults", "Fault injection of the test build (docs/faults.md).");
  py::class_<faults::RuleStats>(f, "RuleStats", "How often one clause of the plan matched and acted.")
      .def_readonly("rule", &faults::RuleStats::rule)
      .def_readonly("hits", &faults::RuleStats::hits, "Calls that matched the clause's site and path.")
      .def_readonly("fired", &faults::RuleStats::fired, "Times it acted.");
  f.def(
      "set_plan", [](const Text<"plan">& plan) { faults::set_plan(plan.get()); }, py::arg("plan"),
      "Replaces the process's fault plan (empty: none); InvalidInputError when malformed.");
  f.def("plan", &faults::plan_text, "The current plan, one clause per ';'.");
  f.def("clear", &faults::clear_plan, "Removes the plan: no faults.");
  f.def(
      "sites", [] { return std::vector<std::string>(std::begin(faults::kFaultSites), std::end(faults::kFaultSites)); },
      "Every site a plan may name.");
  f.def("stats", &faults::stats, "Per clause of the plan: matches and actions.");
  f.def("leaked_bytes", &faults::leaked_bytes, "Bytes kept by leak clauses since the process started.");
#endif
}

}  // namespace engram::bind

// Bindings for the build's flavour and, in the test build only, fault injection (fault.hpp,
// docs/faults.md): engram._core.build_info() in every build; engram._core.faults (set a plan,
// read its counters) only when ENGRAM_FAULT_INJECTION is on. A release _core has no fault API.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>

#include "engram/fault.hpp"

namespace py = pybind11;

namespace engram {

void register_faults(py::module_& m) {
  m.def(
      "build_info",
      [] {
        constexpr BuildInfo b = build_info();
        py::dict d;
        d["flavour"] = b.flavour;
        d["fault_injection"] = b.fault_injection;
        return d;
      },
      "The build's flavour: 'release', or 'test' (crash points, fault injection, test-only delays and leaks).");
#ifdef ENGRAM_FAULT_INJECTION
  if (const std::string err = faults::environment_error(); !err.empty()) throw py::import_error(err);
  py::module_ f = m.def_submodule("faults", "Fault injection of the test build (docs/faults.md).");
  f.def(
      "set_plan", [](const std::string& plan) { faults::set_plan(plan); }, py::arg("plan"),
      "Replaces the process's fault plan (empty: none); InvalidInputError when malformed.");
  f.def("plan", &faults::plan_text, "The current plan, one clause per ';'.");
  f.def("clear", &faults::clear_plan, "Removes the plan: no faults.");
  f.def("sites", [] {
    py::list out;
    for (const char* s : faults::kFaultSites) out.append(s);
    return out;
  });
  f.def("stats", [] {
    py::list out;
    for (const faults::RuleStats& r : faults::stats()) {
      py::dict d;
      d["rule"] = r.rule;
      d["hits"] = r.hits;
      d["fired"] = r.fired;
      out.append(d);
    }
    return out;
  });
  f.def("leaked_bytes", &faults::leaked_bytes, "Bytes kept by leak clauses since the process started.");
#endif
}

}  // namespace engram

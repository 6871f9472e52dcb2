// engram._core: the C++ engine for Python. Registration only; each area's bindings live in its
// register_<area>.cpp, conversions in convert.hpp. Use the engram package rather than this
// module directly.
#include <pybind11/pybind11.h>

#include "engram/simd.hpp"
#include "register.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "Engram's C++ engine. Use the engram package rather than this module directly.";
  m.attr("__version__") = ENGRAM_VERSION;  // CMakeLists.txt's project() version: defined once there
  if (!engram::simd::environment_error().empty()) throw py::import_error(engram::simd::environment_error());

  using namespace engram::bind;
  register_errors(m);
  register_simd(m);
  register_space(m);
  register_engine(m);
  register_graph(m);
  register_recall(m);
  register_durability(m);
  register_faults(m);
  register_load(m);
}

// Storage fault injection for the durability tests: Engine.inject_storage_fault. Kept apart
// so it can leave the release build for the test build (issue 12) without touching the rest.
#include <cerrno>
#include <memory>
#include <string>

#include "convert.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "register.hpp"

namespace engram::bind {

void register_faults(py::module_& m) {
  auto engine = py::reinterpret_borrow<py::class_<Engine, std::shared_ptr<Engine>>>(m.attr("Engine"));
  engine.def(
      "inject_storage_fault",
      [](Engine& e, const Text<"kind">& kind) {
        const std::string k = kind.get();
        int err = 0;
        if (k == "enospc") {
          err = ENOSPC;
        } else if (k == "eio") {
          err = EIO;
        } else if (!k.empty() && k != "none") {
          throw InvalidInputError("fault must be 'enospc', 'eio' or 'none', got '" + k.substr(0, 40) + "'");
        }
        e.inject_storage_fault(err);
      },
      py::arg("kind"), "Test hook: WAL writes fail with ENOSPC ('enospc') or EIO ('eio') until 'none'.");
}

}  // namespace engram::bind

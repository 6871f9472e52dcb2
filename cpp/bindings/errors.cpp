// Translates the engine's typed errors into the classes of the same name in engram.errors.
#include "engram/errors.hpp"

#include <exception>

#include "register.hpp"

namespace py = pybind11;

namespace engram::bind {

namespace {

[[noreturn]] void raise_py(const char* cls, const char* what) {
  const py::object type = py::module_::import("engram.errors").attr(cls);
  PyErr_SetString(type.ptr(), what);
  throw py::error_already_set();
}

}  // namespace

void register_errors(py::module_& /*m*/) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const DimensionError& e) {
      raise_py("DimensionError", e.what());
    } catch (const InvalidInputError& e) {
      raise_py("InvalidInputError", e.what());
    } catch (const SpaceNotFound& e) {
      raise_py("SpaceNotFound", e.what());
    } catch (const SpaceExists& e) {
      raise_py("SpaceExists", e.what());
    } catch (const MemoryNotFound& e) {
      raise_py("MemoryNotFound", e.what());
    } catch (const CapacityError& e) {
      raise_py("CapacityError", e.what());
    } catch (const CorruptionError& e) {
      raise_py("CorruptionError", e.what());
    } catch (const StorageError& e) {
      raise_py("StorageError", e.what());
    } catch (const IdempotencyConflict& e) {
      raise_py("IdempotencyConflict", e.what());
    } catch (const MemoryPressureError& e) {
      raise_py("MemoryPressureError", e.what());
    } catch (const ClosedError& e) {
      raise_py("ClosedError", e.what());
    } catch (const EngramError& e) {
      raise_py("EngramError", e.what());
    }
  });
}

}  // namespace engram::bind

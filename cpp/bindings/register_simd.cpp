// SIMD kernel levels and the dot product per level (tests compare the kernels); the process's
// lock-wait counters.
#include <optional>
#include <string>

#include "convert.hpp"
#include "engram/errors.hpp"
#include "engram/lock_stats.hpp"
#include "engram/simd.hpp"
#include "register.hpp"

namespace engram::bind {

namespace {

simd::Level level_arg(const std::string& name) {
  const auto l = simd::parse_level(name);
  if (!l) throw InvalidInputError("unknown SIMD level '" + name + "'; expected scalar, avx2 or avx512");
  return *l;
}

}  // namespace

void register_simd(py::module_& m) {
  m.def(
      "simd_level", [] { return std::string(simd::level_name(simd::active_level())); },
      "The distance kernels in use: scalar, avx2 or avx512.");
  m.def(
      "lock_waits",
      [] {
        py::dict out;
        for (const auto& w : lock_wait_snapshot()) {
          py::dict d;
          d["contended"] = w.contended;
          d["wait_s"] = w.wait_s;
          out[w.lock] = d;
        }
        return out;
      },
      "Process-wide lock-wait counters by lock class: {class: {'contended': n, 'wait_s': seconds}} "
      "(acquisitions that had to wait, and the time they waited; lock_stats.hpp).");
  m.def(
      "simd_best", [] { return std::string(simd::level_name(simd::best_supported())); },
      "The best kernel level this CPU supports.");
  m.def(
      "simd_supported",
      [](const Text<"name">& name) {
        const auto l = simd::parse_level(name.get());
        return l.has_value() && simd::supported(*l);
      },
      py::arg("name"), "Whether this CPU can run the named kernel level.");
  m.def(
      "set_simd_level", [](const Text<"name">& name) { simd::set_level(level_arg(name.get())); }, py::arg("name"),
      "Switch the distance kernels of the whole process (scalar, avx2 or avx512).");
  m.def(
      "dot",
      [](const Array& a, const Array& b, const std::optional<Text<"level">>& level) {
        const FloatArray x = to_floats(a.obj, "a", "a vector of numbers");
        const FloatArray y = to_floats(b.obj, "b", "a vector of numbers");
        if (x.shape(0) != y.shape(0)) {
          throw DimensionError("dot needs two 1-D arrays of equal length, got " + shape_text(x) + " and " +
                               shape_text(y));
        }
        const simd::Kernels& k = level ? simd::kernels_for(level_arg(level->get())) : simd::active();
        return k.dot(x.data(), y.data(), static_cast<std::size_t>(x.shape(0)));
      },
      py::arg("a"), py::arg("b"), py::arg("level") = py::none(),
      "Dot product of two float32 vectors with the active kernels or those of `level`.");
}

}  // namespace engram::bind

// Binding of the in-process load executor: engram._core.run_schedule(...). The GIL is released
// for the whole run, so Python never caps the offered load.
#include "engram/load_executor.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engram/errors.hpp"

namespace py = pybind11;

namespace engram {

void register_load_executor(py::module_& m) {
  m.attr("LOAD_ERROR_CLASSES") =
      py::cast(std::vector<std::string>(load_error_classes().begin(), load_error_classes().end()));
  m.def(
      "run_schedule",
      [](const std::vector<std::shared_ptr<Space>>& spaces,
         py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> start_ns,
         py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast> op,
         py::array_t<std::int16_t, py::array::c_style | py::array::forcecast> space,
         py::array_t<float, py::array::c_style | py::array::forcecast> vectors,
         py::array_t<std::int32_t, py::array::c_style | py::array::forcecast> k,
         py::array_t<float, py::array::c_style | py::array::forcecast> threshold,
         py::array_t<float, py::array::c_style | py::array::forcecast> confidence, unsigned threads,
         std::int64_t deadline_ns) {
        if (vectors.ndim() != 2) throw InvalidInputError("vectors must be a 2-D (operations, dim) array");
        const auto n = static_cast<std::size_t>(start_ns.size());
        LoadSchedule s;
        s.start_ns = {start_ns.data(), n};
        s.op = {op.data(), static_cast<std::size_t>(op.size())};
        s.space = {space.data(), static_cast<std::size_t>(space.size())};
        s.dim = static_cast<std::size_t>(vectors.shape(1));
        s.vectors = {vectors.data(), static_cast<std::size_t>(vectors.size())};
        s.k = {k.data(), static_cast<std::size_t>(k.size())};
        s.threshold = {threshold.data(), static_cast<std::size_t>(threshold.size())};
        s.confidence = {confidence.data(), static_cast<std::size_t>(confidence.size())};
        for (const auto& sp : spaces) {
          if (sp->dim() != s.dim) {
            throw DimensionError("space '" + sp->name() + "' has dimension " + std::to_string(sp->dim()) +
                                 " but the schedule's vectors have " + std::to_string(s.dim));
          }
        }
        LoadOutcome o;
        {
          py::gil_scoped_release release;
          o = run_schedule(spaces, s, LoadOptions{threads, deadline_ns});
        }
        const auto to_np = [](const auto& v) {
          using T = typename std::decay_t<decltype(v)>::value_type;
          py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
          std::copy(v.begin(), v.end(), a.mutable_data());
          return a;
        };
        py::dict d;
        d["actual_start_ns"] = to_np(o.actual_start_ns);
        d["latency_ns"] = to_np(o.latency_ns);
        d["error_code"] = to_np(o.error_code);
        d["wall_ns"] = o.wall_ns;
        return d;
      },
      py::arg("spaces"), py::arg("start_ns"), py::arg("op"), py::arg("space"), py::arg("vectors"), py::arg("k"),
      py::arg("threshold"), py::arg("confidence"), py::arg("threads") = 4, py::arg("deadline_ns") = 0);
}

}  // namespace engram

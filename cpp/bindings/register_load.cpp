// The in-process load executor: engram._core.run_schedule(...). The GIL is released for the
// whole run, so Python never caps the offered load. The harness (engram.workloads) calls it.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "convert.hpp"
#include "engram/errors.hpp"
#include "engram/load_executor.hpp"
#include "register.hpp"

namespace engram::bind {

void register_load(py::module_& m) {
  py::class_<LoadOutcome>(m, "LoadOutcome", "Per-operation results of run_schedule, in schedule order.")
      .def_property_readonly(
          "actual_start_ns", [](const LoadOutcome& o) { return to_numpy(o.actual_start_ns); },
          "Start offsets; -1 when never started.")
      .def_property_readonly(
          "latency_ns", [](const LoadOutcome& o) { return to_numpy(o.latency_ns); },
          "Completion minus intended start; -1 when never started.")
      .def_property_readonly(
          "error_code", [](const LoadOutcome& o) { return to_numpy(o.error_code); }, "Index into LOAD_ERROR_CLASSES.")
      .def_readonly("wall_ns", &LoadOutcome::wall_ns, "Run start to last completion.");

  m.attr("LOAD_ERROR_CLASSES") =
      py::cast(std::vector<std::string>(load_error_classes().begin(), load_error_classes().end()));
  m.def(
      "run_schedule",
      [](const ObjectList<std::shared_ptr<Space>>& space_list, const Array& start_ns, const Array& op,
         const Array& space, const Array& vectors, const Array& k, const Array& threshold, const Array& confidence,
         const Int<"threads", unsigned>& threads, const Int<"deadline_ns">& deadline_ns) {
        const std::vector<std::shared_ptr<Space>> spaces = space_list.get("spaces", "a sequence of engram._core.Space");
        const auto starts = to_typed<std::int64_t>(start_ns.obj, "start_ns");
        const auto ops = to_typed<std::uint8_t>(op.obj, "op");
        const auto sps = to_typed<std::int16_t>(space.obj, "space");
        const auto vs = to_typed<float>(vectors.obj, "vectors");
        const auto ks = to_typed<std::int32_t>(k.obj, "k");
        const auto ts = to_typed<float>(threshold.obj, "threshold");
        const auto cs = to_typed<float>(confidence.obj, "confidence");
        if (vs.ndim() != 2)
          throw DimensionError("vectors must be a 2-D (operations, dim) array; got shape " + shape_text(vs));
        const LoadOptions options{threads.get(), deadline_ns.get()};
        const auto span = [](const auto& a) { return std::span(a.data(), static_cast<std::size_t>(a.size())); };
        LoadSchedule s;
        s.start_ns = span(starts);
        s.op = span(ops);
        s.space = span(sps);
        s.dim = static_cast<std::size_t>(vs.shape(1));
        s.vectors = span(vs);
        s.k = span(ks);
        s.threshold = span(ts);
        s.confidence = span(cs);
        py::gil_scoped_release release;
        return run_schedule(spaces, s, options);
      },
      py::arg("spaces"), py::arg("start_ns"), py::arg("op"), py::arg("space"), py::arg("vectors"), py::arg("k"),
      py::arg("threshold"), py::arg("confidence"), py::arg("threads") = 4, py::arg("deadline_ns") = 0,
      "Run a schedule open-loop on C++ worker threads; latency from each operation's intended start.");
}

}  // namespace engram::bind

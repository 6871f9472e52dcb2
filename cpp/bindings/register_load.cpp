// The in-process load executor: engram._core.run_schedule(...), and its HTTP target
// engram._core.run_schedule_http(...). The GIL is released for the whole run, so Python never caps
// the offered load. The harness (engram_harness.driver.inprocess, .native_http) calls them.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "convert.hpp"
#include "engram/errors.hpp"
#include "engram/http_target.hpp"
#include "engram/load_executor.hpp"
#include "register.hpp"

namespace engram::bind {

namespace {

template <class T>
using Typed = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The schedule's columns, converted once and kept alive while the run reads them through the
// spans of schedule() (run_schedule and run_schedule_http take the same arrays).
struct ScheduleArrays {
  ScheduleArrays(const Array& start_ns, const Array& op, const Array& space, const Array& vectors, const Array& k,
                 const Array& threshold, const Array& confidence)
      : starts(to_typed<std::int64_t>(start_ns.obj, "start_ns")),
        ops(to_typed<std::uint8_t>(op.obj, "op")),
        spaces(to_typed<std::int16_t>(space.obj, "space")),
        vecs(to_typed<float>(vectors.obj, "vectors")),
        ks(to_typed<std::int32_t>(k.obj, "k")),
        thresholds(to_typed<float>(threshold.obj, "threshold")),
        confidences(to_typed<float>(confidence.obj, "confidence")) {
    if (vecs.ndim() != 2)
      throw DimensionError("vectors must be a 2-D (operations, dim) array; got shape " + shape_text(vecs));
  }
  LoadSchedule schedule() const {
    const auto span = [](const auto& a) { return std::span(a.data(), static_cast<std::size_t>(a.size())); };
    LoadSchedule s;
    s.start_ns = span(starts);
    s.op = span(ops);
    s.space = span(spaces);
    s.dim = static_cast<std::size_t>(vecs.shape(1));
    s.vectors = span(vecs);
    s.k = span(ks);
    s.threshold = span(thresholds);
    s.confidence = span(confidences);
    return s;
  }
  Typed<std::int64_t> starts;
  Typed<std::uint8_t> ops;
  Typed<std::int16_t> spaces;
  Typed<float> vecs;
  Typed<std::int32_t> ks;
  Typed<float> thresholds;
  Typed<float> confidences;
};

// The per-operation columns both outcome types share, in schedule order.
template <class Outcome>
void def_outcome_columns(py::class_<Outcome>& cls, const char* start_doc, const char* latency_doc,
                         const char* error_doc) {
  cls.def_property_readonly(
         "actual_start_ns", [](const Outcome& o) { return to_numpy(o.actual_start_ns); }, start_doc)
      .def_property_readonly(
          "latency_ns", [](const Outcome& o) { return to_numpy(o.latency_ns); }, latency_doc)
      .def_property_readonly(
          "error_code", [](const Outcome& o) { return to_numpy(o.error_code); }, error_doc)
      .def_readonly("wall_ns", &Outcome::wall_ns, "Run start to last completion.");
}

}  // namespace

void register_load(py::module_& m) {
  py::class_<LoadOutcome> load_outcome(m, "LoadOutcome", "Per-operation results of run_schedule, in schedule order.");
  def_outcome_columns(load_outcome, "Start offsets; -1 when never started.",
                      "Completion minus intended start; -1 when never started.", "Index into LOAD_ERROR_CLASSES.");

  m.attr("LOAD_ERROR_CLASSES") =
      py::cast(std::vector<std::string>(load_error_classes().begin(), load_error_classes().end()));
  m.def(
      "run_schedule",
      [](const ObjectList<std::shared_ptr<Space>>& space_list, const Array& start_ns, const Array& op,
         const Array& space, const Array& vectors, const Array& k, const Array& threshold, const Array& confidence,
         const Int<"threads", unsigned>& threads, const Int<"deadline_ns">& deadline_ns) {
        const std::vector<std::shared_ptr<Space>> spaces = space_list.get("spaces", "a sequence of engram._core.Space");
        const ScheduleArrays arrays(start_ns, op, space, vectors, k, threshold, confidence);
        const LoadOptions options{threads.get(), deadline_ns.get()};
        const LoadSchedule s = arrays.schedule();
        py::gil_scoped_release release;
        return run_schedule(spaces, s, options);
      },
      py::arg("spaces"), py::arg("start_ns"), py::arg("op"), py::arg("space"), py::arg("vectors"), py::arg("k"),
      py::arg("threshold"), py::arg("confidence"), py::arg("threads") = 4, py::arg("deadline_ns") = 0,
      "Run a schedule open-loop on C++ worker threads; latency from each operation's intended start.");

  py::class_<HttpLoadOutcome> http_outcome(m, "HttpLoadOutcome",
                                           "Per-operation results of run_schedule_http, in schedule order.");
  def_outcome_columns(http_outcome, "Send offsets; -1 when never sent.",
                      "Response complete minus intended start; -1 when never sent.", "Index into error_classes.");
  http_outcome.def_readonly("error_classes", &HttpLoadOutcome::error_classes, "Error class names; [0] is '' (success).")
      .def_readonly("error_samples", &HttpLoadOutcome::error_samples, "First message per error class.")
      .def_readonly("process_cpu_ns", &HttpLoadOutcome::process_cpu_ns, "This process's CPU time over the run.")
      .def_readonly("io_thread_cpu_ns", &HttpLoadOutcome::io_thread_cpu_ns, "CPU time of the I/O threads.")
      .def_readonly("connections_opened", &HttpLoadOutcome::connections_opened, "TCP connections opened.")
      .def_readonly("bodies_prebuilt", &HttpLoadOutcome::bodies_prebuilt,
                    "Operations whose body was serialised before the run.")
      .def_readonly("prebuild_cpu_ns", &HttpLoadOutcome::prebuild_cpu_ns,
                    "CPU spent serialising them, before the run (not in process_cpu_ns).")
      .def_readonly("bytes_sent", &HttpLoadOutcome::bytes_sent, "Request bytes written.")
      .def_readonly("bytes_received", &HttpLoadOutcome::bytes_received, "Response bytes read.");

  m.attr("HTTP_LOAD_AVAILABLE") = http_load_available();
  m.def(
      "run_schedule_http",
      [](const Text<"host">& host, const Int<"port", std::uint16_t>& port, const ObjectList<std::string>& space_names,
         const Array& start_ns, const Array& op, const Array& space, const Array& vectors, const Array& k,
         const Array& threshold, const Array& confidence, const Text<"api_key">& api_key,
         const Text<"base_path">& base_path, const Int<"connections", unsigned>& connections,
         const Int<"threads", unsigned>& threads, const Int<"deadline_ns">& deadline_ns,
         const Int<"request_timeout_ns">& request_timeout_ns, const Int<"connect_timeout_ns">& connect_timeout_ns,
         const Int<"spin_ns">& spin_ns, const Int<"prebuild_bytes", std::size_t>& prebuild_bytes,
         const Text<"embeddings">& embeddings) {
        const std::vector<std::string> names = space_names.get("space_names", "a sequence of str");
        const ScheduleArrays arrays(start_ns, op, space, vectors, k, threshold, confidence);
        HttpLoadOptions o;
        o.host = host.get();
        o.port = port.get();
        o.api_key = api_key.get();
        o.base_path = base_path.get();
        o.connections = connections.get();
        o.threads = threads.get();
        o.deadline_ns = deadline_ns.get();
        o.request_timeout_ns = request_timeout_ns.get();
        o.connect_timeout_ns = connect_timeout_ns.get();
        o.spin_ns = spin_ns.get();
        o.prebuild_bytes = prebuild_bytes.get();
        if (const std::string e = embeddings.get(); e == "base64") {
          o.encoding = EmbeddingEncoding::Base64;
        } else if (e != "json") {
          throw InvalidInputError(
              "embeddings must be 'json' (arrays of numbers) or 'base64' (little-endian float32); got '" + e + "'");
        }
        const LoadSchedule s = arrays.schedule();
        py::gil_scoped_release release;
        return run_schedule_http(s, names, o);
      },
      py::arg("host"), py::arg("port"), py::arg("space_names"), py::arg("start_ns"), py::arg("op"), py::arg("space"),
      py::arg("vectors"), py::arg("k"), py::arg("threshold"), py::arg("confidence"), py::arg("api_key") = "",
      py::arg("base_path") = "", py::arg("connections") = 8, py::arg("threads") = 1, py::arg("deadline_ns") = 0,
      py::arg("request_timeout_ns") = 10'000'000'000LL, py::arg("connect_timeout_ns") = 2'000'000'000LL,
      py::arg("spin_ns") = 20'000, py::arg("prebuild_bytes") = std::size_t{1} << 30, py::arg("embeddings") = "json",
      "Run a schedule open-loop as HTTP requests to an API v1 server over keep-alive connections; latency from "
      "each operation's intended start. embeddings: 'json' (arrays of numbers, any API v1 server) or 'base64' "
      "(little-endian float32 strings, engramd). Needs a build with Boost.Beast/Asio (HTTP_LOAD_AVAILABLE).");
}

}  // namespace engram::bind

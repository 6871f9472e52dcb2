// The Engine class: spaces, the clock, feature flags, metrics in Prometheus text. Durability
// (register_durability.cpp) and the background consolidator (register_recall.cpp) add their
// methods to it. engram/engine.py wraps it. Every engine call that can wait releases the GIL.
#include <memory>
#include <optional>
#include <string>

#include "convert.hpp"
#include "engram/engine.hpp"
#include "register.hpp"

namespace engram::bind {

void register_engine(py::module_& m) {
  py::class_<FeatureValues>(m, "FeatureFlags", "The run-time feature flags at one moment (see features.hpp).")
      .def_readonly("blended_recall", &FeatureValues::blended_recall)
      .def_readonly("fan_effect", &FeatureValues::fan_effect)
      .def_readonly("concept_formation", &FeatureValues::concept_formation);

  py::class_<Engine, std::shared_ptr<Engine>>(m, "Engine", "A set of isolated memory spaces sharing one clock.")
      .def(py::init([](const Int<"dim", std::size_t>& dim, const Int<"M", std::uint32_t>& M,
                       const Int<"ef_construction", std::uint32_t>& efc, const Int<"ef_search", std::uint32_t>& efs,
                       const Int<"seed", std::uint64_t>& seed, const Int<"max_memories", std::size_t>& max_memories,
                       const Int<"max_content_bytes", std::size_t>& max_content_bytes,
                       const Int<"max_spaces", std::size_t>& max_spaces,
                       const Int<"idempotency_capacity", std::size_t>& idempotency_capacity) {
             EngineConfig c;
             c.space.dim = dim.get();
             c.space.hnsw.M = M.get();
             c.space.hnsw.ef_construction = efc.get();
             c.space.hnsw.ef_search = efs.get();
             c.space.hnsw.seed = seed.get();
             c.space.max_memories = max_memories.get();
             c.space.max_content_bytes = max_content_bytes.get();
             c.max_spaces = max_spaces.get();
             c.idempotency_capacity = idempotency_capacity.get();
             return std::make_shared<Engine>(c);
           }),
           py::arg("dim") = 768, py::arg("M") = 16, py::arg("ef_construction") = 200, py::arg("ef_search") = 64,
           py::arg("seed") = 42, py::arg("max_memories") = std::size_t{1} << 32,
           py::arg("max_content_bytes") = std::size_t{1} << 20, py::arg("max_spaces") = 4096,
           py::arg("idempotency_capacity") = kDefaultIdempotencyCapacity,
           "An in-memory engine; open_store makes it durable. The arguments are defaults for new spaces.")
      .def_property_readonly(
          "dim", [](const Engine& e) { return e.config().space.dim; }, "The default dimension of new spaces.")
      .def(
          "create_space",
          [](Engine& e, const Text<"name">& name, const std::optional<Int<"dim", std::size_t>>& dim,
             const std::optional<Int<"M", std::uint32_t>>& M,
             const std::optional<Int<"ef_construction", std::uint32_t>>& efc,
             const std::optional<Int<"ef_search", std::uint32_t>>& efs,
             const std::optional<Int<"max_memories", std::size_t>>& max_memories) {
            SpaceConfig c = e.config().space;  // the engine's defaults, overridden where given
            const std::string n = name.get();
            if (dim) c.dim = dim->get();
            if (M) c.hnsw.M = M->get();
            if (efc) c.hnsw.ef_construction = efc->get();
            if (efs) c.hnsw.ef_search = efs->get();
            if (max_memories) c.max_memories = max_memories->get();
            py::gil_scoped_release release;
            return e.create_space(n, c);
          },
          py::arg("name"), py::arg("dim") = py::none(), py::arg("M") = py::none(),
          py::arg("ef_construction") = py::none(), py::arg("ef_search") = py::none(),
          py::arg("max_memories") = py::none(), "Create a space; SpaceExists when the name is taken.")
      .def(
          "space", [](const Engine& e, const Text<"name">& name) { return e.space(name.get()); }, py::arg("name"),
          "An existing space; SpaceNotFound otherwise.")
      .def("space_names", &Engine::space_names, "Names of the spaces, sorted.")
      .def("spaces", &Engine::spaces, "Every space, by name.")
      .def(
          "drop_space",
          [](Engine& e, const Text<"name">& name) {
            const std::string n = name.get();
            py::gil_scoped_release release;
            e.drop_space(n);
          },
          py::arg("name"), "Remove a space and its memories; handles to it raise SpaceNotFound afterwards.")
      .def("close", &Engine::close, py::call_guard<py::gil_scoped_release>(), "Close the engine (and its store).")
      .def_property_readonly("closed", &Engine::closed)
      .def("prometheus", &Engine::prometheus, py::call_guard<py::gil_scoped_release>(),
           "Every metric in Prometheus text exposition format.")
      .def(
          "set_features",
          [](Engine& e, const std::optional<Flag<"blended_recall">>& blended_recall,
             const std::optional<Flag<"fan_effect">>& fan_effect,
             const std::optional<Flag<"concept_formation">>& concept_formation) {
            const auto b = get(blended_recall), f = get(fan_effect), c = get(concept_formation);
            py::gil_scoped_release release;
            e.set_features(b, f, c);
          },
          py::arg("blended_recall") = py::none(), py::arg("fan_effect") = py::none(),
          py::arg("concept_formation") = py::none(), "Switch features at run time; None keeps a flag's value.")
      .def(
          "features", [](const Engine& e) { return e.features().values(); }, "The feature flags now.")
      .def(
          "set_rollout",
          [](Engine& e, const Text<"flag">& flag, const std::optional<Real<"percent">>& percent,
             const Flag<"shadow">& shadow) {
            RolloutChange c;
            const std::string name = flag.get();
            const auto f = parse_feature(name);
            if (!f) {
              throw InvalidInputError("flag must be blended_recall, fan_effect or concept_formation; got '" +
                                      name.substr(0, 40) + "'");
            }
            c.feature = *f;
            if (percent) c.stage = RolloutStage{percent->get(), shadow.get()};
            py::gil_scoped_release release;
            e.set_features(std::nullopt, std::nullopt, std::nullopt, {c});
          },
          py::arg("flag"), py::arg("percent") = py::none(), py::arg("shadow") = false,
          "Set a flag's staged rollout (percent 0-100; shadow with percent 0), or end it (percent None). Durable.")
      .def(
          "rollout",
          [](const Engine& e) {
            py::dict out;
            for (const Feature f : kFeatures) {
              const auto st = e.features().rollout_stage(f);
              out[py::str(std::string(feature_name(f)))] =
                  st ? py::object(py::make_tuple(st->percent, st->shadow)) : py::object(py::none());
            }
            return out;
          },
          "Each flag's rollout stage: (percent, shadow), or None without one.")
      .def(
          "clock_now", [](Engine& e) { return e.clock().now(); }, "Seconds since the epoch, as the engine sees it.")
      .def(
          "clock_set", [](Engine& e, const Real<"t">& t) { e.clock().set(t.get()); }, py::arg("t"),
          "Switch to manual time at t seconds since the epoch.")
      .def(
          "clock_advance", [](Engine& e, const Real<"dt">& dt) { e.clock().advance(dt.get()); }, py::arg("dt"),
          "Move manual time forward by dt seconds.")
      .def(
          "clock_use_system", [](Engine& e) { e.clock().use_system(); }, "Switch back to system time.")
      .def("clock_is_manual", [](Engine& e) { return e.clock().is_manual(); });
}

}  // namespace engram::bind

// Concepts, consolidation, recall, pattern completion and the background consolidator:
// methods of Space and Engine, with the value types they return. engram/recall.py wraps them.
// Every engine call releases the GIL.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "convert.hpp"
#include "engram/completion.hpp"
#include "engram/consolidation.hpp"
#include "engram/decay.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/recall.hpp"
#include "engram/space.hpp"
#include "register.hpp"

namespace engram::bind {

namespace {

// Reads keyword arguments into a params struct through the converters, refusing names it does
// not know. A parameter given as None keeps its default.
class Kwargs {
 public:
  explicit Kwargs(const py::kwargs& kw) : kw_(kw) {}

  template <class T>
  void get(const char* name, T& out) {
    seen_.insert(name);
    if (!kw_.contains(name)) return;
    const py::object v = kw_[name];
    if (v.is_none()) return;
    out = convert<T>(v, name);
  }
  template <class T>
  void get(const char* name, std::optional<T>& out) {
    seen_.insert(name);
    if (!kw_.contains(name)) return;
    const py::object v = kw_[name];
    if (v.is_none()) return;
    out = convert<T>(v, name);
  }
  void finish(const char* what) const {
    for (const auto& [k, v] : kw_) {
      const std::string key = py::str(k);
      if (seen_.count(key) == 0) throw InvalidInputError(std::string("unknown ") + what + " parameter '" + key + "'");
    }
  }

 private:
  template <class T>
  static T convert(py::handle v, const char* name) {
    if constexpr (std::is_same_v<T, bool>) {
      return to_bool(v, name);
    } else if constexpr (std::is_integral_v<T>) {
      return to_integer<T>(v, name);
    } else if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(to_double(v, name));
    } else {
      static_assert(std::is_same_v<T, std::string>);
      return to_text(v, name);
    }
  }

  const py::kwargs& kw_;
  std::set<std::string> seen_;
};

ConsolidationParams consolidation_params(const py::kwargs& kw) {
  ConsolidationParams p;
  Kwargs a(kw);
  a.get("similarity_threshold", p.similarity_threshold);
  a.get("coherence_threshold", p.coherence_threshold);
  a.get("min_cluster_size", p.min_cluster_size);
  a.get("temporal_scale_s", p.temporal_scale_s);
  a.get("sigmoid_gain", p.sigmoid_gain);
  a.get("sigmoid_midpoint", p.sigmoid_midpoint);
  a.get("max_concepts_per_run", p.max_concepts_per_run);
  a.get("max_formations_per_hour", p.max_formations_per_hour);
  a.get("max_concept_ratio", p.max_concept_ratio);
  a.get("confidence_penalty", p.confidence_penalty);
  a.get("neighbors", p.neighbors);
  std::string candidates = p.candidates_from_graph ? "graph" : "search";
  a.get("candidates", candidates);
  if (candidates != "graph" && candidates != "search") {
    throw InvalidInputError("candidates must be \"graph\" or \"search\", got \"" + candidates + "\"");
  }
  p.candidates_from_graph = candidates == "graph";
  a.get("exact_below", p.exact_below);
  a.get("max_component", p.max_component);
  a.get("now", p.now);
  a.get("parallel", p.parallel);
  a.finish("consolidation");
  return p;
}

RecallParams recall_params(std::size_t k, const std::string& mode, double semantic_weight, std::optional<double> now,
                           double threshold, const py::kwargs& kw) {
  RecallParams p;
  p.k = k;
  const auto md = parse_recall_mode(mode);
  if (!md) throw InvalidInputError("unknown recall mode '" + mode + "'; expected blended, episodic or semantic");
  p.mode = *md;
  p.semantic_weight = semantic_weight;
  p.now = now;
  p.threshold = threshold;
  Kwargs a(kw);
  std::optional<std::string> decay_name;
  a.get("decay", decay_name);
  if (kw.contains("decay") && kw["decay"].is_none()) {
    p.decay.reset();
  } else if (decay_name) {
    p.decay = decay::model_from_name(*decay_name);
    if (!p.decay) {
      throw InvalidInputError("unknown decay model '" + *decay_name +
                              "'; expected exponential, power_law, two_component, hybrid or None");
    }
  }
  a.get("episodic_candidates", p.episodic_candidates);
  a.get("ef", p.ef);
  a.get("max_concepts", p.max_concepts);
  a.get("min_concept_coherence", p.min_concept_coherence);
  a.get("include_concepts", p.include_concepts);
  a.get("spreading", p.spreading);
  a.get("spread_hops", p.spread_hops);
  a.get("spread_threshold", p.spread_threshold);
  a.get("spread_seeds", p.spread_seeds);
  a.get("activation_weight", p.activation_weight);
  a.get("decay_floor", p.decay_floor);
  a.get("binding_hop_decay", p.binding_hop_decay);
  a.get("blend_bonus", p.blend_bonus);
  a.finish("recall");
  return p;
}

CompletionParams completion_params(const py::kwargs& kw) {
  CompletionParams p;
  Kwargs a(kw);
  a.get("neighbors", p.neighbors);
  a.get("hypotheses", p.hypotheses);
  a.get("ca1_threshold", p.ca1_threshold);
  a.get("sharpness", p.sharpness);
  a.get("use_concepts", p.use_concepts);
  a.finish("completion");
  return p;
}

std::string kind_text(MemoryKind k) { return kind_name(k); }

void register_values(py::module_& m) {
  py::class_<Recollection>(m, "Recollection", "One recall result (recall.hpp has the formulas).")
      .def_readonly("id", &Recollection::id)
      .def_property_readonly(
          "kind", [](const Recollection& r) { return kind_text(r.kind); }, "'episode' or 'concept'.")
      .def_readonly("score", &Recollection::score)
      .def_readonly("confidence", &Recollection::confidence)
      .def_readonly("activation", &Recollection::activation, "Spreading activation A.")
      .def_property_readonly(
          "provenance", [](const Recollection& r) { return std::string(provenance_name(r.provenance)); },
          "'episodic', 'semantic', 'blended' or 'pattern-completed'.")
      .def_readonly("episodic_weight", &Recollection::episodic_weight, "Weight of the episodic pathway used.")
      .def_readonly("semantic_weight", &Recollection::semantic_weight, "Weight of the semantic pathway used.")
      .def_readonly("episodic", &Recollection::episodic, "Episodic pathway value E before weighting.")
      .def_readonly("semantic", &Recollection::semantic, "Semantic pathway value S before weighting.");

  py::class_<Hypothesis>(m, "Hypothesis", "One single-source completion proposal.")
      .def_property_readonly("vector", [](const Hypothesis& h) { return to_numpy(h.vector); })
      .def_readonly("confidence", &Hypothesis::confidence)
      .def_readonly("source", &Hypothesis::source, "The memory that proposed it.")
      .def_property_readonly(
          "kind", [](const Hypothesis& h) { return kind_text(h.kind); }, "The source's kind.");

  py::class_<Completion>(m, "Completion", "A completed vector: known dimensions as given, the others reconstructed.")
      .def_property_readonly("vector", [](const Completion& c) { return to_numpy(c.vector); })
      .def_readonly("confidence", &Completion::confidence)
      .def_readonly("accepted", &Completion::accepted, "confidence reached ca1_threshold.")
      .def_readonly("sources", &Completion::sources)
      .def_readonly("source_similarity", &Completion::source_similarity, "Cosine on the known dimensions.")
      .def_readonly("alternatives", &Completion::alternatives)
      .def_readonly("known_dims", &Completion::known_dims);

  py::class_<ConceptView>(m, "Concept", "A detached copy of one concept.")
      .def_readonly("id", &ConceptView::id)
      .def_property_readonly("centroid", [](const ConceptView& c) { return to_numpy(c.centroid); })
      .def_readonly("coherence", &ConceptView::coherence)
      .def_readonly("confidence", &ConceptView::confidence)
      .def_readonly("formed_at", &ConceptView::formed_at)
      .def_readonly("updated_at", &ConceptView::updated_at)
      .def_readonly("members", &ConceptView::members, "Member episode ids, ascending.");

  py::class_<ConsolidationReport>(m, "ConsolidationReport", "What one consolidation run did.")
      .def_readonly("episodes_considered", &ConsolidationReport::episodes_considered)
      .def_readonly("concepts_formed", &ConsolidationReport::concepts_formed)
      .def_readonly("concepts_updated", &ConsolidationReport::concepts_updated)
      .def_readonly("concepts_dissolved", &ConsolidationReport::concepts_dissolved)
      .def_readonly("episodes_bound", &ConsolidationReport::episodes_bound)
      .def_readonly("clusters_found", &ConsolidationReport::clusters_found)
      .def_readonly("clusters_incoherent", &ConsolidationReport::clusters_incoherent)
      .def_readonly("clusters_deferred", &ConsolidationReport::clusters_deferred)
      .def_readonly("blocks_reused", &ConsolidationReport::blocks_reused)
      .def_readonly("rate_breaker_tripped", &ConsolidationReport::rate_breaker_tripped)
      .def_readonly("ratio_breaker_tripped", &ConsolidationReport::ratio_breaker_tripped)
      .def_readonly("formation_disabled", &ConsolidationReport::formation_disabled)
      .def_readonly("duration_s", &ConsolidationReport::duration_s)
      .def_readonly("formed", &ConsolidationReport::formed, "New concept ids.")
      .def_readonly("updated", &ConsolidationReport::updated, "Concept ids whose members changed.");

  py::class_<ConsolidationCounterValues>(m, "ConsolidationCounters", "A space's monotonic consolidation counters.")
      .def_readonly("runs", &ConsolidationCounterValues::runs)
      .def_readonly("failures", &ConsolidationCounterValues::failures)
      .def_readonly("concepts_formed", &ConsolidationCounterValues::concepts_formed)
      .def_readonly("concepts_updated", &ConsolidationCounterValues::concepts_updated)
      .def_readonly("concepts_dissolved", &ConsolidationCounterValues::concepts_dissolved)
      .def_readonly("episodes_bound", &ConsolidationCounterValues::episodes_bound)
      .def_readonly("rate_breaker_trips", &ConsolidationCounterValues::rate_breaker_trips)
      .def_readonly("ratio_breaker_trips", &ConsolidationCounterValues::ratio_breaker_trips)
      .def_readonly("rate_breaker_open", &ConsolidationCounterValues::rate_breaker_open, "State after the last run.")
      .def_readonly("ratio_breaker_open", &ConsolidationCounterValues::ratio_breaker_open, "State after the last run.")
      .def_readonly("last_run_at", &ConsolidationCounterValues::last_run_at, "Engine clock, seconds.")
      .def_readonly("last_duration_s", &ConsolidationCounterValues::last_duration_s);

  py::class_<ConsolidatorStatus>(m, "ConsolidatorStatus", "The background consolidator's state.")
      .def_property_readonly(
          "state", [](const ConsolidatorStatus& s) { return std::string(consolidator_state_name(s.state)); },
          "'stopped', 'running' or 'paused'.")
      .def_readonly("interval_s", &ConsolidatorStatus::interval_s)
      .def_readonly("cycles", &ConsolidatorStatus::cycles, "Completed passes over all spaces.")
      .def_readonly("failures", &ConsolidatorStatus::failures, "Space runs that threw.")
      .def_readonly("last_cycle_duration_s", &ConsolidatorStatus::last_cycle_duration_s);
}

void register_space_methods(py::class_<Space, std::shared_ptr<Space>>& space) {
  space
      .def(
          "consolidate",
          [](Space& sp, const py::kwargs& kw) {
            const ConsolidationParams p = consolidation_params(kw);
            py::gil_scoped_release release;
            return consolidate(sp, p);
          },
          "Form and update concepts from the space's episodes (parameters: consolidation.hpp).")
      .def(
          "recall",
          [](const Space& sp, const Array& cue, const Int<"k", std::size_t>& k, const Text<"mode">& mode,
             const Real<"semantic_weight">& semantic_weight, const std::optional<Real<"now">>& now,
             const Real<"threshold">& threshold, const py::kwargs& kw) {
            const FloatArray q = to_vector(cue.obj, sp.dim(), "cue");
            const RecallParams p =
                recall_params(k.get(), mode.get(), semantic_weight.get(), get(now), threshold.get(), kw);
            py::gil_scoped_release release;
            return recall(sp, {q.data(), sp.dim()}, p);
          },
          py::arg("cue"), py::arg("k") = 10, py::arg("mode") = "blended", py::arg("semantic_weight") = 0.3,
          py::arg("now") = py::none(), py::arg("threshold") = 0.0,
          "Ranked episodes and concepts for a cue (options: recall.hpp's RecallParams).")
      .def(
          "complete",
          [](const Space& sp, const Array& partial, const Array& mask, const py::kwargs& kw) {
            const FloatArray q = to_floats(partial.obj, "partial", "a float32 vector (NaN allowed where unknown)");
            const std::vector<std::uint8_t> mv = to_mask(mask.obj, "mask", "a vector of booleans (True = known)");
            const CompletionParams p = completion_params(kw);
            py::gil_scoped_release release;
            return complete(sp, {q.data(), static_cast<std::size_t>(q.shape(0))}, mv, p);
          },
          py::arg("partial"), py::arg("mask"),
          "Reconstruct the dimensions where mask is False (options: completion.hpp's CompletionParams).")
      .def(
          "concepts",
          [](const Space& sp) {
            py::gil_scoped_release release;
            return sp.concepts();
          },
          "Every live concept, by id.")
      .def(
          "concept_members",
          [](const Space& sp, const Id& id) {
            const std::int64_t cid = id.get(sp.name());
            py::gil_scoped_release release;
            return sp.concept_members(cid);
          },
          py::arg("id"), "Member episode ids of a concept.")
      .def(
          "episode_concepts",
          [](const Space& sp, const Id& id) {
            const std::int64_t eid = id.get(sp.name());
            py::gil_scoped_release release;
            return sp.episode_concepts(eid);
          },
          py::arg("id"), "Concepts an episode is bound to.")
      .def(
          "consolidation_counters", [](const Space& sp) { return sp.concept_store().counters().values(); },
          "Monotonic consolidation counters and breaker state.");
}

}  // namespace

void register_recall(py::module_& m) {
  register_values(m);
  auto space = py::reinterpret_borrow<py::class_<Space, std::shared_ptr<Space>>>(m.attr("Space"));
  register_space_methods(space);

  auto engine = py::reinterpret_borrow<py::class_<Engine, std::shared_ptr<Engine>>>(m.attr("Engine"));
  engine
      .def(
          "start_consolidation",
          [](Engine& e, const Real<"interval_s">& interval_s, const py::kwargs& kw) {
            const double interval = interval_s.get();
            ConsolidationParams p = consolidation_params(kw);
            py::gil_scoped_release release;
            e.start_consolidation(interval, std::move(p));
          },
          py::arg("interval_s"), "Consolidate every space every interval_s seconds on a background thread.")
      .def("stop_consolidation", &Engine::stop_consolidation, py::call_guard<py::gil_scoped_release>())
      .def("pause_consolidation", &Engine::pause_consolidation, py::call_guard<py::gil_scoped_release>())
      .def("resume_consolidation", &Engine::resume_consolidation, py::call_guard<py::gil_scoped_release>())
      .def("consolidation_status", &Engine::consolidation_status, py::call_guard<py::gil_scoped_release>(),
           "The background consolidator's state and counts.");
}

}  // namespace engram::bind

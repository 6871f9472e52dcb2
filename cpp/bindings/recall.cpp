// Bindings for concepts, consolidation, recall, completion, feature flags and the background
// consolidator. Adds methods to the Space and Engine classes registered in module.cpp;
// engram/recall.py and engram/engine.py wrap them. Every engine call releases the GIL.
#include "engram/recall.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engram/completion.hpp"
#include "engram/consolidation.hpp"
#include "engram/decay.hpp"
#include "engram/engine.hpp"
#include "engram/errors.hpp"
#include "engram/space.hpp"
#include "engram/validation.hpp"

namespace py = pybind11;

namespace engram {

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

FloatArray vector_arg(const py::handle& obj, std::size_t dim, const char* what) {
  if (obj.is_none()) throw InvalidInputError(std::string(what) + " is missing; expected a float32 vector");
  FloatArray arr = FloatArray::ensure(obj);
  if (!arr) {
    PyErr_Clear();
    throw InvalidInputError(std::string(what) + " must be a sequence of numbers");
  }
  if (arr.ndim() != 1 || static_cast<std::size_t>(arr.shape(0)) != dim) {
    throw DimensionError("expected " + dimensional(dim) + " float32 " + what + ", got " + std::to_string(arr.size()) +
                         " values in " + std::to_string(arr.ndim()) + " dimension(s)");
  }
  return arr;
}

py::array_t<float> to_array(const std::vector<float>& v) {
  py::array_t<float> a(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

// Reads keyword arguments into a params struct, rejecting names it does not know.
class Kwargs {
 public:
  explicit Kwargs(const py::kwargs& kw) : kw_(kw) {}
  template <class T>
  void get(const char* name, T& out) {
    seen_.insert(name);
    if (!kw_.contains(name) || kw_[name].is_none()) return;
    try {
      out = kw_[name].cast<T>();
    } catch (const py::cast_error&) {
      throw InvalidInputError(std::string("parameter '") + name + "' has the wrong type");
    }
  }
  template <class T>
  void get(const char* name, std::optional<T>& out) {
    T v{};
    seen_.insert(name);
    if (!kw_.contains(name) || kw_[name].is_none()) return;
    get(name, v);
    out = v;
  }
  void finish(const char* what) const {
    for (const auto& [k, v] : kw_) {
      const std::string key = py::str(k);
      if (seen_.count(key) == 0) throw InvalidInputError(std::string("unknown ") + what + " parameter '" + key + "'");
    }
  }

 private:
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

py::dict report_dict(const ConsolidationReport& r) {
  py::dict d;
  d["episodes_considered"] = r.episodes_considered;
  d["concepts_formed"] = r.concepts_formed;
  d["concepts_updated"] = r.concepts_updated;
  d["concepts_dissolved"] = r.concepts_dissolved;
  d["episodes_bound"] = r.episodes_bound;
  d["clusters_found"] = r.clusters_found;
  d["clusters_incoherent"] = r.clusters_incoherent;
  d["clusters_deferred"] = r.clusters_deferred;
  d["blocks_reused"] = r.blocks_reused;
  d["rate_breaker_tripped"] = r.rate_breaker_tripped;
  d["ratio_breaker_tripped"] = r.ratio_breaker_tripped;
  d["formation_disabled"] = r.formation_disabled;
  d["duration_s"] = r.duration_s;
  d["formed"] = r.formed;
  d["updated"] = r.updated;
  return d;
}

py::dict concept_dict(const ConceptView& c) {
  py::dict d;
  d["id"] = c.id;
  d["centroid"] = to_array(c.centroid);
  d["coherence"] = c.coherence;
  d["confidence"] = c.confidence;
  d["formed_at"] = c.formed_at;
  d["updated_at"] = c.updated_at;
  d["members"] = c.members;
  return d;
}

py::dict counters_dict(const ConsolidationCounters& c) {
  const auto l = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  py::dict d;
  d["runs"] = l(c.runs);
  d["failures"] = l(c.failures);
  d["concepts_formed"] = l(c.concepts_formed);
  d["concepts_updated"] = l(c.concepts_updated);
  d["concepts_dissolved"] = l(c.concepts_dissolved);
  d["episodes_bound"] = l(c.episodes_bound);
  d["rate_breaker_trips"] = l(c.rate_breaker_trips);
  d["ratio_breaker_trips"] = l(c.ratio_breaker_trips);
  d["rate_breaker_open"] = l(c.rate_breaker_open);
  d["ratio_breaker_open"] = l(c.ratio_breaker_open);
  d["last_run_at"] = l(c.last_run_at);
  d["last_duration_s"] = l(c.last_duration_s);
  return d;
}

// A live concept of this space, or MemoryNotFound naming what the id is instead.
void require_concept(const Space& sp, std::int64_t id) {
  const auto k = sp.live_kind(id);
  if (k == MemoryKind::Concept && sp.concept_store().contains(id)) return;
  if (k == MemoryKind::Episode) {
    throw InvalidInputError("memory " + std::to_string(id) + " is an episode; expected a concept id");
  }
  throw MemoryNotFound("no concept with id " + std::to_string(id) + " in space '" + sp.name() + "'");
}

}  // namespace

void register_recall(py::module_& m) {
  auto space = py::reinterpret_borrow<py::class_<Space, std::shared_ptr<Space>>>(m.attr("Space"));
  space
      .def("consolidate",
           [](Space& sp, const py::kwargs& kw) {
             const ConsolidationParams p = consolidation_params(kw);
             ConsolidationReport r;
             {
               py::gil_scoped_release release;
               r = consolidate(sp, p);
             }
             return report_dict(r);
           })
      .def(
          "recall",
          [](const Space& sp, const py::handle& cue, std::int64_t k, const std::string& mode, double semantic_weight,
             std::optional<double> now, double threshold, const py::kwargs& kw) {
            FloatArray q = vector_arg(cue, sp.dim(), "cue");
            RecallParams p;
            if (k < 1) throw InvalidInputError("k must be at least 1, got " + std::to_string(k));
            p.k = static_cast<std::size_t>(k);
            const auto md = parse_recall_mode(mode);
            if (!md)
              throw InvalidInputError("unknown recall mode '" + mode + "'; expected blended, episodic or semantic");
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
            std::vector<Recollection> rs;
            {
              py::gil_scoped_release release;
              rs = recall(sp, {q.data(), sp.dim()}, p);
            }
            py::list out;
            for (const Recollection& r : rs) {
              out.append(py::make_tuple(r.id, kind_name(r.kind), r.score, r.confidence, r.activation,
                                        provenance_name(r.provenance), r.episodic_weight, r.semantic_weight, r.episodic,
                                        r.semantic));
            }
            return out;
          },
          py::arg("cue"), py::arg("k") = 10, py::arg("mode") = "blended", py::arg("semantic_weight") = 0.3,
          py::arg("now") = py::none(), py::arg("threshold") = 0.0)
      .def(
          "complete",
          [](const Space& sp, const py::handle& partial, const py::handle& mask, const py::kwargs& kw) {
            if (partial.is_none()) throw InvalidInputError("partial is missing; expected a float32 vector");
            FloatArray q = FloatArray::ensure(partial);
            if (!q) {
              PyErr_Clear();
              throw InvalidInputError("partial must be a sequence of numbers (NaN allowed where unknown)");
            }
            if (mask.is_none()) throw InvalidInputError("mask is missing; expected a boolean vector (True = known)");
            auto mk = py::array_t<bool, py::array::c_style | py::array::forcecast>::ensure(mask);
            if (!mk) {
              PyErr_Clear();
              throw InvalidInputError("mask must be a sequence of booleans (True = known)");
            }
            if (q.ndim() != 1 || mk.ndim() != 1) throw DimensionError("partial and mask must be 1-D");
            std::vector<std::uint8_t> mv(static_cast<std::size_t>(mk.shape(0)));
            for (std::size_t i = 0; i < mv.size(); ++i) mv[i] = mk.data()[i] ? 1 : 0;
            CompletionParams p;
            Kwargs a(kw);
            a.get("neighbors", p.neighbors);
            a.get("hypotheses", p.hypotheses);
            a.get("ca1_threshold", p.ca1_threshold);
            a.get("sharpness", p.sharpness);
            a.get("use_concepts", p.use_concepts);
            a.finish("completion");
            Completion c;
            {
              py::gil_scoped_release release;
              c = complete(sp, {q.data(), static_cast<std::size_t>(q.shape(0))}, mv, p);
            }
            py::list alts;
            for (const Hypothesis& h : c.alternatives) {
              py::dict hd;
              hd["vector"] = to_array(h.vector);
              hd["confidence"] = h.confidence;
              hd["source"] = h.source;
              hd["kind"] = kind_name(h.kind);
              alts.append(hd);
            }
            py::dict d;
            d["vector"] = to_array(c.vector);
            d["confidence"] = c.confidence;
            d["accepted"] = c.accepted;
            d["sources"] = c.sources;
            d["source_similarity"] = c.source_similarity;
            d["alternatives"] = alts;
            d["known_dims"] = c.known_dims;
            return d;
          },
          py::arg("partial"), py::arg("mask"))
      .def("concepts",
           [](const Space& sp) {
             std::vector<ConceptView> cs;
             {
               py::gil_scoped_release release;
               auto lock = sp.operation_lock();
               cs = sp.concept_store().all();
             }
             py::list out;
             for (const ConceptView& c : cs) out.append(concept_dict(c));
             return out;
           })
      .def("concept_members",
           [](const Space& sp, std::int64_t id) {
             py::gil_scoped_release release;
             auto lock = sp.operation_lock();
             require_concept(sp, id);
             return sp.concept_store().members(id);
           })
      .def("episode_concepts",
           [](const Space& sp, std::int64_t id) {
             py::gil_scoped_release release;
             auto lock = sp.operation_lock();
             if (sp.live_kind(id) != MemoryKind::Episode) {
               throw MemoryNotFound("no episode with id " + std::to_string(id) + " in space '" + sp.name() + "'");
             }
             return sp.concept_store().concepts_of(id);
           })
      .def("consolidation_counters", [](const Space& sp) { return counters_dict(sp.concept_store().counters()); });

  auto engine = py::reinterpret_borrow<py::class_<Engine, std::shared_ptr<Engine>>>(m.attr("Engine"));
  engine
      .def("set_features", &Engine::set_features, py::arg("blended_recall") = py::none(),
           py::arg("fan_effect") = py::none(), py::arg("concept_formation") = py::none())
      .def("features",
           [](const Engine& e) {
             const FeatureFlags& f = e.features();
             py::dict d;
             d["blended_recall"] = f.blended_recall.load();
             d["fan_effect"] = f.fan_effect.load();
             d["concept_formation"] = f.concept_formation.load();
             return d;
           })
      .def(
          "start_consolidation",
          [](Engine& e, double interval_s, const py::kwargs& kw) {
            ConsolidationParams p = consolidation_params(kw);
            py::gil_scoped_release release;
            e.start_consolidation(interval_s, std::move(p));
          },
          py::arg("interval_s"))
      .def("stop_consolidation", &Engine::stop_consolidation, py::call_guard<py::gil_scoped_release>())
      .def("pause_consolidation", &Engine::pause_consolidation, py::call_guard<py::gil_scoped_release>())
      .def("resume_consolidation", &Engine::resume_consolidation, py::call_guard<py::gil_scoped_release>())
      .def("consolidation_status", [](const Engine& e) {
        ConsolidatorStatus s;
        {
          py::gil_scoped_release release;
          s = e.consolidation_status();
        }
        py::dict spaces;
        for (const auto& sp : e.spaces()) spaces[py::str(sp->name())] = counters_dict(sp->concept_store().counters());
        py::dict d;
        d["state"] = consolidator_state_name(s.state);
        d["interval_s"] = s.interval_s;
        d["cycles"] = s.cycles;
        d["failures"] = s.failures;
        d["last_cycle_duration_s"] = s.last_cycle_duration_s;
        d["spaces"] = spaces;
        return d;
      });
}

}  // namespace engram

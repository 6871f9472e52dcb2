#include "engram/recall.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "engram/errors.hpp"
#include "engram/simd.hpp"
#include "engram/spread.hpp"
#include "engram/validation.hpp"

namespace engram {

std::optional<RecallMode> parse_recall_mode(std::string_view name) noexcept {
  if (name == "blended") return RecallMode::Blended;
  if (name == "episodic") return RecallMode::Episodic;
  if (name == "semantic") return RecallMode::Semantic;
  return std::nullopt;
}

const char* recall_mode_name(RecallMode m) noexcept {
  switch (m) {
    case RecallMode::Blended: return "blended";
    case RecallMode::Episodic: return "episodic";
    case RecallMode::Semantic: return "semantic";
  }
  return "?";
}

const char* provenance_name(Provenance p) noexcept {
  switch (p) {
    case Provenance::Episodic: return "episodic";
    case Provenance::Semantic: return "semantic";
    case Provenance::Blended: return "blended";
    case Provenance::PatternCompleted: return "pattern-completed";
  }
  return "?";
}

void validate(const RecallParams& p, std::size_t max_k) {
  if (p.k < 1 || p.k > max_k) {
    throw InvalidInputError("k must be between 1 and " + std::to_string(max_k) + ", got " + std::to_string(p.k));
  }
  const auto unit = [](double v, const char* name) {
    if (!std::isfinite(v) || v < 0.0 || v > 1.0) {
      throw InvalidInputError(std::string(name) + " must be in [0, 1], got " + std::to_string(v));
    }
  };
  unit(p.semantic_weight, "semantic_weight");
  unit(p.min_concept_coherence, "min_concept_coherence");
  unit(p.activation_weight, "activation_weight");
  unit(p.decay_floor, "decay_floor");
  unit(p.binding_hop_decay, "binding_hop_decay");
  unit(p.spread_threshold, "spread_threshold");
  if (!std::isfinite(p.threshold)) throw InvalidInputError("threshold must be a finite number");
  if (!std::isfinite(p.blend_bonus) || p.blend_bonus < 1.0 || p.blend_bonus > 2.0) {
    throw InvalidInputError("blend_bonus must be in [1, 2], got " + std::to_string(p.blend_bonus));
  }
  if (p.max_concepts > 100000) throw InvalidInputError("max_concepts must be at most 100000");
  if (p.spread_hops > 16) throw InvalidInputError("spread_hops must be at most 16");
  if (p.ef && (*p.ef < 1 || *p.ef > 100000)) throw InvalidInputError("ef must be between 1 and 100000");
  if (p.now && !std::isfinite(*p.now)) throw InvalidInputError("now must be a finite time in seconds");
  if (p.decay) decay::validate(*p.decay);
}

namespace {

struct Candidate {
  MemoryKind kind = MemoryKind::Episode;
  double episodic = 0.0;  // E (episodes) or cos(q, centroid) (concepts)
  double semantic = 0.0;  // S
  double sem_conf = 0.0;  // best c(c) * strength * hop decay
  double activation = 0.0;
  double own_conf = 0.0;  // stored confidence
  double time = 0.0;
  bool via_episodic = false;
};

}  // namespace

std::vector<Recollection> recall(const Space& space, std::span<const float> cue, const RecallParams& p) {
  OpTimer timer(const_cast<SpaceMetrics&>(space.metrics()), Op::Recall);
  const Space::OperationLock lock(space);
  check_embedding(cue.data(), cue.size(), space.dim(), "cue");
  validate(p, space.config().max_k);
  const double now = p.now.value_or(space.clock().now());
  const FeatureFlags& flags = space.features();

  RecallMode mode = p.mode;
  const bool blended_on = p.blended_recall.value_or(flags.blended_recall.load(std::memory_order_relaxed));
  if (!blended_on && mode != RecallMode::Episodic) mode = RecallMode::Episodic;

  std::unordered_map<std::int64_t, Candidate> cand;
  // Episodic pathway.
  if (mode != RecallMode::Semantic) {
    const std::size_t n = p.episodic_candidates ? p.episodic_candidates : std::max<std::size_t>(4 * p.k, 32);
    const std::size_t ef = std::max(p.ef.value_or(space.config().hnsw.ef_search), n);
    for (const SearchHit& h : space.nearest_episodes(cue.data(), n, ef)) {
      Candidate& c = cand[h.id];
      c.episodic = std::max(0.0f, h.similarity);
      c.via_episodic = true;
    }
  }
  // Semantic pathway.
  std::vector<ConceptMatch> concepts;
  if (mode != RecallMode::Episodic && p.max_concepts > 0) {
    concepts = space.concept_store().nearest(cue.data(), p.max_concepts, static_cast<float>(p.min_concept_coherence));
    std::erase_if(concepts, [](const ConceptMatch& m) { return m.similarity <= 0.0f; });
  }
  if (mode == RecallMode::Blended && concepts.empty()) mode = RecallMode::Episodic;  // fallback
  const double ws = mode == RecallMode::Blended ? p.semantic_weight : (mode == RecallMode::Semantic ? 1.0 : 0.0);
  const double we = 1.0 - ws;

  for (const ConceptMatch& m : concepts) {
    Candidate& c = cand[m.id];
    c.kind = MemoryKind::Concept;
    c.episodic = m.similarity;
    c.semantic = static_cast<double>(m.similarity) * m.coherence;
    c.own_conf = m.confidence;
    space.graph().for_each_in(m.id, [&](const Edge& e) {
      if (e.kind != EdgeKind::Binding) return;
      Candidate& ec = cand[e.other];
      ec.semantic = std::min(1.0, ec.semantic + c.semantic * e.strength);
      ec.sem_conf = std::max(ec.sem_conf, static_cast<double>(m.confidence) * e.strength * p.binding_hop_decay);
    });
  }
  // Spreading activation (blended only): seeds from both pathways.
  if (mode == RecallMode::Blended && p.spreading && p.spread_hops > 0 && p.spread_seeds > 0) {
    std::vector<std::pair<double, std::int64_t>> eps, cons;
    for (const auto& [id, c] : cand) {
      if (c.kind == MemoryKind::Concept) {
        cons.emplace_back(c.semantic, id);
      } else if (c.via_episodic) {
        eps.emplace_back(c.episodic, id);
      }
    }
    const auto top = [&](std::vector<std::pair<double, std::int64_t>>& v, std::vector<Seed>& seeds) {
      std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (std::size_t i = 0; i < v.size() && i < p.spread_seeds; ++i) {
        if (v[i].first > 0.0) seeds.push_back({v[i].second, std::min(1.0, v[i].first)});
      }
    };
    std::vector<Seed> seeds;
    top(eps, seeds);
    top(cons, seeds);
    if (!seeds.empty()) {
      SpreadConfig cfg;
      cfg.max_hops = p.spread_hops;
      cfg.threshold = p.spread_threshold;
      cfg.fan_effect = p.fan_effect.value_or(flags.fan_effect.load(std::memory_order_relaxed));
      const NodeKindFn kind_of = [&space](std::int64_t id) { return space.live_kind(id); };
      for (const Activation& a : spread(space.graph(), seeds, cfg, kind_of)) cand[a.id].activation = a.activation;
    }
  }

  std::vector<Recollection> out;
  out.reserve(cand.size());
  for (auto& [id, c] : cand) {
    const std::optional<MemoryKind> live = space.live_kind(id);
    if (!live) continue;  // forgotten since an edge or hit was read
    c.kind = *live;
    if (c.kind == MemoryKind::Concept && !p.include_concepts) continue;
    if (c.kind == MemoryKind::Episode) {
      const auto ref = space.episode_ref(id);
      if (!ref) continue;
      c.own_conf = ref->confidence;
      c.time = ref->timestamp;
    } else {
      const auto v = space.concept_store().get(id);
      if (!v) continue;
      c.time = v->updated_at;
      c.own_conf = v->confidence;
      if (c.semantic == 0.0 && c.episodic == 0.0) {
        // Reached by spreading only: score it by its centroid like any other concept.
        const float qn = simd::norm_sq(cue.data(), cue.size());
        const float cn = simd::norm_sq(v->centroid.data(), v->centroid.size());
        const double cs = simd::dot(cue.data(), v->centroid.data(), cue.size()) / std::sqrt(double(qn) * cn);
        c.episodic = std::max(0.0, cs);
        c.semantic = c.episodic * v->coherence;
      }
    }
    const double r = p.decay ? p.decay_floor + (1.0 - p.decay_floor) * decay::retention_at(*p.decay, c.time, now) : 1.0;
    Recollection rec;
    rec.id = id;
    rec.kind = c.kind;
    rec.activation = static_cast<float>(c.activation);
    double score = 0.0, conf = 0.0;
    const double ce = c.own_conf * r;
    if (mode == RecallMode::Episodic) {
      if (c.kind != MemoryKind::Episode || !c.via_episodic) continue;
      score = c.episodic * r;
      conf = ce;
      rec.provenance = Provenance::Episodic;
      rec.episodic_weight = 1.0f;
    } else if (mode == RecallMode::Semantic) {
      score = c.semantic * r;
      conf = c.kind == MemoryKind::Concept ? c.own_conf : c.sem_conf;
      rec.provenance = Provenance::Semantic;
      rec.semantic_weight = 1.0f;
    } else if (c.kind == MemoryKind::Concept) {
      score =
          (we * c.episodic + ws * c.semantic + p.activation_weight * c.activation) / (1.0 + p.activation_weight) * r;
      conf = c.own_conf;
      rec.provenance = Provenance::Semantic;
      rec.episodic_weight = static_cast<float>(we);
      rec.semantic_weight = static_cast<float>(ws);
    } else {
      // A pathway counts only when it has weight: with semantic_weight 1 an episode is semantic.
      const double e = c.via_episodic && we > 0.0 ? c.episodic : 0.0;
      score = (we * e + ws * c.semantic + p.activation_weight * c.activation) / (1.0 + p.activation_weight) * r;
      const bool s_on = ws > 0.0 && c.semantic > 0.0;
      if (e > 0.0 && s_on) {
        rec.provenance = Provenance::Blended;
        rec.episodic_weight = static_cast<float>(we);
        rec.semantic_weight = static_cast<float>(ws);
        const double cs = c.sem_conf;
        conf = (we * ce + ws * cs) / (we + ws);
        if (ce > 0.5 && cs > 0.5) conf *= p.blend_bonus;
        conf = std::min(conf, p.blend_bonus * std::max(ce, cs));
      } else if (e > 0.0) {
        rec.provenance = Provenance::Episodic;
        rec.episodic_weight = 1.0f;
        conf = ce;
      } else if (s_on) {
        rec.provenance = Provenance::Semantic;
        rec.semantic_weight = 1.0f;
        conf = c.sem_conf;
      } else {
        rec.provenance = Provenance::PatternCompleted;
        conf = ce * std::min(1.0, c.activation);
      }
    }
    rec.episodic = static_cast<float>(c.episodic);
    rec.semantic = static_cast<float>(c.semantic);
    rec.score = static_cast<float>(std::clamp(score, 0.0, 1.0));
    rec.confidence = static_cast<float>(std::clamp(conf, 0.0, 1.0));
    if (!(rec.score > 0.0f) || rec.score < p.threshold) continue;
    out.push_back(rec);
  }
  const auto better = [](const Recollection& a, const Recollection& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  };
  if (out.size() > p.k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(p.k), out.end(), better);
    out.resize(p.k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

}  // namespace engram

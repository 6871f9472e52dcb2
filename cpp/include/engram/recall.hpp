// Recall: episodic, semantic and blended retrieval with provenance and confidence.
//
// Pathways for a cue q (docs/recall.md has the same formulas):
//  - Episodic  E(e) = max(0, cos(q, e)) for the episodic candidates (HNSW, max(4k, 32)).
//  - Semantic  the concepts with coherence >= min_concept_coherence nearest to q (exact scan,
//    at most max_concepts, cos > 0). A concept's own value is S(c) = cos(q, c) * coherence(c);
//    a member episode gets S(e) = min(1, sum over its concepts of S(c) * binding strength).
//  - Spreading seeds: the top spread_seeds episodes by E and concepts by S(c); spread over the
//    space's graph (spread.hpp, fan effect from the feature flag) gives activation A(x).
//  - Temporal decay R(x) = floor + (1 - floor) * retention(model, now - t(x)) with the engine
//    clock's now unless `now` is given; t is the episode's timestamp, a concept's update time.
// Scores (w_s = semantic_weight, w_e = 1 - w_s, w_a = activation_weight):
//    episodic mode  score(e) = E * R;                               provenance episodic
//    semantic mode  score(e) = S * R, score(c) = S(c) * R;          provenance semantic
//    blended mode   score(e) = (w_e E + w_s S + w_a A) / (1 + w_a) * R,
//                   score(c) = (w_e cos(q, c) + w_s S(c) + w_a A) / (1 + w_a) * R
//                   (every term is in [0, 1], so the score is too, without clipping)
//                   provenance: both E and S > 0 -> blended{w_e, w_s}; only E -> episodic;
//                   only S (and concepts) -> semantic; reached only by spreading ->
//                   pattern-completed.
//    Blended falls back to the episodic mode when no concept qualifies or the blended_recall
//    feature flag is off; semantic mode then returns nothing.
// Confidence (each in [0, 1]):
//    episodic   c_e = confidence(e) * R
//    concept    c(c) = stored concept confidence (<= max member confidence * 0.9 * coherence)
//    semantic   c_s(e) = max over its concepts of c(c) * (strength * binding_hop_decay)
//    blended    (w_e c_e + w_s c_s) / (w_e + w_s), times blend_bonus (1.1) only when both
//               c_e and c_s > 0.5, capped at blend_bonus * max(c_e, c_s) and at 1
//    spreading  c_e * min(1, A)
// Results: score >= threshold and > 0, best k by score (ties by id).
// Thread safety: runs under the space's operation lock like any read; never blocks writers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engram/decay.hpp"
#include "engram/space.hpp"

namespace engram {

enum class RecallMode : std::uint8_t { Blended = 0, Episodic = 1, Semantic = 2 };
std::optional<RecallMode> parse_recall_mode(std::string_view name) noexcept;
const char* recall_mode_name(RecallMode m) noexcept;

enum class Provenance : std::uint8_t { Episodic = 0, Semantic = 1, Blended = 2, PatternCompleted = 3 };
const char* provenance_name(Provenance p) noexcept;

struct RecallParams {
  std::size_t k = 10;
  RecallMode mode = RecallMode::Blended;
  double semantic_weight = 0.3;
  std::optional<double> now;  // engine clock when unset
  double threshold = 0.0;
  std::size_t episodic_candidates = 0;  // 0: max(4k, 32)
  std::optional<std::size_t> ef;        // HNSW ef for the episodic pathway
  std::size_t max_concepts = 20;
  double min_concept_coherence = 0.6;
  bool include_concepts = true;  // concepts may be returned (kind concept)
  // Spreading (blended mode only).
  bool spreading = true;
  std::uint32_t spread_hops = 2;
  double spread_threshold = 0.05;
  std::size_t spread_seeds = 10;
  double activation_weight = 0.1;
  // Temporal decay; nullopt: none.
  std::optional<decay::Model> decay = decay::TwoComponent{};
  double decay_floor = 0.1;
  // Confidence propagation.
  double binding_hop_decay = 0.95;
  double blend_bonus = 1.1;
  // Per-call values of the engine's feature flags (features.hpp), for a staged rollout that
  // assigns them per request (the server's rollout.hpp); nullopt: the engine's flag.
  std::optional<bool> blended_recall;
  std::optional<bool> fan_effect;
};

// Throws InvalidInputError naming the bad field and its allowed range.
void validate(const RecallParams& p, std::size_t max_k);

struct Recollection {
  std::int64_t id = 0;
  MemoryKind kind = MemoryKind::Episode;
  float score = 0.0f;
  float confidence = 0.0f;
  float activation = 0.0f;
  Provenance provenance = Provenance::Episodic;
  float episodic_weight = 0.0f;  // weights used (blended provenance); 1/0 or 0/1 otherwise
  float semantic_weight = 0.0f;
  float episodic = 0.0f;  // pathway values E and S before weighting
  float semantic = 0.0f;
};

std::vector<Recollection> recall(const Space& space, std::span<const float> cue, const RecallParams& params = {});

}  // namespace engram

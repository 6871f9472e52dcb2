// Consolidation: clusters of similar episodes become concepts (concepts.hpp) bound to their
// members, and later runs update those concepts as episodes arrive or are forgotten. This file
// is one run over a Space; the similarity and the clustering itself are in clustering.hpp, the
// background thread that runs it periodically in consolidator.hpp.
//
// One run (deterministic for a given space state; episodes are taken in id order):
//  1. Refresh concepts whose members were forgotten (recompute centroid, coherence and
//     confidence; dissolve those left with fewer than min_cluster_size members).
//  2. Assign unbound episodes to existing concepts: an episode joins the concept (among the two
//     with the nearest centroids of the concepts its index-graph neighbours belong to) when its
//     average-linkage similarity to the members reaches similarity_threshold and the concept's
//     coherence stays >= coherence_threshold. Repeated to a fixpoint.
//  3. Cluster the remaining unbound episodes with average linkage (clustering.hpp). Up to
//     exact_below episodes are clustered all-pairs as one block; above that, candidate pairs
//     come from the space's HNSW layer-0 graph (or a k-NN search per episode), and average
//     linkage runs exactly within each connected component of pairs above the threshold
//     (connected_blocks), components above max_component split in BFS order.
//     Incremental: each space caches the candidate pairs found per episode and the episodes of
//     blocks that left no coherent cluster unformed (ConceptStore::ClusteringCache); a later
//     run computes pairs only for new episodes and skips blocks made only of settled episodes.
//     The cache resets when the clustering parameters change or an episode is forgotten.
//  4. Clusters with >= min_cluster_size members and coherence >= coherence_threshold become
//     concepts, largest first, within max_concepts_per_run and the circuit breakers
//     (formations in the last hour of the engine clock < max_formations_per_hour; concepts /
//     episodes < max_concept_ratio). Steps 2-4 repeat until nothing more forms, so a second run
//     on unchanged data changes nothing (idempotent) unless a breaker or the per-run cap held
//     clusters back.
// Concept fields: centroid = mean of the members' unit vectors; confidence =
// mean(member confidence) * confidence_penalty (0.9) * coherence, hence never above the best
// member's; binding strength = max(0, cos(member, centroid)), contribution = strength / sum
// of the concept's strengths. Bindings are graph edges episode -> concept (two-sided: the
// graph lists each in the episode's out-list and the concept's in-list).
//
// Concurrency: the run holds the space's structure lock shared (like any operation) and its
// own run mutex (one run per space at a time). Clustering works on a snapshot without any
// other lock; each concept is then committed under a brief records lock (see
// Space::commit_concept), so writers are never blocked by the clustering itself.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <vector>

#include "engram/clustering.hpp"
#include "engram/space.hpp"

namespace engram {

// The default largest block (max_component below), named so constant expressions can use it:
// ConsolidationParams holds a std::stop_token and is not a literal type.
inline constexpr std::size_t kDefaultMaxComponent = 2048;

struct ConsolidationParams {
  double similarity_threshold = 0.55;
  double coherence_threshold = 0.65;
  std::size_t min_cluster_size = 3;
  double temporal_scale_s = 86400.0;  // 0: no temporal factor
  double sigmoid_gain = 10.0;
  double sigmoid_midpoint = 0.5;
  std::size_t max_concepts_per_run = 5;
  std::size_t max_formations_per_hour = 20;  // 0: no cap
  double max_concept_ratio = 0.3;            // concepts / episodes; 0: no cap
  double confidence_penalty = 0.9;
  // Candidate pairs above exact_below: "graph" takes each episode's links in the vector index's
  // layer-0 graph (no search; an approximate relative-neighbourhood graph, which contains the
  // minimum spanning tree, so single-linkage components at the threshold survive); "search"
  // runs a k-NN search of `neighbors` per episode (slower; kept for comparison).
  bool candidates_from_graph = true;
  std::size_t neighbors = 16;                        // k-NN candidate degree above exact_below (search only)
  std::size_t exact_below = 512;                     // cluster all pairs up to this many unbound episodes
  std::size_t max_component = kDefaultMaxComponent;  // largest component clustered as one block
  std::optional<double> now;                         // engine clock when unset
  // Use every core (TBB) for the k-NN graph and similarity matrices. The background
  // consolidator forces false so it never takes more than one core from foreground writers.
  bool parallel = true;
  // How a block's similarity matrix is computed (clustering.hpp); C++ only, for benchmarks and
  // the tests that check both kernels agree.
  SimilarityKernel kernel = SimilarityKernel::Gemm;
  // C++ only: once a stop is requested the run ends at its next checkpoint (between passes of
  // step 2, between blocks of step 3) and commits what earlier steps and rounds completed, so
  // an engine's close never waits for a whole run over a large space (the background
  // consolidator passes its thread's token). Work cut short is redone by the next run.
  std::stop_token stop;
};

// Throws InvalidInputError naming the bad field and its allowed range.
void validate(const ConsolidationParams& p);

struct ConsolidationReport {
  std::size_t episodes_considered = 0;  // live episodes in the snapshot
  std::size_t concepts_formed = 0;
  std::size_t concepts_updated = 0;
  std::size_t concepts_dissolved = 0;
  std::size_t episodes_bound = 0;       // new bindings made by this run
  std::size_t clusters_found = 0;       // clusters of >= min_cluster_size members
  std::size_t clusters_incoherent = 0;  // of those, below the coherence threshold
  std::size_t clusters_deferred = 0;    // coherent but held back by a cap or breaker
  std::size_t blocks_reused = 0;        // blocks whose clusters came from the clustering cache
  bool rate_breaker_tripped = false;
  bool ratio_breaker_tripped = false;
  bool formation_disabled = false;  // feature flag concept_formation off
  bool stopped = false;             // ended early by params.stop; what it reports was committed
  double duration_s = 0.0;
  std::vector<std::int64_t> formed;   // new concept ids
  std::vector<std::int64_t> updated;  // concept ids whose members changed
};

ConsolidationReport consolidate(Space& space, const ConsolidationParams& params = {});

}  // namespace engram

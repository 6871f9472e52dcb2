// Concepts: memories of kind "concept" formed by consolidation (see consolidation.hpp).
//
// A concept has an id from its space's id scheme (the Space appends a record of kind Concept
// for it, so get(), forget() and the id checks work unchanged), a centroid (the mean of its
// members' unit-normalised embeddings), a coherence (mean pairwise sigmoid similarity of its
// members, without the temporal discount), a confidence, a formation time, an update time and
// its sorted member episode ids. The binding edges episode -> concept live in the space's
// Graph; the member list here is the concept's own record of them, and validate() checks that
// the two agree.
//
// Index choice: concepts are searched by an exact scan over a contiguous centroid matrix, not
// by a second HNSW. The circuit breakers keep concepts at most 0.3 x episodes (typically
// 1-5 %), so a scan is a few thousand dot products at most (well under a millisecond), it is
// exact (no recall loss on the semantic pathway), and centroids move when a concept absorbs
// new members, which HNSW cannot express without delete-and-reinsert.
//
// Locking: mu_ (shared) guards the entries. Readers (recall, completion, introspection) hold it
// shared for one scan or one lookup; consolidation holds it exclusively only to apply a
// finished update (never while clustering). It is a leaf of the engine's lock order (engine.hpp):
// nothing else is locked or called back while it is held. run_mu_ serialises consolidation runs
// of the space and guards their state (run_state()).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engram/thread_annotations.hpp"

namespace engram {

// A detached copy of one concept.
struct ConceptView {
  std::int64_t id = 0;
  std::vector<float> centroid;
  float coherence = 0.0f;
  float confidence = 0.0f;
  double formed_at = 0.0;
  double updated_at = 0.0;
  std::vector<std::int64_t> members;  // sorted ascending
};

// What consolidation writes for a new or changed concept.
struct ConceptDraft {
  std::vector<float> centroid;
  float coherence = 0.0f;
  float confidence = 0.0f;
  double time = 0.0;                  // formation time for a new concept, update time otherwise
  std::vector<std::int64_t> members;  // sorted ascending
  double pair_similarity_sum = 0.0;   // sum over member pairs of the coherence similarity
};

struct ConceptMatch {
  std::int64_t id = 0;
  float similarity = 0.0f;  // cosine between the query and the centroid
  float coherence = 0.0f;
  float confidence = 0.0f;
};

// A plain copy of ConsolidationCounters (each counter read once, so values may come from
// adjacent instants while a run is going on).
struct ConsolidationCounterValues {
  std::uint64_t runs = 0;
  std::uint64_t failures = 0;
  std::uint64_t concepts_formed = 0;
  std::uint64_t concepts_updated = 0;
  std::uint64_t concepts_dissolved = 0;
  std::uint64_t episodes_bound = 0;
  std::uint64_t rate_breaker_trips = 0;
  std::uint64_t ratio_breaker_trips = 0;
  bool rate_breaker_open = false;
  bool ratio_breaker_open = false;
  double last_run_at = 0.0;
  double last_duration_s = 0.0;
};

// Per-space consolidation counters; monotonic, relaxed atomics (exported to Prometheus).
struct ConsolidationCounters {
  std::atomic<std::uint64_t> runs{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> concepts_formed{0};
  std::atomic<std::uint64_t> concepts_updated{0};
  std::atomic<std::uint64_t> concepts_dissolved{0};
  std::atomic<std::uint64_t> episodes_bound{0};
  std::atomic<std::uint64_t> rate_breaker_trips{0};   // formations/hour cap reached
  std::atomic<std::uint64_t> ratio_breaker_trips{0};  // concept/episode ratio cap reached
  std::atomic<bool> rate_breaker_open{false};         // state after the last run
  std::atomic<bool> ratio_breaker_open{false};
  std::atomic<double> last_run_at{0.0};  // engine clock, seconds
  std::atomic<double> last_duration_s{0.0};

  ConsolidationCounterValues values() const noexcept {
    const auto l = [](const auto& a) { return a.load(std::memory_order_relaxed); };
    return {
        l(runs),           l(failures),           l(concepts_formed),     l(concepts_updated),  l(concepts_dissolved),
        l(episodes_bound), l(rate_breaker_trips), l(ratio_breaker_trips), l(rate_breaker_open), l(ratio_breaker_open),
        l(last_run_at),    l(last_duration_s)};
  }
};

class ConceptStore {
 public:
  explicit ConceptStore(std::size_t dim) : dim_(dim) {}
  ConceptStore(const ConceptStore&) = delete;
  ConceptStore& operator=(const ConceptStore&) = delete;

  std::size_t dim() const noexcept { return dim_; }

  // Writers. insert() is called by Space::add_concept, which allocates the id.
  void insert(std::int64_t id, const ConceptDraft& draft);
  // Replaces centroid, coherence, confidence, members; keeps formed_at. False if unknown.
  bool update(std::int64_t id, const ConceptDraft& draft);
  bool erase(std::int64_t id);
  // Removes a forgotten episode from every concept listing it (centroids are refreshed by the
  // next consolidation run). Returns the concepts touched.
  // Such concepts are marked dirty until take_dirty().
  std::vector<std::int64_t> drop_member(std::int64_t episode);
  // Concepts whose member list shrank since the last call (sorted); clears the mark.
  std::vector<std::int64_t> take_dirty();

  // Readers.
  bool contains(std::int64_t id) const;
  std::optional<ConceptView> get(std::int64_t id) const;
  std::vector<ConceptView> all() const;                               // sorted by id
  std::vector<std::int64_t> ids() const;                              // sorted
  std::vector<std::int64_t> members(std::int64_t id) const;           // empty if unknown
  std::vector<std::int64_t> concepts_of(std::int64_t episode) const;  // sorted
  double pair_similarity_sum(std::int64_t id) const;
  // The k concepts whose centroid is most similar (cosine) to q, among those with coherence
  // >= min_coherence; most similar first, ties by id.
  std::vector<ConceptMatch> nearest(const float* q, std::size_t k, float min_coherence) const;
  // Calls f(id, centroid, inv_norm, confidence, coherence) for every concept, in slot order,
  // under the shared lock: f must not call back into this store.
  template <class F>
  void scan(F&& f) const {
    ReaderLock lock(mu_);
    for (std::size_t s = 0; s < entries_.size(); ++s) {
      const Entry& e = entries_[s];
      if (e.id != 0) f(e.id, centroids_.data() + s * dim_, e.inv_norm, e.confidence, e.coherence);
    }
  }
  std::size_t size() const noexcept { return live_.load(std::memory_order_relaxed); }
  std::size_t memory_bytes() const;

  ConsolidationCounters& counters() noexcept { return counters_; }
  const ConsolidationCounters& counters() const noexcept { return counters_; }
  // Consolidation's own state of this space: touched only by a run, under run_mutex(), which
  // serialises runs on one space (manual and background).
  // Unbound episodes already clustered whose blocks left no coherent cluster unformed: a later
  // run skips blocks made only of them (nothing there can change unless an episode arrives,
  // one is forgotten, or the parameters change, each of which resets or bypasses the cache).
  // A cache, not state: empty after recovery.
  struct ClusteringCache {
    std::uint64_t fingerprint = 0;  // of the clustering parameters
    std::uint64_t forgotten = 0;    // the space's forget count when filled
    std::unordered_set<std::int64_t> settled;
    // Candidate pairs found for an episode (ids of live episodes similar enough at that time),
    // so a later run computes them only for episodes it has not seen.
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> pairs;
    // Clusters found in a block that still has unformed (deferred) clusters, keyed by a hash of
    // the block's episode ids. Clustering a block depends only on its members, so a later run
    // that sees exactly the same block reuses them instead of re-clustering it (a block costs
    // O(size^2) similarities; with the per-run and per-hour caps, most coherent clusters wait
    // several runs). Entries whose block no longer appears are dropped.
    struct CachedCluster {
      std::vector<std::int64_t> members;  // episode ids
      double pair_sum = 0.0;
      double coherence = 0.0;
    };
    struct CachedBlock {
      std::vector<std::int64_t> ids;  // the block's episode ids, ascending (checked on a hit)
      std::vector<CachedCluster> clusters;
    };
    std::unordered_map<std::uint64_t, CachedBlock> blocks;
  };
  struct RunState {
    std::deque<double> formation_times;  // engine clock, for the formations-per-hour breaker
    ClusteringCache clustering;
  };
  Mutex& run_mutex() noexcept RETURN_CAPABILITY(run_mu_) { return run_mu_; }
  RunState& run_state() noexcept REQUIRES(run_mu_) { return run_state_; }

 private:
  struct Entry {
    std::int64_t id = 0;  // 0: free slot
    float inv_norm = 0.0f;
    float coherence = 0.0f;
    float confidence = 0.0f;
    double formed_at = 0.0;
    double updated_at = 0.0;
    double pair_sum = 0.0;
    std::vector<std::int64_t> members;
  };
  void write_entry(std::size_t slot, std::int64_t id, const ConceptDraft& d, bool keep_formed) REQUIRES(mu_);
  ConceptView view(std::size_t slot) const REQUIRES_SHARED(mu_);

  std::size_t dim_;
  mutable SharedMutex mu_ ACQUIRED_AFTER(run_mu_){LockClass::Concepts};
  std::vector<Entry> entries_ GUARDED_BY(mu_);
  std::vector<float> centroids_ GUARDED_BY(mu_);  // slot * dim
  std::vector<std::size_t> free_ GUARDED_BY(mu_);
  std::unordered_map<std::int64_t, std::size_t> slot_of_ GUARDED_BY(mu_);
  std::unordered_map<std::int64_t, std::vector<std::int64_t>> by_episode_ GUARDED_BY(mu_);  // episode -> concepts
  std::vector<std::int64_t> dirty_ GUARDED_BY(mu_);
  std::atomic<std::size_t> live_{0};
  ConsolidationCounters counters_;
  Mutex run_mu_{LockClass::Concepts};
  RunState run_state_ GUARDED_BY(run_mu_);
};

}  // namespace engram

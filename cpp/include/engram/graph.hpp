// The typed, weighted, directed edge graph of one memory space.
//
// Edge kinds (one edge per ordered pair (src, dst); adding it again replaces kind and weights):
//  - Association: episode -> episode.
//  - Binding: episode -> concept, with a strength and a contribution in [0, 1]. A binding is
//    stored ONCE, from the episode to the concept; in_edges(concept) lists its members and
//    spreading walks bindings both ways (downward through the in-edge). Do not add the reverse.
//  - Hierarchy: concept -> concept.
// The Graph itself knows nothing of memory kinds or liveness: Space::link checks that the ends
// exist, are live, belong to the space and fit the kind, and Space::forget removes every edge
// incident on the forgotten id. Readers that race with forget() still filter targets through a
// liveness callback (see spread.hpp), so an edge to a forgotten memory is never followed.
//
// Weights: weight, strength and contribution are finite and in [0, 1] (InvalidInputError
// otherwise), so no hop can amplify activation.
//
// Determinism: each node's out-edges are kept sorted by target id and its in-edges by source
// id, so iteration order depends only on the current edge set, not on insertion history.
//
// Locking scheme: nodes are hashed onto kStripes stripes, each a shared_mutex guarding the
// adjacency lists of its nodes. Readers (neighbors, in_edges, for_each_*) hold one stripe
// shared for the duration of one node's list; writers hold exclusively the stripe(s) of the
// nodes they touch. An edge change touches the src stripe (out-list) and the dst stripe
// (in-list); both are taken together, lower stripe index first, so there is no lock-order
// cycle. No stripe lock is ever held while calling user code other than the for_each_*
// visitor, which must not call back into this Graph. Counters are atomics. The stripes are
// leaves of the engine's lock order (engine.hpp).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engram/thread_annotations.hpp"

namespace engram {

enum class EdgeKind : std::uint8_t { Association = 0, Binding = 1, Hierarchy = 2 };
const char* edge_kind_name(EdgeKind k) noexcept;
// "association", "binding" or "hierarchy"; nullopt otherwise.
std::optional<EdgeKind> parse_edge_kind(std::string_view name) noexcept;

// One adjacency entry. In an out-list `other` is the destination; in an in-list the source.
struct Edge {
  std::int64_t other = 0;
  float weight = 1.0f;
  EdgeKind kind = EdgeKind::Association;
  float strength = 1.0f;      // bindings: binding strength; 1 for the other kinds
  float contribution = 1.0f;  // bindings: share of the episode in its concept; 1 otherwise
};

// A full edge, as listed by Graph::edges().
struct EdgeRecord {
  std::int64_t src = 0;
  std::int64_t dst = 0;
  float weight = 1.0f;
  EdgeKind kind = EdgeKind::Association;
  float strength = 1.0f;
  float contribution = 1.0f;
};

class Graph {
 public:
  static constexpr std::size_t kStripes = 64;

  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Adds src -> dst, or replaces its kind and weights. Returns true when the edge is new.
  // Throws InvalidInputError for a self-loop or a weight outside [0, 1].
  bool add_edge(std::int64_t src, std::int64_t dst, EdgeKind kind, float weight = 1.0f, float strength = 1.0f,
                float contribution = 1.0f);
  // Returns true when an edge was removed.
  bool remove_edge(std::int64_t src, std::int64_t dst);
  // Removes every edge into or out of id; returns how many edges were removed.
  std::size_t remove_node(std::int64_t id);
  // Holds every stripe at once (an array of locks, which the analysis cannot express).
  void clear() NO_THREAD_SAFETY_ANALYSIS;

  std::optional<Edge> edge(std::int64_t src, std::int64_t dst) const;  // `other` = dst
  std::vector<Edge> neighbors(std::int64_t id) const;                  // out-edges, by target id
  std::vector<Edge> in_edges(std::int64_t id) const;                   // in-edges, by source id
  std::size_t out_degree(std::int64_t id) const;
  std::size_t in_degree(std::int64_t id) const;

  // Calls f(const Edge&) for each out- (in-) edge of id, in id order, under the stripe's shared
  // lock: f must be short and must not call into this Graph.
  template <class F>
  void for_each_out(std::int64_t id, F&& f) const {
    const Stripe& s = stripe(id);
    ReaderLock lock(s.mu);
    if (const auto it = s.nodes.find(id); it != s.nodes.end()) {
      for (const Edge& e : it->second.out) f(e);
    }
  }
  template <class F>
  void for_each_in(std::int64_t id, F&& f) const {
    const Stripe& s = stripe(id);
    ReaderLock lock(s.mu);
    if (const auto it = s.nodes.find(id); it != s.nodes.end()) {
      for (const Edge& e : it->second.in) f(e);
    }
  }

  // Every edge, sorted by (src, dst). Each stripe is read consistently; edges changed while
  // the listing runs may or may not appear.
  std::vector<EdgeRecord> edges() const;
  std::size_t edge_count() const noexcept { return edges_.load(std::memory_order_relaxed); }
  std::size_t memory_bytes() const;

 private:
  struct Adjacency {
    std::vector<Edge> out;  // sorted by other (= dst)
    std::vector<Edge> in;   // sorted by other (= src)
  };
  struct alignas(64) Stripe {
    mutable SharedMutex mu{LockClass::GraphNode};
    std::unordered_map<std::int64_t, Adjacency> nodes GUARDED_BY(mu);
  };
  // Both stripes of an edge exclusively, lower index first; one lock when they are the same.
  class SCOPED_CAPABILITY StripePair {
   public:
    StripePair(Graph& g, std::size_t a, std::size_t b) ACQUIRE(g.stripes_[a].mu, g.stripes_[b].mu);
    ~StripePair() RELEASE();
    StripePair(const StripePair&) = delete;
    StripePair& operator=(const StripePair&) = delete;

   private:
    SharedMutex* first_;
    SharedMutex* second_;  // null when both ends share a stripe
  };

  static std::size_t stripe_index(std::int64_t id) noexcept {
    // Ids are sequential within a space; a multiplicative hash spreads neighbours apart.
    return static_cast<std::size_t>((static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull) >> 58) % kStripes;
  }
  Stripe& stripe(std::int64_t id) noexcept { return stripes_[stripe_index(id)]; }
  const Stripe& stripe(std::int64_t id) const noexcept { return stripes_[stripe_index(id)]; }

  std::array<Stripe, kStripes> stripes_{};
  std::atomic<std::size_t> edges_{0};
};

}  // namespace engram

// HNSW approximate nearest-neighbour index over cosine similarity (Malkov & Yashunin 2018).
//
// Vectors are stored as given (so callers get their exact bytes back) together with the inverse
// of their norm; similarity = dot(a, b) * inv_norm(a) * inv_norm(b).
//
// Locking scheme:
//  - Each node has a one-byte spin lock that serialises writers of its neighbour lists. A thread
//    never holds two node locks at once, so there is no lock ordering to respect and no deadlock.
//    Clang's thread-safety analysis cannot check these: the lock is chosen per node at run time
//    and guards words inside blocks_ addressed by slot, not a member it could name.
//  - Readers (search, and the search phase of an insert) do not take node locks. Every word of a
//    neighbour list (count, then ids) is read and written through std::atomic_ref: writers store
//    ids and then the count with release stores (under the node lock), readers load with acquire.
//    A reader racing with a rewrite may see a mix of old and new ids; each is a fully published
//    node (an id is only ever stored after that node's data), so the walk stays valid, merely
//    approximate for that instant, as in any concurrent HNSW. On x86 these atomics are plain moves.
//  - A node's vector, inverse norm, label and level are written before the node is linked
//    anywhere; a reader that found the node through a link (acquire load of the id, which
//    synchronises with the release store that published it) sees its data.
//  - entry_mu_ guards the entry point and the top level. An insert whose level exceeds the top
//    holds it for the whole insert (as hnswlib does), so the hierarchy is never half-raised.
//    entry_state_ is an atomic that searches read without the lock, so it is not GUARDED_BY it.
//  - These locks are leaves of the engine's lock order (engine.hpp).
//  - Deletion is a tombstone flag (atomic); deleted nodes stay in the graph for navigation but
//    are never returned by search.
//  - add() and search() may run concurrently from any number of threads. validate() and
//    memory_usage() give exact figures only when no add() runs at the same time (the owning
//    Space guarantees that by taking its structure lock exclusively).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engram/segmented_array.hpp"
#include "engram/thread_annotations.hpp"

namespace engram {

struct HnswParams {
  std::uint32_t M = 16;                 // links per node on upper layers (2*M on layer 0)
  std::uint32_t ef_construction = 200;  // candidate list size while inserting
  std::uint32_t ef_search = 64;         // default candidate list size while searching
  std::uint64_t seed = 42;              // level generator seed
};

struct HnswIntegrity {
  std::uint64_t nodes = 0;
  std::uint64_t deleted = 0;
  std::uint64_t broken_links = 0;      // self-loops, duplicate links, lists longer than the layer's bound
  std::uint64_t layer_violations = 0;  // link at layer l to a node whose top layer is below l; bad entry point
  std::uint64_t dangling_ids = 0;      // links to slots that do not hold an inserted node
  // Inserted nodes not reachable from the entry point on layer 0. Not an integrity fault: the
  // neighbour-selection heuristic may prune a node's last in-link (hnswlib behaves the same);
  // reported so quality regressions show.
  std::uint64_t unreachable = 0;
  bool ok() const noexcept { return broken_links == 0 && layer_violations == 0 && dangling_ids == 0; }
};

struct HnswMemory {
  std::uint64_t vector_bytes = 0;
  std::uint64_t link_bytes = 0;
  std::uint64_t node_bytes = 0;
};

struct Neighbor {
  float similarity;
  std::uint32_t slot;
};

class HnswIndex {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;
  static constexpr int kMaxLevel = 16;

  HnswIndex(std::size_t dim, HnswParams params);
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  std::size_t dim() const noexcept { return dim_; }
  const HnswParams& params() const noexcept { return params_; }

  // Reserves a slot and stores the vector (length dim, finite, non-zero norm: the caller
  // validates). The node is not searchable until link() returns.
  std::uint32_t allocate(std::int64_t label, const float* vec);
  // Links a previously allocated slot into the graph.
  void link(std::uint32_t slot);
  std::uint32_t add(std::int64_t label, const float* vec) {
    const std::uint32_t s = allocate(label, vec);
    link(s);
    return s;
  }

  void mark_deleted(std::uint32_t slot) noexcept;
  bool is_deleted(std::uint32_t slot) const noexcept;

  // k most similar live nodes, most similar first. ef < k is raised to k.
  std::vector<Neighbor> search(const float* query, std::size_t k, std::size_t ef) const;
  // Exact search by scanning every live node (reference for tests and recall measurements).
  std::vector<Neighbor> exact_search(const float* query, std::size_t k) const;

  const float* vector(std::uint32_t slot) const noexcept { return vec(slot); }
  float inv_norm(std::uint32_t slot) const noexcept { return norm_of(slot); }
  std::int64_t label(std::uint32_t slot) const noexcept { return nodes_.at(slot)->label; }
  // Snapshot of a node's layer-0 neighbours (lock-free, like search). The layer-0 graph is an
  // approximate relative-neighbourhood graph, which contains the minimum spanning tree of its
  // nodes; consolidation uses it as its candidate-pair graph instead of a k-NN search per node.
  void neighbors(std::uint32_t slot, std::vector<std::uint32_t>& out) const { copy_links(slot, 0, out); }
  std::size_t size() const noexcept { return count_.load(std::memory_order_acquire); }
  std::size_t deleted_count() const noexcept { return deleted_.load(std::memory_order_relaxed); }
  int top_level() const noexcept;

  HnswIntegrity validate() const;
  HnswMemory memory_usage() const;

 private:
  struct Node {
    std::atomic<std::uint8_t> lock{0};
    std::atomic<std::uint8_t> state{0};  // bit0 allocated, bit1 linked, bit2 deleted
    std::uint8_t level = 0;
    // Layer-0 in-degree: how many layer-0 lists name this node. Pruning a full list never
    // removes a node's last in-link (it would become unreachable: search could never return
    // it); see HnswIndex::connect. Atomic because lists of different nodes change concurrently.
    std::atomic<std::uint32_t> in0{0};
    std::int64_t label = 0;
    std::unique_ptr<std::uint32_t[]> upper;  // level * (M + 1): count then ids, per upper layer
  };
  class NodeLock;

  using MaxHeap = std::vector<std::pair<float, std::uint32_t>>;  // (distance, slot)
  struct Query;  // a query vector with its inverse norm and the distance kernel chosen once

  static constexpr std::size_t kLine = 64;
  static std::size_t block_bytes(std::size_t dim, std::uint32_t m) noexcept;
  float* vec(std::uint32_t slot) noexcept { return reinterpret_cast<float*>(blocks_.at(slot)); }
  const float* vec(std::uint32_t slot) const noexcept { return reinterpret_cast<const float*>(blocks_.at(slot)); }
  float& norm_of(std::uint32_t slot) noexcept { return *reinterpret_cast<float*>(blocks_.at(slot) + norm_offset_); }
  float norm_of(std::uint32_t slot) const noexcept {
    return *reinterpret_cast<const float*>(blocks_.at(slot) + norm_offset_);
  }
  std::uint32_t* links0(std::uint32_t slot) noexcept {
    return reinterpret_cast<std::uint32_t*>(blocks_.at(slot) + links_offset_);
  }
  const std::uint32_t* links0(std::uint32_t slot) const noexcept {
    return reinterpret_cast<const std::uint32_t*>(blocks_.at(slot) + links_offset_);
  }
  float distance(const Query& q, std::uint32_t slot) const noexcept;
  std::uint32_t* links(std::uint32_t slot, int layer) noexcept;
  const std::uint32_t* links(std::uint32_t slot, int layer) const noexcept;
  std::uint32_t max_links(int layer) const noexcept { return layer == 0 ? 2 * params_.M : params_.M; }
  void copy_links(std::uint32_t slot, int layer, std::vector<std::uint32_t>& out) const;
  // Swaps `orphan` into `kept` (n's new layer-0 list, nearest first) in place of the farthest
  // member that has another in-link; false if every member is some node's only in-link.
  bool adopt(MaxHeap& kept, std::uint32_t orphan, float orphan_dist);
  // Gives a new node with no layer-0 in-link one, from its nearest neighbour.
  void ensure_in_link(std::uint32_t slot, const MaxHeap& neighbours);
  void prefetch_vector(std::uint32_t slot) const noexcept;
  std::uint32_t greedy_descend(const Query& q, std::uint32_t cur, int from, int to) const;
  // Fills `top` with up to ef nearest found, as a max-heap on distance (farthest first).
  void search_layer(const Query& q, std::uint32_t entry, std::size_t ef, int layer, bool skip_deleted,
                    MaxHeap& top) const;
  void select_neighbors(MaxHeap& candidates, std::size_t m) const;
  void connect(std::uint32_t slot, int layer, MaxHeap& candidates);
  int draw_level() noexcept;

  std::size_t dim_;
  HnswParams params_;
  double level_mult_;
  // One cache-line-aligned block per node, hnswlib-style: [vector | inverse norm | layer-0
  // count and ids | padding]. A distance streams the vector and the norm that follows it; the
  // link list follows the norm (same line, then the next two), so expanding a node whose
  // distance was just computed finds its links mostly in cache, and vector loads never split
  // lines. The bytes come from aligned operator new, which implicitly creates the float and
  // uint32 objects accessed through the typed pointers above.
  std::size_t norm_offset_;
  std::size_t links_offset_;
  SegmentedArray<unsigned char> blocks_;
  SegmentedArray<Node> nodes_;
  std::atomic<std::uint32_t> next_slot_{0};
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> deleted_{0};
  std::atomic<std::uint64_t> level_counter_{0};
  mutable Mutex entry_mu_{LockClass::HnswEntry};
  // (top level + 1) << 32 | entry slot; 0 while empty. One word so searches read both at once.
  std::atomic<std::uint64_t> entry_state_{0};
};

}  // namespace engram

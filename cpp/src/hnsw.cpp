#include "engram/hnsw.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <thread>

#include "engram/simd.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace engram {
namespace {

constexpr std::uint8_t kAllocated = 1, kLinked = 2, kDeleted = 4;

std::uint64_t splitmix64(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__)
  _mm_pause();
#endif
}

// Per-thread visited marks, reused across searches: a new tag per search avoids clearing.
struct VisitedList {
  std::vector<std::uint32_t> marks;
  std::uint32_t tag = 0;
  void begin(std::size_t n) {
    if (marks.size() < n) marks.resize(n + n / 2 + 1024, 0);
    if (++tag == 0) {
      std::fill(marks.begin(), marks.end(), 0);
      tag = 1;
    }
  }
  // Returns true the first time a slot is seen in this search.
  bool visit(std::uint32_t slot) {
    if (slot >= marks.size()) marks.resize(static_cast<std::size_t>(slot) * 2 + 1024, 0);
    if (marks[slot] == tag) return false;
    marks[slot] = tag;
    return true;
  }
};

thread_local VisitedList tl_visited;
thread_local std::vector<std::uint32_t> tl_links;

using Pair = std::pair<float, std::uint32_t>;
using MinQueue = std::priority_queue<Pair, std::vector<Pair>, std::greater<>>;
using MaxQueue = std::priority_queue<Pair, std::vector<Pair>, std::less<>>;

}  // namespace

class HnswIndex::NodeLock {
 public:
  explicit NodeLock(const Node& n) : flag_(const_cast<std::atomic<std::uint8_t>&>(n.lock)) {
    for (int spins = 0; flag_.exchange(1, std::memory_order_acquire) != 0; ++spins) {
      if (spins < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }
  ~NodeLock() { flag_.store(0, std::memory_order_release); }
  NodeLock(const NodeLock&) = delete;
  NodeLock& operator=(const NodeLock&) = delete;

 private:
  std::atomic<std::uint8_t>& flag_;
};

HnswIndex::HnswIndex(std::size_t dim, HnswParams params)
    : dim_(dim),
      params_(params),
      level_mult_(1.0 / std::log(static_cast<double>(std::max<std::uint32_t>(params.M, 2)))),
      vectors_(dim),
      links0_(2 * static_cast<std::size_t>(params.M) + 1),
      nodes_(1) {}

int HnswIndex::top_level() const noexcept {
  return static_cast<int>(entry_state_.load(std::memory_order_acquire) >> 32) - 1;
}

int HnswIndex::draw_level() noexcept {
  const std::uint64_t n = level_counter_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t r = splitmix64(params_.seed * 0x2545f4914f6cdd1dull + n);
  double u = static_cast<double>(r >> 11) * 0x1.0p-53;
  if (u <= 0.0) u = 0x1.0p-53;
  const int level = static_cast<int>(-std::log(u) * level_mult_);
  return std::min(level, kMaxLevel - 1);
}

std::uint32_t* HnswIndex::links(std::uint32_t slot, int layer) noexcept {
  if (layer == 0) return links0_.at(slot);
  return nodes_.at(slot)->upper.get() + static_cast<std::size_t>(layer - 1) * (params_.M + 1);
}

const std::uint32_t* HnswIndex::links(std::uint32_t slot, int layer) const noexcept {
  if (layer == 0) return links0_.at(slot);
  return nodes_.at(slot)->upper.get() + static_cast<std::size_t>(layer - 1) * (params_.M + 1);
}

float HnswIndex::distance(const float* q, float q_inv, std::uint32_t slot) const noexcept {
  return 1.0f - simd::dot(q, vectors_.at(slot), dim_) * q_inv * nodes_.at(slot)->inv_norm;
}

void HnswIndex::copy_links(std::uint32_t slot, int layer, std::vector<std::uint32_t>& out) const {
  const Node& node = *nodes_.at(slot);
  NodeLock lock(node);
  const std::uint32_t* l = links(slot, layer);
  out.assign(l + 1, l + 1 + l[0]);
}

std::uint32_t HnswIndex::allocate(std::int64_t label, const float* vec) {
  const std::uint32_t slot = next_slot_.fetch_add(1, std::memory_order_relaxed);
  vectors_.ensure(slot);
  links0_.ensure(slot);
  nodes_.ensure(slot);
  std::copy(vec, vec + dim_, vectors_.at(slot));
  links0_.at(slot)[0] = 0;
  Node& node = *nodes_.at(slot);
  const int level = draw_level();
  node.level = static_cast<std::uint8_t>(level);
  node.label = label;
  node.inv_norm = 1.0f / std::sqrt(simd::norm_sq(vec, dim_));
  if (level > 0) node.upper = std::make_unique<std::uint32_t[]>(static_cast<std::size_t>(level) * (params_.M + 1));
  node.state.store(kAllocated, std::memory_order_release);
  return slot;
}

std::uint32_t HnswIndex::greedy_descend(const float* q, float q_inv, std::uint32_t cur, int from, int to) const {
  float cur_dist = distance(q, q_inv, cur);
  std::vector<std::uint32_t>& buf = tl_links;
  for (int layer = from; layer >= to; --layer) {
    for (bool changed = true; changed;) {
      changed = false;
      copy_links(cur, layer, buf);
      for (const std::uint32_t n : buf) {
        const float d = distance(q, q_inv, n);
        if (d < cur_dist) {
          cur_dist = d;
          cur = n;
          changed = true;
        }
      }
    }
  }
  return cur;
}

HnswIndex::MaxHeap HnswIndex::search_layer(const float* q, float q_inv, std::uint32_t entry, std::size_t ef,
                                           int layer, bool skip_deleted) const {
  VisitedList& visited = tl_visited;
  visited.begin(next_slot_.load(std::memory_order_acquire));
  MaxQueue top;
  MinQueue candidates;
  std::vector<std::uint32_t>& buf = tl_links;

  const float d0 = distance(q, q_inv, entry);
  visited.visit(entry);
  float bound = std::numeric_limits<float>::infinity();
  if (!skip_deleted || !is_deleted(entry)) {
    top.emplace(d0, entry);
    bound = d0;
  }
  candidates.emplace(d0, entry);

  while (!candidates.empty()) {
    const auto [cd, c] = candidates.top();
    if (cd > bound && top.size() >= ef) break;
    candidates.pop();
    copy_links(c, layer, buf);
#if defined(__x86_64__)
    for (const std::uint32_t n : buf) _mm_prefetch(reinterpret_cast<const char*>(vectors_.at(n)), _MM_HINT_T0);
#endif
    for (const std::uint32_t n : buf) {
      if (!visited.visit(n)) continue;
      const float d = distance(q, q_inv, n);
      if (top.size() < ef || d < bound) {
        candidates.emplace(d, n);
        if (!skip_deleted || !is_deleted(n)) {
          top.emplace(d, n);
          if (top.size() > ef) top.pop();
          bound = top.top().first;
        }
      }
    }
  }
  MaxHeap out;
  out.reserve(top.size());
  while (!top.empty()) {
    out.push_back(top.top());
    top.pop();
  }
  return out;  // farthest first
}

void HnswIndex::select_neighbors(MaxHeap& candidates, std::size_t m) const {
  if (candidates.size() <= m) return;
  std::sort(candidates.begin(), candidates.end());  // nearest first
  MaxHeap kept;
  kept.reserve(m);
  for (const auto& [d, c] : candidates) {
    if (kept.size() >= m) break;
    const float* vc = vectors_.at(c);
    const float ic = nodes_.at(c)->inv_norm;
    bool good = true;
    for (const auto& [dk, k] : kept) {
      // Keep c only if it is closer to the base than to every neighbour already kept:
      // this spreads links across directions (the HNSW heuristic, algorithm 4).
      const float between = 1.0f - simd::dot(vc, vectors_.at(k), dim_) * ic * nodes_.at(k)->inv_norm;
      if (between < d) {
        good = false;
        break;
      }
    }
    if (good) kept.emplace_back(d, c);
  }
  candidates.swap(kept);
}

void HnswIndex::connect(std::uint32_t slot, int layer, MaxHeap& candidates) {
  std::erase_if(candidates, [slot](const auto& p) { return p.second == slot; });
  select_neighbors(candidates, params_.M);
  {
    NodeLock lock(*nodes_.at(slot));
    std::uint32_t* l = links(slot, layer);
    l[0] = static_cast<std::uint32_t>(candidates.size());
    for (std::size_t i = 0; i < candidates.size(); ++i) l[i + 1] = candidates[i].second;
  }
  const std::uint32_t bound = max_links(layer);
  const float* v = vectors_.at(slot);
  const float vi = nodes_.at(slot)->inv_norm;
  for (const auto& [dist, n] : candidates) {
    NodeLock lock(*nodes_.at(n));
    std::uint32_t* l = links(n, layer);
    const std::uint32_t count = l[0];
    if (std::find(l + 1, l + 1 + count, slot) != l + 1 + count) continue;
    if (count < bound) {
      l[count + 1] = slot;
      l[0] = count + 1;
      continue;
    }
    // Full: re-select among the old links plus the new node, by distance to n.
    const float* vn = vectors_.at(n);
    const float in = nodes_.at(n)->inv_norm;
    MaxHeap pool;
    pool.reserve(count + 1);
    pool.emplace_back(1.0f - simd::dot(vn, v, dim_) * in * vi, slot);
    for (std::uint32_t i = 1; i <= count; ++i) {
      const std::uint32_t o = l[i];
      pool.emplace_back(1.0f - simd::dot(vn, vectors_.at(o), dim_) * in * nodes_.at(o)->inv_norm, o);
    }
    select_neighbors(pool, bound);
    l[0] = static_cast<std::uint32_t>(pool.size());
    for (std::size_t i = 0; i < pool.size(); ++i) l[i + 1] = pool[i].second;
  }
}

void HnswIndex::link(std::uint32_t slot) {
  Node& node = *nodes_.at(slot);
  const int level = node.level;
  const float* q = vectors_.at(slot);
  const float q_inv = node.inv_norm;

  std::unique_lock lock(entry_mu_);
  const std::uint64_t state = entry_state_.load(std::memory_order_acquire);
  const int top = static_cast<int>(state >> 32) - 1;
  const auto publish = [&] {
    node.state.fetch_or(kLinked, std::memory_order_release);
    count_.fetch_add(1, std::memory_order_release);
  };
  if (top < 0) {
    entry_state_.store((static_cast<std::uint64_t>(level + 1) << 32) | slot, std::memory_order_release);
    publish();
    return;
  }
  if (level <= top) lock.unlock();

  std::uint32_t cur = static_cast<std::uint32_t>(state & 0xffffffffu);
  if (level < top) cur = greedy_descend(q, q_inv, cur, top, level + 1);
  for (int layer = std::min(level, top); layer >= 0; --layer) {
    MaxHeap found = search_layer(q, q_inv, cur, params_.ef_construction, layer, false);
    // Nearest result becomes the entry for the next layer down.
    float best = std::numeric_limits<float>::infinity();
    for (const auto& [d, c] : found) {
      if (c != slot && d < best) {
        best = d;
        cur = c;
      }
    }
    connect(slot, layer, found);
  }
  if (level > top) entry_state_.store((static_cast<std::uint64_t>(level + 1) << 32) | slot, std::memory_order_release);
  publish();
}

void HnswIndex::mark_deleted(std::uint32_t slot) noexcept {
  const std::uint8_t before = nodes_.at(slot)->state.fetch_or(kDeleted, std::memory_order_acq_rel);
  if ((before & kDeleted) == 0) deleted_.fetch_add(1, std::memory_order_relaxed);
}

bool HnswIndex::is_deleted(std::uint32_t slot) const noexcept {
  return (nodes_.at(slot)->state.load(std::memory_order_acquire) & kDeleted) != 0;
}

std::vector<Neighbor> HnswIndex::search(const float* query, std::size_t k, std::size_t ef) const {
  std::vector<Neighbor> out;
  const std::uint64_t state = entry_state_.load(std::memory_order_acquire);
  if (state == 0 || k == 0) return out;
  const int top = static_cast<int>(state >> 32) - 1;
  const float q_inv = 1.0f / std::sqrt(simd::norm_sq(query, dim_));
  std::uint32_t cur = static_cast<std::uint32_t>(state & 0xffffffffu);
  if (top > 0) cur = greedy_descend(query, q_inv, cur, top, 1);
  MaxHeap found = search_layer(query, q_inv, cur, std::max(ef, k), 0, true);
  std::sort(found.begin(), found.end());
  if (found.size() > k) found.resize(k);
  out.reserve(found.size());
  for (const auto& [d, s] : found) out.push_back({1.0f - d, s});
  return out;
}

std::vector<Neighbor> HnswIndex::exact_search(const float* query, std::size_t k) const {
  const float q_inv = 1.0f / std::sqrt(simd::norm_sq(query, dim_));
  const std::uint32_t n = next_slot_.load(std::memory_order_acquire);
  std::vector<Pair> all;
  all.reserve(n);
  for (std::uint32_t s = 0; s < n; ++s) {
    if (!nodes_.contains(s)) break;
    const std::uint8_t st = nodes_.at(s)->state.load(std::memory_order_acquire);
    if ((st & kLinked) == 0 || (st & kDeleted) != 0) continue;
    all.emplace_back(distance(query, q_inv, s), s);
  }
  const std::size_t m = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m), all.end());
  std::vector<Neighbor> out;
  out.reserve(m);
  for (std::size_t i = 0; i < m; ++i) out.push_back({1.0f - all[i].first, all[i].second});
  return out;
}

HnswIntegrity HnswIndex::validate() const {
  HnswIntegrity r;
  const std::uint32_t n = next_slot_.load(std::memory_order_acquire);
  const auto inserted = [&](std::uint32_t s) {
    return s < n && nodes_.contains(s) && (nodes_.at(s)->state.load(std::memory_order_acquire) & kLinked) != 0;
  };
  for (std::uint32_t s = 0; s < n; ++s) {
    if (!inserted(s)) continue;
    const Node& node = *nodes_.at(s);
    ++r.nodes;
    if ((node.state.load(std::memory_order_acquire) & kDeleted) != 0) ++r.deleted;
    for (int layer = 0; layer <= node.level; ++layer) {
      NodeLock lock(node);
      const std::uint32_t* l = links(s, layer);
      const std::uint32_t count = l[0];
      if (count > max_links(layer)) {
        ++r.broken_links;
        continue;
      }
      for (std::uint32_t i = 1; i <= count; ++i) {
        const std::uint32_t t = l[i];
        if (!inserted(t)) {
          ++r.dangling_ids;
          continue;
        }
        if (t == s || std::find(l + 1, l + i, t) != l + i) ++r.broken_links;
        if (nodes_.at(t)->level < layer) ++r.layer_violations;
      }
    }
  }
  const std::uint64_t state = entry_state_.load(std::memory_order_acquire);
  if (state != 0) {
    const std::uint32_t entry = static_cast<std::uint32_t>(state & 0xffffffffu);
    const int top = static_cast<int>(state >> 32) - 1;
    if (!inserted(entry) || nodes_.at(entry)->level != top) ++r.layer_violations;
    for (std::uint32_t s = 0; s < n; ++s) {
      if (inserted(s) && nodes_.at(s)->level > top) ++r.layer_violations;
    }
    // Reachability on layer 0 (deleted nodes still carry traffic, so they count as hops).
    std::vector<std::uint8_t> seen(n, 0);
    std::vector<std::uint32_t> stack{entry};
    seen[entry] = 1;
    std::vector<std::uint32_t> buf;
    while (!stack.empty()) {
      const std::uint32_t s = stack.back();
      stack.pop_back();
      copy_links(s, 0, buf);
      for (const std::uint32_t t : buf) {
        if (t < n && !seen[t] && inserted(t)) {
          seen[t] = 1;
          stack.push_back(t);
        }
      }
    }
    for (std::uint32_t s = 0; s < n; ++s) {
      if (inserted(s) && !seen[s]) ++r.unreachable;
    }
  } else if (r.nodes != 0) {
    ++r.layer_violations;
  }
  return r;
}

HnswMemory HnswIndex::memory_usage() const {
  HnswMemory m;
  const std::uint32_t n = next_slot_.load(std::memory_order_acquire);
  m.vector_bytes = static_cast<std::uint64_t>(n) * dim_ * sizeof(float);
  m.link_bytes = static_cast<std::uint64_t>(n) * links0_.stride() * sizeof(std::uint32_t);
  m.node_bytes = static_cast<std::uint64_t>(n) * sizeof(Node);
  for (std::uint32_t s = 0; s < n && nodes_.contains(s); ++s) {
    m.link_bytes += static_cast<std::uint64_t>(nodes_.at(s)->level) * (params_.M + 1) * sizeof(std::uint32_t);
  }
  return m;
}

}  // namespace engram

#include "engram/hnsw.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
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

// Per-thread search buffers, reused across searches (no allocation per search). Reached through
// scratch(), which returns a plain reference: naming a thread_local inside the search loop (or
// in a lambda there, which cannot capture it) costs a __tls_get_addr call per use in a shared
// library.
struct Scratch {
  VisitedList visited;
  std::vector<std::uint32_t> links;
  std::vector<std::pair<float, std::uint32_t>> candidates;  // candidate heap storage
};
[[gnu::noinline]] Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

using Pair = std::pair<float, std::uint32_t>;

// Neighbour-list words are shared with lock-free readers (see the locking scheme in hnsw.hpp).
inline std::uint32_t load_word(const std::uint32_t& w) noexcept {
  return std::atomic_ref<std::uint32_t>(const_cast<std::uint32_t&>(w)).load(std::memory_order_acquire);
}
inline void store_word(std::uint32_t& w, std::uint32_t v) noexcept {
  std::atomic_ref<std::uint32_t>(w).store(v, std::memory_order_release);
}

}  // namespace

struct HnswIndex::Query {
  const float* v;
  float inv_norm;
  simd::DotFn dot;  // read once per operation instead of once per distance
};

class HnswIndex::NodeLock {
 public:
  explicit NodeLock(const Node& n) : flag_(const_cast<std::atomic<std::uint8_t>&>(n.lock)) {
    if (flag_.exchange(1, std::memory_order_acquire) == 0) return;
    const auto t = std::chrono::steady_clock::now();  // contended: counted (lock_stats.hpp)
    for (int spins = 0; flag_.exchange(1, std::memory_order_acquire) != 0; ++spins) {
      if (spins < 64) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
    note_lock_wait(LockClass::HnswNode, t);
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
      norm_offset_(dim * sizeof(float)),
      links_offset_(norm_offset_ + sizeof(float)),
      blocks_(block_bytes(dim, params.M)),
      nodes_(1) {}

std::size_t HnswIndex::block_bytes(std::size_t dim, std::uint32_t m) noexcept {
  const std::size_t raw = (dim + 1 + 2 * static_cast<std::size_t>(m) + 1) * sizeof(std::uint32_t);
  return (raw + kLine - 1) / kLine * kLine;
}

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
  if (layer == 0) return links0(slot);
  return nodes_.at(slot)->upper.get() + static_cast<std::size_t>(layer - 1) * (params_.M + 1);
}

const std::uint32_t* HnswIndex::links(std::uint32_t slot, int layer) const noexcept {
  if (layer == 0) return links0(slot);
  return nodes_.at(slot)->upper.get() + static_cast<std::size_t>(layer - 1) * (params_.M + 1);
}

float HnswIndex::distance(const Query& q, std::uint32_t slot) const noexcept {
  return 1.0f - q.dot(q.v, vec(slot), dim_) * q.inv_norm * norm_of(slot);
}

// Lock-free snapshot of a neighbour list (see the locking scheme in hnsw.hpp).
void HnswIndex::copy_links(std::uint32_t slot, int layer, std::vector<std::uint32_t>& out) const {
  const std::uint32_t* l = links(slot, layer);
  const std::uint32_t count = std::min(load_word(l[0]), max_links(layer));
  out.resize(count);
  for (std::uint32_t i = 0; i < count; ++i) out[i] = load_word(l[i + 1]);
}

void HnswIndex::prefetch_vector(std::uint32_t slot) const noexcept {
#if defined(__x86_64__)
  // The first lines start the miss early; the hardware stream prefetcher follows the rest.
  const char* p = reinterpret_cast<const char*>(vec(slot));
  _mm_prefetch(p, _MM_HINT_T0);
  _mm_prefetch(p + 64, _MM_HINT_T0);
  _mm_prefetch(p + norm_offset_, _MM_HINT_T0);
#else
  (void)slot;
#endif
}

std::uint32_t HnswIndex::allocate(std::int64_t label, const float* v) {
  const std::uint32_t slot = next_slot_.fetch_add(1, std::memory_order_relaxed);
  blocks_.ensure(slot);
  nodes_.ensure(slot);
  std::copy(v, v + dim_, vec(slot));
  norm_of(slot) = 1.0f / std::sqrt(simd::norm_sq(v, dim_));
  store_word(links0(slot)[0], 0);
  Node& node = *nodes_.at(slot);
  const int level = draw_level();
  node.level = static_cast<std::uint8_t>(level);
  node.label = label;
  if (level > 0) node.upper = std::make_unique<std::uint32_t[]>(static_cast<std::size_t>(level) * (params_.M + 1));
  node.state.store(kAllocated, std::memory_order_release);
  return slot;
}

std::uint32_t HnswIndex::greedy_descend(const Query& q, std::uint32_t cur, int from, int to) const {
  float cur_dist = distance(q, cur);
  std::vector<std::uint32_t>& buf = scratch().links;
  for (int layer = from; layer >= to; --layer) {
    for (bool changed = true; changed;) {
      changed = false;
      copy_links(cur, layer, buf);
      for (const std::uint32_t n : buf) prefetch_vector(n);
      for (const std::uint32_t n : buf) {
        const float d = distance(q, n);
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

void HnswIndex::search_layer(const Query& q, std::uint32_t entry, std::size_t ef, int layer, bool skip_deleted,
                             MaxHeap& top) const {
  Scratch& mine = scratch();
  VisitedList& visited = mine.visited;
  visited.begin(next_slot_.load(std::memory_order_acquire));
  // Both heaps live in reused vectors driven by std::push_heap/pop_heap: `top` is a max-heap
  // on distance, `candidates` a min-heap (std::greater), as in the paper's algorithm 2.
  top.clear();
  std::vector<Pair>& candidates = mine.candidates;
  candidates.clear();
  const auto push_top = [&top](float d, std::uint32_t s) {
    top.emplace_back(d, s);
    std::push_heap(top.begin(), top.end());
  };
  const auto pop_top = [&top] {
    std::pop_heap(top.begin(), top.end());
    top.pop_back();
  };
  const auto push_cand = [&candidates](float d, std::uint32_t s) {
    candidates.emplace_back(d, s);
    std::push_heap(candidates.begin(), candidates.end(), std::greater<>{});
  };
  std::vector<std::uint32_t>& buf = mine.links;
  // The tombstone flag lives in Node (another cache line per result): skip reading it while the
  // index has no deletions. A forget() that returned before this search began is seen here.
  skip_deleted = skip_deleted && deleted_.load(std::memory_order_acquire) != 0;

  const float d0 = distance(q, entry);
  visited.visit(entry);
  float bound = std::numeric_limits<float>::infinity();
  if (!skip_deleted || !is_deleted(entry)) {
    push_top(d0, entry);
    bound = d0;
  }
  push_cand(d0, entry);

  while (!candidates.empty()) {
    const auto [cd, c] = candidates.front();
    if (cd > bound && top.size() >= ef) break;
    std::pop_heap(candidates.begin(), candidates.end(), std::greater<>{});
    candidates.pop_back();
#if defined(__x86_64__)
    // The next candidate's neighbour list lives in another array than its vector: start that
    // miss now so it overlaps with this candidate's distance computations (hnswlib does the same).
    if (!candidates.empty()) {
      _mm_prefetch(reinterpret_cast<const char*>(links(candidates.front().second, layer)), _MM_HINT_T0);
    }
#endif
    // Keep only unvisited neighbours and start their memory loads before computing any
    // distance, so the misses overlap instead of arriving one by one.
    const std::uint32_t* l = links(c, layer);
    const std::uint32_t count = std::min(load_word(l[0]), max_links(layer));
    buf.clear();
    for (std::uint32_t i = 1; i <= count; ++i) {
      const std::uint32_t n = load_word(l[i]);
      if (!visited.visit(n)) continue;
      buf.push_back(n);
      prefetch_vector(n);
    }
    for (const std::uint32_t n : buf) {
      const float d = distance(q, n);
      if (top.size() < ef || d < bound) {
        push_cand(d, n);
        if (!skip_deleted || !is_deleted(n)) {
          push_top(d, n);
          if (top.size() > ef) pop_top();
          bound = top.front().first;
        }
      }
    }
  }
}

void HnswIndex::select_neighbors(MaxHeap& candidates, std::size_t m) const {
  if (candidates.size() <= m) return;
  const simd::DotFn dot = simd::active().dot;
  std::sort(candidates.begin(), candidates.end());  // nearest first
  MaxHeap kept;
  kept.reserve(m);
  for (const auto& [d, c] : candidates) {
    if (kept.size() >= m) break;
    const float* vc = vec(c);
    const float ic = norm_of(c);
    bool good = true;
    for (const auto& [dk, k] : kept) {
      // Keep c only if it is closer to the base than to every neighbour already kept:
      // this spreads links across directions (the HNSW heuristic, algorithm 4).
      const float between = 1.0f - dot(vc, vec(k), dim_) * ic * norm_of(k);
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
  const simd::DotFn dot = simd::active().dot;
  const std::uint32_t bound = max_links(layer);
  const float* v = vec(slot);
  const float vi = norm_of(slot);
  {
    // A concurrent insert may already have linked itself into this node's list (it found the
    // node through a layer above): merge with those links instead of overwriting them, or that
    // insert would lose its only in-link. Ids before the count (release stores): a lock-free
    // reader that sees the new count sees them.
    NodeLock lock(*nodes_.at(slot));
    std::uint32_t* l = links(slot, layer);
    const std::uint32_t existing = load_word(l[0]);
    MaxHeap merged = candidates;
    for (std::uint32_t i = 1; i <= existing; ++i) {
      const std::uint32_t o = load_word(l[i]);
      if (std::none_of(merged.begin(), merged.end(), [o](const auto& p) { return p.second == o; })) {
        merged.emplace_back(1.0f - dot(v, vec(o), dim_) * vi * norm_of(o), o);
      }
    }
    std::vector<std::uint32_t> before(existing);
    for (std::uint32_t i = 0; i < existing; ++i) before[i] = load_word(l[i + 1]);
    MaxHeap all = merged;
    select_neighbors(merged, bound);
    if (layer == 0) {
      const auto in = [](const MaxHeap& h, std::uint32_t x) {
        return std::any_of(h.begin(), h.end(), [x](const auto& p) { return p.second == x; });
      };
      const auto was = [&before](std::uint32_t x) {
        return std::find(before.begin(), before.end(), x) != before.end();
      };
      for (const auto& [d, o] : merged) {
        if (!was(o)) nodes_.at(o)->in0.fetch_add(1, std::memory_order_relaxed);
      }
      for (const auto& [d, o] : all) {
        if (in(merged, o) || !was(o)) continue;
        if (nodes_.at(o)->in0.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          nodes_.at(o)->in0.fetch_add(1, std::memory_order_relaxed);
          if (!adopt(merged, o, d)) nodes_.at(o)->in0.fetch_sub(1, std::memory_order_relaxed);
        }
      }
    }
    for (std::size_t i = 0; i < merged.size(); ++i) store_word(l[i + 1], merged[i].second);
    store_word(l[0], static_cast<std::uint32_t>(merged.size()));
  }
  MaxHeap pool;
  pool.reserve(bound + 1);
  std::vector<std::uint32_t> old;
  for (const auto& [dist, n] : candidates) {
    NodeLock lock(*nodes_.at(n));
    std::uint32_t* l = links(n, layer);
    const std::uint32_t count = load_word(l[0]);
    bool present = false;
    for (std::uint32_t i = 1; i <= count && !present; ++i) present = load_word(l[i]) == slot;
    if (present) continue;
    if (count < bound) {
      store_word(l[count + 1], slot);
      store_word(l[0], count + 1);
      if (layer == 0) nodes_.at(slot)->in0.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    // Full: re-select among the old links plus the new node, by distance to n.
    const float* vn = vec(n);
    const float in = norm_of(n);
    pool.clear();
    old.clear();
    pool.emplace_back(1.0f - dot(vn, v, dim_) * in * vi, slot);
    for (std::uint32_t i = 1; i <= count; ++i) {
      const std::uint32_t o = load_word(l[i]);
      old.push_back(o);
      pool.emplace_back(1.0f - dot(vn, vec(o), dim_) * in * norm_of(o), o);
    }
    MaxHeap all = pool;
    select_neighbors(pool, bound);
    if (layer == 0) {
      const auto kept = [&pool](std::uint32_t x) {
        return std::any_of(pool.begin(), pool.end(), [x](const auto& p) { return p.second == x; });
      };
      if (kept(slot)) nodes_.at(slot)->in0.fetch_add(1, std::memory_order_relaxed);
      for (const auto& [d, o] : all) {
        if (o == slot || kept(o)) continue;
        // Dropping n -> o: if that was o's last in-link, keep it instead of a farther one.
        if (nodes_.at(o)->in0.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          nodes_.at(o)->in0.fetch_add(1, std::memory_order_relaxed);
          if (!adopt(pool, o, d)) nodes_.at(o)->in0.fetch_sub(1, std::memory_order_relaxed);
        }
      }
    }
    for (std::size_t i = 0; i < pool.size(); ++i) store_word(l[i + 1], pool[i].second);
    store_word(l[0], static_cast<std::uint32_t>(pool.size()));
  }
  if (layer == 0) ensure_in_link(slot, candidates);
}

bool HnswIndex::adopt(MaxHeap& kept, std::uint32_t orphan, float orphan_dist) {
  for (std::size_t tries = 0; tries < kept.size(); ++tries) {
    // The farthest member (the link that matters least to n's navigation) whose in-degree
    // stays >= 1 without n's link.
    std::size_t pick = kept.size();
    float pick_dist = -1.0f;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      const auto [d, k] = kept[i];
      if (k == orphan || d < pick_dist) continue;
      if (nodes_.at(k)->in0.load(std::memory_order_acquire) >= 2) {
        pick = i;
        pick_dist = d;
      }
    }
    if (pick == kept.size()) break;
    Node& victim = *nodes_.at(kept[pick].second);
    if (victim.in0.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      victim.in0.fetch_add(1, std::memory_order_relaxed);  // lost a race: it became a last link
      continue;
    }
    kept[pick] = {orphan_dist, orphan};
    return true;
  }
  return false;
}

void HnswIndex::ensure_in_link(std::uint32_t slot, const MaxHeap& neighbours) {
  Node& node = *nodes_.at(slot);
  if (node.in0.load(std::memory_order_acquire) > 0 || neighbours.empty()) return;
  // The nearest neighbour takes a link to the new node, in place of a link that is not some
  // node's last (or in a free entry if it has one).
  const auto nearest = *std::min_element(neighbours.begin(), neighbours.end());
  const std::uint32_t n = nearest.second;
  NodeLock lock(*nodes_.at(n));
  std::uint32_t* l = links(n, 0);
  const std::uint32_t count = load_word(l[0]);
  for (std::uint32_t i = 1; i <= count; ++i) {
    if (load_word(l[i]) == slot) return;
  }
  if (count < max_links(0)) {
    store_word(l[count + 1], slot);
    store_word(l[0], count + 1);
    node.in0.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const simd::DotFn dot = simd::active().dot;
  const float* vn = vec(n);
  const float in = norm_of(n);
  MaxHeap kept;
  for (std::uint32_t i = 1; i <= count; ++i) {
    const std::uint32_t o = load_word(l[i]);
    kept.emplace_back(1.0f - dot(vn, vec(o), dim_) * in * norm_of(o), o);
  }
  if (!adopt(kept, slot, nearest.first)) return;
  node.in0.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < kept.size(); ++i) store_word(l[i + 1], kept[i].second);
}

void HnswIndex::link(std::uint32_t slot) {
  Node& node = *nodes_.at(slot);
  const int level = node.level;
  const Query q{vec(slot), norm_of(slot), simd::active().dot};

  MutexLock lock(entry_mu_);
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
  if (level < top) cur = greedy_descend(q, cur, top, level + 1);
  MaxHeap found;
  for (int layer = std::min(level, top); layer >= 0; --layer) {
    search_layer(q, cur, params_.ef_construction, layer, false, found);
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
  if ((before & kDeleted) == 0) deleted_.fetch_add(1, std::memory_order_release);
}

bool HnswIndex::is_deleted(std::uint32_t slot) const noexcept {
  return (nodes_.at(slot)->state.load(std::memory_order_acquire) & kDeleted) != 0;
}

std::vector<Neighbor> HnswIndex::search(const float* query, std::size_t k, std::size_t ef) const {
  std::vector<Neighbor> out;
  const std::uint64_t state = entry_state_.load(std::memory_order_acquire);
  if (state == 0 || k == 0) return out;
  const int top = static_cast<int>(state >> 32) - 1;
  const simd::DotFn dot = simd::active().dot;
  const Query q{query, 1.0f / std::sqrt(dot(query, query, dim_)), dot};
  std::uint32_t cur = static_cast<std::uint32_t>(state & 0xffffffffu);
  if (top > 0) cur = greedy_descend(q, cur, top, 1);
  thread_local MaxHeap found;
  search_layer(q, cur, std::max(ef, k), 0, true, found);
  std::sort(found.begin(), found.end());
  if (found.size() > k) found.resize(k);
  out.reserve(found.size());
  for (const auto& [d, s] : found) out.push_back({1.0f - d, s});
  return out;
}

std::vector<Neighbor> HnswIndex::exact_search(const float* query, std::size_t k) const {
  const simd::DotFn dot = simd::active().dot;
  const Query q{query, 1.0f / std::sqrt(dot(query, query, dim_)), dot};
  const std::uint32_t n = next_slot_.load(std::memory_order_acquire);
  std::vector<Pair> all;
  all.reserve(n);
  for (std::uint32_t s = 0; s < n; ++s) {
    if (!nodes_.contains(s)) break;
    const std::uint8_t st = nodes_.at(s)->state.load(std::memory_order_acquire);
    if ((st & kLinked) == 0 || (st & kDeleted) != 0) continue;
    all.emplace_back(distance(q, s), s);
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
      const std::uint32_t count = load_word(l[0]);
      if (count > max_links(layer)) {
        ++r.broken_links;
        continue;
      }
      for (std::uint32_t i = 1; i <= count; ++i) {
        const std::uint32_t t = load_word(l[i]);
        if (!inserted(t)) {
          ++r.dangling_ids;
          continue;
        }
        bool duplicate = t == s;
        for (std::uint32_t j = 1; j < i && !duplicate; ++j) duplicate = load_word(l[j]) == t;
        if (duplicate) ++r.broken_links;
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
  m.link_bytes = static_cast<std::uint64_t>(n) * (2 * params_.M + 1) * sizeof(std::uint32_t);
  // Node records plus each block's inverse norm and cache-line padding.
  m.node_bytes = static_cast<std::uint64_t>(n) * (sizeof(Node) + blocks_.stride() - links_offset_ -
                                                  (2 * params_.M + 1) * sizeof(std::uint32_t) + sizeof(float));
  for (std::uint32_t s = 0; s < n && nodes_.contains(s); ++s) {
    // A slot may be claimed but not yet filled by a concurrent add(): its level is published by
    // the release store of kAllocated, so read it only after seeing that bit.
    const Node& node = *nodes_.at(s);
    if ((node.state.load(std::memory_order_acquire) & kAllocated) == 0) continue;
    m.link_bytes += static_cast<std::uint64_t>(node.level) * (params_.M + 1) * sizeof(std::uint32_t);
  }
  return m;
}

}  // namespace engram

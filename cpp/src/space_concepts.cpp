// Space methods for concepts and the engine algorithms built on them (declared in space.hpp).
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "engram/errors.hpp"
#include "engram/space.hpp"

namespace engram {

namespace {
const FeatureFlags& default_features() {
  static const FeatureFlags flags;
  return flags;
}
}  // namespace

std::shared_lock<std::shared_mutex> Space::operation_lock() const {
  std::shared_lock lock(structure_mu_);
  ensure_open();
  return lock;
}

void Space::set_features(std::shared_ptr<const FeatureFlags> flags) noexcept { features_ = std::move(flags); }

const FeatureFlags& Space::features() const noexcept { return features_ ? *features_ : default_features(); }

void Space::scan_episodes(const std::function<void(const EpisodeRef&)>& f) const {
  const std::size_t n = next_local_.load(std::memory_order_acquire);
  for (std::size_t local = 0; local < n; ++local) {
    const Record& r = *records_.at(local);
    if (r.state.load(std::memory_order_acquire) != kLive || r.kind != MemoryKind::Episode) continue;
    f(EpisodeRef{make_id(local), index_.vector(r.slot), index_.inv_norm(r.slot), r.confidence, r.timestamp, r.slot});
  }
}

std::optional<Space::EpisodeRef> Space::episode_ref(std::int64_t id) const noexcept {
  if (live_kind(id) != MemoryKind::Episode) return std::nullopt;
  const auto local = static_cast<std::size_t>((id & kLocalMask) - 1);
  const Record& r = *records_.at(local);
  return EpisodeRef{id, index_.vector(r.slot), index_.inv_norm(r.slot), r.confidence, r.timestamp, r.slot};
}

void Space::index_neighbors(const EpisodeRef& e, std::vector<std::int64_t>& out) const {
  thread_local std::vector<std::uint32_t> slots;
  index_.neighbors(e.slot, slots);
  out.clear();
  for (const std::uint32_t s : slots) out.push_back(index_.label(s));
}

std::vector<SearchHit> Space::nearest_episodes(const float* q, std::size_t k, std::size_t ef) const {
  return to_hits(index_.search(q, k, std::max(ef, k)), k);
}

std::int64_t Space::commit_concept(std::int64_t id, ConceptDraft draft, std::vector<BindingSpec> bindings,
                                   std::size_t min_members) {
  // records_mu_ shared: forget() (exclusive) cannot run between the liveness check and the
  // edge writes, so no binding to a forgotten episode survives (see the lock order).
  std::shared_lock rlock(records_mu_);
  std::erase_if(bindings, [this](const BindingSpec& b) { return live_kind(b.episode) != MemoryKind::Episode; });
  std::erase_if(draft.members, [this](std::int64_t m) { return live_kind(m) != MemoryKind::Episode; });
  if (id != 0 && live_kind(id) != MemoryKind::Concept) return 0;  // forgotten meanwhile
  if (draft.members.size() < min_members) return 0;
  if (id == 0) {
    std::lock_guard lock(append_mu_);
    const std::size_t local = next_local_.load(std::memory_order_relaxed);
    if (local + 1 > config_.max_memories) {
      throw CapacityError("memory space '" + name_ + "' is full; no room for a new concept");
    }
    records_.ensure(local);
    Record& r = *records_.at(local);
    r.kind = MemoryKind::Concept;
    r.confidence = draft.confidence;
    r.timestamp = draft.time;
    r.slot = 0;  // concepts are not in the vector index; the store holds the centroid
    id = make_id(local);
    concepts_->insert(id, draft);
    r.state.store(kLive, std::memory_order_release);
    next_local_.store(local + 1, std::memory_order_release);
  } else {
    concepts_->update(id, draft);
    // Drop bindings to episodes that left the concept.
    std::unordered_set<std::int64_t> keep;
    for (const BindingSpec& b : bindings) keep.insert(b.episode);
    for (const Edge& e : graph_.in_edges(id)) {
      if (e.kind == EdgeKind::Binding && keep.count(e.other) == 0) graph_.remove_edge(e.other, id);
    }
  }
  for (const BindingSpec& b : bindings) {
    const float s = std::clamp(b.strength, 0.0f, 1.0f);
    graph_.add_edge(b.episode, id, EdgeKind::Binding, s, s, std::clamp(b.contribution, 0.0f, 1.0f));
  }
  return id;
}

void Space::dissolve_concept(std::int64_t id) {
  std::unique_lock rlock(records_mu_);
  if (live_kind(id) != MemoryKind::Concept) return;
  Record& r = *records_.at(static_cast<std::size_t>((id & kLocalMask) - 1));
  concepts_->erase(id);
  r.state.store(kForgotten, std::memory_order_release);
  graph_.remove_node(id);
  forgotten_.fetch_add(1, std::memory_order_relaxed);
}

void Space::validate_concepts(IntegrityReport& r) const {
  const std::size_t n = next_local_.load(std::memory_order_acquire);
  for (std::size_t local = 0; local < n; ++local) {
    const Record& rec = *records_.at(local);
    if (rec.kind != MemoryKind::Concept || rec.state.load(std::memory_order_acquire) != kLive) continue;
    if (!concepts_->contains(make_id(local))) ++r.record_index_mismatches;  // record without its centroid
  }
  for (const ConceptView& c : concepts_->all()) {
    ++r.concepts;
    if (live_kind(c.id) != MemoryKind::Concept) ++r.record_index_mismatches;  // centroid without a record
    std::vector<std::int64_t> bound;
    for (const Edge& e : graph_.in_edges(c.id)) {
      if (e.kind == EdgeKind::Binding) bound.push_back(e.other);
    }
    if (bound.empty()) ++r.orphaned_concepts;
    // Both lists are sorted: count entries present in only one of them.
    std::vector<std::int64_t> diff;
    std::set_symmetric_difference(bound.begin(), bound.end(), c.members.begin(), c.members.end(),
                                  std::back_inserter(diff));
    r.one_sided_bindings += diff.size();
  }
  for (const EdgeRecord& e : graph_.edges()) {
    if (!live_kind(e.src) || !live_kind(e.dst)) ++r.edges_to_missing;
    if (e.kind != EdgeKind::Binding) continue;
    // A binding must be reachable from both ends: in the episode's out-list (edges() lists
    // out-lists) and in the concept's in-list.
    bool in_listed = false;
    graph_.for_each_in(e.dst, [&](const Edge& in) { in_listed = in_listed || in.other == e.src; });
    if (!in_listed) ++r.one_sided_bindings;
    if (live_kind(e.dst) == MemoryKind::Concept && !concepts_->contains(e.dst)) ++r.one_sided_bindings;
  }
}

}  // namespace engram

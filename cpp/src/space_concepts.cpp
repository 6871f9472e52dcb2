// Space methods for concepts and the engine algorithms built on them (declared in space.hpp).
#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

#include "engram/crash.hpp"
#include "engram/errors.hpp"
#include "engram/space.hpp"

namespace engram {

namespace {
const FeatureFlags& default_features() {
  static const FeatureFlags flags;
  return flags;
}
}  // namespace

std::shared_lock<SharedMutex> Space::operation_lock() const {
  std::shared_lock lock(structure_mu_);
  ensure_open();
  return lock;
}

std::vector<ConceptView> Space::concepts() const {
  OperationLock lock(*this);
  return concept_store().all();
}

std::vector<std::int64_t> Space::concept_members(std::int64_t id) const {
  OperationLock lock(*this);
  const auto k = live_kind(id);
  if (k == MemoryKind::Concept && concept_store().contains(id)) return concept_store().members(id);
  if (k == MemoryKind::Episode) {
    throw InvalidInputError("memory " + std::to_string(id) + " is an episode; expected a concept id");
  }
  throw MemoryNotFound("no concept with id " + std::to_string(id) + " in space '" + name_ + "'");
}

std::vector<std::int64_t> Space::episode_concepts(std::int64_t id) const {
  OperationLock lock(*this);
  if (live_kind(id) != MemoryKind::Episode) {
    throw MemoryNotFound("no episode with id " + std::to_string(id) + " in space '" + name_ + "'");
  }
  return concept_store().concepts_of(id);
}

// Constructors and destructors are outside the analysis; the attributes in space.hpp state
// what these do for their callers.
Space::OperationLock::OperationLock(const Space& space) : space_(space) {
  space_.structure_mu_.lock_shared();
  try {
    space_.ensure_open();
  } catch (...) {
    space_.structure_mu_.unlock_shared();
    throw;
  }
}

Space::OperationLock::~OperationLock() { space_.structure_mu_.unlock_shared(); }

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
  std::uint64_t lsn = 0;
  {
    if (wal_) wal_->check_writable();
    auto gate = wal_gate();
    // records_mu_ shared: forget() (exclusive) cannot run between the liveness check and the
    // edge writes, so no binding to a forgotten episode survives (see the lock order).
    ReaderLock rlock(records_mu_);
    std::erase_if(bindings, [this](const BindingSpec& b) { return live_kind(b.episode) != MemoryKind::Episode; });
    std::erase_if(draft.members, [this](std::int64_t m) { return live_kind(m) != MemoryKind::Episode; });
    if (id != 0 && live_kind(id) != MemoryKind::Concept) return 0;  // forgotten meanwhile
    if (draft.members.size() < min_members) return 0;
    const bool is_new = id == 0;
    if (is_new) {
      MutexLock lock(append_mu_);
      const std::size_t local = next_local_.load(std::memory_order_relaxed);
      if (local + 1 > config_.max_memories) {
        throw CapacityError("memory space '" + name_ + "' is full; no room for a new concept");
      }
      records_.ensure(local);  // the record stays empty (not live) until apply_concept
      id = make_id(local);
      next_local_.store(local + 1, std::memory_order_release);
    }
    for (BindingSpec& b : bindings) {
      b.strength = std::clamp(b.strength, 0.0f, 1.0f);
      b.contribution = std::clamp(b.contribution, 0.0f, 1.0f);
    }
    MutexLock glock(graph_log_mu_);
    if (wal_) {
      // The concept and all its bindings are one record: replay applies all of it or none.
      Encoder e;
      e.put<std::uint32_t>(ordinal_);
      e.put<std::int64_t>(id);
      e.put<std::uint8_t>(is_new ? 1 : 0);
      e.put<double>(draft.time);
      e.put<float>(draft.coherence);
      e.put<float>(draft.confidence);
      e.put<double>(draft.pair_similarity_sum);
      e.put<std::uint32_t>(static_cast<std::uint32_t>(draft.members.size()));
      for (const std::int64_t m : draft.members) e.put<std::int64_t>(m);
      e.put_bytes(draft.centroid.data(), draft.centroid.size() * sizeof(float));
      e.put<std::uint32_t>(static_cast<std::uint32_t>(bindings.size()));
      for (const BindingSpec& b : bindings) {
        e.put<std::int64_t>(b.episode);
        e.put<float>(b.strength);
        e.put<float>(b.contribution);
      }
      lsn = wal_->append(RecordType::ConceptCommit, e.str());
    }
    apply_concept(id, is_new, draft, bindings);
  }
  wait_durable(lsn);
  return id;
}

void Space::apply_concept(std::int64_t id, bool is_new, const ConceptDraft& draft,
                          const std::vector<BindingSpec>& bindings) {
  if (is_new) {
    const auto local = static_cast<std::size_t>((id & kLocalMask) - 1);
    records_.ensure(local);
    Record& r = *records_.at(local);
    r.kind = MemoryKind::Concept;
    r.confidence = draft.confidence;
    r.timestamp = draft.time;
    r.slot = 0;  // concepts are not in the vector index; the store holds the centroid
    concepts_->insert(id, draft);
    r.state.store(kLive, std::memory_order_release);
    if (next_local_.load(std::memory_order_relaxed) <= local) next_local_.store(local + 1, std::memory_order_release);
  } else {
    concepts_->update(id, draft);
    // Drop bindings to episodes that left the concept.
    std::unordered_set<std::int64_t> keep;
    for (const BindingSpec& b : bindings) keep.insert(b.episode);
    for (const Edge& e : graph_.in_edges(id)) {
      if (e.kind == EdgeKind::Binding && keep.count(e.other) == 0) graph_.remove_edge(e.other, id);
    }
  }
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    // Half the bindings are in memory here; the WAL record already holds all of them.
    if (i == bindings.size() / 2) crash_point("consolidation.mid_binding_write");
    const BindingSpec& b = bindings[i];
    graph_.add_edge(b.episode, id, EdgeKind::Binding, b.strength, b.strength, b.contribution);
  }
}

void Space::dissolve_concept(std::int64_t id) {
  std::uint64_t lsn = 0;
  {
    auto gate = wal_gate();
    WriterLock rlock(records_mu_);
    if (live_kind(id) != MemoryKind::Concept) return;
    if (wal_) {
      Encoder e;
      e.put<std::uint32_t>(ordinal_);
      e.put<std::int64_t>(id);
      lsn = wal_->append(RecordType::ConceptDissolve, e.str());
    }
    apply_dissolve(id);
  }
  wait_durable(lsn);
}

void Space::apply_dissolve(std::int64_t id) {
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

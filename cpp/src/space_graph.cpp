// Space methods for the edge graph and spreading activation (declared in space.hpp).
#include <mutex>
#include <shared_mutex>
#include <string>

#include "engram/errors.hpp"
#include "engram/space.hpp"

namespace engram {

std::optional<MemoryKind> Space::live_kind(std::int64_t id) const noexcept {
  if (id <= 0 || (id >> kOrdinalShift) != static_cast<std::int64_t>(ordinal_)) return std::nullopt;
  const std::int64_t seq = id & kLocalMask;
  if (seq == 0) return std::nullopt;
  const auto local = static_cast<std::size_t>(seq - 1);
  if (local >= next_local_.load(std::memory_order_acquire)) return std::nullopt;
  const Record& r = *records_.at(local);
  // kind is written before the state is published with a release store, and never changes.
  if (r.state.load(std::memory_order_acquire) != kLive) return std::nullopt;
  return r.kind;
}

namespace {

// Names the mistake when an id carries another space's ordinal: links never cross spaces.
void check_same_space(std::int64_t id, std::uint32_t ordinal, const std::string& space) {
  if (id > 0 && (id >> Space::kOrdinalShift) != static_cast<std::int64_t>(ordinal)) {
    throw MemoryNotFound("memory " + std::to_string(id) + " does not belong to space '" + space +
                         "'; edges and spreading stay inside one memory space");
  }
}

}  // namespace

bool Space::link(std::int64_t src, std::int64_t dst, EdgeKind kind, float weight, float strength, float contribution) {
  OpTimer timer(metrics_, Op::Link);
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_same_space(src, ordinal_, name_);
  check_same_space(dst, ordinal_, name_);
  if (wal_) wal_->check_writable();
  std::uint64_t lsn = 0;
  bool added = false;
  {
    auto gate = wal_gate();
    // Shared records_mu_ excludes forget() until the edge is in place (see the lock order).
    ReaderLock rlock(records_mu_);
    const MemoryKind src_kind = records_.at(resolve(src))->kind;
    const MemoryKind dst_kind = records_.at(resolve(dst))->kind;
    const auto expect = [&](MemoryKind want_src, MemoryKind want_dst, const char* shape) {
      if (src_kind != want_src || dst_kind != want_dst) {
        throw InvalidInputError(std::string("a ") + edge_kind_name(kind) + " edge links " + shape + "; got " +
                                kind_name(src_kind) + " " + std::to_string(src) + " -> " + kind_name(dst_kind) + " " +
                                std::to_string(dst));
      }
    };
    switch (kind) {
      case EdgeKind::Association: expect(MemoryKind::Episode, MemoryKind::Episode, "an episode to an episode"); break;
      case EdgeKind::Binding: expect(MemoryKind::Episode, MemoryKind::Concept, "an episode to a concept"); break;
      case EdgeKind::Hierarchy: expect(MemoryKind::Concept, MemoryKind::Concept, "a concept to a concept"); break;
    }
    MutexLock glock(graph_log_mu_);
    const bool valid = src != dst && weight >= 0.0f && weight <= 1.0f && strength >= 0.0f && strength <= 1.0f &&
                       contribution >= 0.0f && contribution <= 1.0f;
    // Invalid weights throw below, before anything is logged: replay never meets a rejected edge.
    if (wal_ && valid) {
      Encoder e;
      e.put<std::uint32_t>(ordinal_);
      e.put<std::int64_t>(src);
      e.put<std::int64_t>(dst);
      e.put<std::uint8_t>(static_cast<std::uint8_t>(kind));
      e.put<float>(weight);
      e.put<float>(strength);
      e.put<float>(contribution);
      lsn = wal_->append(RecordType::Link, e.str());
    }
    added = graph_.add_edge(src, dst, kind, weight, strength, contribution);
  }
  wait_durable(lsn);
  return added;
}

bool Space::unlink(std::int64_t src, std::int64_t dst) {
  OpTimer timer(metrics_, Op::Unlink);
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_same_space(src, ordinal_, name_);
  check_same_space(dst, ordinal_, name_);
  if (!wal_) return graph_.remove_edge(src, dst);
  wal_->check_writable();
  std::uint64_t lsn = 0;
  bool removed = false;
  {
    auto gate = wal_gate();
    MutexLock glock(graph_log_mu_);
    if (!graph_.edge(src, dst)) return false;  // nothing to log
    Encoder e;
    e.put<std::uint32_t>(ordinal_);
    e.put<std::int64_t>(src);
    e.put<std::int64_t>(dst);
    lsn = wal_->append(RecordType::Unlink, e.str());
    removed = graph_.remove_edge(src, dst);
  }
  wait_durable(lsn);
  return removed;
}

std::vector<Edge> Space::neighbors(std::int64_t id) const {
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_same_space(id, ordinal_, name_);
  resolve(id);
  std::vector<Edge> out = graph_.neighbors(id);
  std::erase_if(out, [this](const Edge& e) { return !live_kind(e.other).has_value(); });
  return out;
}

std::vector<Activation> Space::spread(std::span<const Seed> seeds, const SpreadConfig& config) const {
  OpTimer timer(const_cast<SpaceMetrics&>(metrics_), Op::Spread);
  ReaderLock lock(structure_mu_);
  ensure_open();
  for (const Seed& s : seeds) {
    check_same_space(s.id, ordinal_, name_);
    resolve(s.id);
  }
  return engram::spread(graph_, seeds, config, [this](std::int64_t id) { return live_kind(id); });
}

}  // namespace engram

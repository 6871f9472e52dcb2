#include "engram/space.hpp"

#include <algorithm>
#include <mutex>

#include "engram/errors.hpp"
#include "engram/fault.hpp"
#include "engram/parallel.hpp"
#include "engram/validation.hpp"

namespace engram {

Space::Space(std::string name, std::uint32_t ordinal, SpaceConfig config, std::shared_ptr<const Clock> clock)
    : name_(std::move(name)),
      ordinal_(ordinal),
      config_(config),
      clock_(std::move(clock)),
      index_(config.dim, config.hnsw) {
  check_space_name(name_);
  if (config_.dim == 0 || config_.dim > 65536) {
    throw InvalidInputError("dimension must be between 1 and 65536, got " + std::to_string(config_.dim));
  }
  if (config_.hnsw.M < 2 || config_.hnsw.M > 128) {
    throw InvalidInputError("HNSW M must be between 2 and 128, got " + std::to_string(config_.hnsw.M));
  }
  if (config_.hnsw.ef_construction < 1 || config_.hnsw.ef_search < 1) {
    throw InvalidInputError("HNSW ef_construction and ef_search must be at least 1");
  }
  concepts_ = std::make_unique<ConceptStore>(config_.dim);
}

void Space::ensure_open() const {
  if (dropped()) throw SpaceNotFound("memory space '" + name_ + "' was dropped or its engine closed");
}

void Space::mark_dropped() {
  WriterLock lock(structure_mu_);
  dropped_.store(true, std::memory_order_release);
}

void Space::check_episode(const EpisodeInput& e) const {
  if (e.embedding == nullptr) throw InvalidInputError("embedding is missing; expected a float32 vector");
  check_embedding(e.embedding, e.embedding_size, config_.dim);
  check_confidence(e.confidence);
  if (e.has_timestamp) check_timestamp(e.timestamp);
  if (e.content.size() > config_.max_content_bytes) {
    throw InvalidInputError("content is " + std::to_string(e.content.size()) + " bytes; the limit is " +
                            std::to_string(config_.max_content_bytes) + " bytes");
  }
  check_utf8(e.content, "content");
  if (e.metadata.size() > config_.max_metadata_entries) {
    throw InvalidInputError("metadata has " + std::to_string(e.metadata.size()) + " entries; the limit is " +
                            std::to_string(config_.max_metadata_entries));
  }
  for (const auto& [k, v] : e.metadata) {
    check_utf8(k, "metadata key");
    check_utf8(v, "metadata value");
    if (k.size() + v.size() > config_.max_content_bytes) {
      throw InvalidInputError("metadata entry '" + preview(k, 64) + "' is larger than the content limit");
    }
  }
}

std::size_t Space::store_records(std::vector<EpisodeInput>& episodes, std::uint64_t& lsn) {
  MutexLock lock(append_mu_);
  const std::size_t first = next_local_.load(std::memory_order_relaxed);
  if (first + episodes.size() > config_.max_memories) {
    throw CapacityError("memory space '" + name_ + "' holds " + std::to_string(first) + " memories; storing " +
                        std::to_string(episodes.size()) + " more would exceed its limit of " +
                        std::to_string(config_.max_memories));
  }
  const double now = clock_->now();
  for (EpisodeInput& e : episodes) {
    if (!e.has_timestamp) {
      e.timestamp = now;
      e.has_timestamp = true;
    }
  }
  // Logged before it is applied and under append_mu_, so LSN order matches id order.
  if (wal_) lsn = wal_->append(RecordType::Remember, encode_episodes(make_id(first), episodes));
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    EpisodeInput& e = episodes[i];
    const std::size_t local = first + i;
    records_.ensure(local);
    Record& r = *records_.at(local);
    r.kind = MemoryKind::Episode;
    r.confidence = static_cast<float>(e.confidence);
    r.timestamp = e.timestamp;
    std::uint64_t md_bytes = 0;
    for (const auto& [k, v] : e.metadata) md_bytes += k.size() + v.size();
    content_bytes_.fetch_add(e.content.size(), std::memory_order_relaxed);
    metadata_bytes_.fetch_add(md_bytes, std::memory_order_relaxed);
    r.content = std::move(e.content);
    r.metadata = std::move(e.metadata);
    r.slot = index_.allocate(make_id(local), e.embedding);
    r.state.store(kLive, std::memory_order_release);
  }
  next_local_.store(first + episodes.size(), std::memory_order_release);
  live_.fetch_add(episodes.size(), std::memory_order_relaxed);
  return first;
}

std::int64_t Space::remember(EpisodeInput episode) {
  OpTimer timer(metrics_, Op::Remember);
  ENGRAM_FAULT_SITE("remember");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_episode(episode);
  std::vector<EpisodeInput> one;
  one.push_back(std::move(episode));
  std::uint64_t lsn = 0;
  std::size_t local = 0;
  if (wal_) wal_->check_writable();  // fail fast, before an id is burned, while the disk refuses
  {
    auto gate = wal_gate();
    local = store_records(one, lsn);
  }
  index_.link(records_.at(local)->slot);
  wait_durable(lsn);
  return make_id(local);
}

std::vector<std::int64_t> Space::remember_batch(std::vector<EpisodeInput> episodes) {
  OpTimer timer(metrics_, Op::RememberBatch);
  ENGRAM_FAULT_SITE("remember");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    try {
      check_episode(episodes[i]);
    } catch (const DimensionError& e) {
      throw DimensionError("item " + std::to_string(i) + ": " + e.what());
    } catch (const InvalidInputError& e) {
      throw InvalidInputError("item " + std::to_string(i) + ": " + e.what());
    }
  }
  const std::size_t n = episodes.size();
  std::uint64_t lsn = 0;
  std::size_t first = 0;
  if (wal_) wal_->check_writable();
  {
    auto gate = wal_gate();
    first = store_records(episodes, lsn);
  }
  parallel_for(n, [&](std::size_t i) { index_.link(records_.at(first + i)->slot); });
  wait_durable(lsn);
  std::vector<std::int64_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) ids[i] = make_id(first + i);
  return ids;
}

std::size_t Space::resolve(std::int64_t id) const {
  const auto not_found = [&] {
    return MemoryNotFound("no memory with id " + std::to_string(id) + " in space '" + name_ + "'");
  };
  if (id <= 0 || (id >> kOrdinalShift) != ordinal_) throw not_found();
  const std::size_t local = static_cast<std::size_t>(id & kLocalMask) - 1;
  if (id == static_cast<std::int64_t>(ordinal_) << kOrdinalShift ||
      local >= next_local_.load(std::memory_order_acquire)) {
    throw not_found();
  }
  if (records_.at(local)->state.load(std::memory_order_acquire) != kLive) throw not_found();
  return local;
}

bool Space::contains(std::int64_t id) const noexcept {
  try {
    ReaderLock lock(structure_mu_);
    resolve(id);
    return !dropped();
  } catch (...) {
    return false;
  }
}

MemoryView Space::get(std::int64_t id) const {
  OpTimer timer(const_cast<SpaceMetrics&>(metrics_), Op::Get);
  ENGRAM_FAULT_SITE("get");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  ReaderLock rlock(records_mu_);
  const std::size_t local = resolve(id);
  const Record& r = *records_.at(local);
  MemoryView m;
  m.id = id;
  m.kind = r.kind;
  m.confidence = r.confidence;
  if (r.kind == MemoryKind::Concept) {
    // A concept's embedding is its centroid, and its confidence moves as members join.
    if (auto c = concepts_->get(id)) {
      m.embedding = std::move(c->centroid);
      m.confidence = c->confidence;
    }
  } else {
    const float* v = index_.vector(r.slot);
    m.embedding.assign(v, v + config_.dim);
  }
  m.content = r.content;
  m.timestamp = r.timestamp;
  m.metadata = r.metadata;
  return m;
}

void Space::forget(std::int64_t id) {
  OpTimer timer(metrics_, Op::Forget);
  ENGRAM_FAULT_SITE("forget");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  std::uint64_t lsn = 0;
  if (wal_) wal_->check_writable();
  {
    auto gate = wal_gate();
    WriterLock rlock(records_mu_);
    const std::size_t local = resolve(id);
    if (wal_) {
      Encoder e;
      e.put<std::uint32_t>(ordinal_);
      e.put<std::int64_t>(id);
      lsn = wal_->append(RecordType::Forget, e.str());
    }
    apply_forget(local, id);
  }
  wait_durable(lsn);
}

void Space::apply_forget(std::size_t local, std::int64_t id) {
  Record& r = *records_.at(local);
  const bool is_concept = r.kind == MemoryKind::Concept;
  // Tombstone the index first so no search that starts after forget() returns can see it.
  if (is_concept) {
    concepts_->erase(id);
  } else {
    index_.mark_deleted(r.slot);
    concepts_->drop_member(id);  // the concept's record follows its bindings (edges go below)
  }
  r.state.store(kForgotten, std::memory_order_release);
  // Its edges go too; link() holds records_mu_ shared, so none can be added back meanwhile.
  graph_.remove_node(id);
  std::uint64_t md_bytes = 0;
  for (const auto& [k, v] : r.metadata) md_bytes += k.size() + v.size();
  content_bytes_.fetch_sub(r.content.size(), std::memory_order_relaxed);
  metadata_bytes_.fetch_sub(md_bytes, std::memory_order_relaxed);
  std::string().swap(r.content);
  Metadata().swap(r.metadata);
  if (!is_concept) live_.fetch_sub(1, std::memory_order_relaxed);
  forgotten_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<SearchHit> Space::to_hits(const std::vector<Neighbor>& found, std::size_t k) const {
  std::vector<SearchHit> hits;
  hits.reserve(std::min(k, found.size()));
  for (const Neighbor& n : found) {
    if (hits.size() >= k) break;
    hits.push_back({index_.label(n.slot), n.similarity});
  }
  return hits;
}

std::vector<SearchHit> Space::search(std::span<const float> query, std::size_t k, std::optional<std::size_t> ef) const {
  OpTimer timer(const_cast<SpaceMetrics&>(metrics_), Op::Search);
  ENGRAM_FAULT_SITE("search");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_embedding(query.data(), query.size(), config_.dim, "query");
  if (k < 1 || k > config_.max_k) {
    throw InvalidInputError("k must be between 1 and " + std::to_string(config_.max_k) + ", got " + std::to_string(k));
  }
  const std::size_t ef_used = ef.value_or(config_.hnsw.ef_search);
  if (ef_used < 1 || ef_used > 100000) {
    throw InvalidInputError("ef must be between 1 and 100000, got " + std::to_string(ef_used));
  }
  return to_hits(index_.search(query.data(), k, ef_used), k);
}

std::vector<SearchHit> Space::exact_search(std::span<const float> query, std::size_t k) const {
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_embedding(query.data(), query.size(), config_.dim, "query");
  if (k < 1 || k > config_.max_k) {
    throw InvalidInputError("k must be between 1 and " + std::to_string(config_.max_k) + ", got " + std::to_string(k));
  }
  return to_hits(index_.exact_search(query.data(), k), k);
}

std::size_t Space::size() const noexcept { return live_.load(std::memory_order_relaxed); }

SpaceStats Space::stats() const {
  ReaderLock lock(structure_mu_);
  ensure_open();
  SpaceStats s;
  s.episodes = live_.load(std::memory_order_relaxed);
  s.forgotten = forgotten_.load(std::memory_order_relaxed);
  const HnswMemory m = index_.memory_usage();
  s.vector_bytes = m.vector_bytes;
  s.index_link_bytes = m.link_bytes;
  s.index_node_bytes = m.node_bytes;
  s.record_bytes = next_local_.load(std::memory_order_acquire) * sizeof(Record);
  s.content_bytes = content_bytes_.load(std::memory_order_relaxed);
  s.metadata_bytes = metadata_bytes_.load(std::memory_order_relaxed);
  s.concept_bytes = concepts_->memory_bytes();
  s.edge_bytes = graph_.memory_bytes();
  s.index_top_level = index_.top_level();
  s.concepts = concepts_->size();
  return s;
}

IntegrityReport Space::validate() const {
  WriterLock lock(structure_mu_);
  ensure_open();
  IntegrityReport r;
  r.index = index_.validate();
  const std::size_t n = next_local_.load(std::memory_order_acquire);
  for (std::size_t local = 0; local < n; ++local) {
    const Record& rec = *records_.at(local);
    const std::uint8_t st = rec.state.load(std::memory_order_acquire);
    if (st == kEmpty) continue;  // an id burned by a failed durable write, or a replayed hole
    ++r.records;
    if (rec.kind == MemoryKind::Concept) continue;  // not in the vector index; checked below
    const bool index_deleted = index_.is_deleted(rec.slot);
    if (index_.label(rec.slot) != make_id(local) || (st == kLive && index_deleted) ||
        (st == kForgotten && !index_deleted)) {
      ++r.record_index_mismatches;
    }
  }
  validate_concepts(r);
  return r;
}

}  // namespace engram

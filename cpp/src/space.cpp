#include "engram/space.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "engram/errors.hpp"
#include "engram/fault.hpp"
#include "engram/parallel.hpp"
#include "engram/validation.hpp"

namespace engram {

namespace {
template <class T>
void in_range(const char* field, T value, T lo, T hi) {
  if (value < lo || value > hi) {
    throw InvalidInputError(std::string(field) + " must be between " + std::to_string(lo) + " and " +
                            std::to_string(hi) + "; got " + std::to_string(value));
  }
}
}  // namespace

void validate(const SpaceConfig& c) {
  in_range<std::size_t>("dim (the embedding dimension)", c.dim, 1, 65536);
  in_range<std::uint32_t>("HNSW M", c.hnsw.M, 2, 128);
  in_range<std::uint32_t>("HNSW ef_construction", c.hnsw.ef_construction, 1, 1000000);
  in_range<std::uint32_t>("HNSW ef_search", c.hnsw.ef_search, 1, 1000000);
  in_range<std::size_t>("max_memories", c.max_memories, 1, static_cast<std::size_t>(Space::kLocalMask));
  in_range<std::size_t>("max_content_bytes", c.max_content_bytes, 0, std::size_t{256} << 20);
  in_range<std::size_t>("max_metadata_entries", c.max_metadata_entries, 0, 1000000);
  in_range<std::size_t>("max_k", c.max_k, 1, 1000000);
}

Space::Space(std::string name, std::uint32_t ordinal, SpaceConfig config, std::shared_ptr<const Clock> clock)
    : name_(std::move(name)),
      ordinal_(ordinal),
      config_((engram::validate(config), config)),  // before the index is sized from it
      clock_(std::move(clock)),
      index_(config.dim, config.hnsw) {
  check_space_name(name_);
  concepts_ = std::make_unique<ConceptStore>(config_.dim);
}

void Space::ensure_open() const {
  if (dropped()) throw SpaceNotFound("memory space '" + name_ + "' was dropped or its engine closed");
}

void Space::mark_dropped() {
  WriterLock lock(structure_mu_);
  dropped_.store(true, std::memory_order_release);
}

bool Space::admit_memory(const std::vector<EpisodeInput>& episodes, const char* what) const {
  if (!memory_ || !memory_->enabled()) return false;
  const auto t0 = std::chrono::steady_clock::now();
  struct Timed {  // records the check's duration whether it admits or refuses
    MemoryGovernor& g;
    std::chrono::steady_clock::time_point t0;
    ~Timed() {
      g.record_check(static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count()));
    }
  } timed{*memory_, t0};
  // What the write will add: the vector with its base links and node, the record, content and
  // metadata (the figures stats() counts), estimated without any lock.
  const std::uint64_t fixed =
      config_.dim * sizeof(float) + (2 * config_.hnsw.M + 2) * sizeof(std::uint32_t) + 64 + sizeof(Record);
  std::uint64_t bytes = 0;
  for (const EpisodeInput& e : episodes) {
    bytes += fixed + e.content.size();
    for (const auto& [k, v] : e.metadata) bytes += k.size() + v.size();
  }
  return memory_->admit_write(bytes, what);
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
  apply_episodes(first, episodes);
  return first;
}

void Space::apply_episodes(std::size_t first, std::vector<EpisodeInput>& episodes) {
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
}

Space::KeyedOutcome Space::store_keyed(std::vector<EpisodeInput>& episodes, const std::vector<KeyClaim>& claims) {
  KeyedOutcome out;
  out.items.resize(episodes.size());
  MutexLock lock(append_mu_);
  // 1. Resolve every claim before anything is stored, so a conflict stores nothing. A claim is
  // new, a replay of the table's entry, or a repeat of an earlier claim of this call (alias).
  constexpr std::size_t kNew = static_cast<std::size_t>(-1);
  std::vector<std::size_t> alias(claims.size(), kNew);
  std::vector<const IdempotencyTable::Entry*> found(claims.size(), nullptr);
  std::unordered_map<std::string_view, std::size_t> in_call;
  std::vector<bool> fresh(episodes.size(), true);
  for (std::size_t c = 0; c < claims.size(); ++c) {
    const KeyClaim& cl = claims[c];
    const auto conflict = [&] {
      const std::string where = claims.size() > 1 ? "item " + std::to_string(cl.first) + ": " : "";
      return IdempotencyConflict(where + "idempotency key '" + preview(cl.key->key, 80) +
                                 "' was already used in space '" + name_ +
                                 "' with a different payload; use a new key for a new request");
    };
    if (const auto it = in_call.find(cl.key->key); it != in_call.end()) {
      const KeyClaim& orig = claims[it->second];
      if (orig.key->fingerprint != cl.key->fingerprint || orig.count != cl.count) throw conflict();
      alias[c] = it->second;
    } else if (const IdempotencyTable::Entry* e = idempotency_.find(cl.key->key)) {
      if (e->fingerprint != cl.key->fingerprint || e->count != cl.count) throw conflict();
      found[c] = e;
      ++out.replayed_claims;
    } else {
      in_call.emplace(cl.key->key, c);
      continue;
    }
    for (std::size_t j = 0; j < cl.count; ++j) fresh[cl.first + j] = false;
  }
  // 2. The fresh episodes get consecutive ids in call order and are logged with the new keys as
  // one record, before they are applied (under append_mu_: LSN order is id order).
  std::vector<EpisodeInput> fresh_eps;
  std::vector<std::size_t> fresh_pos(episodes.size(), 0);
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    if (!fresh[i]) continue;
    fresh_pos[i] = fresh_eps.size();
    fresh_eps.push_back(std::move(episodes[i]));
  }
  const std::size_t first = next_local_.load(std::memory_order_relaxed);
  if (first + fresh_eps.size() > config_.max_memories) {
    throw CapacityError("memory space '" + name_ + "' holds " + std::to_string(first) + " memories; storing " +
                        std::to_string(fresh_eps.size()) + " more would exceed its limit of " +
                        std::to_string(config_.max_memories));
  }
  const double now = clock_->now();
  for (EpisodeInput& e : fresh_eps) {
    if (!e.has_timestamp) {
      e.timestamp = now;
      e.has_timestamp = true;
    }
  }
  const auto id_of = [&](std::size_t item) { return make_id(first + fresh_pos[item]); };
  std::vector<std::size_t> new_claims;
  for (std::size_t c = 0; c < claims.size(); ++c) {
    if (alias[c] == kNew && found[c] == nullptr) new_claims.push_back(c);
  }
  if (wal_ && (!new_claims.empty() || !fresh_eps.empty())) {
    Encoder e;
    e.str() = encode_episodes(make_id(first), fresh_eps);
    if (new_claims.empty()) {
      out.lsn = wal_->append(RecordType::Remember, e.str());
    } else {
      e.put<std::uint32_t>(static_cast<std::uint32_t>(new_claims.size()));
      for (const std::size_t c : new_claims) {
        const KeyClaim& cl = claims[c];
        e.put_str(cl.key->key);
        e.put_str(cl.key->fingerprint);
        e.put<std::int64_t>(cl.count == 0 ? 0 : id_of(cl.first));
        e.put<std::uint32_t>(cl.count);
      }
      out.lsn = wal_->append(RecordType::RememberKeyed, e.str());
    }
  }
  // 3. Per-item results, then apply.
  for (std::size_t c = 0; c < claims.size(); ++c) {
    if (found[c] == nullptr) continue;
    const KeyClaim& cl = claims[c];
    for (std::size_t j = 0; j < cl.count; ++j) {
      out.items[cl.first + j] = {found[c]->first_id + static_cast<std::int64_t>(j), true};
    }
    out.replay_lsn = std::max(out.replay_lsn, found[c]->lsn);
  }
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    if (fresh[i]) out.items[i] = {id_of(i), false};
  }
  for (std::size_t c = 0; c < claims.size(); ++c) {
    if (alias[c] == kNew) continue;
    const KeyClaim& cl = claims[c];
    const KeyClaim& orig = claims[alias[c]];
    for (std::size_t j = 0; j < cl.count; ++j) out.items[cl.first + j] = {out.items[orig.first + j].id, true};
  }
  for (const std::size_t c : new_claims) {  // before apply_episodes moves the inputs' strings
    const KeyClaim& cl = claims[c];
    idempotency_.insert(cl.key->key, {cl.key->fingerprint, cl.count == 0 ? 0 : id_of(cl.first), cl.count, out.lsn});
  }
  apply_episodes(first, fresh_eps);
  out.first_new = first;
  out.stored = fresh_eps.size();
  return out;
}

Space::KeyedOutcome Space::remember_keyed(std::vector<EpisodeInput> episodes, const std::vector<KeyClaim>& claims,
                                          Op op) {
  OpTimer timer(metrics_, op);
  ENGRAM_FAULT_SITE("remember");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  for (const KeyClaim& cl : claims) check_idempotency_key(*cl.key);
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    try {
      check_episode(episodes[i]);
    } catch (const DimensionError& e) {
      if (op == Op::Remember) throw;
      throw DimensionError("item " + std::to_string(i) + ": " + e.what());
    } catch (const InvalidInputError& e) {
      if (op == Op::Remember) throw;
      throw InvalidInputError("item " + std::to_string(i) + ": " + e.what());
    }
  }
  bool crossed = false;  // this write takes memory across the critical line: sample once stored
  if (memory_ && memory_->enabled()) {
    // A replay stores nothing, so it is answered under pressure too: a client retrying a write
    // whose answer it lost learns it was stored instead of being told it was refused.
    std::size_t known = 0;  // episodes under keys already recorded
    if (!claims.empty() && memory_->state() == MemoryPressure::Critical) {
      MutexLock lock(append_mu_);
      for (const KeyClaim& cl : claims) {
        if (idempotency_.find(cl.key->key) != nullptr) known += cl.count;
      }
    }
    if (known < episodes.size()) crossed = admit_memory(episodes, op == Op::Remember ? "remember" : "remember_batch");
  }
  if (wal_) wal_->check_writable();  // fail fast, before an id is burned, while the disk refuses
  KeyedOutcome out;
  {
    auto gate = wal_gate();
    out = store_keyed(episodes, claims);
  }
  parallel_for(out.stored, [&](std::size_t i) { index_.link(records_.at(out.first_new + i)->slot); });
  if (crossed) memory_->sample_soon();
  // A replay answers only once the write it repeats is durable; a failed wait of the first call
  // leaves its key in place, so this retry replays the stored ids instead of storing them again.
  wait_replayed(out.replay_lsn);
  wait_durable(out.lsn);
  return out;
}

void Space::wait_replayed(std::uint64_t lsn) const {
  if (!wal_ || lsn == 0 || wal_->options().mode == Durability::None) return;
  if (wal_->durable_lsn() < lsn) wal_->sync();  // retries a failed batch; StorageError while the disk refuses
}

Remembered Space::remember(EpisodeInput episode, const IdempotencyKey& key) {
  std::vector<EpisodeInput> one;
  one.push_back(std::move(episode));
  return remember_keyed(std::move(one), {{&key, 0, 1}}, Op::Remember).items[0];
}

RememberedBatch Space::remember_batch(std::vector<EpisodeInput> episodes, const IdempotencyKey& key) {
  if (episodes.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw InvalidInputError("a batch holds at most " + std::to_string(std::numeric_limits<std::uint32_t>::max()) +
                            " episodes; got " + std::to_string(episodes.size()));
  }
  const auto n = static_cast<std::uint32_t>(episodes.size());
  const KeyedOutcome out = remember_keyed(std::move(episodes), {{&key, 0, n}}, Op::RememberBatch);
  RememberedBatch r;
  r.replayed = out.replayed_claims == 1;
  r.ids.reserve(n);
  for (const Remembered& x : out.items) r.ids.push_back(x.id);
  return r;
}

std::vector<Remembered> Space::remember_each(std::vector<EpisodeInput> episodes,
                                             const std::vector<std::optional<IdempotencyKey>>& keys) {
  if (keys.size() != episodes.size()) {
    throw InvalidInputError("remember_each needs one key (or none) per episode; got " + std::to_string(keys.size()) +
                            " keys for " + std::to_string(episodes.size()) + " episodes");
  }
  std::vector<KeyClaim> claims;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i]) claims.push_back({&*keys[i], i, 1});
  }
  return remember_keyed(std::move(episodes), claims, Op::RememberBatch).items;
}

void Space::set_idempotency_capacity(std::size_t capacity) {
  MutexLock lock(append_mu_);
  idempotency_.set_capacity(capacity);
}

std::size_t Space::idempotency_keys() const {
  MutexLock lock(append_mu_);
  return idempotency_.size();
}

std::int64_t Space::remember(EpisodeInput episode) {
  OpTimer timer(metrics_, Op::Remember);
  ENGRAM_FAULT_SITE("remember");  // test build only: delay and leak controls (fault.hpp)
  ReaderLock lock(structure_mu_);
  ensure_open();
  check_episode(episode);
  std::vector<EpisodeInput> one;
  one.push_back(std::move(episode));
  const bool crossed = admit_memory(one, "remember");
  std::uint64_t lsn = 0;
  std::size_t local = 0;
  if (wal_) wal_->check_writable();  // fail fast, before an id is burned, while the disk refuses
  {
    auto gate = wal_gate();
    local = store_records(one, lsn);
  }
  index_.link(records_.at(local)->slot);
  if (crossed) memory_->sample_soon();
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
  const bool crossed = admit_memory(episodes, "remember_batch");
  std::uint64_t lsn = 0;
  std::size_t first = 0;
  if (wal_) wal_->check_writable();
  {
    auto gate = wal_gate();
    first = store_records(episodes, lsn);
  }
  parallel_for(n, [&](std::size_t i) { index_.link(records_.at(first + i)->slot); });
  if (crossed) memory_->sample_soon();
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

IntegrityReport Space::check_concepts() const {
  WriterLock lock(structure_mu_);
  ensure_open();
  IntegrityReport r;
  validate_concepts(r);
  return r;
}

}  // namespace engram

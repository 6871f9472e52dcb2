// Space methods for durability: WAL payloads, replay and checkpoint snapshots (space.hpp).
//
// The payload of every space record (Remember, Forget, Link, Unlink, ConceptCommit,
// ConceptDissolve, SpaceState, ConceptRestore; each starts with the space's ordinal) and the
// order of a space's records in a checkpoint are specified in docs/format.md, "Record types" and
// "Checkpoints"; the encoders and replay() below follow it field by field.
#include <algorithm>
#include <mutex>
#include <unordered_set>

#include "engram/errors.hpp"
#include "engram/parallel.hpp"
#include "engram/space.hpp"
#include "engram/store.hpp"

namespace engram {

void Space::mark_phase(std::string_view phase) const noexcept {
  if (marker_) marker_->set_phase(phase);
}

std::shared_lock<SharedMutex> Space::wal_gate() const {
  if (!wal_) return {};
  return std::shared_lock<SharedMutex>(wal_->gate());
}

void Space::wait_durable(std::uint64_t lsn) const {
  if (wal_ && lsn != 0) wal_->wait_durable(lsn);
}

namespace {

void put_episode(Encoder& e, std::int64_t id, float confidence, double timestamp, const std::string& content,
                 const Metadata& md, const float* vec, std::size_t dim) {
  e.put<std::int64_t>(id);
  e.put<float>(confidence);
  e.put<double>(timestamp);
  e.put_str(content);
  e.put<std::uint32_t>(static_cast<std::uint32_t>(md.size()));
  for (const auto& [k, v] : md) {
    e.put_str(k);
    e.put_str(v);
  }
  e.put_bytes(vec, dim * sizeof(float));
}

}  // namespace

std::string Space::encode_episodes(std::int64_t first_id, const std::vector<EpisodeInput>& episodes) const {
  Encoder e;
  e.str().reserve(16 + episodes.size() * (config_.dim * sizeof(float) + 64));
  e.put<std::uint32_t>(ordinal_);
  e.put<std::uint32_t>(static_cast<std::uint32_t>(episodes.size()));
  for (std::size_t i = 0; i < episodes.size(); ++i) {
    const EpisodeInput& ep = episodes[i];
    put_episode(e, first_id + static_cast<std::int64_t>(i), static_cast<float>(ep.confidence), ep.timestamp, ep.content,
                ep.metadata, ep.embedding, config_.dim);
  }
  return e.take();
}

void Space::encode_config(Encoder& e) const {
  e.put<std::uint64_t>(config_.dim);
  e.put<std::uint32_t>(config_.hnsw.M);
  e.put<std::uint32_t>(config_.hnsw.ef_construction);
  e.put<std::uint32_t>(config_.hnsw.ef_search);
  e.put<std::uint64_t>(config_.hnsw.seed);
  e.put<std::uint64_t>(config_.max_memories);
  e.put<std::uint64_t>(config_.max_content_bytes);
  e.put<std::uint64_t>(config_.max_metadata_entries);
  e.put<std::uint64_t>(config_.max_k);
}

SpaceConfig Space::decode_config(Decoder& d) {
  SpaceConfig c;
  c.dim = d.get<std::uint64_t>();
  c.hnsw.M = d.get<std::uint32_t>();
  c.hnsw.ef_construction = d.get<std::uint32_t>();
  c.hnsw.ef_search = d.get<std::uint32_t>();
  c.hnsw.seed = d.get<std::uint64_t>();
  c.max_memories = d.get<std::uint64_t>();
  c.max_content_bytes = d.get<std::uint64_t>();
  c.max_metadata_entries = d.get<std::uint64_t>();
  c.max_k = d.get<std::uint64_t>();
  return c;
}

// RememberKeyed's tail and IdempotencyKeys: u32 n, then n x (key str, fingerprint str,
// first id i64, count u32), oldest first (docs/format.md).
void Space::replay_keys(Decoder& in) {
  const auto n = in.get<std::uint32_t>();
  MutexLock lock(append_mu_);  // uncontended (recovery is single-threaded); as store_keyed() holds it
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string key = in.get_str();
    IdempotencyTable::Entry e;
    e.fingerprint = in.get_str();
    e.first_id = in.get<std::int64_t>();
    e.count = in.get<std::uint32_t>();
    idempotency_.insert(std::move(key), std::move(e));  // lsn 0: recovered records are durable
  }
}

void Space::replay(RecordType type, Decoder& in, std::uint32_t major) {
  const auto local_of = [&](std::int64_t id) -> std::optional<std::size_t> {
    if (id <= 0 || (id >> kOrdinalShift) != static_cast<std::int64_t>(ordinal_) || (id & kLocalMask) == 0) {
      return std::nullopt;
    }
    return static_cast<std::size_t>((id & kLocalMask) - 1);
  };
  const auto bad = [&](const std::string& what) {
    return CorruptionError("space '" + name_ + "': " + record_type_name(type) + " record " + what);
  };
  switch (type) {
    case RecordType::Remember:
    case RecordType::RememberKeyed: {
      const auto n = in.get<std::uint32_t>();
      std::vector<float> vec(config_.dim);
      for (std::uint32_t i = 0; i < n; ++i) {
        const auto id = in.get<std::int64_t>();
        const auto confidence = in.get<float>();
        const auto timestamp = in.get<double>();
        std::string content = in.get_str();
        Metadata md(in.get<std::uint32_t>());
        for (auto& [k, v] : md) {
          k = in.get_str();
          v = in.get_str();
        }
        in.get_bytes(vec.data(), vec.size() * sizeof(float));
        const auto local = local_of(id);
        if (!local) throw bad("names id " + std::to_string(id) + " of another space");
        if (*local >= config_.max_memories) throw bad("id " + std::to_string(id) + " beyond the space's capacity");
        records_.ensure(*local);
        Record& r = *records_.at(*local);
        if (r.state.load(std::memory_order_relaxed) != kEmpty) throw bad("reuses id " + std::to_string(id));
        r.kind = MemoryKind::Episode;
        r.confidence = confidence;
        r.timestamp = timestamp;
        std::uint64_t md_bytes = 0;
        for (const auto& [k, v] : md) md_bytes += k.size() + v.size();
        content_bytes_.fetch_add(content.size(), std::memory_order_relaxed);
        metadata_bytes_.fetch_add(md_bytes, std::memory_order_relaxed);
        r.content = std::move(content);
        r.metadata = std::move(md);
        r.slot = index_.allocate(id, vec.data());
        pending_links_.push_back(r.slot);
        r.state.store(kLive, std::memory_order_release);
        if (next_local_.load(std::memory_order_relaxed) <= *local) next_local_.store(*local + 1);
        live_.fetch_add(1, std::memory_order_relaxed);
      }
      if (type == RecordType::RememberKeyed) replay_keys(in);
      break;
    }
    case RecordType::IdempotencyKeys: replay_keys(in); break;
    case RecordType::Forget: {
      const auto id = in.get<std::int64_t>();
      WriterLock rlock(records_mu_);  // uncontended (recovery is single-threaded); as forget() holds it
      if (live_kind(id)) apply_forget(*local_of(id), id);
      break;
    }
    case RecordType::Link: {
      const auto src = in.get<std::int64_t>();
      const auto dst = in.get<std::int64_t>();
      const auto kind = in.get<std::uint8_t>();
      const auto w = in.get<float>();
      const auto s = in.get<float>();
      const auto c = in.get<float>();
      if (kind > static_cast<std::uint8_t>(EdgeKind::Hierarchy)) throw bad("has edge kind " + std::to_string(kind));
      if (live_kind(src) && live_kind(dst)) graph_.add_edge(src, dst, static_cast<EdgeKind>(kind), w, s, c);
      break;
    }
    case RecordType::Unlink: {
      const auto src = in.get<std::int64_t>();
      const auto dst = in.get<std::int64_t>();
      graph_.remove_edge(src, dst);
      break;
    }
    case RecordType::ConceptCommit:
    case RecordType::ConceptRestore: {
      const bool restore = type == RecordType::ConceptRestore;
      const auto id = in.get<std::int64_t>();
      bool is_new = true;
      ConceptDraft d;
      double updated_at = 0.0;
      if (restore) {
        d.time = in.get<double>();
        updated_at = in.get<double>();
      } else {
        is_new = in.get<std::uint8_t>() != 0;
        d.time = in.get<double>();
      }
      d.coherence = in.get<float>();
      d.confidence = in.get<float>();
      d.pair_similarity_sum = in.get<double>();
      d.members.resize(in.get<std::uint32_t>());
      for (auto& m : d.members) m = in.get<std::int64_t>();
      d.centroid.resize(config_.dim);
      in.get_bytes(d.centroid.data(), d.centroid.size() * sizeof(float));
      std::vector<BindingSpec> bindings;
      if (!restore) {
        bindings.resize(in.get<std::uint32_t>());
        for (auto& b : bindings) {
          b.episode = in.get<std::int64_t>();
          b.strength = in.get<float>();
          b.contribution = in.get<float>();
        }
      }
      // Format 2: a restored concept carries its binding edges, weights included (format 1 has
      // them as Link records after it); added below, after the concept exists.
      std::vector<EdgeRecord> restored;
      if (restore && major >= 2) {
        restored.resize(in.get<std::uint32_t>());
        for (auto& b : restored) {
          b.src = in.get<std::int64_t>();
          b.dst = id;
          b.kind = EdgeKind::Binding;
          b.weight = in.get<float>();
          b.strength = in.get<float>();
          b.contribution = in.get<float>();
        }
      }
      const auto local = local_of(id);
      if (!local || *local >= config_.max_memories) throw bad("names id " + std::to_string(id) + " out of range");
      if (is_new) {
        records_.ensure(*local);
        if (records_.at(*local)->state.load(std::memory_order_relaxed) != kEmpty) {
          throw bad("reuses id " + std::to_string(id));
        }
      } else if (live_kind(id) != MemoryKind::Concept) {
        break;  // dissolved or forgotten before this update: the live commit would have skipped it
      }
      // Members forgotten before this record were dropped by the live commit too; keep the rest.
      std::erase_if(bindings, [this](const BindingSpec& b) { return live_kind(b.episode) != MemoryKind::Episode; });
      ReaderLock rlock(records_mu_);  // uncontended, as commit_concept() holds it
      apply_concept(id, is_new, d, bindings);
      if (restore && updated_at != d.time) {
        d.time = updated_at;
        concepts_->update(id, d);  // keeps formed_at, sets updated_at
      }
      for (const EdgeRecord& b : restored) {
        if (live_kind(b.src) == MemoryKind::Episode) {
          graph_.add_edge(b.src, b.dst, EdgeKind::Binding, b.weight, b.strength, b.contribution);
        }
      }
      break;
    }
    case RecordType::ConceptDissolve: {
      const auto id = in.get<std::int64_t>();
      WriterLock rlock(records_mu_);  // uncontended, as dissolve_concept() holds it
      if (live_kind(id) == MemoryKind::Concept) apply_dissolve(id);
      break;
    }
    case RecordType::SpaceState: {
      const auto next = in.get<std::uint64_t>();
      const auto forgotten = in.get<std::uint64_t>();
      if (next > config_.max_memories) throw bad("claims " + std::to_string(next) + " ids, over the capacity");
      if (next > 0) records_.ensure(next - 1);
      if (next_local_.load(std::memory_order_relaxed) < next) next_local_.store(next, std::memory_order_release);
      forgotten_.store(forgotten, std::memory_order_relaxed);
      break;
    }
    default: throw bad("is not a space record");
  }
  if (!in.done()) throw bad("has " + std::to_string(in.remaining()) + " unexpected trailing bytes");
}

void Space::finish_restore() {
  std::vector<std::uint32_t> slots;
  slots.swap(pending_links_);
  parallel_for(slots.size(), [&](std::size_t i) { index_.link(slots[i]); });
}

std::string Space::create_payload() const {
  Encoder e;
  e.put<std::uint32_t>(ordinal_);
  e.put_str(name_);
  encode_config(e);
  return e.take();
}

void Space::snapshot(std::string& out, std::uint64_t& seq, std::uint32_t major) const {
  const auto frame = [&](RecordType t, const std::string& payload) { encode_frame(out, t, ++seq, 0, payload); };
  frame(RecordType::CreateSpace, create_payload());
  const std::size_t n = next_local_.load(std::memory_order_acquire);
  {
    Encoder e;
    e.put<std::uint32_t>(ordinal_);
    e.put<std::uint64_t>(n);
    e.put<std::uint64_t>(forgotten_.load(std::memory_order_relaxed));
    frame(RecordType::SpaceState, e.str());
  }
  // Live episodes in chunks of at most ~1 MiB of payload.
  const std::size_t per_chunk = std::max<std::size_t>(1, (1u << 20) / (config_.dim * sizeof(float) + 64));
  Encoder chunk;
  std::uint32_t in_chunk = 0;
  const auto flush = [&] {
    if (in_chunk == 0) return;
    Encoder e;
    e.put<std::uint32_t>(ordinal_);
    e.put<std::uint32_t>(in_chunk);
    e.str().append(chunk.str());
    frame(RecordType::Remember, e.str());
    chunk.str().clear();
    in_chunk = 0;
  };
  ReaderLock rlock(records_mu_);
  for (std::size_t local = 0; local < n; ++local) {
    const Record& r = *records_.at(local);
    if (r.state.load(std::memory_order_acquire) != kLive || r.kind != MemoryKind::Episode) continue;
    put_episode(chunk, make_id(local), r.confidence, r.timestamp, r.content, r.metadata, index_.vector(r.slot),
                config_.dim);
    if (++in_chunk >= per_chunk) flush();
  }
  flush();
  std::unordered_set<std::int64_t> restored;  // concepts whose bindings went with them (format 2)
  for (const ConceptView& c : concepts_->all()) {
    Encoder e;
    e.put<std::uint32_t>(ordinal_);
    e.put<std::int64_t>(c.id);
    e.put<double>(c.formed_at);
    e.put<double>(c.updated_at);
    e.put<float>(c.coherence);
    e.put<float>(c.confidence);
    e.put<double>(concepts_->pair_similarity_sum(c.id));
    e.put<std::uint32_t>(static_cast<std::uint32_t>(c.members.size()));
    for (const std::int64_t m : c.members) e.put<std::int64_t>(m);
    e.put_bytes(c.centroid.data(), c.centroid.size() * sizeof(float));
    if (major >= 2) {  // its binding edges with it (docs/format.md, "21 ConceptRestore")
      restored.insert(c.id);
      std::vector<Edge> bound = graph_.in_edges(c.id);
      std::erase_if(bound, [](const Edge& x) { return x.kind != EdgeKind::Binding; });
      e.put<std::uint32_t>(static_cast<std::uint32_t>(bound.size()));
      for (const Edge& x : bound) {
        e.put<std::int64_t>(x.other);
        e.put<float>(x.weight);
        e.put<float>(x.strength);
        e.put<float>(x.contribution);
      }
    }
    frame(RecordType::ConceptRestore, e.str());
  }
  {
    // Idempotency keys, oldest first, in chunks of about 1 MiB (the caller holds the WAL gate
    // exclusively, so no keyed remember runs; append_mu_ for the analysis).
    MutexLock alock(append_mu_);
    Encoder keys;
    std::uint32_t in_keys = 0;
    const auto flush_keys = [&] {
      if (in_keys == 0) return;
      Encoder e;
      e.put<std::uint32_t>(ordinal_);
      e.put<std::uint32_t>(in_keys);
      e.str().append(keys.str());
      frame(RecordType::IdempotencyKeys, e.str());
      keys.str().clear();
      in_keys = 0;
    };
    idempotency_.for_each([&](const std::string& key, const IdempotencyTable::Entry& en) {
      keys.put_str(key);
      keys.put_str(en.fingerprint);
      keys.put<std::int64_t>(en.first_id);
      keys.put<std::uint32_t>(en.count);
      if (++in_keys >= 4096 || keys.str().size() >= (1u << 20)) flush_keys();
    });
    flush_keys();
  }
  for (const EdgeRecord& x : graph_.edges()) {
    // Format 2 stores binding edges with their concepts (above); format 1 here, as Link records.
    if (x.kind == EdgeKind::Binding && restored.count(x.dst) != 0) continue;
    Encoder e;
    e.put<std::uint32_t>(ordinal_);
    e.put<std::int64_t>(x.src);
    e.put<std::int64_t>(x.dst);
    e.put<std::uint8_t>(static_cast<std::uint8_t>(x.kind));
    e.put<float>(x.weight);
    e.put<float>(x.strength);
    e.put<float>(x.contribution);
    frame(RecordType::Link, e.str());
  }
}

}  // namespace engram

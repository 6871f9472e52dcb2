// Idempotency keys of one memory space: key -> (fingerprint, the ids the first request stored).
//
// A write that carries a key is stored once: the key is recorded together with the memories, in
// the same WAL record (RememberKeyed, docs/format.md), so after a crash either both exist or
// neither does, and a write whose durability wait failed (a full disk) keeps its key: the retry
// replays the stored ids instead of storing them again. Keys are scoped to their space (a
// dropped space takes its keys with it) and bounded per space: beyond the capacity the oldest
// key *of that space* is evicted, in insertion order (FIFO, not LRU, so a reopened store evicts
// exactly the keys the live engine would have: replays are not logged). Checkpoints carry the
// table (record IdempotencyKeys).
//
// Not synchronised: Space guards its table with append_mu_ (space.hpp), which also serialises
// id allocation, so "look the key up, store, record the key" is one atomic step and two
// concurrent requests with the same new key store once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace engram {

// A caller's idempotency key with the fingerprint of its request (a digest the caller computes
// over the request's payload; the engine only compares it). Key: 1 to kMaxIdempotencyKeyBytes
// bytes; fingerprint: at most kMaxFingerprintBytes bytes (empty is a valid fingerprint).
struct IdempotencyKey {
  std::string key;
  std::string fingerprint;
};
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 1024;
inline constexpr std::size_t kMaxFingerprintBytes = 256;
inline constexpr std::size_t kDefaultIdempotencyCapacity = 100000;
// InvalidInputError naming what is wrong with the key or fingerprint.
void check_idempotency_key(const IdempotencyKey& k);

class IdempotencyTable {
 public:
  struct Entry {
    std::string fingerprint;
    std::int64_t first_id = 0;  // the ids stored are first_id .. first_id + count - 1
    std::uint32_t count = 0;
    std::uint64_t lsn = 0;  // the WAL record that stored them (0: recovered, durable)
  };

  explicit IdempotencyTable(std::size_t capacity = kDefaultIdempotencyCapacity) : capacity_(capacity) {}

  std::size_t capacity() const noexcept { return capacity_; }
  void set_capacity(std::size_t capacity);
  std::size_t size() const noexcept { return map_.size(); }
  const Entry* find(std::string_view key) const;
  // Records key (replacing an entry of the same key) and evicts the oldest beyond the capacity.
  void insert(std::string key, Entry entry);
  // Oldest first (the order a checkpoint stores and recovery re-inserts).
  void for_each(const std::function<void(const std::string&, const Entry&)>& f) const;
  std::uint64_t evictions() const noexcept { return evictions_; }

 private:
  struct Slot {
    Entry entry;
    std::uint64_t seq;  // matches the order_ element that is this key's current position
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  void evict();
  void compact();

  std::size_t capacity_;
  std::unordered_map<std::string, Slot, Hash, std::equal_to<>> map_;
  // Insertion order; an element whose seq no longer matches its key's slot is stale (the key was
  // replaced or evicted) and skipped.
  std::deque<std::pair<std::string, std::uint64_t>> order_;
  std::uint64_t next_seq_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace engram

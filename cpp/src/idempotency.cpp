#include "engram/idempotency.hpp"

#include "engram/errors.hpp"
#include "engram/validation.hpp"

namespace engram {

void check_idempotency_key(const IdempotencyKey& k) {
  if (k.key.empty() || k.key.size() > kMaxIdempotencyKeyBytes) {
    throw InvalidInputError("an idempotency key must be 1 to " + std::to_string(kMaxIdempotencyKeyBytes) +
                            " bytes; got " + std::to_string(k.key.size()) + " bytes");
  }
  check_utf8(k.key, "idempotency key");
  if (k.fingerprint.size() > kMaxFingerprintBytes) {
    throw InvalidInputError("a request fingerprint must be at most " + std::to_string(kMaxFingerprintBytes) +
                            " bytes; got " + std::to_string(k.fingerprint.size()) + " bytes");
  }
}

void IdempotencyTable::set_capacity(std::size_t capacity) {
  capacity_ = capacity;
  evict();
}

const IdempotencyTable::Entry* IdempotencyTable::find(std::string_view key) const {
  const auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second.entry;
}

void IdempotencyTable::insert(std::string key, Entry entry) {
  const std::uint64_t seq = next_seq_++;
  order_.emplace_back(key, seq);
  map_.insert_or_assign(std::move(key), Slot{std::move(entry), seq});
  evict();
  compact();
}

void IdempotencyTable::evict() {
  while (map_.size() > capacity_ && !order_.empty()) {
    auto& [key, seq] = order_.front();
    const auto it = map_.find(key);
    if (it != map_.end() && it->second.seq == seq) {
      map_.erase(it);
      ++evictions_;
    }
    order_.pop_front();
  }
}

// Stale order_ elements come only from replaced keys (rare: recovery with a smaller capacity
// than the writer's); keep them from accumulating.
void IdempotencyTable::compact() {
  if (order_.size() <= 2 * map_.size() + 64) return;
  std::erase_if(order_, [this](const auto& e) {
    const auto it = map_.find(e.first);
    return it == map_.end() || it->second.seq != e.second;
  });
}

void IdempotencyTable::for_each(const std::function<void(const std::string&, const Entry&)>& f) const {
  for (const auto& [key, seq] : order_) {
    const auto it = map_.find(key);
    if (it != map_.end() && it->second.seq == seq) f(key, it->second.entry);
  }
}

}  // namespace engram

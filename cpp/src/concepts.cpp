#include "engram/concepts.hpp"

#include <algorithm>
#include <cmath>

#include "engram/errors.hpp"
#include "engram/simd.hpp"

namespace engram {

void ConceptStore::write_entry(std::size_t slot, std::int64_t id, const ConceptDraft& d, bool keep_formed) {
  if (d.centroid.size() != dim_) {
    throw DimensionError("concept centroid has " + std::to_string(d.centroid.size()) + " values; expected " +
                         std::to_string(dim_));
  }
  Entry& e = entries_[slot];
  // Drop the old reverse links first so a member leaving the concept disappears from by_episode_.
  for (const std::int64_t m : e.members) {
    auto it = by_episode_.find(m);
    if (it == by_episode_.end()) continue;
    std::erase(it->second, id);
    if (it->second.empty()) by_episode_.erase(it);
  }
  e.id = id;
  const float nsq = simd::norm_sq(d.centroid.data(), dim_);
  e.inv_norm = nsq > 0.0f ? 1.0f / std::sqrt(nsq) : 0.0f;
  e.coherence = d.coherence;
  e.confidence = d.confidence;
  if (!keep_formed) e.formed_at = d.time;
  e.updated_at = d.time;
  e.pair_sum = d.pair_similarity_sum;
  e.members = d.members;
  std::copy(d.centroid.begin(), d.centroid.end(), centroids_.begin() + static_cast<std::ptrdiff_t>(slot * dim_));
  for (const std::int64_t m : e.members) {
    auto& list = by_episode_[m];
    list.insert(std::upper_bound(list.begin(), list.end(), id), id);
  }
}

void ConceptStore::insert(std::int64_t id, const ConceptDraft& draft) {
  WriterLock lock(mu_);
  if (slot_of_.count(id) != 0) throw InvalidInputError("concept " + std::to_string(id) + " already exists");
  std::size_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = entries_.size();
    entries_.emplace_back();
    centroids_.resize(entries_.size() * dim_);
  }
  try {
    write_entry(slot, id, draft, false);
  } catch (...) {
    entries_[slot] = Entry{};
    free_.push_back(slot);
    throw;
  }
  slot_of_.emplace(id, slot);
  live_.fetch_add(1, std::memory_order_relaxed);
}

bool ConceptStore::update(std::int64_t id, const ConceptDraft& draft) {
  WriterLock lock(mu_);
  const auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return false;
  write_entry(it->second, id, draft, true);
  return true;
}

bool ConceptStore::erase(std::int64_t id) {
  WriterLock lock(mu_);
  const auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return false;
  const std::size_t slot = it->second;
  for (const std::int64_t m : entries_[slot].members) {
    auto bit = by_episode_.find(m);
    if (bit == by_episode_.end()) continue;
    std::erase(bit->second, id);
    if (bit->second.empty()) by_episode_.erase(bit);
  }
  entries_[slot] = Entry{};
  free_.push_back(slot);
  slot_of_.erase(it);
  live_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

std::vector<std::int64_t> ConceptStore::drop_member(std::int64_t episode) {
  WriterLock lock(mu_);
  const auto it = by_episode_.find(episode);
  if (it == by_episode_.end()) return {};
  std::vector<std::int64_t> touched = std::move(it->second);
  by_episode_.erase(it);
  for (const std::int64_t c : touched) {
    Entry& e = entries_[slot_of_.at(c)];
    std::erase(e.members, episode);
    dirty_.push_back(c);
  }
  return touched;
}

std::vector<std::int64_t> ConceptStore::take_dirty() {
  WriterLock lock(mu_);
  std::vector<std::int64_t> out = std::move(dirty_);
  dirty_.clear();
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool ConceptStore::contains(std::int64_t id) const {
  ReaderLock lock(mu_);
  return slot_of_.count(id) != 0;
}

ConceptView ConceptStore::view(std::size_t slot) const {
  const Entry& e = entries_[slot];
  ConceptView v;
  v.id = e.id;
  v.centroid.assign(centroids_.begin() + static_cast<std::ptrdiff_t>(slot * dim_),
                    centroids_.begin() + static_cast<std::ptrdiff_t>((slot + 1) * dim_));
  v.coherence = e.coherence;
  v.confidence = e.confidence;
  v.formed_at = e.formed_at;
  v.updated_at = e.updated_at;
  v.members = e.members;
  return v;
}

std::optional<ConceptView> ConceptStore::get(std::int64_t id) const {
  ReaderLock lock(mu_);
  const auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return std::nullopt;
  return view(it->second);
}

std::vector<ConceptView> ConceptStore::all() const {
  ReaderLock lock(mu_);
  std::vector<ConceptView> out;
  out.reserve(slot_of_.size());
  for (std::size_t s = 0; s < entries_.size(); ++s) {
    if (entries_[s].id != 0) out.push_back(view(s));
  }
  std::sort(out.begin(), out.end(), [](const ConceptView& a, const ConceptView& b) { return a.id < b.id; });
  return out;
}

std::vector<std::int64_t> ConceptStore::ids() const {
  ReaderLock lock(mu_);
  std::vector<std::int64_t> out;
  out.reserve(slot_of_.size());
  for (const auto& [id, slot] : slot_of_) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::int64_t> ConceptStore::members(std::int64_t id) const {
  ReaderLock lock(mu_);
  const auto it = slot_of_.find(id);
  return it == slot_of_.end() ? std::vector<std::int64_t>{} : entries_[it->second].members;
}

std::vector<std::int64_t> ConceptStore::concepts_of(std::int64_t episode) const {
  ReaderLock lock(mu_);
  const auto it = by_episode_.find(episode);
  return it == by_episode_.end() ? std::vector<std::int64_t>{} : it->second;
}

double ConceptStore::pair_similarity_sum(std::int64_t id) const {
  ReaderLock lock(mu_);
  const auto it = slot_of_.find(id);
  return it == slot_of_.end() ? 0.0 : entries_[it->second].pair_sum;
}

std::vector<ConceptMatch> ConceptStore::nearest(const float* q, std::size_t k, float min_coherence) const {
  const float qn = simd::norm_sq(q, dim_);
  const float q_inv = qn > 0.0f ? 1.0f / std::sqrt(qn) : 0.0f;
  std::vector<ConceptMatch> out;
  {
    ReaderLock lock(mu_);
    out.reserve(slot_of_.size());
    for (std::size_t s = 0; s < entries_.size(); ++s) {
      const Entry& e = entries_[s];
      if (e.id == 0 || e.coherence < min_coherence) continue;
      const float sim = simd::dot(q, centroids_.data() + s * dim_, dim_) * q_inv * e.inv_norm;
      out.push_back({e.id, std::clamp(sim, -1.0f, 1.0f), e.coherence, e.confidence});
    }
  }
  const auto better = [](const ConceptMatch& a, const ConceptMatch& b) {
    return a.similarity != b.similarity ? a.similarity > b.similarity : a.id < b.id;
  };
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(), better);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

std::size_t ConceptStore::memory_bytes() const {
  ReaderLock lock(mu_);
  std::size_t bytes = centroids_.capacity() * sizeof(float) + entries_.capacity() * sizeof(Entry);
  for (const Entry& e : entries_) bytes += e.members.capacity() * sizeof(std::int64_t);
  bytes += by_episode_.size() * (sizeof(std::int64_t) * 4);
  return bytes;
}

}  // namespace engram

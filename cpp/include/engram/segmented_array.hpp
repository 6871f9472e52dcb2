// An append-only array of fixed-stride elements whose addresses never move.
//
// Segment c holds kBase << c elements, so 40 segment pointers cover any realistic size and
// growing never copies or invalidates earlier elements. Thread safety: ensure() is serialised
// by an internal mutex; segment pointers are published with release stores, so a reader that
// learned an index through any synchronising path (a lock, an acquire load) may call at()
// without locking. Elements of trivially constructible types are left uninitialised (large
// segments stay uncommitted until touched) in segments aligned to kAlign bytes, so an element
// whose stride is a multiple of a cache line starts on one (SIMD loads never split lines);
// other types are value-initialised.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "engram/thread_annotations.hpp"

namespace engram {

template <class T>
class SegmentedArray {
 public:
  static constexpr std::size_t kBase = 1024;
  static constexpr std::size_t kMaxSegments = 40;
  static constexpr std::size_t kAlign = 64;

  explicit SegmentedArray(std::size_t stride = 1) : stride_(stride) {}
  SegmentedArray(const SegmentedArray&) = delete;
  SegmentedArray& operator=(const SegmentedArray&) = delete;

  std::size_t stride() const noexcept { return stride_; }

  // Makes index i addressable (allocating segments as needed).
  void ensure(std::size_t i) {
    const auto [seg, off] = locate(i);
    if (segments_[seg].load(std::memory_order_acquire) != nullptr) return;
    MutexLock lock(grow_mu_);
    for (std::size_t s = 0; s <= seg; ++s) {
      if (segments_[s].load(std::memory_order_relaxed) != nullptr) continue;
      const std::size_t n = (kBase << s) * stride_;
      Block block;
      if constexpr (std::is_trivially_default_constructible_v<T>) {
        // Aligned operator new implicitly creates the (implicit-lifetime) elements.
        block = Block(static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t{kAlign})));
      } else {
        block = Block(new T[n]());
      }
      segments_[s].store(block.get(), std::memory_order_release);
      owned_.push_back(std::move(block));
      capacity_.store(kBase * ((std::size_t{2} << s) - 1), std::memory_order_release);
    }
  }

  // Pointer to the first of `stride` values of element i; i must have been ensure()d.
  T* at(std::size_t i) noexcept {
    const auto [seg, off] = locate(i);
    return segments_[seg].load(std::memory_order_acquire) + off * stride_;
  }
  const T* at(std::size_t i) const noexcept {
    const auto [seg, off] = locate(i);
    return segments_[seg].load(std::memory_order_acquire) + off * stride_;
  }
  // Whether element i is addressable (for scans racing with growth).
  bool contains(std::size_t i) const noexcept {
    return segments_[locate(i).first].load(std::memory_order_acquire) != nullptr;
  }
  std::size_t capacity() const noexcept { return capacity_.load(std::memory_order_acquire); }

 private:
  static std::pair<std::size_t, std::size_t> locate(std::size_t i) noexcept {
    const std::size_t t = i / kBase + 1;
    const std::size_t seg = static_cast<std::size_t>(std::bit_width(t)) - 1;
    const std::size_t first = kBase * ((std::size_t{1} << seg) - 1);
    return {seg, i - first};
  }

  struct Free {
    void operator()(T* p) const noexcept {
      if constexpr (std::is_trivially_default_constructible_v<T>) {
        ::operator delete[](p, std::align_val_t{kAlign});
      } else {
        delete[] p;
      }
    }
  };
  using Block = std::unique_ptr<T[], Free>;

  std::size_t stride_;
  std::array<std::atomic<T*>, kMaxSegments> segments_{};
  std::vector<Block> owned_ GUARDED_BY(grow_mu_);
  std::atomic<std::size_t> capacity_{0};
  Mutex grow_mu_;  // a leaf of the engine's lock order (engine.hpp)
};

}  // namespace engram

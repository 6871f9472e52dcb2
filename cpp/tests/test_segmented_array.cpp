// SegmentedArray: addresses never move while the array grows, from one thread or many.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "engram/segmented_array.hpp"

namespace engram {
namespace {

using Array = SegmentedArray<std::uint64_t>;

TEST(SegmentedArray, StartsEmpty) {
  const Array a;
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_FALSE(a.contains(0));
}

TEST(SegmentedArray, CapacityCoversEnsuredIndexAndSegmentsDouble) {
  Array a;
  a.ensure(0);
  EXPECT_EQ(a.capacity(), Array::kBase);
  EXPECT_TRUE(a.contains(Array::kBase - 1));
  EXPECT_FALSE(a.contains(Array::kBase));
  a.ensure(Array::kBase);  // first element of segment 1, which holds 2 * kBase
  EXPECT_EQ(a.capacity(), 3 * Array::kBase);
  EXPECT_TRUE(a.contains(3 * Array::kBase - 1));
  EXPECT_FALSE(a.contains(3 * Array::kBase));
  a.ensure(100000);
  EXPECT_GT(a.capacity(), 100000u);
  EXPECT_TRUE(a.contains(100000));
}

TEST(SegmentedArray, AddressesAndValuesStableAcrossGrowth) {
  constexpr std::size_t kStride = 3;
  SegmentedArray<std::uint64_t> a(kStride);
  EXPECT_EQ(a.stride(), kStride);
  constexpr std::size_t kN = 200000;  // spans 8 segments
  std::vector<const std::uint64_t*> addr(kN);
  for (std::size_t i = 0; i < kN; ++i) {
    a.ensure(i);
    std::uint64_t* p = a.at(i);
    for (std::size_t j = 0; j < kStride; ++j) p[j] = i * kStride + j;
    addr[i] = p;
  }
  const auto& ca = a;
  for (std::size_t i = 0; i < kN; ++i) {
    ASSERT_EQ(ca.at(i), addr[i]) << "element " << i << " moved";
    for (std::size_t j = 0; j < kStride; ++j) ASSERT_EQ(ca.at(i)[j], i * kStride + j) << "element " << i;
  }
  // Strided elements inside a segment are adjacent, never overlapping.
  EXPECT_EQ(a.at(1) - a.at(0), static_cast<std::ptrdiff_t>(kStride));
}

TEST(SegmentedArray, EnsureOfAFarIndexMakesEveryEarlierIndexAddressable) {
  Array a;
  a.ensure(50000);
  for (std::size_t i = 0; i <= 50000; i += 997) {
    ASSERT_TRUE(a.contains(i)) << i;
    *a.at(i) = i;
  }
  for (std::size_t i = 0; i <= 50000; i += 997) EXPECT_EQ(*a.at(i), i);
}

TEST(SegmentedArray, TrivialSegmentsAreCacheLineAligned) {
  SegmentedArray<unsigned char> a(3);
  a.ensure(5000);  // several segments
  for (const std::size_t first : {std::size_t{0}, std::size_t{1024}, std::size_t{3072}}) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.at(first)) % SegmentedArray<unsigned char>::kAlign, 0u) << first;
  }
}

TEST(SegmentedArray, NonTrivialElementsAreValueInitialised) {
  SegmentedArray<std::string> a;
  a.ensure(5000);
  for (std::size_t i = 0; i <= 5000; i += 250) EXPECT_TRUE(a.at(i)->empty()) << i;
  *a.at(4000) = std::string(100, 'x');  // a heap-allocated string is released by the array
  EXPECT_EQ(a.at(4000)->size(), 100u);
}

// Many threads claim indices, grow the array and write their elements while others do the same;
// every element must end up with its own value at an address that never changed.
TEST(ConcurrencySegmentedArray, ParallelGrowthKeepsAddresses) {
  Array a(2);
  constexpr std::size_t kPerThread = 20000;
  const unsigned threads = 4;
  std::atomic<std::size_t> next{0};
  std::vector<std::vector<std::pair<std::size_t, const std::uint64_t*>>> seen(threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t k = 0; k < kPerThread; ++k) {
        const std::size_t i = next.fetch_add(1);
        a.ensure(i);
        std::uint64_t* p = a.at(i);
        p[0] = i;
        p[1] = ~i;
        seen[t].emplace_back(i, p);
      }
    });
  }
  for (auto& th : pool) th.join();
  std::size_t total = 0;
  for (const auto& list : seen) {
    for (const auto& [i, p] : list) {
      ++total;
      ASSERT_EQ(a.at(i), p) << "element " << i << " moved";
      ASSERT_EQ(p[0], i);
      ASSERT_EQ(p[1], ~i);
    }
  }
  EXPECT_EQ(total, threads * kPerThread);
  EXPECT_GE(a.capacity(), threads * kPerThread);
}

}  // namespace
}  // namespace engram

// Lock-wait counters (lock_stats.hpp): an uncontended acquisition counts nothing; a contended one
// is counted under its lock's class with the time it waited; Engine::prometheus() shows them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "engram/engine.hpp"
#include "engram/lock_stats.hpp"
#include "engram/thread_annotations.hpp"
#include "test_util.hpp"

namespace engram {
namespace {

LockWait of(LockClass c) { return lock_wait_snapshot().at(static_cast<std::size_t>(c)); }

TEST(LockStats, ClassNamesAreDistinctAndComplete) {
  const auto all = lock_wait_snapshot();
  ASSERT_EQ(all.size(), kLockClasses);
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i + 1; j < all.size(); ++j) EXPECT_NE(std::string(all[i].lock), std::string(all[j].lock));
}

TEST(LockStats, UncontendedAcquisitionsCountNothing) {
  Mutex mu(LockClass::Consolidator);
  SharedMutex smu(LockClass::Consolidator);
  const auto before = of(LockClass::Consolidator);
  for (int i = 0; i < 1000; ++i) {
    MutexLock l(mu);
    ReaderLock r(smu);
  }
  for (int i = 0; i < 1000; ++i) WriterLock w(smu);
  const auto after = of(LockClass::Consolidator);
  EXPECT_EQ(after.contended, before.contended);
  EXPECT_EQ(after.wait_s, before.wait_s);
}

// Holds the lock for 50 ms while another thread asks for it: one contended acquisition, about 50 ms
// of wait, under the lock's class and no other.
template <class M, class Lock>
void contend(M& mu, LockClass c) {
  const auto before = of(c);
  const auto other_before = of(LockClass::WalIo);
  std::atomic<bool> held{false};
  std::thread holder;
  {
    Lock l(mu);
    holder = std::thread([&] {
      held = true;
      Lock l2(mu);
    });
    while (!held) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  holder.join();
  const auto after = of(c);
  EXPECT_EQ(after.contended, before.contended + 1);
  EXPECT_GE(after.wait_s - before.wait_s, 0.02);  // slept 50 ms; the thread may start late
  EXPECT_LT(after.wait_s - before.wait_s, 5.0);
  EXPECT_EQ(of(LockClass::WalIo).contended, other_before.contended);
}

TEST(LockStats, ContendedMutexIsCountedUnderItsClass) {
  Mutex mu(LockClass::SpaceAppend);
  contend<Mutex, MutexLock>(mu, LockClass::SpaceAppend);
}

TEST(LockStats, ContendedSharedMutexIsCountedForWritersAndReaders) {
  SharedMutex mu(LockClass::SpaceStructure);
  contend<SharedMutex, WriterLock>(mu, LockClass::SpaceStructure);
  // a reader waiting for a writer
  const auto before = of(LockClass::SpaceStructure);
  std::atomic<bool> held{false};
  std::thread reader;
  {
    WriterLock w(mu);
    reader = std::thread([&] {
      held = true;
      ReaderLock r(mu);
    });
    while (!held) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  reader.join();
  EXPECT_EQ(of(LockClass::SpaceStructure).contended, before.contended + 1);
}

TEST(LockStats, EnginePrometheusShowsEveryClass) {
  Engine eng(EngineConfig{test::small_config(8)});
  const std::string text = eng.prometheus();
  EXPECT_NE(text.find("# TYPE engram_lock_wait_seconds_total counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE engram_lock_contended_total counter"), std::string::npos);
  for (const char* name : kLockClassNames) {
    EXPECT_NE(text.find(std::string("engram_lock_wait_seconds_total{lock=\"") + name + "\"}"), std::string::npos)
        << name;
  }
}

}  // namespace
}  // namespace engram

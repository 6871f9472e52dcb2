// The engine clock: manual time, skew, and the hold that keeps system time from running backwards.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "engram/clock.hpp"
#include "engram/errors.hpp"

namespace engram {
namespace {

double system_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST(Clock, SkewMovesSystemTimeForward) {
  Clock c;
  c.set_skew(3600.0);
  EXPECT_NEAR(c.now() - system_seconds(), 3600.0, 1.0);
  EXPECT_DOUBLE_EQ(c.skew(), 3600.0);
}

TEST(Clock, NegativeSkewNeverRunsTheClockBackwards) {
  Clock c;
  const double before = c.now();
  c.set_skew(-30.0);
  const double held = c.now();
  EXPECT_GE(held, before);                          // held at its last reading, not 30 s back
  EXPECT_NEAR(c.unheld_now(), before - 30.0, 1.0);  // what a skew detector sees
  double prev = held;
  for (int i = 0; i < 1000; ++i) {  // never decreases while held
    const double t = c.now();
    EXPECT_GE(t, prev);
    prev = t;
  }
  c.set_skew(0.0);
  EXPECT_GE(c.now(), held);
}

TEST(Clock, HoldIsMonotonicAcrossThreads) {
  Clock c;
  std::vector<std::thread> ts;
  std::atomic<int> backwards{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      double prev = 0.0;
      for (int i = 0; i < 20000; ++i) {
        if (t == 0 && i % 1000 == 0) c.set_skew(i % 2000 == 0 ? -5.0 : 5.0);
        const double now = c.now();
        if (now < prev) backwards.fetch_add(1);
        prev = now;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(backwards.load(), 0);
}

TEST(Clock, SkewIsCheckedAndManualTimeIgnoresIt) {
  Clock c;
  EXPECT_THROW(c.set_skew(std::numeric_limits<double>::quiet_NaN()), InvalidInputError);
  EXPECT_THROW(c.set_skew(std::numeric_limits<double>::infinity()), InvalidInputError);
  EXPECT_THROW(c.set_skew(-2.0 * 365 * 86400), InvalidInputError);
  c.set_skew(100.0);
  c.set(1000.0);  // manual time is exact: skew and the hold apply to system time only
  EXPECT_DOUBLE_EQ(c.now(), 1000.0);
  c.set(500.0);
  EXPECT_DOUBLE_EQ(c.now(), 500.0);
  c.use_system();
  EXPECT_NEAR(c.now() - system_seconds(), 100.0, 1.0);
}

}  // namespace
}  // namespace engram

// Clock-skew detection: the engine clock (engram/clock.hpp) read beside a steady clock once a
// second; a step of the engine clock against the steady one of at least a threshold (an NTP step,
// a VM resumed, or the chaos toolkit's injected skew) is reported, so the server logs
// `clock_skew_detected` and counts `engram_clock_skew_detected_total{direction}`. The engine's
// unheld reading is used (Clock::unheld_now): the held one never steps backwards.
//
// Locking: mu_ guards the last observation (observe() runs on the clock timer and once when the
// engine opens, on the pool); offset_s() reads an atomic from any thread.
#pragma once

#include <atomic>
#include <optional>

#include "engram/thread_annotations.hpp"

namespace engram::server {

class ClockWatch {
 public:
  explicit ClockWatch(double threshold_s = 1.0) noexcept : threshold_s_(threshold_s) {}
  // One observation: the engine clock and a steady clock, both in seconds. Returns the step
  // since the previous observation (engine progress minus steady progress) when its size is at
  // least the threshold; nullopt otherwise and for the first observation, which anchors both.
  std::optional<double> observe(double clock_s, double steady_s) noexcept EXCLUDES(mu_);
  // The same, with the steady clock read now (what the server calls; the above is for tests).
  std::optional<double> observe(double clock_s) noexcept EXCLUDES(mu_);
  // The engine clock minus the steady clock, relative to the first observation: the sum of the
  // steps (and drift) seen so far.
  double offset_s() const noexcept { return offset_s_.load(std::memory_order_relaxed); }

 private:
  const double threshold_s_;
  Mutex mu_;
  bool anchored_ GUARDED_BY(mu_) = false;
  double last_clock_s_ GUARDED_BY(mu_) = 0.0;
  double last_steady_s_ GUARDED_BY(mu_) = 0.0;
  std::atomic<double> offset_s_{0.0};
};

}  // namespace engram::server

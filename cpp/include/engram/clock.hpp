// The engine's notion of "now", in seconds since the Unix epoch.
//
// System time by default; tests and simulations switch it to a manual clock that is set and
// advanced explicitly, so decay and schedules can be tested without waiting. Thread safety:
// every member is atomic, so any thread may read or change the clock at any time.
#pragma once

#include <atomic>

namespace engram {

class Clock {
 public:
  double now() const noexcept;
  bool is_manual() const noexcept { return manual_.load(std::memory_order_acquire); }
  // Switches to manual time at t (InvalidInputError unless t is finite: a NaN clock would stamp
  // every memory with NaN, bypassing the timestamp checks).
  void set(double t);
  // Moves manual time by dt seconds (switching to manual at the current time first);
  // InvalidInputError unless dt and the resulting time are finite.
  void advance(double dt);
  void use_system() noexcept { manual_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> manual_{false};
  std::atomic<double> manual_time_{0.0};
};

}  // namespace engram

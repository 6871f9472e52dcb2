// The engine's notion of "now", in seconds since the Unix epoch.
//
// System time by default; tests and simulations switch it to a manual clock that is set and
// advanced explicitly, so decay and schedules can be tested without waiting. System time may be
// skewed (set_skew: the chaos toolkit's clock-skew injector, through the test build's admin
// route) and never runs backwards: after a backward step (a negative skew, or the system clock
// set back) now() holds its last reading until system time catches up, so timestamps, decay ages
// and the breakers' hour windows never see time reversed. Thread safety: every member is atomic,
// so any thread may read or change the clock at any time.
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
  // Offsets system time by offset_s seconds (replacing the previous skew); InvalidInputError
  // unless finite and within a year either way.
  void set_skew(double offset_s);
  double skew() const noexcept { return skew_.load(std::memory_order_acquire); }
  // System time plus skew, without the hold against running backwards: what a skew detector
  // compares with a steady clock (in manual mode, the manual time).
  double unheld_now() const noexcept;

 private:
  std::atomic<bool> manual_{false};
  std::atomic<double> manual_time_{0.0};
  std::atomic<double> skew_{0.0};
  mutable std::atomic<double> last_{0.0};  // the latest system-mode reading (the hold)
};

}  // namespace engram

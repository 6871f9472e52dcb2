#include "engram/clock.hpp"

#include <chrono>

namespace engram {
namespace {
double system_now() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

double Clock::now() const noexcept {
  return manual_.load(std::memory_order_acquire) ? manual_time_.load(std::memory_order_acquire) : system_now();
}

void Clock::set(double t) noexcept {
  manual_time_.store(t, std::memory_order_release);
  manual_.store(true, std::memory_order_release);
}

void Clock::advance(double dt) noexcept {
  if (!manual_.load(std::memory_order_acquire)) set(system_now());
  double cur = manual_time_.load(std::memory_order_acquire);
  while (!manual_time_.compare_exchange_weak(cur, cur + dt, std::memory_order_acq_rel)) {
  }
}

}  // namespace engram

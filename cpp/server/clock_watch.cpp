#include "clock_watch.hpp"

#include <chrono>
#include <cmath>

namespace engram::server {

std::optional<double> ClockWatch::observe(double clock_s, double steady_s) noexcept {
  MutexLock lock(mu_);
  if (!anchored_) {
    anchored_ = true;
    last_clock_s_ = clock_s;
    last_steady_s_ = steady_s;
    return std::nullopt;
  }
  const double step = (clock_s - last_clock_s_) - (steady_s - last_steady_s_);
  last_clock_s_ = clock_s;
  last_steady_s_ = steady_s;
  offset_s_.store(offset_s_.load(std::memory_order_relaxed) + step, std::memory_order_relaxed);
  if (std::fabs(step) >= threshold_s_) return step;
  return std::nullopt;
}

std::optional<double> ClockWatch::observe(double clock_s) noexcept {
  return observe(clock_s, std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count());
}

}  // namespace engram::server

#include "engram/clock.hpp"

#include <chrono>
#include <cmath>
#include <string>

#include "engram/errors.hpp"
#include "engram/validation.hpp"

namespace engram {
namespace {
double system_now() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

double Clock::unheld_now() const noexcept {
  return manual_.load(std::memory_order_acquire) ? manual_time_.load(std::memory_order_acquire)
                                                 : system_now() + skew_.load(std::memory_order_acquire);
}

double Clock::now() const noexcept {
  if (manual_.load(std::memory_order_acquire)) return manual_time_.load(std::memory_order_acquire);
  const double t = system_now() + skew_.load(std::memory_order_acquire);
  double prev = last_.load(std::memory_order_relaxed);
  while (t > prev && !last_.compare_exchange_weak(prev, t, std::memory_order_relaxed)) {
  }
  return t > prev ? t : prev;
}

void Clock::set_skew(double offset_s) {
  constexpr double kYear = 365.0 * 86400.0;
  if (!std::isfinite(offset_s) || offset_s < -kYear || offset_s > kYear) {
    throw InvalidInputError(
        "clock skew must be a finite number of seconds within a year either way "
        "(-31536000 to 31536000); got " +
        format_g(offset_s));
  }
  skew_.store(offset_s, std::memory_order_release);
}

void Clock::set(double t) {
  if (!std::isfinite(t)) {
    throw InvalidInputError("clock time t must be a finite number of seconds since the epoch; got " +
                            std::to_string(t));
  }
  manual_time_.store(t, std::memory_order_release);
  manual_.store(true, std::memory_order_release);
}

void Clock::advance(double dt) {
  if (!std::isfinite(dt)) {
    throw InvalidInputError("clock advance dt must be a finite number of seconds; got " + std::to_string(dt));
  }
  if (!manual_.load(std::memory_order_acquire)) set(now());  // from the clock as it reads (skew, hold)
  double cur = manual_time_.load(std::memory_order_acquire);
  do {
    if (!std::isfinite(cur + dt)) {
      throw InvalidInputError("clock advance by " + std::to_string(dt) + " s would leave the finite range");
    }
  } while (!manual_time_.compare_exchange_weak(cur, cur + dt, std::memory_order_acq_rel));
}

}  // namespace engram

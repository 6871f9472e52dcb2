#include "engram/clock.hpp"

#include <chrono>
#include <cmath>
#include <string>

#include "engram/errors.hpp"

namespace engram {
namespace {
double system_now() noexcept {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

double Clock::now() const noexcept {
  return manual_.load(std::memory_order_acquire) ? manual_time_.load(std::memory_order_acquire) : system_now();
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
  if (!manual_.load(std::memory_order_acquire)) set(system_now());
  double cur = manual_time_.load(std::memory_order_acquire);
  do {
    if (!std::isfinite(cur + dt)) {
      throw InvalidInputError("clock advance by " + std::to_string(dt) + " s would leave the finite range");
    }
  } while (!manual_time_.compare_exchange_weak(cur, cur + dt, std::memory_order_acq_rel));
}

}  // namespace engram

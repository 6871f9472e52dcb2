#include "engram/memory_budget.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "engram/errors.hpp"
#include "engram/validation.hpp"

namespace engram {
namespace {
std::string mib(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}
}  // namespace

const char* memory_pressure_name(MemoryPressure p) noexcept {
  switch (p) {
    case MemoryPressure::Normal: return "normal";
    case MemoryPressure::Warning: return "warning";
    case MemoryPressure::Critical: return "critical";
  }
  return "?";
}

void validate(const MemoryBudget& b) {
  const auto fail = [](const char* field, const std::string& got, const std::string& range) {
    throw InvalidInputError(std::string("memory budget: ") + field + " must be " + range + "; got " + got);
  };
  if (b.bytes != 0 && (b.bytes < (std::uint64_t{1} << 20) || b.bytes > (std::uint64_t{1} << 50))) {
    fail("bytes", std::to_string(b.bytes), "0 (no budget) or between 1048576 (1 MiB) and 2^50");
  }
  const auto ratio = [&](const char* field, double v) {
    if (!std::isfinite(v) || v <= 0.0 || v > 1.0) fail(field, format_g(v), "a fraction in (0, 1]");
  };
  ratio("warning", b.warning);
  ratio("critical", b.critical);
  ratio("release", b.release);
  if (b.critical < b.warning) fail("critical", format_g(b.critical), "at least warning (" + format_g(b.warning) + ")");
  if (b.release >= b.warning) fail("release", format_g(b.release), "below warning (" + format_g(b.warning) + ")");
  if (!std::isfinite(b.poll_interval_s) || b.poll_interval_s < 0.001 || b.poll_interval_s > 10.0) {
    fail("poll_interval_s", format_g(b.poll_interval_s), "between 0.001 and 10 seconds");
  }
  if (!std::isfinite(b.retry_after_s) || b.retry_after_s < 0.001 || b.retry_after_s > 3600.0) {
    fail("retry_after_s", format_g(b.retry_after_s), "between 0.001 and 3600 seconds");
  }
}

MemoryGovernor::MemoryGovernor(MemoryBudget budget)
    : budget_((validate(budget), budget)),
      critical_bytes_(static_cast<std::uint64_t>(std::ceil(budget.critical * static_cast<double>(budget.bytes)))) {}

MemoryPressure MemoryGovernor::next_state(MemoryPressure current, double ratio, const MemoryBudget& b) noexcept {
  if (ratio >= b.critical) return MemoryPressure::Critical;
  switch (current) {
    case MemoryPressure::Normal: return ratio >= b.warning ? MemoryPressure::Warning : MemoryPressure::Normal;
    case MemoryPressure::Warning:
    case MemoryPressure::Critical: return ratio < b.release ? MemoryPressure::Normal : current;
  }
  return current;
}

bool MemoryGovernor::admit_write(std::uint64_t bytes, std::string_view what) {
  if (!enabled()) return false;
  const std::uint64_t sampled = used_bytes();
  const std::uint64_t before = admitted_.fetch_add(bytes, std::memory_order_relaxed);
  const bool critical = state() == MemoryPressure::Critical;
  if (critical || sampled + before >= critical_bytes_) {
    admitted_.fetch_sub(bytes, std::memory_order_relaxed);
    rejections_.fetch_add(1, std::memory_order_relaxed);
    if (!critical) sample_soon();  // the estimate says critical: let a sample confirm it
    const std::uint64_t used = critical ? sampled : sampled + before;
    throw MemoryPressureError(
        std::string(what) + " refused: memory pressure is critical (" + mib(used) + " of the " + mib(budget_.bytes) +
            " budget in use, " + format_g(std::round(1000.0 * static_cast<double>(used) / budget_.bytes) / 10) +
            "%); writes resume once usage falls below " + format_g(budget_.release * 100) +
            "% (forget memories or drop a space); retry after " + format_g(budget_.retry_after_s) + " s",
        budget_.retry_after_s);
  }
  return sampled + before + bytes >= critical_bytes_;
}

void MemoryGovernor::record_check(std::uint64_t ns) noexcept {
  checks_.fetch_add(1, std::memory_order_relaxed);
  check_ns_total_.fetch_add(ns, std::memory_order_relaxed);
  if (ns >= kSlowCheckNs) slow_checks_.fetch_add(1, std::memory_order_relaxed);
  std::uint64_t max = check_ns_max_.load(std::memory_order_relaxed);
  while (ns > max && !check_ns_max_.compare_exchange_weak(max, ns, std::memory_order_relaxed)) {
  }
}

std::optional<PressureTransition> MemoryGovernor::observe(std::uint64_t used_bytes) {
  if (!enabled()) return std::nullopt;
  MutexLock lock(mu_);
  used_.store(used_bytes, std::memory_order_relaxed);
  admitted_.store(0, std::memory_order_relaxed);  // the sample includes what was admitted before it
  const double ratio = static_cast<double>(used_bytes) / static_cast<double>(budget_.bytes);
  const MemoryPressure from = state();
  const MemoryPressure to = next_state(from, ratio, budget_);
  if (to == from) return std::nullopt;
  state_.store(to, std::memory_order_release);
  transitions_[static_cast<std::size_t>(to)].fetch_add(1, std::memory_order_relaxed);
  return PressureTransition{from, to, used_bytes, budget_.bytes, ratio};
}

void MemoryGovernor::sample_soon() {
  {
    MutexLock lock(wake_mu_);
    wake_ = true;
  }
  wake_cv_.notify_all();
}

void MemoryGovernor::wait_for_sample(std::stop_token stop) {
  MutexLock lock(wake_mu_);
  wake_cv_.wait_for(wake_mu_, stop, std::chrono::duration<double>(budget_.poll_interval_s),
                    [this]() REQUIRES(wake_mu_) { return wake_; });
  wake_ = false;
}

}  // namespace engram

#include "backpressure.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "log.hpp"
#include "metrics.hpp"

namespace engram::server {

namespace {

constexpr double kRateWeight = 0.3;  // of each new drain-rate sample
constexpr double kMinRetryS = 0.010;
constexpr double kMaxRetryS = 60.0;
constexpr double kLogInterval = 0.1;  // at most 10 lines a second per queue
constexpr double kWindowS = 0.1;      // completed(): one drain-rate sample per window
constexpr const char* kTransitions = "engram_backpressure_transitions_total";
constexpr const char* kTransitionsHelp = "Changes of backpressure level, by queue and the level entered.";

std::uint64_t pack(std::uint64_t version, Pressure p) { return version << 8 | static_cast<std::uint64_t>(p); }

}  // namespace

std::string_view pressure_name(Pressure p) noexcept {
  switch (p) {
    case Pressure::Normal: return "normal";
    case Pressure::Warning: return "warning";
    case Pressure::Critical: return "critical";
    case Pressure::Overloaded: return "overloaded";
  }
  return "normal";
}

Pressure pressure_of(double fill) noexcept {
  if (fill >= kOverloadedFill) return Pressure::Overloaded;
  if (fill >= kSignalFill) return Pressure::Critical;
  if (fill >= kWarningFill) return Pressure::Warning;
  return Pressure::Normal;
}

Backpressure::Backpressure(std::string queue, std::int64_t capacity, ServerMetrics& metrics, JsonLog& log)
    : queue_(std::move(queue)),
      capacity_(std::max<std::int64_t>(1, capacity)),
      reject_depth_(std::max<std::int64_t>(
          1, static_cast<std::int64_t>(std::ceil(kRejectFill * static_cast<double>(capacity_) - 1e-9)))),
      metrics_(metrics),
      log_(log) {
  metrics_.declare_counter(kTransitions, kTransitionsHelp);
}

Pressure Backpressure::level() const noexcept {
  return static_cast<Pressure>(state_.load(std::memory_order_acquire) & 0xff);
}

double Backpressure::fill() const noexcept {
  return static_cast<double>(depth_.load(std::memory_order_relaxed)) / static_cast<double>(capacity_);
}

Pressure Backpressure::update(std::int64_t depth, std::uint64_t version) {
  if (version == 0) version = next_version_.fetch_add(1, std::memory_order_relaxed);
  const double f = static_cast<double>(depth) / static_cast<double>(capacity_);
  const Pressure now = pressure_of(f);
  std::uint64_t cur = state_.load(std::memory_order_acquire);
  for (;;) {                                                             // bounded: each retry sees a newer state
    if ((cur >> 8) > version) return static_cast<Pressure>(cur & 0xff);  // a newer depth is in force
    if (state_.compare_exchange_weak(cur, pack(version, now), std::memory_order_acq_rel)) break;
  }
  depth_.store(depth, std::memory_order_relaxed);
  const auto before = static_cast<Pressure>(cur & 0xff);
  if (before == now) return now;
  changed_at_.store(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(),
                    std::memory_order_relaxed);
  metrics_.inc(kTransitions, kTransitionsHelp, 1.0, {{"queue", queue_}, {"state", std::string(pressure_name(now))}});
  std::function<void(Pressure)> hook;
  std::uint64_t left_out = 0;
  bool log_it = false;
  {
    MutexLock lock(mu_);
    hook = hook_;
    const auto t = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(t - logged_at_).count() >= kLogInterval) {
      log_it = true;
      logged_at_ = t;
      left_out = std::exchange(unlogged_, 0);
    } else {
      ++unlogged_;
    }
  }
  if (log_it) {
    const auto level = now >= Pressure::Critical ? LogLevel::Warning : LogLevel::Info;
    log_.emit(level, "backpressure_state",
              {{"queue", queue_},
               {"from", pressure_name(before)},
               {"to", pressure_name(now)},
               {"depth", depth},
               {"capacity", capacity_},
               {"fill", f},
               {"changes_not_logged", left_out}});
  }
  if (hook) hook(now);
  return now;
}

void Backpressure::drained(double n, double seconds) {
  if (n <= 0 || seconds <= 0) return;
  const double sample = n / seconds;
  MutexLock lock(mu_);
  rate_ = rate_ <= 0 ? sample : (1 - kRateWeight) * rate_ + kRateWeight * sample;
}

void Backpressure::completed(std::int64_t n) {
  const auto t = std::chrono::steady_clock::now();
  MutexLock lock(mu_);
  if (window_n_ == 0 && window_start_ == std::chrono::steady_clock::time_point{}) window_start_ = t;
  window_n_ += n;
  const double dt = std::chrono::duration<double>(t - window_start_).count();
  if (dt < kWindowS) return;
  // only a busy window measures what the queue can drain; an idle one measures the arrivals
  if (level() >= Pressure::Warning) {
    const double sample = static_cast<double>(window_n_) / dt;
    rate_ = rate_ <= 0 ? sample : (1 - kRateWeight) * rate_ + kRateWeight * sample;
  }
  window_n_ = 0;
  window_start_ = t;
}

double Backpressure::drain_rate() const {
  MutexLock lock(mu_);
  return rate_;
}

double Backpressure::retry_after_s(std::int64_t depth, double fallback_s) const {
  const double rate = drain_rate();
  if (rate <= 0) return std::clamp(fallback_s, kMinRetryS, kMaxRetryS);
  const double excess = static_cast<double>(depth) - std::floor(kSignalFill * static_cast<double>(capacity_));
  return std::clamp(excess / rate, kMinRetryS, kMaxRetryS);
}

void Backpressure::on_change(std::function<void(Pressure)> hook) {
  MutexLock lock(mu_);
  hook_ = std::move(hook);
}

}  // namespace engram::server

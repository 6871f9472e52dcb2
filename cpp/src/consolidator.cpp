#include "engram/consolidator.hpp"

#include <algorithm>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>
#endif

#include <chrono>
#include <cmath>
#include <string>

#include "engram/errors.hpp"

namespace engram {

const char* consolidator_state_name(ConsolidatorState s) noexcept {
  switch (s) {
    case ConsolidatorState::Stopped: return "stopped";
    case ConsolidatorState::Running: return "running";
    case ConsolidatorState::Paused: return "paused";
  }
  return "?";
}

BackgroundConsolidator::BackgroundConsolidator(SpaceList spaces, double interval_s, ConsolidationParams params)
    : spaces_(std::move(spaces)), interval_s_(interval_s), params_(std::move(params)) {
  if (!std::isfinite(interval_s) || interval_s < 0.001 || interval_s > 86400.0 * 7) {
    throw InvalidInputError("interval_s must be between 0.001 and 604800 seconds, got " + std::to_string(interval_s));
  }
  params_.parallel = false;  // at most one core: foreground writers keep the others
  validate(params_);
  if (params_.now) throw InvalidInputError("the background consolidator uses the engine clock; leave `now` unset");
  thread_ = std::jthread([this](std::stop_token st) { loop(std::move(st)); });
}

BackgroundConsolidator::~BackgroundConsolidator() {
  thread_.request_stop();  // wakes the wait below through its stop_token
  // ~jthread joins.
}

void BackgroundConsolidator::pause() {
  MutexLock lock(mu_);
  paused_ = true;
}

void BackgroundConsolidator::resume() {
  {
    MutexLock lock(mu_);
    paused_ = false;
  }
  cv_.notify_all();
}

void BackgroundConsolidator::hold(bool on) {
  {
    MutexLock lock(mu_);
    held_ = on;
  }
  cv_.notify_all();
}

ConsolidatorStatus BackgroundConsolidator::status() const {
  ConsolidatorStatus s;
  {
    MutexLock lock(mu_);
    s.state = paused_ || held_ ? ConsolidatorState::Paused : ConsolidatorState::Running;
    s.memory_hold = held_;
  }
  s.interval_s = interval_s_;
  s.cycles = cycles_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.last_cycle_duration_s = last_duration_s_.load(std::memory_order_relaxed);
  if (const double started = cycle_started_.load(std::memory_order_relaxed); started > 0.0) {
    const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    s.busy_s = std::max(0.0, now - started);
  }
  return s;
}

void BackgroundConsolidator::loop(std::stop_token stop) {
#if defined(__linux__)
  // Background work yields the CPU to foreground writers and readers: this thread (only) runs
  // at nice 10 under SCHED_BATCH. Best effort; failure leaves the default priority.
  sched_param sp{};
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
#endif
  const auto interval =
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(interval_s_));
  // Fixed rate: a cycle starts one interval after the previous one started, not after it ended,
  // so the cadence holds whatever a cycle costs (the seeds' 60 s +/- 2 s); a cycle longer than
  // the interval is followed at once by the next, never by a burst of missed ones.
  auto next = std::chrono::steady_clock::now() + interval;
  while (!stop.stop_requested()) {
    {
      MutexLock lock(mu_);
      // Sleeps until the next start (woken early only by a stop), then, while paused or held, until resumed.
      cv_.wait_until(mu_, stop, next, [] { return false; });
      cv_.wait(mu_, stop, [this]() REQUIRES(mu_) { return !paused_ && !held_; });
    }
    if (stop.stop_requested()) break;
    const auto start = std::chrono::steady_clock::now();
    next = start + interval;
    cycle_started_.store(std::chrono::duration<double>(start.time_since_epoch()).count(), std::memory_order_relaxed);
    // A stop also ends the space's run at its next block (ConsolidationParams::stop), so the
    // engine's close does not wait for a whole run over a large space.
    ConsolidationParams run_params = params_;
    run_params.stop = stop;
    for (const std::shared_ptr<Space>& sp : spaces_()) {
      if (stop.stop_requested()) break;
      {
        MutexLock lock(mu_);
        if (paused_ || held_) break;
      }
      try {
        consolidate(*sp, run_params);
      } catch (const SpaceNotFound&) {  // dropped meanwhile: not a failure
      } catch (...) {
        failures_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    last_duration_s_.store(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                           std::memory_order_relaxed);
    cycle_started_.store(0.0, std::memory_order_relaxed);
    cycles_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace engram

// Backpressure as milestone 11 defines it, for each bounded queue of the server (the stream
// writer's queue of observations, the HTTP requests in flight). The queue's fill gives a level:
//   normal < 50% <= warning < 80% <= critical < 95% <= overloaded
// The backpressure signal is on from 80% (streams get a `flow` message, HTTP responses an
// `X-Engram-Backpressure` header); writes are refused from 90% (429 overloaded, never dropped)
// with a retry-after: the time the queue's measured drain rate needs to bring it back under the
// signal (80%), so a client that waits that long finds room. Every change of level moves a gauge
// and a counter at once and logs `backpressure_state` (at most 10 lines a second per queue, with
// how many changes the lines left out), and the owner's on_change hook runs (the stream hub
// tells its sessions at once, so a change is seen within milliseconds, not at the next ack).
//
// Locking: the level is an atomic, versioned so an update computed from an older depth never
// overwrites a newer one; mu_ guards the drain-rate estimate and the log rate limit and is a leaf.
// update() must be called without the caller's locks held (it logs and runs on_change).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engram/thread_annotations.hpp"

namespace engram::server {

class JsonLog;
class ServerMetrics;

enum class Pressure { Normal = 0, Warning = 1, Critical = 2, Overloaded = 3 };
std::string_view pressure_name(Pressure p) noexcept;
// The level of a queue fill ratio (depth / capacity).
Pressure pressure_of(double fill) noexcept;

inline constexpr double kWarningFill = 0.50;
inline constexpr double kSignalFill = 0.80;  // critical: the backpressure signal
inline constexpr double kRejectFill = 0.90;  // writes refused
inline constexpr double kOverloadedFill = 0.95;

class Backpressure {
 public:
  // queue: the label of its metrics and log lines ("stream", "requests").
  Backpressure(std::string queue, std::int64_t capacity, ServerMetrics& metrics, JsonLog& log);
  Backpressure(const Backpressure&) = delete;
  Backpressure& operator=(const Backpressure&) = delete;

  const std::string& queue() const noexcept { return queue_; }
  std::int64_t capacity() const noexcept { return capacity_; }
  // The depth from which writes are refused: ceil(90% of capacity), at least 1.
  std::int64_t reject_depth() const noexcept { return reject_depth_; }
  bool admits_write(std::int64_t depth) const noexcept { return depth < reject_depth_; }

  // Records the queue's depth after a change. version orders concurrent callers (a counter the
  // owner advances with each change, read together with the depth); 0 takes the next internal
  // one. Returns the level now in force.
  Pressure update(std::int64_t depth, std::uint64_t version = 0) EXCLUDES(mu_);
  Pressure level() const noexcept;
  double fill() const noexcept;  // of the last depth recorded
  // Wall-clock time (Unix seconds) of the last change of level: streams send it with the level,
  // so a client on the same host measures how late it learnt of the change.
  double changed_at_unix() const noexcept { return changed_at_.load(std::memory_order_relaxed); }

  // The queue drained n items in `seconds` of busy time (a writer batch, or the requests that
  // finished in a sampling window): feeds the drain-rate estimate (exponentially weighted).
  void drained(double n, double seconds) EXCLUDES(mu_);
  // n items finished now (HTTP requests): one drain-rate sample per 100 ms window, taken only
  // while the queue is at least at warning (an idle window would measure the arrivals instead).
  void completed(std::int64_t n = 1) EXCLUDES(mu_);
  double drain_rate() const EXCLUDES(mu_);  // items per second; 0 until measured
  // Seconds until depth drains below the signal (80%) at the measured rate; fallback_s while no
  // rate is measured. Between 10 ms and 60 s.
  double retry_after_s(std::int64_t depth, double fallback_s) const EXCLUDES(mu_);

  // Runs after each change of level, on the updating thread, without locks held; must not block.
  void on_change(std::function<void(Pressure)> hook) EXCLUDES(mu_);

 private:
  const std::string queue_;
  const std::int64_t capacity_;
  const std::int64_t reject_depth_;
  ServerMetrics& metrics_;
  JsonLog& log_;
  // version << 8 | level
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uint64_t> next_version_{1};
  std::atomic<std::int64_t> depth_{0};
  std::atomic<double> changed_at_{0.0};
  mutable Mutex mu_;
  double rate_ GUARDED_BY(mu_) = 0.0;
  std::chrono::steady_clock::time_point logged_at_ GUARDED_BY(mu_){};
  std::uint64_t unlogged_ GUARDED_BY(mu_) = 0;
  std::chrono::steady_clock::time_point window_start_ GUARDED_BY(mu_){};
  std::int64_t window_n_ GUARDED_BY(mu_) = 0;
  std::function<void(Pressure)> hook_ GUARDED_BY(mu_);
};

}  // namespace engram::server

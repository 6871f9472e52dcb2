// The server's own Prometheus series (the engine's come from Engine::prometheus()), rendered as
// API v1 has them since its first server: requests by method, route template and status; a latency
// histogram with the same buckets; labelled counters; unlabelled latency histograms (same
// buckets); gauges read at scrape time. Labels are bounded by construction: route templates
// (never raw paths or ids), methods, statuses, codes; no series is labelled by space (defect 4).
//
// Locking: mu_ guards every series; an update is a map lookup and an add, far cheaper than the
// request it counts. Gauge callbacks run outside the lock (they may take their own locks).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "engram/thread_annotations.hpp"

namespace engram::server {

inline constexpr std::array<double, 14> kLatencyBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0};

// Where a request's time went (engram_http_request_stage_seconds{stage}), for latency budgets
// that say which stage a miss came from: the body's receipt, the queues (admission per key, then
// the worker pool), the body's decode, the engine's work, the WAL's fsync wait, the response
// body's writing. Finer buckets than kLatencyBuckets: stages take microseconds.
enum class RequestStage : std::uint8_t { Receive, Queue, Parse, Engine, WalSync, Serialise };
inline constexpr std::size_t kRequestStages = 6;
inline constexpr std::array<const char*, kRequestStages> kRequestStageNames = {"receive", "queue",    "parse",
                                                                               "engine",  "wal_sync", "serialise"};
inline constexpr std::array<double, 20> kStageBuckets = {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                         0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    0.25,
                                                         0.5,     1.0,      2.5,     5.0,    10.0,    30.0};

// One request's stage durations in nanoseconds; a negative entry: the request had no such stage.
using StageTimes = std::array<std::int64_t, kRequestStages>;

class ServerMetrics {
 public:
  // Lock-free (relaxed atomic adds): called once per request on the IO and worker threads.
  void observe_stages(const StageTimes& ns) noexcept;

  using Labels = std::vector<std::pair<std::string, std::string>>;  // sorted by name when given
  void observe_request(std::string_view method, std::string_view route, int status, double seconds) EXCLUDES(mu_);
  void inc(const std::string& name, const std::string& help, double amount = 1.0, Labels labels = {}) EXCLUDES(mu_);
  // Declares a counter so it renders (at 0) before its first increment.
  void declare_counter(const std::string& name, const std::string& help) EXCLUDES(mu_);
  // One sample of an unlabelled latency histogram (kLatencyBuckets); declare_histogram makes it
  // render (count 0) before its first sample.
  void observe(const std::string& name, const std::string& help, double seconds) EXCLUDES(mu_);
  void declare_histogram(const std::string& name, const std::string& help) EXCLUDES(mu_);
  void gauge(const std::string& name, const std::string& help, std::function<double()> fn) EXCLUDES(mu_);
  double counter_value(const std::string& name, Labels labels = {}) const EXCLUDES(mu_);
  std::string render() const EXCLUDES(mu_);

 private:
  using Hist = std::array<double, kLatencyBuckets.size() + 2>;  // bucket counts, +Inf, sum
  using ReqKey = std::tuple<std::string, std::string, std::string>;
  mutable Mutex mu_{LockClass::Server};
  std::map<ReqKey, std::uint64_t> requests_ GUARDED_BY(mu_);
  std::map<ReqKey, Hist> latency_ GUARDED_BY(mu_);
  std::map<std::string, std::map<Labels, double>> counters_ GUARDED_BY(mu_);
  std::map<std::string, Hist> hists_ GUARDED_BY(mu_);
  std::map<std::string, std::function<double()>> gauges_ GUARDED_BY(mu_);
  std::map<std::string, std::string> help_ GUARDED_BY(mu_);
  struct StageHist {
    std::array<std::atomic<std::uint64_t>, kStageBuckets.size() + 1> buckets{};  // the last: +Inf
    std::atomic<std::uint64_t> sum_ns{0};
  };
  std::array<StageHist, kRequestStages> stages_{};
};

// Drops the engine's per-space samples (any series labelled space="...") from an exposition:
// what unauthenticated /metrics serves unless --metrics-per-space (defect 4: no space names or
// counts leak). Engine-wide series stay.
std::string strip_per_space_series(std::string_view exposition);

}  // namespace engram::server

// Per-space, per-operation counters and latency histograms.
//
// Every counter is a relaxed atomic owned by its Space, so recording never takes a lock and
// spaces never contend with each other. Counters only ever increase (Prometheus counters must be
// monotonic); a snapshot read while operations run may mix values from adjacent instants, which
// Prometheus tolerates.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace engram {

enum class Op : std::uint8_t {
  Remember,
  RememberBatch,
  Get,
  Forget,
  Search,
  Recall,
  Spread,
  Complete,
  Consolidate,
  Link,
  Unlink,
  kCount
};
constexpr std::size_t kOpCount = static_cast<std::size_t>(Op::kCount);
const char* op_name(Op op) noexcept;

// Fixed upper bounds in seconds (Prometheus "le" labels); the last bucket is +Inf.
inline constexpr std::array<double, 22> kLatencyBounds = {1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4,
                                                          5e-4, 1e-3,   2.5e-3, 5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,
                                                          0.25, 0.5,    1.0,    2.5,  5.0,    10.0};

struct HistogramSnapshot {
  std::array<std::uint64_t, kLatencyBounds.size() + 1> buckets{};  // not cumulative
  std::uint64_t count = 0;
  double sum_seconds = 0.0;
};

class LatencyHistogram {
 public:
  void record(std::uint64_t nanos) noexcept;
  HistogramSnapshot snapshot() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kLatencyBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_nanos_{0};
};

struct OpSnapshot {
  std::uint64_t total = 0;
  std::uint64_t errors = 0;
  HistogramSnapshot latency;
};

class SpaceMetrics {
 public:
  void record(Op op, std::uint64_t nanos, bool ok) noexcept;
  OpSnapshot snapshot(Op op) const noexcept;

 private:
  struct PerOp {
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> errors{0};
    LatencyHistogram latency;
  };
  std::array<PerOp, kOpCount> ops_{};
};

// Records one operation when it goes out of scope; an exception in flight counts as an error.
class OpTimer {
 public:
  OpTimer(SpaceMetrics& m, Op op) noexcept
      : m_(m), op_(op), start_(std::chrono::steady_clock::now()), exceptions_(std::uncaught_exceptions()) {}
  ~OpTimer() {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_);
    m_.record(op_, static_cast<std::uint64_t>(ns.count()), std::uncaught_exceptions() == exceptions_);
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  SpaceMetrics& m_;
  Op op_;
  std::chrono::steady_clock::time_point start_;
  int exceptions_;
};

// Text exposition helpers (Prometheus format 0.0.4).
std::string prometheus_escape(const std::string& value);

}  // namespace engram

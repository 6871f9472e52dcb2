#include "engram/metrics.hpp"

#include <algorithm>

namespace engram {

const char* op_name(Op op) noexcept {
  switch (op) {
    case Op::Remember: return "remember";
    case Op::RememberBatch: return "remember_batch";
    case Op::Get: return "get";
    case Op::Forget: return "forget";
    case Op::Search: return "search";
    case Op::Recall: return "recall";
    case Op::Spread: return "spread";
    case Op::Complete: return "complete";
    case Op::Consolidate: return "consolidate";
    case Op::Link: return "link";
    case Op::Unlink: return "unlink";
    case Op::kCount: break;
  }
  return "unknown";
}

void LatencyHistogram::record(std::uint64_t nanos) noexcept {
  // Divide rather than multiply by 1e-9: division is correctly rounded, so a duration exactly on a
  // bound (1000 ns) compares equal to it and lands in that bucket ("le" is inclusive).
  const double seconds = static_cast<double>(nanos) / 1e9;
  const auto it = std::lower_bound(kLatencyBounds.begin(), kLatencyBounds.end(), seconds);
  buckets_[static_cast<std::size_t>(it - kLatencyBounds.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_nanos_.fetch_add(nanos, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

HistogramSnapshot LatencyHistogram::snapshot() const noexcept {
  HistogramSnapshot s;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count += s.buckets[i];  // derived from buckets so count always equals the +Inf bucket
  }
  s.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) * 1e-9;
  return s;
}

void SpaceMetrics::record(Op op, std::uint64_t nanos, bool ok) noexcept {
  PerOp& p = ops_[static_cast<std::size_t>(op)];
  p.total.fetch_add(1, std::memory_order_relaxed);
  if (!ok) p.errors.fetch_add(1, std::memory_order_relaxed);
  p.latency.record(nanos);
}

OpSnapshot SpaceMetrics::snapshot(Op op) const noexcept {
  const PerOp& p = ops_[static_cast<std::size_t>(op)];
  return {p.total.load(std::memory_order_relaxed), p.errors.load(std::memory_order_relaxed), p.latency.snapshot()};
}

std::string prometheus_escape(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace engram

#include "metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace engram::server {

namespace {
std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string fmt_labels(const ServerMetrics::Labels& labels, std::string_view extra = {}) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + escape(v) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + std::string(extra);
  return out.empty() ? out : "{" + out + "}";
}

// The shortest text that reads back as v ("2", "0.25", "1796617054.017964"). The first version
// printed six significant digits (Python's "{:g}"): a counter past 10^6 then stood still between
// scrapes and a Unix-time gauge was off by up to 5,000 s.
std::string fmt_g(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Python's repr of the bucket bounds (what the Python server wrote): 0.0005, 1.0, 10.0
constexpr std::array<const char*, kLatencyBuckets.size()> kBoundText = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0"};
std::size_t bucket_of(double seconds) {
  return static_cast<std::size_t>(std::lower_bound(kLatencyBuckets.begin(), kLatencyBuckets.end(), seconds) -
                                  kLatencyBuckets.begin());
}

// One histogram's _bucket, _sum and _count lines (Prometheus text format 0.0.4), cumulative buckets.
template <class Hist>
void append_histogram(std::string& o, const std::string& name, const ServerMetrics::Labels& l, const Hist& h) {
  double cum = 0;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    cum += h[i];
    o += name + "_bucket" + fmt_labels(l, std::string("le=\"") + kBoundText[i] + "\"") + " " +
         std::to_string(static_cast<std::uint64_t>(cum)) + "\n";
  }
  cum += h[kLatencyBuckets.size()];
  const std::string count = std::to_string(static_cast<std::uint64_t>(cum));
  o += name + "_bucket" + fmt_labels(l, "le=\"+Inf\"") + " " + count + "\n";
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", h.back());
  o += name + "_sum" + fmt_labels(l) + " " + sum + "\n";
  o += name + "_count" + fmt_labels(l) + " " + count + "\n";
}
}  // namespace

void ServerMetrics::observe_request(std::string_view method, std::string_view route, int status, double seconds) {
  ReqKey key{std::string(method), std::string(route), std::to_string(status)};
  const auto bucket = bucket_of(seconds);
  MutexLock lock(mu_);
  ++requests_[key];
  auto [it, inserted] = latency_.try_emplace(key);
  if (inserted) it->second.fill(0.0);
  it->second[bucket] += 1;
  it->second.back() += seconds;
}

void ServerMetrics::observe_stages(const StageTimes& ns) noexcept {
  for (std::size_t i = 0; i < kRequestStages; ++i) {
    if (ns[i] < 0) continue;
    const double seconds = static_cast<double>(ns[i]) * 1e-9;
    const auto b = static_cast<std::size_t>(std::lower_bound(kStageBuckets.begin(), kStageBuckets.end(), seconds) -
                                            kStageBuckets.begin());
    stages_[i].buckets[b].fetch_add(1, std::memory_order_relaxed);
    stages_[i].sum_ns.fetch_add(static_cast<std::uint64_t>(ns[i]), std::memory_order_relaxed);
  }
}

void ServerMetrics::inc(const std::string& name, const std::string& help, double amount, Labels labels) {
  std::sort(labels.begin(), labels.end());
  MutexLock lock(mu_);
  help_.try_emplace(name, help);
  counters_[name][labels] += amount;
}

void ServerMetrics::declare_counter(const std::string& name, const std::string& help) {
  MutexLock lock(mu_);
  help_.try_emplace(name, help);
  counters_[name].try_emplace(Labels{}, 0.0);
}

void ServerMetrics::observe(const std::string& name, const std::string& help, double seconds) {
  const auto bucket = bucket_of(seconds);
  MutexLock lock(mu_);
  help_.try_emplace(name, help);
  auto [it, inserted] = hists_.try_emplace(name);
  if (inserted) it->second.fill(0.0);
  it->second[bucket] += 1;
  it->second.back() += seconds;
}

void ServerMetrics::declare_histogram(const std::string& name, const std::string& help) {
  MutexLock lock(mu_);
  help_.try_emplace(name, help);
  if (auto [it, inserted] = hists_.try_emplace(name); inserted) it->second.fill(0.0);
}

void ServerMetrics::gauge(const std::string& name, const std::string& help, std::function<double()> fn) {
  MutexLock lock(mu_);
  gauges_[name] = std::move(fn);
  help_[name] = help;
}

double ServerMetrics::counter_value(const std::string& name, Labels labels) const {
  std::sort(labels.begin(), labels.end());
  MutexLock lock(mu_);
  auto it = counters_.find(name);
  if (it == counters_.end()) return 0.0;
  auto jt = it->second.find(labels);
  return jt == it->second.end() ? 0.0 : jt->second;
}

std::string ServerMetrics::render() const {
  decltype(requests_) requests;
  decltype(latency_) latency;
  decltype(counters_) counters;
  decltype(hists_) hists;
  decltype(gauges_) gauges;
  decltype(help_) helps;
  {
    MutexLock lock(mu_);
    requests = requests_;
    latency = latency_;
    counters = counters_;
    hists = hists_;
    gauges = gauges_;
    helps = help_;
  }
  std::string o;
  const auto req_labels = [](const ReqKey& k) {
    return Labels{{"method", std::get<0>(k)}, {"route", std::get<1>(k)}, {"status", std::get<2>(k)}};
  };
  o += "# HELP engram_http_requests_total HTTP requests by method, route and status.\n";
  o += "# TYPE engram_http_requests_total counter\n";
  for (const auto& [k, n] : requests)
    o += "engram_http_requests_total" + fmt_labels(req_labels(k)) + " " + std::to_string(n) + "\n";
  o += "# HELP engram_http_request_duration_seconds HTTP request latency by method, route and status.\n";
  o += "# TYPE engram_http_request_duration_seconds histogram\n";
  for (const auto& [k, h] : latency) append_histogram(o, "engram_http_request_duration_seconds", req_labels(k), h);
  o += "# HELP engram_http_request_stage_seconds Time requests spent in each stage: receive (the body), queue "
       "(admission and worker pool), parse, engine, wal_sync (waiting for the WAL's fsync), serialise (the "
       "response body).\n";
  o += "# TYPE engram_http_request_stage_seconds histogram\n";
  for (std::size_t i = 0; i < kRequestStages; ++i) {
    const std::string l = std::string("{stage=\"") + kRequestStageNames[i] + "\",le=\"";
    std::uint64_t cum = 0;
    for (std::size_t b = 0; b <= kStageBuckets.size(); ++b) {
      cum += stages_[i].buckets[b].load(std::memory_order_relaxed);
      o += "engram_http_request_stage_seconds_bucket" + l +
           (b < kStageBuckets.size() ? fmt_g(kStageBuckets[b]) : "+Inf") + "\"} " + std::to_string(cum) + "\n";
    }
    const std::string stage = std::string("{stage=\"") + kRequestStageNames[i] + "\"}";
    o += "engram_http_request_stage_seconds_sum" + stage + " " +
         fmt_g(static_cast<double>(stages_[i].sum_ns.load(std::memory_order_relaxed)) * 1e-9) + "\n";
    o += "engram_http_request_stage_seconds_count" + stage + " " + std::to_string(cum) + "\n";
  }
  for (const auto& [name, series] : counters) {
    o += "# HELP " + name + " " + helps[name] + "\n# TYPE " + name + " counter\n";
    for (const auto& [labels, v] : series) o += name + fmt_labels(labels) + " " + fmt_g(v) + "\n";
  }
  for (const auto& [name, h] : hists) {
    o += "# HELP " + name + " " + helps[name] + "\n# TYPE " + name + " histogram\n";
    append_histogram(o, name, {}, h);
  }
  for (const auto& [name, fn] : gauges) {
    o += "# HELP " + name + " " + helps[name] + "\n# TYPE " + name + " gauge\n" + name + " " + fmt_g(fn()) + "\n";
  }
  return o;
}

std::string strip_per_space_series(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl == text.npos ? text.size() : nl + 1);
    text.remove_prefix(line.size());
    if (!line.starts_with("#")) {
      const auto brace = line.find('{');
      const auto close = line.find('}');
      if (brace != line.npos && close != line.npos) {
        const std::string_view labels = line.substr(brace, close - brace);
        if (labels.find("{space=\"") != labels.npos || labels.find(",space=\"") != labels.npos) continue;
      }
    }
    out += line;
  }
  return out;
}

}  // namespace engram::server

// Distributed traces: W3C trace context in, OpenTelemetry spans out over OTLP/HTTP (JSON).
//
// With --otlp-endpoint http://HOST:PORT/v1/traces, each sampled request becomes a SERVER span
// ("POST /api/v1/spaces/{space}/memories") whose parent is the caller's `traceparent` header, with
// child spans for the server's stages: `receive` (headers read, checks, body read), `queue` (the
// key's worker-pool budget, then a free worker thread), `handler` (the route's engine call) and,
// inside the handler, `parse` (the body's decode) and `wal.sync` (waiting for the write to be
// durable; engram/stage_trace.hpp). Attributes: method, route template, path, status, request
// id, space, key id. The response carries `traceresponse` (W3C Trace Context level 2) naming the
// server span, so a client without OpenTelemetry can still find its trace.
//
// Sampling is parent-based: a `traceparent` decides (its sampled flag); without one a request is
// sampled with probability --trace-sample-ratio. /health/* and /metrics are traced only when a
// sampled `traceparent` asks (a scraper would otherwise fill the backend).
//
// Export: a bounded queue (kQueueSpans) drained by one thread every --otlp-interval-s or when
// kBatchSpans are waiting, POSTed as an ExportTraceServiceRequest in OTLP's JSON encoding (ids in
// hex, 64-bit integers as strings). No OpenTelemetry C++ SDK is packaged for this machine's
// distribution and the protocol is small: this file is the whole exporter. A full queue or a
// failed POST drops spans (engram_trace_spans_dropped_total{reason}); a request never waits for
// the exporter. Plain HTTP only: TLS to a collector is a sidecar's job (docs/operations).
//
// Locking: mu_ guards the queue and the stop flag; the exporter thread takes it only to swap the
// queue out, and POSTs outside it. Sessions call submit() once per traced request.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "config.hpp"
#include "engram/thread_annotations.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace engram::server::tracing {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

// A parsed `traceparent` (W3C Trace Context): version 00, or a later version read as 00 (the
// recommendation's forward compatibility). nullopt when malformed, all-zero ids included.
struct TraceParent {
  TraceId trace_id{};
  SpanId span_id{};
  bool sampled = false;
};
std::optional<TraceParent> parse_traceparent(std::string_view header) noexcept;
std::string format_traceparent(const TraceId& trace, const SpanId& span, bool sampled);
std::string hex(const std::uint8_t* p, std::size_t n);
template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& a) {
  return hex(a.data(), N);
}

// Where spans go, parsed from --otlp-endpoint: http://host[:port][/path] (port 4318 and path
// /v1/traces, OTLP/HTTP's defaults, when left out). ConfigError for anything else.
struct Endpoint {
  std::string host;
  std::string port;
  std::string target;
};
Endpoint parse_endpoint(std::string_view url);

using AttrValue = std::variant<std::string, std::int64_t, double, bool>;
struct Attribute {
  std::string key;
  AttrValue value;
};

enum class SpanKind { Internal = 1, Server = 2 };

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  std::optional<SpanId> parent;
  std::string name;
  SpanKind kind = SpanKind::Internal;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  std::vector<Attribute> attributes;
  bool error = false;  // status ERROR (a 5xx answer), else UNSET
  std::string status_message;
};

// An ExportTraceServiceRequest in OTLP's JSON encoding: one resource (the server), one scope.
std::string encode_otlp_json(const std::vector<Span>& spans, const std::vector<Attribute>& resource);

// One request's trace: ids decided when it starts, stage times filled in as it goes.
struct RequestTrace {
  TraceId trace_id{};
  SpanId span_id{};  // the server span
  std::optional<SpanId> parent;
  std::int64_t start_ns = 0;
};

class Tracer {
 public:
  static constexpr std::size_t kQueueSpans = 16384;
  static constexpr std::size_t kBatchSpans = 512;

  // Starts the exporter thread when config.otlp_endpoint is set; otherwise enabled() is false.
  Tracer(const ServerConfig& config, ServerMetrics& metrics, JsonLog& log);
  ~Tracer();  // exports what is queued (bounded by the POST timeout), then stops
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  bool enabled() const noexcept { return enabled_; }
  // The sampling decision for a request that started at start_ns; nullopt: not traced.
  std::optional<RequestTrace> begin(std::optional<std::string_view> traceparent, bool exempt_route,
                                    std::int64_t start_ns) const;
  void submit(std::vector<Span> spans) EXCLUDES(mu_);
  static SpanId new_span_id();

 private:
  void run() EXCLUDES(mu_);
  bool post(const std::string& body, std::string& error) const;

  const bool enabled_;
  const double ratio_;
  const double interval_s_;
  Endpoint endpoint_;
  std::vector<Attribute> resource_;
  ServerMetrics& metrics_;
  JsonLog& log_;
  Mutex mu_;
  std::condition_variable_any cv_;
  std::vector<Span> queue_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace engram::server::tracing

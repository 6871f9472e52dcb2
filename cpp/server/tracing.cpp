#include "tracing.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <random>

#include "json_writer.hpp"

namespace engram::server::tracing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent
}

// Two hex digits as a byte, or -1.
int hex_byte(std::string_view s) noexcept {
  const int hi = hex_digit(s[0]);
  const int lo = hex_digit(s[1]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

template <std::size_t N>
bool parse_hex(std::string_view s, std::array<std::uint8_t, N>& out) noexcept {
  if (s.size() != 2 * N) return false;
  bool nonzero = false;
  for (std::size_t i = 0; i < N; ++i) {
    const int b = hex_byte(s.substr(2 * i, 2));
    if (b < 0) return false;
    out[i] = static_cast<std::uint8_t>(b);
    nonzero = nonzero || out[i] != 0;
  }
  return nonzero;  // all-zero ids are invalid
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 g{std::random_device{}()};
  return g;
}

template <std::size_t N>
void fill_random(std::array<std::uint8_t, N>& a) {
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      const std::uint64_t r = rng()();
      for (std::size_t j = 0; j < 8 && i + j < N; ++j) a[i + j] = static_cast<std::uint8_t>(r >> (8 * j));
    }
  } while (std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; }));
}

void write_attributes(JsonWriter& w, const std::vector<Attribute>& attrs) {
  w.key("attributes").begin_array();
  for (const auto& a : attrs) {
    w.begin_object().field("key", a.key).key("value").begin_object();
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) w.field("stringValue", v);
          // proto3's JSON mapping writes 64-bit integers as strings
          else if constexpr (std::is_same_v<T, std::int64_t>)
            w.field("intValue", std::to_string(v));
          else if constexpr (std::is_same_v<T, double>)
            w.field("doubleValue", v);
          else
            w.field("boolValue", v);
        },
        a.value);
    w.end_object().end_object();
  }
  w.end_array();
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "unknown";
  return std::string(buf.data());
}

}  // namespace

std::string hex(const std::uint8_t* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    s[2 * i] = kDigits[p[i] >> 4];
    s[2 * i + 1] = kDigits[p[i] & 15];
  }
  return s;
}

std::optional<TraceParent> parse_traceparent(std::string_view h) noexcept {
  // version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 = 55 characters
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const int version = hex_byte(h.substr(0, 2));
  const int flags = hex_byte(h.substr(53, 2));
  if (version < 0 || version == 0xff || flags < 0) return std::nullopt;  // ff: a forbidden version
  if (version == 0 && h.size() != 55) return std::nullopt;               // 00 has exactly these fields
  if (h.size() > 55 && h[55] != '-') return std::nullopt;                // a later version may append "-..."
  TraceParent tp;
  if (!parse_hex(h.substr(3, 32), tp.trace_id) || !parse_hex(h.substr(36, 16), tp.span_id)) return std::nullopt;
  tp.sampled = (flags & 1) != 0;
  return tp;
}

std::string format_traceparent(const TraceId& trace, const SpanId& span, bool sampled) {
  return "00-" + hex(trace) + "-" + hex(span) + (sampled ? "-01" : "-00");
}

Endpoint parse_endpoint(std::string_view url) {
  const auto bad = [&](const std::string& why) {
    return ConfigError("otlp_endpoint='" + std::string(url) + "': " + why +
                       "; expected http://HOST[:PORT][/PATH] (OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces)");
  };
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, 8) == "https://") throw bad("TLS to the collector is not supported (run a collector on loopback)");
  if (url.substr(0, kScheme.size()) != kScheme) throw bad("the scheme must be http");
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Endpoint e;
  e.target = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  if (e.target.empty() || e.target == "/") e.target = "/v1/traces";
  if (authority.empty()) throw bad("no host");
  if (authority.find('@') != std::string_view::npos) throw bad("credentials in the URL are not supported");
  if (authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) throw bad("unclosed '[' in the host");
    e.host = std::string(authority.substr(1, close - 1));
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') throw bad("junk after the host");
    e.port = authority.empty() ? "4318" : std::string(authority.substr(1));
  } else {
    const auto colon = authority.rfind(':');
    e.host = std::string(authority.substr(0, colon));
    e.port = colon == std::string_view::npos ? "4318" : std::string(authority.substr(colon + 1));
  }
  if (e.host.empty()) throw bad("no host");
  int port = 0;
  for (const char c : e.port) {
    if (c < '0' || c > '9' || port > 65535) throw bad("the port must be a number from 1 to 65535");
    port = port * 10 + (c - '0');
  }
  if (e.port.empty() || port < 1 || port > 65535) throw bad("the port must be a number from 1 to 65535");
  return e;
}

std::string encode_otlp_json(const std::vector<Span>& spans, const std::vector<Attribute>& resource) {
  JsonWriter w;
  w.begin_object().key("resourceSpans").begin_array().begin_object();
  w.key("resource").begin_object();
  write_attributes(w, resource);
  w.end_object();
  w.key("scopeSpans").begin_array().begin_object();
  w.key("scope").begin_object().field("name", "engramd").field("version", ENGRAM_VERSION).end_object();
  w.key("spans").begin_array();
  for (const auto& s : spans) {
    w.begin_object().field("traceId", hex(s.trace_id)).field("spanId", hex(s.span_id));
    if (s.parent) w.field("parentSpanId", hex(*s.parent));
    w.field("name", s.name)
        .field("kind", static_cast<int>(s.kind))
        .field("startTimeUnixNano", std::to_string(s.start_ns))
        .field("endTimeUnixNano", std::to_string(std::max(s.end_ns, s.start_ns)));
    write_attributes(w, s.attributes);
    if (s.error) {
      w.key("status").begin_object().field("code", 2);  // STATUS_CODE_ERROR
      if (!s.status_message.empty()) w.field("message", s.status_message);
      w.end_object();
    }
    w.end_object();
  }
  w.end_array().end_object().end_array();
  w.end_object().end_array().end_object();
  return w.take();
}

Tracer::Tracer(const ServerConfig& config, ServerMetrics& metrics, JsonLog& log)
    : enabled_(config.otlp_endpoint.has_value()),
      ratio_(config.trace_sample_ratio),
      interval_s_(config.otlp_interval_s),
      metrics_(metrics),
      log_(log) {
  if (!enabled_) return;
  endpoint_ = parse_endpoint(*config.otlp_endpoint);
  resource_ = {{"service.name", std::string("engramd")},
               {"service.version", std::string(ENGRAM_VERSION)},
               {"host.name", host_name()},
               {"process.pid", static_cast<std::int64_t>(::getpid())}};
  metrics_.declare_counter("engram_trace_spans_exported_total", "Spans the collector accepted (OTLP/HTTP).");
  for (const char* reason : {"queue_full", "export_failed"}) {
    metrics_.inc("engram_trace_spans_dropped_total",
                 "Spans dropped: the export queue was full, or the collector refused or could not be reached.", 0.0,
                 {{"reason", reason}});
  }
  thread_ = std::thread([this] { run(); });
}

Tracer::~Tracer() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::optional<RequestTrace> Tracer::begin(std::optional<std::string_view> traceparent, bool exempt_route,
                                          std::int64_t start_ns) const {
  if (!enabled_) return std::nullopt;
  const auto parent = traceparent ? parse_traceparent(*traceparent) : std::nullopt;
  if (parent ? !parent->sampled : exempt_route) return std::nullopt;
  if (!parent && !(ratio_ >= 1.0 || std::uniform_real_distribution<double>(0.0, 1.0)(rng()) < ratio_)) {
    return std::nullopt;
  }
  RequestTrace t;
  if (parent) {
    t.trace_id = parent->trace_id;
    t.parent = parent->span_id;
  } else {
    fill_random(t.trace_id);
  }
  t.span_id = new_span_id();
  t.start_ns = start_ns;
  return t;
}

SpanId Tracer::new_span_id() {
  SpanId id{};
  fill_random(id);
  return id;
}

void Tracer::submit(std::vector<Span> spans) {
  if (!enabled_ || spans.empty()) return;
  std::size_t dropped = 0;
  bool wake = false;
  {
    MutexLock lock(mu_);
    const std::size_t room = kQueueSpans - std::min(kQueueSpans, queue_.size());
    dropped = spans.size() > room ? spans.size() - room : 0;
    for (std::size_t i = 0; i + dropped < spans.size(); ++i) queue_.push_back(std::move(spans[i]));
    wake = queue_.size() >= kBatchSpans;
  }
  if (dropped > 0) {
    metrics_.inc("engram_trace_spans_dropped_total", "", static_cast<double>(dropped), {{"reason", "queue_full"}});
  }
  if (wake) cv_.notify_one();
}

void Tracer::run() {
  double failed_logged_at = -1e18;
  std::uint64_t failures_unlogged = 0;
  for (;;) {
    std::vector<Span> batch;
    bool stopping = false;
    {
      MutexLock lock(mu_);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(interval_s_);
      while (!stop_ && queue_.size() < kBatchSpans && std::chrono::steady_clock::now() < deadline) {
        cv_.wait_until(mu_, deadline);
      }
      stopping = stop_;
      const std::size_t n = std::min(queue_.size(), kBatchSpans);
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
    }
    if (!batch.empty()) {
      std::string error;
      if (post(encode_otlp_json(batch, resource_), error)) {
        metrics_.inc("engram_trace_spans_exported_total", "", static_cast<double>(batch.size()));
      } else {
        metrics_.inc("engram_trace_spans_dropped_total", "", static_cast<double>(batch.size()),
                     {{"reason", "export_failed"}});
        // at most one log line a minute: an absent collector must not flood the log
        const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        ++failures_unlogged;
        if (now - failed_logged_at >= 60.0) {
          log_.warning("trace_export_failed",
                       {{"endpoint", "http://" + endpoint_.host + ":" + endpoint_.port + endpoint_.target},
                        {"error", error},
                        {"failures", static_cast<std::int64_t>(failures_unlogged)}});
          failed_logged_at = now;
          failures_unlogged = 0;
        }
        if (stopping) return;  // a collector that is down gets one try at shutdown, not one per batch
      }
    }
    if (stopping) {
      MutexLock lock(mu_);
      if (queue_.empty()) return;  // else export the rest (bounded: nothing is added once draining ends)
    }
  }
}

bool Tracer::post(const std::string& body, std::string& error) const {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(5));
    stream.connect(resolver.resolve(endpoint_.host, endpoint_.port));
    http::request<http::string_body> req{http::verb::post, endpoint_.target, 11};
    req.set(http::field::host, endpoint_.host + ":" + endpoint_.port);
    req.set(http::field::content_type, "application/json");
    req.set(http::field::user_agent, std::string("engramd/") + ENGRAM_VERSION);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    if (res.result_int() / 100 != 2) {
      error = "HTTP " + std::to_string(res.result_int()) + ": " + res.body().substr(0, 200);
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

}  // namespace engram::server::tracing

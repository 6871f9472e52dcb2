// The HTTP target of the open-loop executor (http_target.hpp), on Boost.Beast/Asio: one io_context,
// `connections` sessions each owning one keep-alive connection, driven by `threads` I/O threads.
#include "engram/http_target.hpp"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "engram/errors.hpp"
#include "engram/thread_annotations.hpp"

namespace engram {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

constexpr std::size_t kMaxErrorClasses = 64;  // beyond this, classes fold into "Other"
constexpr std::size_t kSampleChars = 300;

std::int64_t cpu_now(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Error class name -> small code, shared by all sessions. Bounded: at most kMaxErrorClasses names.
class ErrorRegistry {
 public:
  ErrorRegistry() {
    names_.emplace_back();
    samples_.emplace_back();
  }
  std::int16_t code(std::string_view name, std::string_view sample) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    for (std::size_t c = 1; c < names_.size(); ++c) {
      if (names_[c] == name) return static_cast<std::int16_t>(c);
    }
    if (names_.size() >= kMaxErrorClasses) name = "Other";
    for (std::size_t c = 1; c < names_.size(); ++c) {
      if (names_[c] == name) return static_cast<std::int16_t>(c);
    }
    names_.emplace_back(name);
    samples_.emplace_back(sample.substr(0, kSampleChars));
    return static_cast<std::int16_t>(names_.size() - 1);
  }
  void export_to(HttpLoadOutcome& out) EXCLUDES(mu_) {
    MutexLock lock(mu_);
    out.error_classes = names_;
    out.error_samples = samples_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> names_ GUARDED_BY(mu_);
  std::vector<std::string> samples_ GUARDED_BY(mu_);
};

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

template <class T>
void append_number(std::string& out, T value) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
}

// RFC 4648 base64 with padding. Written here rather than taken from OpenSSL (EVP_EncodeBlock) so
// that the load generator, which is part of the Python module, needs no libcrypto.
void append_base64(std::string& out, const unsigned char* p, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.reserve(out.size() + (n + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t g = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kAlphabet[(g >> 18) & 63]);
    out.push_back(kAlphabet[(g >> 12) & 63]);
    out.push_back(kAlphabet[(g >> 6) & 63]);
    out.push_back(kAlphabet[g & 63]);
  }
  if (const std::size_t rest = n - i; rest > 0) {
    const std::uint32_t g = (std::uint32_t{p[i]} << 16) | (rest == 2 ? std::uint32_t{p[i + 1]} << 8 : 0);
    out.push_back(kAlphabet[(g >> 18) & 63]);
    out.push_back(kAlphabet[(g >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(g >> 6) & 63] : '=');
    out.push_back('=');
  }
}

// The embedding as the body's encoding wants it. JSON: the shortest round-trip text of each float;
// a non-finite value becomes null, which the server refuses (counted as an error, as it should be).
// base64: the float32 bytes, little-endian (this target is built for little-endian hosts only).
void append_embedding(std::string& out, const float* v, std::size_t dim, EmbeddingEncoding encoding) {
  static_assert(std::endian::native == std::endian::little, "base64 bodies carry little-endian float32");
  switch (encoding) {
    case EmbeddingEncoding::JsonArray:
      out.push_back('[');
      for (std::size_t j = 0; j < dim; ++j) {
        if (j) out.push_back(',');
        if (std::isfinite(v[j])) {
          append_number(out, v[j]);
        } else {
          out.append("null");
        }
      }
      out.push_back(']');
      return;
    case EmbeddingEncoding::Base64:
      out.push_back('"');
      append_base64(out, reinterpret_cast<const unsigned char*>(v), dim * sizeof(float));
      out.push_back('"');
      return;
  }
}

// The error body's machine code: {"error": {"code": "...", ...}}; "" when absent.
std::string_view error_code_of(std::string_view body) {
  constexpr std::string_view key = "\"code\"";
  const auto at = body.find(key);
  if (at == std::string_view::npos) return {};
  auto p = body.find('"', body.find(':', at + key.size()));
  if (p == std::string_view::npos) return {};
  const auto end = body.find('"', p + 1);
  if (end == std::string_view::npos || end - p - 1 > 64) return {};
  return body.substr(p + 1, end - p - 1);
}

// `{"<vector field>": <embedding>,"k": k` -- the open head that search and recall bodies share.
void append_query(std::string& body, std::string_view head, const float* vec, std::size_t dim,
                  EmbeddingEncoding encoding, std::int32_t k) {
  body.append(head);
  append_embedding(body, vec, dim, encoding);
  body.append(",\"k\":");
  append_number(body, k);
}

// The JSON body of operation i (API v1); false when the operation has no route in this target.
bool encode_body(const LoadSchedule& s, std::size_t i, EmbeddingEncoding encoding, std::string& body) {
  const float* vec = s.vectors.data() + i * s.dim;
  const std::int32_t k = s.k.empty() ? 10 : std::max<std::int32_t>(1, s.k[i]);
  body.clear();
  const auto op = static_cast<LoadOp>(s.op[i]);
  switch (op) {
    case LoadOp::Remember: {
      const float c = s.confidence.empty() || std::isnan(s.confidence[i]) ? 1.0f : s.confidence[i];
      body.append("{\"embedding\":");
      append_embedding(body, vec, s.dim, encoding);
      body.append(",\"content\":\"load ");
      append_number(body, i);
      body.append("\",\"confidence\":");
      append_number(body, c);
      body.push_back('}');
      return true;
    }
    case LoadOp::Search:
      append_query(body, "{\"embedding\":", vec, s.dim, encoding, k);
      body.push_back('}');
      return true;
    case LoadOp::RecallEpisodic:
    case LoadOp::RecallSemantic:
    case LoadOp::RecallBlended: {
      const float th = s.threshold.empty() || std::isnan(s.threshold[i]) ? 0.0f : s.threshold[i];
      append_query(body, "{\"cue\":", vec, s.dim, encoding, k);
      body.append(op == LoadOp::RecallEpisodic   ? ",\"mode\":\"episodic\""
                  : op == LoadOp::RecallSemantic ? ",\"mode\":\"semantic\""
                                                 : ",\"mode\":\"blended\"");
      body.append(",\"threshold\":");
      append_number(body, th);
      body.push_back('}');
      return true;
    }
    default: return false;
  }
}

// Serialises the bodies of the first operations, as many as `budget_bytes` holds, on `threads`
// threads, before the clock starts: encoding a 768-d JSON array costs ~65 us of CPU, which would
// otherwise compete with the server during the run.
std::vector<std::string> prebuild_bodies(const LoadSchedule& s, const HttpLoadOptions& o) {
  const std::size_t per_op = s.dim * 16 + 128;  // an upper estimate of one body's size
  const std::size_t count = std::min(s.start_ns.size(), o.prebuild_bytes / per_op);
  std::vector<std::string> bodies(count);
  const unsigned workers = std::max(1u, std::min(o.threads + 1, 8u));
  std::atomic<std::size_t> next{0};
  {
    std::vector<std::jthread> pool;
    for (unsigned w = 0; w < workers; ++w) {
      pool.emplace_back([&] {
        for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
          encode_body(s, i, o.encoding, bodies[i]);
        }
      });
    }
  }
  return bodies;
}

struct Targets {
  std::string memories, recall, search;
};

// State shared by every session of one run.
struct Run {
  Run(const LoadSchedule& schedule, const HttpLoadOptions& options, HttpLoadOutcome& outcome)
      : s(schedule), o(options), out(outcome) {}

  const LoadSchedule& s;
  const HttpLoadOptions& o;
  std::vector<Targets> targets;       // per space index
  std::vector<std::string> prebuilt;  // bodies of operations [0, size()), serialised before the run
  std::string host_header;
  std::string authorization;
  tcp::endpoint endpoint;
  SteadyClock::time_point t0;
  HttpLoadOutcome& out;
  ErrorRegistry errors;
  std::atomic<std::size_t> cursor{0};
  std::atomic<std::int64_t> last_end{0};
  std::atomic<std::int64_t> connections_opened{0};
  std::atomic<std::int64_t> bytes_sent{0};
  std::atomic<std::int64_t> bytes_received{0};
  // Sessions still working; the last one to finish wakes the caller.
  Mutex done_mu;
  std::condition_variable_any done_cv;
  unsigned active GUARDED_BY(done_mu) = 0;

  bool past_deadline(SteadyClock::time_point now) const { return o.deadline_ns > 0 && now - t0 > Nanos(o.deadline_ns); }
  void finished_one() EXCLUDES(done_mu) {
    MutexLock lock(done_mu);
    if (--active == 0) done_cv.notify_all();
  }
};

// One keep-alive connection and the operation it is serving. All of a session's handlers form one
// chain (at most one asynchronous operation outstanding), so no two run at once.
class Session {
 public:
  Session(asio::io_context& ioc, Run& run) : run_(run), stream_(ioc), timer_(ioc) {
    req_.version(11);
    req_.method(http::verb::post);
    req_.set(http::field::host, run.host_header);
    req_.set(http::field::content_type, "application/json");
    req_.set(http::field::user_agent, "engram-loadgen");
    if (!run.authorization.empty()) req_.set(http::field::authorization, run.authorization);
  }

  void start() { next(); }

 private:
  void next() {
    const std::size_t n = run_.s.start_ns.size();
    for (;;) {  // bounded: each pass claims one operation
      i_ = run_.cursor.fetch_add(1, std::memory_order_relaxed);
      if (i_ >= n || run_.past_deadline(SteadyClock::now())) {
        run_.cursor.store(n, std::memory_order_relaxed);  // the rest stay NotStarted
        close();
        run_.finished_one();
        return;
      }
      intended_ = run_.t0 + Nanos(run_.s.start_ns[i_]);
      if (prepare()) break;
      run_.out.actual_start_ns[i_] = std::chrono::duration_cast<Nanos>(SteadyClock::now() - run_.t0).count();
      record(SteadyClock::now(), run_.errors.code("Unsupported", "operation type has no HTTP route in this target"));
    }
    timer_.expires_at(intended_ - Nanos(run_.o.spin_ns));
    timer_.async_wait([this](const boost::system::error_code&) { due(); });
  }

  // Builds the request of operation i_; false when the operation has no route here.
  bool prepare() {
    const std::size_t i = i_;
    const LoadSchedule& s = run_.s;
    const Targets& t = run_.targets[static_cast<std::size_t>(s.space[i])];
    const auto op = static_cast<LoadOp>(s.op[i]);
    if (op == LoadOp::Remember) {
      req_.target(t.memories);
    } else if (op == LoadOp::Search) {
      req_.target(t.search);
    } else if (op == LoadOp::RecallEpisodic || op == LoadOp::RecallSemantic || op == LoadOp::RecallBlended) {
      req_.target(t.recall);
    } else {
      return false;
    }
    if (i < run_.prebuilt.size()) {
      req_.body().swap(run_.prebuilt[i]);  // serialised before the run; the old buffer goes back
    } else {
      encode_body(s, i, run_.o.encoding, req_.body());
    }
    req_.prepare_payload();
    return true;
  }

  void due() {
    // The timer woke spin_ns early (or late); spin the rest so the wake-up's jitter is not charged.
    while (SteadyClock::now() < intended_) std::this_thread::yield();
    const auto began = SteadyClock::now();
    run_.out.actual_start_ns[i_] = std::chrono::duration_cast<Nanos>(began - run_.t0).count();
    if (stream_.socket().is_open()) {
      stream_.expires_at(began + Nanos(run_.o.request_timeout_ns));
      send();
      return;
    }
    stream_.expires_at(began + Nanos(std::min(run_.o.connect_timeout_ns, run_.o.request_timeout_ns)));
    run_.connections_opened.fetch_add(1, std::memory_order_relaxed);
    stream_.async_connect(run_.endpoint, [this, began](const boost::system::error_code& ec) {
      if (ec) return fail(ec == beast::error::timeout ? "ConnectTimeout" : "ConnectError", ec.message());
      boost::system::error_code ignored;
      stream_.socket().set_option(tcp::no_delay(true), ignored);
      stream_.expires_at(began + Nanos(run_.o.request_timeout_ns));
      send();
    });
  }

  void send() {
    http::async_write(stream_, req_, [this](const boost::system::error_code& ec, std::size_t bytes) {
      run_.bytes_sent.fetch_add(static_cast<std::int64_t>(bytes), std::memory_order_relaxed);
      if (ec) return fail_transport(ec);
      parser_.emplace();
      parser_->body_limit(run_.o.max_response_bytes);
      http::async_read(stream_, buffer_, *parser_, [this](const boost::system::error_code& rec, std::size_t got) {
        run_.bytes_received.fetch_add(static_cast<std::int64_t>(got), std::memory_order_relaxed);
        if (rec) return fail_transport(rec);
        received();
      });
    });
  }

  void received() {
    const auto ended = SteadyClock::now();
    const auto& res = parser_->get();
    const unsigned status = res.result_int();
    std::int16_t code = 0;
    if (status < 200 || status >= 300) {
      std::string name = "HTTP " + std::to_string(status);
      const auto api_code = error_code_of(res.body());
      if (!api_code.empty()) name += " " + std::string(api_code);
      code = run_.errors.code(name, res.body());
    }
    if (!res.keep_alive()) close();
    parser_.reset();
    record(ended, code);
    next();
  }

  void fail_transport(const boost::system::error_code& ec) {
    if (ec == beast::error::timeout) return fail("Timeout", "no complete response within the request timeout");
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::broken_pipe) {
      return fail("ConnectionClosed", ec.message());
    }
    if (ec == http::error::body_limit) return fail("ResponseTooLarge", ec.message());
    fail("TransportError", ec.message());
  }

  void fail(std::string_view name, const std::string& message) {
    const auto ended = SteadyClock::now();
    close();  // a failed connection is never reused: the next operation reconnects
    record(ended, run_.errors.code(name, message));
    next();
  }

  void record(SteadyClock::time_point ended, std::int16_t code) {
    run_.out.latency_ns[i_] = std::chrono::duration_cast<Nanos>(ended - intended_).count();
    run_.out.error_code[i_] = code;
    const std::int64_t end_off = std::chrono::duration_cast<Nanos>(ended - run_.t0).count();
    std::int64_t prev = run_.last_end.load(std::memory_order_relaxed);
    while (prev < end_off && !run_.last_end.compare_exchange_weak(prev, end_off, std::memory_order_relaxed)) {
    }
  }

  void close() {
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    buffer_.clear();
  }

  Run& run_;
  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::size_t i_ = 0;
  SteadyClock::time_point intended_;
};

}  // namespace

bool http_load_available() { return true; }

HttpLoadOutcome run_schedule_http(const LoadSchedule& s, const std::vector<std::string>& space_names,
                                  const HttpLoadOptions& o) {
  const std::size_t n = s.start_ns.size();
  if (s.op.size() != n || s.space.size() != n || s.vectors.size() != n * s.dim || (!s.k.empty() && s.k.size() != n) ||
      (!s.threshold.empty() && s.threshold.size() != n) || (!s.confidence.empty() && s.confidence.size() != n)) {
    throw InvalidInputError("schedule arrays must all have one entry per operation (" + std::to_string(n) + ")");
  }
  if (space_names.empty()) throw InvalidInputError("space_names must name at least one space");
  for (std::size_t i = 0; i < n; ++i) {
    if (s.space[i] < 0 || static_cast<std::size_t>(s.space[i]) >= space_names.size()) {
      throw InvalidInputError("operation " + std::to_string(i) + " names space index " + std::to_string(s.space[i]) +
                              "; expected 0.." + std::to_string(space_names.size() - 1));
    }
  }
  if (o.port == 0) throw InvalidInputError("port must be 1..65535; got 0");
  if (o.connections < 1 || o.connections > 4096) {
    throw InvalidInputError("connections must be 1..4096; got " + std::to_string(o.connections));
  }
  if (o.threads < 1 || o.threads > 64)
    throw InvalidInputError("threads must be 1..64; got " + std::to_string(o.threads));
  if (o.request_timeout_ns <= 0 || o.connect_timeout_ns <= 0 || o.spin_ns < 0 || o.deadline_ns < 0) {
    throw InvalidInputError("timeouts must be positive, spin_ns and deadline_ns non-negative");
  }

  HttpLoadOutcome out;
  out.actual_start_ns.assign(n, -1);
  out.latency_ns.assign(n, -1);
  out.error_code.assign(n, 0);

  asio::io_context ioc(static_cast<int>(o.threads));
  Run run(s, o, out);
  for (const auto& name : space_names) {
    const std::string base = o.base_path + "/api/v1/spaces/" + percent_encode(name);
    run.targets.push_back({base + "/memories", base + "/recall", base + "/search"});
  }
  {
    // Resolved once, before the clock starts: a name lookup is no part of any operation's latency.
    boost::system::error_code ec;
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) throw EngramError("cannot resolve '" + o.host + "': " + ec.message());
    run.endpoint = results.begin()->endpoint();
  }
  run.host_header = o.host + ":" + std::to_string(o.port);
  if (!o.api_key.empty()) run.authorization = "Bearer " + o.api_key;

  {
    const std::int64_t c0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
    run.prebuilt = prebuild_bodies(s, o);
    out.prebuild_cpu_ns = cpu_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    out.bodies_prebuilt = static_cast<std::int64_t>(run.prebuilt.size());
  }

  std::vector<std::unique_ptr<Session>> sessions;  // destroyed before ioc (declared after it)
  for (unsigned c = 0; c < o.connections; ++c) sessions.push_back(std::make_unique<Session>(ioc, run));
  {
    MutexLock lock(run.done_mu);
    run.active = o.connections;
  }

  const std::int64_t cpu0 = cpu_now(CLOCK_PROCESS_CPUTIME_ID);
  std::atomic<std::int64_t> io_cpu{0};
  run.t0 = SteadyClock::now() + std::chrono::milliseconds(20);  // lead-in: the first op is not late by setup
  for (auto& sess : sessions) {
    asio::post(ioc, [&sess] { sess->start(); });
  }
  {
    std::vector<std::jthread> pool;
    for (unsigned t = 0; t < o.threads; ++t) {
      pool.emplace_back([&ioc, &io_cpu] {
        // Timer slack 1 ns: the default 50 us slack would make every intended start late.
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        ioc.run();
        io_cpu.fetch_add(cpu_now(CLOCK_THREAD_CPUTIME_ID), std::memory_order_relaxed);
      });
    }
    // Hard bound on the run: the last start the deadline allows (or the schedule's last one), plus
    // one request's timeout, plus a margin. Normally every session has finished long before.
    const std::int64_t last_start = o.deadline_ns > 0 ? o.deadline_ns : (n ? s.start_ns[n - 1] : 0);
    const auto hard_stop = run.t0 + Nanos(last_start) + 2 * Nanos(o.request_timeout_ns) + std::chrono::seconds(5);
    {
      MutexLock lock(run.done_mu);
      while (run.active != 0) {  // bounded by hard_stop
        if (run.done_cv.wait_until(run.done_mu, hard_stop) == std::cv_status::timeout) break;
      }
    }
    ioc.stop();
  }  // I/O threads join here
  const auto end = SteadyClock::now();
  out.process_cpu_ns = cpu_now(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  out.io_thread_cpu_ns = io_cpu.load();
  for (std::size_t i = 0; i < n; ++i) {
    if (out.actual_start_ns[i] < 0) {
      out.error_code[i] = run.errors.code("NotStarted", "the run's deadline passed before the operation was sent");
    } else if (out.latency_ns[i] < 0) {
      out.error_code[i] = run.errors.code("Abandoned", "still in flight when the run's hard stop came");
      out.latency_ns[i] = std::chrono::duration_cast<Nanos>(end - (run.t0 + Nanos(s.start_ns[i]))).count();
    }
  }
  run.errors.export_to(out);
  out.wall_ns = run.last_end.load();
  out.connections_opened = run.connections_opened.load();
  out.bytes_sent = run.bytes_sent.load();
  out.bytes_received = run.bytes_received.load();
  return out;
}

}  // namespace engram

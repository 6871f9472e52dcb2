#include "http_server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <limits>
#include <optional>
#include <random>
#include <thread>

#include "api_error.hpp"
#include "api_version.hpp"
#include "context.hpp"
#include "engram/errors.hpp"
#include "engram/stage_trace.hpp"
#include "engram/validation.hpp"
#include "openapi.hpp"
#include "stream.hpp"

namespace engram::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

std::chrono::steady_clock::duration seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s));
}

bool valid_request_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool is_exempt(std::string_view path) { return path.starts_with("/health/") || path.starts_with("/metrics"); }

}  // namespace

struct HttpServer::Impl {
  explicit Impl(ServerState& s)
      : state(s),
        ioc(static_cast<int>(s.config.io_threads)),
        pool(static_cast<std::size_t>(s.config.worker_threads)),
        acceptor(ioc),
        signals(ioc),
        reload_timer(ioc),
        clock_timer(ioc),
        drain_timer(ioc) {}
  ~Impl() {
    if (streams) streams->stop(0.0);  // the writer thread posts to ioc: joined before ioc goes
  }
  ServerState& state;
  std::optional<ssl::context> tls;  // before ioc: sessions destroyed with ioc's handlers use it
  // WebSocket streams and their writer (stream.hpp); before ioc, as tls
  std::unique_ptr<StreamHub> streams = std::make_unique<StreamHub>(state);
  asio::io_context ioc;
  asio::thread_pool pool;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer reload_timer;
  asio::steady_timer clock_timer;  // the clock-skew watch, once a second
  asio::steady_timer drain_timer;
  std::atomic<int> exit_code{0};
  std::atomic<bool> opening{true};
  bool draining = false;  // touched by the signal handler chain only (one at a time)
  Clock::time_point drain_deadline;

  void accept();
  void refuse(tcp::socket socket);
  void on_signal(int sig);
  void arm_signals();
  void arm_reload();
  void reload_keys(bool forced);
  void arm_clock_watch();
  void drain_step();
  void finish(int code);
};

// ----------------------------------------------------------------------------------------------
// One connection. Derived (PlainSession, TlsSession) gives stream(); everything else is shared.
template <class Derived>
class Session {
 public:
  explicit Session(HttpServer::Impl& srv) : srv_(srv), st_(srv.state) { st_.connections.fetch_add(1); }
  ~Session() { st_.connections.fetch_sub(1); }

 protected:
  Derived& self() { return static_cast<Derived&>(*this); }
  auto& lowest() { return beast::get_lowest_layer(self().stream()); }

  // Waits for the first byte of the next request (idle timeout), then reads its header.
  void wait_request() {
    if (buffer_.size() > 0) {
      read_header();
      return;
    }
    lowest().expires_after(seconds(st_.config.idle_timeout_s));
    self().stream().async_read_some(buffer_.prepare(4096),
                                    [s = self().shared_from_this()](beast::error_code ec, std::size_t n) {
                                      if (ec) {
                                        if (ec == beast::error::timeout) s->count_timeout("idle");
                                        return s->close();
                                      }
                                      s->buffer_.commit(n);
                                      s->read_header();
                                    });
  }

  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(st_.config.max_header_bytes));
    // checked after authorisation (see on_header); not boost::none: Beast 1.74 compares a length
    // with an empty optional as "over the limit"
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest().expires_after(seconds(st_.config.header_timeout_s));
    http::async_read_header(self().stream(), buffer_, *parser_,
                            [s = self().shared_from_this()](beast::error_code ec, std::size_t) { s->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec == http::error::header_limit) {
      begin_request_bookkeeping("", "");
      route_label_ = "(unmatched)";
      return send_error(ApiError(431, "header_too_large",
                                 "request line and headers exceed the limit of " +
                                     std::to_string(st_.config.max_header_bytes) + " bytes"),
                        true);
    }
    if (ec) {
      st_.log.debug("header_read_failed", {{"error", ec.message()}});
      if (ec == beast::error::timeout) count_timeout("header");
      return close();
    }
    auto& req = parser_->get();
    const std::string_view target(req.target().data(), req.target().size());
    const auto q = target.find('?');
    begin_request_bookkeeping(std::string(req.method_string()), std::string(target.substr(0, q)));
    if (auto rid = req.find("x-request-id");
        rid != req.end() && valid_request_id(std::string_view(rid->value().data(), rid->value().size()))) {
      request_id_ = std::string(rid->value());
    } else {
      request_id_ = random_id();
    }
    body_pending_ = !parser_->is_done();
    if (beast::websocket::is_upgrade(req)) {
      if (auto space = StreamHub::stream_space(path_)) {  // stream.hpp authorises before accepting
        in_request_ = false;
        return srv_.streams->accept(std::move(self().stream()), parser_->release(), std::move(*space));
      }
    }
    if (path_.starts_with("/api/")) {  // the API version asked for (api_version.hpp)
      const auto hv = req.find("accept-version");
      try {
        path_ = negotiate_api_version(path_, hv == req.end() ? std::nullopt
                                                             : std::optional<std::string_view>(std::string_view(
                                                                   hv->value().data(), hv->value().size())));
        // errors before a route matches (404, 405) answer in the path's version too
        api_version_ = path_.starts_with("/api/v2/") ? 2 : path_.starts_with("/api/v1/") ? 1 : 0;
      } catch (const ApiError& e) {
        route_label_ = "(unmatched)";
        return send_error(e, body_pending_);
      }
    }
    const auto m = st_.routes.match(method_, path_);
    if (!m.route) {
      route_label_ = "(unmatched)";
      if (m.path_known) {
        Response r = error_response(ApiError(
            405, "method_not_allowed",
            preview(method_, 40) + " is not supported on " + path_ + "; this path serves " + allow_header(m.allow)));
        r.headers.emplace_back("Allow", allow_header(m.allow));
        close_after_ = close_after_ || body_pending_;
        return send_response(std::move(r));
      }
      return send_error(not_found_route(path_), body_pending_);
    }
    const Route& route = *m.route;
    route_label_ = route.path;
    api_version_ = route.version;
    exempt_ = is_exempt(path_);
    if (st_.tracer.enabled()) {
      const auto tp = req.find("traceparent");
      trace_ = st_.tracer.begin(
          tp == req.end() ? std::nullopt
                          : std::optional<std::string_view>(std::string_view(tp->value().data(), tp->value().size())),
          exempt_, start_ns_);
    }
    if (!exempt_) {
      const auto n = st_.inflight.load();
      if (n >= st_.config.max_inflight) {
        st_.metrics.inc("engram_server_overload_rejections_total", "Requests refused with 429 (too many in flight).");
        route_label_ = "(overloaded)";
        return send_error(ApiError(429, "overloaded",
                                   std::to_string(n) + " requests in flight (limit " +
                                       std::to_string(st_.config.max_inflight) + "); retry later",
                                   1.0),
                          body_pending_);
      }
      // milestone 11's backpressure on the write path (backpressure.hpp): writes are refused from
      // 90% of max_inflight so reads keep their room up to the limit
      auto& bp = st_.requests_pressure;
      if (route.role == Role::Write && !bp.admits_write(n)) {
        st_.metrics.inc("engram_server_write_backpressure_rejections_total",
                        "Writes refused with 429: requests in flight at 90% of max_inflight.");
        route_label_ = "(overloaded)";
        return send_error(
            ApiError(429, "overloaded",
                     std::to_string(n) + " requests in flight of " + std::to_string(st_.config.max_inflight) +
                         " (writes are refused from 90%); retry after the delay given",
                     bp.retry_after_s(n, 0.1)),
            body_pending_);
      }
      bp.update(st_.inflight.fetch_add(1) + 1);
      counted_inflight_ = true;
    }
    ctx_ = std::make_unique<RequestContext>(st_, route, request_id_);
    ctx_->method = method_;
    ctx_->path = path_;
    if (q != std::string_view::npos) ctx_->query = std::string(target.substr(q + 1));
    ctx_->params = std::move(m.params);
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      ctx_->headers.emplace_back(std::move(name), std::string(f.value()));
    }
    if (const std::string* sp = ctx_->params.get("space")) {
      ctx_->space = *sp;
      space_label_ = *sp;
    }
    try {
      if (route.role == Role::Public) {
        if (!st_.keys) ctx_->principal = anonymous_admin();
      } else {
        st_.require_ready();
        ctx_->principal = st_.principal(ctx_->header("authorization"));
        key_label_ = ctx_->principal->key_id;
        if (ctx_->space && !is_valid_space_name(*ctx_->space)) {
          throw ApiError(
              400, "invalid_input",
              "invalid space name '" + preview(*ctx_->space, 64) + "'; expected " + std::string(kSpaceNameRule));
        }
        ctx_->principal->authorize(route.role, ctx_->space, route.engine_wide);
        if (!st_.acquire_key_slot(key_label_)) {
          throw ApiError(429, "overloaded",
                         "key '" + key_label_ + "' has " + std::to_string(st_.config.max_connections_per_key) +
                             " requests in flight (its limit); retry later",
                         1.0);
        }
        key_slot_ = true;
      }
      // the declared length is refused before reading a byte of it
      if (const auto len = parser_->content_length();
          len && *len > static_cast<std::uint64_t>(st_.config.max_body_bytes)) {
        throw ApiError(413, "payload_too_large",
                       "request body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                           std::to_string(st_.config.max_body_bytes) + " bytes");
      }
      // the key's worker-pool budget (defect 9), before a byte of the body is read
      if (on_pool(route) && route.cost > 0 && ctx_->principal) {
        work_tenant_ = ctx_->principal->key_id;
        work_cost_ = route.cost;
        auto granted = [s = self().shared_from_this()] {
          asio::post(s->self().stream().get_executor(), [s] {
            s->work_held_ = true;
            s->granted_ns_ = engram::trace::unix_nanos();
            s->read_body();
          });
        };
        switch (st_.work.admit(work_tenant_, work_cost_, std::move(granted))) {
          case WorkAdmission::Decision::Run: work_held_ = true; break;
          case WorkAdmission::Decision::Queued:
            queued_ns_ = engram::trace::unix_nanos();
            st_.metrics.inc("engram_server_work_queued_total",
                            "Requests that waited for their key's worker-pool budget (expensive calls queue).");
            return;  // read_body() runs once the budget is granted
          case WorkAdmission::Decision::Refused:
            st_.metrics.inc("engram_server_work_refusals_total",
                            "Requests refused with 429: their key's worker-pool budget and queue were full.");
            throw ApiError(429, "overloaded",
                           "key '" + work_tenant_ + "' has used its worker-pool budget (" +
                               std::to_string(st_.work.budget()) + " units running, " +
                               std::to_string(st_.work.queue_limit()) + " requests waiting); this call costs " +
                               std::to_string(st_.work.charge(work_cost_)) + "; retry later",
                           1.0);
        }
      }
    } catch (const std::exception& e) {
      return send_exception(e, body_pending_);
    }
    read_body();
  }

  void read_body() {
    if (!body_pending_) return run_handler();
    body_begin_ns_ = engram::trace::unix_nanos();
    parser_->body_limit(static_cast<std::uint64_t>(st_.config.max_body_bytes));
    lowest().expires_after(seconds(st_.config.body_timeout_s));
    http::async_read(self().stream(), buffer_, *parser_,
                     [s = self().shared_from_this()](beast::error_code ec, std::size_t) { s->on_body(ec); });
  }

  void on_body(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return send_error(
          ApiError(413, "payload_too_large",
                   "request body exceeds the limit of " + std::to_string(st_.config.max_body_bytes) + " bytes"),
          true);
    }
    if (ec) {
      st_.log.debug("body_read_failed", {{"request_id", request_id_}, {"error", ec.message()}});
      // the client went away (or stalled past body_timeout_s) mid-body: not a server error
      if (ec == beast::error::timeout) {
        count_timeout("body");
        status_ = 408;
      } else {
        status_ = 499;  // nginx's "client closed request": logged and counted, never sent
        st_.metrics.inc("engram_server_client_aborts_total",
                        "Requests whose client disconnected before the whole request was received.");
      }
      end_request();
      return close();
    }
    body_pending_ = false;
    run_handler();
  }

  void run_handler() {
    if (body_begin_ns_ != 0) body_end_ns_ = engram::trace::unix_nanos();
    ctx_->body = std::move(parser_->get().body());
    const Route& route = ctx_->route;
    try {
      if (route.space_from) {
        ctx_->space = route.space_from(*ctx_);
        if (ctx_->space) space_label_ = *ctx_->space;
        if (route.role != Role::Public) ctx_->principal->authorize(route.role, ctx_->space, route.engine_wide);
      }
    } catch (const std::exception& e) {
      return send_exception(e, false);
    }
    if (!on_pool(route)) {
      return send_response(invoke());
    }
    pool_post_ns_ = engram::trace::unix_nanos();
    asio::post(srv_.pool, [s = self().shared_from_this()]() mutable {
      auto res = std::make_shared<Response>(s->invoke());
      // The pool's part is done: the key's next waiter may start while this response is written.
      // (No IO operation of this session is pending while its handler runs, so the flag is ours.)
      s->release_work();
      auto ex = s->self().stream().get_executor();
      asio::post(ex, [s, res]() mutable { s->send_response(std::move(*res)); });
    });
  }

  bool on_pool(const Route& route) const noexcept {
    return route.exec == Exec::Worker || (route.exec == Exec::DurableWrite && !st_.config.in_memory);
  }

  void release_work() {
    if (work_held_) st_.work.release(work_tenant_, work_cost_);  // may start this key's next waiter
    work_held_ = false;
  }

  // Runs the handler and maps anything it throws onto an error response.
  // Every request's stages are timed (a few clock reads), for engram_http_request_stage_seconds
  // and, when it is traced, its spans.
  Response invoke() {
    // the engine's stages (parse, wal.sync) are recorded on this thread (stage_trace.hpp)
    const engram::trace::ScopedRecorder recorder(&stages_);
    handler_start_ns_ = engram::trace::unix_nanos();
    Response r = invoke_handler();
    handler_end_ns_ = engram::trace::unix_nanos();
    return r;
  }

  Response invoke_handler() {
    try {
      return ctx_->route.handler(*ctx_);
    } catch (const std::exception& e) {
      return exception_response(e);
    }
  }

  Response exception_response(const std::exception& e) {
    if (dynamic_cast<const StorageError*>(&e)) st_.log_storage_error(e.what());
    if (auto err = from_exception(e)) return error_response(*err);
    st_.log.error("internal_error",
                  {{"request_id", request_id_}, {"route", route_label_}, {"error", std::string(e.what())}});
    return error_response(
        ApiError(500, "internal", "internal error (request id " + request_id_ + "); the server log has details"));
  }

  Response error_response(const ApiError& err) {
    Response r = Response::json(error_body(err, request_id_, api_version_), err.status);
    if (err.retry_after_s) {
      r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(
                                                1, static_cast<std::int64_t>(std::ceil(*err.retry_after_s - 1e-9)))));
    }
    return r;
  }

  void send_exception(const std::exception& e, bool close_after) {
    close_after_ = close_after_ || close_after;
    send_response(exception_response(e));
  }
  void send_error(const ApiError& err, bool close_after) {
    close_after_ = close_after_ || close_after;
    send_response(error_response(err));
  }

  void send_response(Response r) {
    status_ = r.status;
    res_.emplace();
    res_->version(11);
    res_->result(static_cast<unsigned>(r.status));
    res_->set(http::field::content_type, r.content_type);
    res_->set("X-Request-Id", request_id_);
    for (const auto& [k, v] : api_version_headers(api_version_, st_.config.deprecated_sunset)) {
      res_->set(beast::string_view(k.data(), k.size()), beast::string_view(v.data(), v.size()));  // Boost's view
    }
    if (trace_) res_->set("traceresponse", tracing::format_traceparent(trace_->trace_id, trace_->span_id, true));
    for (auto& [k, v] : r.headers) res_->set(k, v);
    // the backpressure signal (critical from 80% of max_inflight): clients slow down before 429s
    if (const auto p = st_.requests_pressure.level(); p >= Pressure::Critical) {
      res_->set("X-Engram-Backpressure", std::string(pressure_name(p)));
    }
    res_->body() = std::move(r.body);
    const bool keep =
        !close_after_ && !body_pending_ && parser_ && parser_->get().keep_alive() && st_.phase() != Phase::Stopped;
    res_->keep_alive(keep);
    res_->prepare_payload();
    // A response to HEAD has the headers the GET would have (Content-Length included) and never a
    // body (RFC 9110 9.3.2): a body would be read as the start of the next response.
    if (head_) res_->body().clear();
    end_request();
    lowest().expires_after(seconds(std::max(st_.config.body_timeout_s, 1.0)));
    http::async_write(self().stream(), *res_, [s = self().shared_from_this(), keep](beast::error_code ec, std::size_t) {
      s->res_.reset();
      if (ec || !keep) return s->close();
      s->ctx_.reset();
      s->wait_request();
    });
  }

  void begin_request_bookkeeping(std::string method, std::string path) {
    t0_ = Clock::now();
    trace_.reset();
    start_ns_ = st_.tracer.enabled() ? engram::trace::unix_nanos() : 0;
    queued_ns_ = granted_ns_ = body_begin_ns_ = body_end_ns_ = pool_post_ns_ = handler_start_ns_ = handler_end_ns_ = 0;
    stages_.stages.clear();
    method_ = std::move(method);
    api_version_ = 0;
    head_ = method_ == "HEAD";
    path_ = std::move(path);
    route_label_ = "(unmatched)";
    space_label_.clear();
    key_label_.clear();
    status_ = 500;
    close_after_ = false;
    counted_inflight_ = false;
    key_slot_ = false;
    work_held_ = false;
    exempt_ = false;
    body_pending_ = false;
    in_request_ = true;
    request_id_ = random_id();
  }

  // Once per request: counters, the in-flight slot, metrics and the log line.
  void end_request() {
    if (!in_request_) return;
    in_request_ = false;
    if (counted_inflight_) {
      st_.requests_pressure.update(st_.inflight.fetch_sub(1) - 1);
      st_.requests_pressure.completed();
    }
    if (key_slot_) st_.release_key_slot(key_label_);
    release_work();
    counted_inflight_ = key_slot_ = false;
    const double dt = std::chrono::duration<double>(Clock::now() - t0_).count();
    // a client may send any token as a method: labels stay bounded to the methods HTTP defines
    const bool known_method = http::string_to_verb(method_) != http::verb::unknown;
    st_.metrics.observe_request(known_method ? method_ : "(other)", route_label_, status_, dt);
    if (status_ == 401 || status_ == 403)  // a series from 0 (state.cpp): alerts can take its increase()
      st_.metrics.inc("engram_server_auth_failures_total", "", 1.0, {{"status", std::to_string(status_)}});
    observe_stages();
    if (trace_) submit_trace();
    if (!exempt_ || status_ >= 400) {
      LogField space =
          space_label_.empty() ? LogField("space", std::optional<std::string>()) : LogField("space", space_label_);
      LogField key = key_label_.empty() ? LogField("key", std::optional<std::string>()) : LogField("key", key_label_);
      st_.log.info("request", {{"request_id", request_id_},
                               {"method", method_},
                               {"route", route_label_},
                               space,
                               {"status", status_},
                               {"latency_ms", std::round(dt * 1e6) / 1e3},
                               key});
    }
  }

  // The request's stage durations (metrics.hpp, RequestStage), from the times taken as it went.
  void observe_stages() {
    StageTimes t;
    t.fill(-1);
    auto at = [&t](RequestStage s) -> std::int64_t& { return t[static_cast<std::size_t>(s)]; };
    if (body_begin_ns_ && body_end_ns_) at(RequestStage::Receive) = body_end_ns_ - body_begin_ns_;
    std::int64_t queued = -1;
    if (queued_ns_ && granted_ns_) queued = granted_ns_ - queued_ns_;
    if (pool_post_ns_ && handler_start_ns_)
      queued = std::max<std::int64_t>(queued, 0) + handler_start_ns_ - pool_post_ns_;
    at(RequestStage::Queue) = queued;
    if (handler_start_ns_ && handler_end_ns_) {
      std::int64_t parse = 0, sync = 0, serialise = 0;
      for (const auto& st : stages_.stages) {
        const std::string_view name(st.name);
        if (name == "parse") parse += st.end_ns - st.start_ns;
        if (name == "wal.sync") sync += st.end_ns - st.start_ns;
      }
      if (ctx_ && ctx_->serialise_start_ns >= handler_start_ns_ && ctx_->serialise_start_ns <= handler_end_ns_)
        serialise = handler_end_ns_ - ctx_->serialise_start_ns;
      at(RequestStage::Parse) = parse;
      at(RequestStage::WalSync) = sync;
      at(RequestStage::Serialise) = serialise;
      at(RequestStage::Engine) =
          std::max<std::int64_t>(0, handler_end_ns_ - handler_start_ns_ - parse - sync - serialise);
    }
    st_.metrics.observe_stages(t);
  }

  // The request's server span and its stages' child spans, to the exporter (tracing.hpp).
  void submit_trace() {
    const auto& t = *trace_;
    const std::int64_t end = engram::trace::unix_nanos();
    std::vector<tracing::Span> spans;
    spans.reserve(6 + stages_.stages.size());
    tracing::Span server;
    server.trace_id = t.trace_id;
    server.span_id = t.span_id;
    server.parent = t.parent;
    server.name = method_ + " " + route_label_;
    server.kind = tracing::SpanKind::Server;
    server.start_ns = t.start_ns;
    server.end_ns = end;
    server.attributes = {{"http.request.method", method_},
                         {"http.route", route_label_},
                         {"url.path", path_},
                         {"http.response.status_code", static_cast<std::int64_t>(status_)},
                         {"engram.request_id", request_id_}};
    if (!space_label_.empty()) server.attributes.push_back({"engram.space", space_label_});
    if (!key_label_.empty()) server.attributes.push_back({"engram.key_id", key_label_});
    if (status_ >= 500) {
      server.error = true;
      server.status_message = "HTTP " + std::to_string(status_);
    }
    spans.push_back(std::move(server));  // first: the children below name it as their parent
    const auto child = [&](const tracing::SpanId& parent, const char* name, std::int64_t b, std::int64_t e,
                           std::vector<tracing::Attribute> attrs = {}) -> tracing::SpanId {
      tracing::Span c;
      c.trace_id = t.trace_id;
      c.span_id = tracing::Tracer::new_span_id();
      c.parent = parent;
      c.name = name;
      c.start_ns = b;
      c.end_ns = std::max(b, e);
      c.attributes = std::move(attrs);
      spans.push_back(std::move(c));
      return spans.back().span_id;
    };
    // checks: route, overload, auth, limits, up to the budget's queue or the body
    const std::int64_t checked = queued_ns_ ? queued_ns_ : (body_begin_ns_ ? body_begin_ns_ : handler_start_ns_);
    if (checked) child(t.span_id, "checks", t.start_ns, checked);
    if (queued_ns_ && granted_ns_)
      child(t.span_id, "queue", queued_ns_, granted_ns_, {{"engram.queue", std::string("key_budget")}});
    if (body_begin_ns_ && body_end_ns_) child(t.span_id, "receive", body_begin_ns_, body_end_ns_);
    if (pool_post_ns_ && handler_start_ns_) {
      child(t.span_id, "queue", pool_post_ns_, handler_start_ns_, {{"engram.queue", std::string("worker_pool")}});
    }
    if (handler_start_ns_ && handler_end_ns_) {
      const auto handler = child(t.span_id, "handler", handler_start_ns_, handler_end_ns_,
                                 {{"engram.exec", std::string(pool_post_ns_ ? "worker" : "inline")}});
      for (const auto& st : stages_.stages) child(handler, st.name, st.start_ns, st.end_ns);
    }
    st_.tracer.submit(std::move(spans));
    trace_.reset();
  }

  void count_timeout(const char* what) {
    st_.metrics.inc("engram_server_timeouts_total", "Connections closed for a slow header, slow body or idleness.", 1.0,
                    {{"phase", what}});
  }

  void close() {
    end_request();
    self().shutdown();
  }

  HttpServer::Impl& srv_;
  ServerState& st_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::unique_ptr<RequestContext> ctx_;
  Clock::time_point t0_;
  // tracing (tracing.hpp): the sampled request's ids and its stages' Unix times (0: not reached)
  std::optional<tracing::RequestTrace> trace_;
  engram::trace::StageRecorder stages_;
  std::int64_t start_ns_ = 0, queued_ns_ = 0, granted_ns_ = 0, body_begin_ns_ = 0, body_end_ns_ = 0, pool_post_ns_ = 0,
               handler_start_ns_ = 0, handler_end_ns_ = 0;
  int api_version_ = 0;  // of the matched route (0: none, or outside the API)
  std::string method_, path_, request_id_, route_label_, space_label_, key_label_, work_tenant_;
  std::int64_t work_cost_ = 0;
  int status_ = 500;
  bool close_after_ = false, counted_inflight_ = false, key_slot_ = false, exempt_ = false, body_pending_ = false,
       in_request_ = false, work_held_ = false, head_ = false;
};

class PlainSession : public Session<PlainSession>, public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(HttpServer::Impl& srv, tcp::socket&& socket) : Session(srv), stream_(std::move(socket)) {}
  beast::tcp_stream& stream() { return stream_; }
  void start() { wait_request(); }
  void shutdown() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.close();
  }

 private:
  friend class Session<PlainSession>;
  beast::tcp_stream stream_;
};

class TlsSession : public Session<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(HttpServer::Impl& srv, tcp::socket&& socket, ssl::context& ctx)
      : Session(srv), stream_(std::move(socket), ctx) {}
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void start() {
    beast::get_lowest_layer(stream_).expires_after(seconds(srv_.state.config.header_timeout_s));
    stream_.async_handshake(ssl::stream_base::server, [s = shared_from_this()](beast::error_code ec) {
      if (ec) return beast::get_lowest_layer(s->stream_).close();
      s->wait_request();
    });
  }
  void shutdown() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    stream_.async_shutdown(
        [s = shared_from_this()](beast::error_code) { beast::get_lowest_layer(s->stream_).close(); });
  }

 private:
  friend class Session<TlsSession>;
  beast::ssl_stream<beast::tcp_stream> stream_;
};

// ----------------------------------------------------------------------------------------------

void HttpServer::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      return accept();  // EMFILE and the like: keep accepting
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    if (state.connections.load() >= state.config.max_connections) {
      refuse(std::move(socket));
    } else if (tls) {
      std::make_shared<TlsSession>(*this, std::move(socket), *tls)->start();
    } else {
      std::make_shared<PlainSession>(*this, std::move(socket))->start();
    }
    accept();
  });
}

// A bounded refusal: one short 503 (plain text: the connection may speak TLS, which is not
// negotiated for a refused connection), then close.
void HttpServer::Impl::refuse(tcp::socket socket) {
  state.metrics.inc("engram_server_connections_refused_total", "Connections refused at max_connections.");
  const std::string id = random_id();
  ApiError err(
      503, "too_many_connections",
      "this server holds its limit of " + std::to_string(state.config.max_connections) + " connections; retry later",
      1.0);
  const std::string body = error_body(err, id);
  auto msg = std::make_shared<std::string>(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\n"
      "Engram-API-Version: 1\r\nX-Request-Id: " +
      id + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto sock = std::make_shared<tcp::socket>(std::move(socket));
  asio::async_write(*sock, asio::buffer(*msg), [sock, msg](beast::error_code, std::size_t) {
    beast::error_code ec;
    sock->shutdown(tcp::socket::shutdown_both, ec);
    sock->close(ec);
  });
}

void HttpServer::Impl::arm_signals() {
  signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec) return;
    on_signal(sig);
    arm_signals();
  });
}

void HttpServer::Impl::on_signal(int sig) {
  if (sig == SIGHUP) return reload_keys(true);
  if (draining) {
    if (sig == SIGINT) std::_Exit(130);  // a second Ctrl-C: the operator insists
    return;
  }
  draining = true;
  state.log.info("signal_received", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (state.phase() == Phase::Ready || state.phase() == Phase::Starting) state.set_phase(Phase::Draining);
  state.log.info("drain_started", {{"inflight", static_cast<std::int64_t>(state.inflight.load())},
                                   {"streams", static_cast<std::int64_t>(streams->open_streams())}});
  // still accepting while draining: probes see 503 not_ready, clients get 503 shutting_down
  state.run_drain_hooks();
  drain_deadline = Clock::now() + seconds(state.config.drain_timeout_s);
  drain_step();
}

void HttpServer::Impl::drain_step() {
  // never close an engine while it is still opening; in-flight requests get drain_timeout_s
  // streams finish their queued observations (acked) and close with 1001 within the same deadline
  const bool busy = (state.inflight.load() > 0 || streams->open_streams() > 0) && Clock::now() < drain_deadline;
  if (opening.load() || busy) {
    drain_timer.expires_after(std::chrono::milliseconds(10));
    drain_timer.async_wait([this](beast::error_code ec) {
      if (!ec) drain_step();
    });
    return;
  }
  beast::error_code ignored;
  acceptor.close(ignored);
  reload_timer.cancel();
  asio::post(pool, [this] {
    const double left = std::chrono::duration<double>(drain_deadline - Clock::now()).count();
    streams->stop(std::max(0.0, left));  // the writer stores what is queued, then stops
    state.log.info("drain_finished", {{"streams_left", static_cast<std::int64_t>(streams->open_streams())},
                                      {"inflight_left", static_cast<std::int64_t>(state.inflight.load())}});
    if (state.phase() != Phase::Failed) state.close_engine();
    asio::post(ioc, [this] { finish(exit_code.load()); });
  });
}

void HttpServer::Impl::finish(int code) {
  exit_code.store(code);
  beast::error_code ignored;
  signals.cancel(ignored);
  acceptor.close(ignored);
  reload_timer.cancel();
  clock_timer.cancel();
  drain_timer.cancel();
  ioc.stop();
}

void HttpServer::Impl::arm_reload() {
  if (!state.keys) return;
  reload_timer.expires_after(seconds(state.config.key_reload_interval_s));
  reload_timer.async_wait([this](beast::error_code ec) {
    if (ec) return;
    reload_keys(false);
    arm_reload();
  });
}

void HttpServer::Impl::arm_clock_watch() {
  clock_timer.expires_after(seconds(1.0));
  clock_timer.async_wait([this](beast::error_code ec) {
    if (ec) return;
    if (const auto engine = state.engine_ptr()) {
      if (const auto step = state.clock_watch.observe(engine->clock().unheld_now())) {
        const char* direction = *step > 0 ? "forward" : "backward";
        state.metrics.inc("engram_clock_skew_detected_total",
                          "Steps of the engine clock against a steady clock of 1 s or more.", 1.0,
                          {{"direction", direction}});
        state.log.warning("clock_skew_detected", {{"step_s", std::round(*step * 1e3) / 1e3},
                                                  {"direction", direction},
                                                  {"offset_s", std::round(state.clock_watch.offset_s() * 1e3) / 1e3}});
      }
    }
    arm_clock_watch();
  });
}

void HttpServer::Impl::reload_keys(bool forced) {
  if (!state.keys) return;
  try {
    if (state.keys->reload(forced)) {
      state.log.info("api_keys_reloaded", {{"reason", forced ? "SIGHUP" : "file changed"},
                                           {"keys", static_cast<std::uint64_t>(state.keys->size())}});
      streams->keys_reloaded();  // a revoked key's open streams close now (defect 5)
    }
  } catch (const std::exception& e) {  // keep serving with the keys we have
    state.log.error("api_keys_reload_failed",
                    {{"reason", forced ? "SIGHUP" : "file changed"}, {"error", std::string(e.what())}});
  }
}

HttpServer::HttpServer(ServerState& state) : impl_(std::make_unique<Impl>(state)) {
  const auto& c = state.config;
  if (c.tls_cert) {
    impl_->tls.emplace(ssl::context::tls_server);
    auto& ctx = *impl_->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    ctx.use_certificate_chain_file(*c.tls_cert, ec);
    if (ec) throw std::runtime_error("cannot load tls_cert " + *c.tls_cert + ": " + ec.message());
    ctx.use_private_key_file(*c.tls_key, ssl::context::pem, ec);
    if (ec) throw std::runtime_error("cannot load tls_key " + *c.tls_key + ": " + ec.message());
  }
}

HttpServer::~HttpServer() = default;

bool HttpServer::tls() const noexcept { return impl_->tls.has_value(); }

void HttpServer::listen() {
  auto& a = impl_->acceptor;
  const auto& c = impl_->state.config;
  beast::error_code ec;
  const auto addr = asio::ip::make_address(c.host, ec);
  if (ec) throw std::runtime_error("host '" + c.host + "' is not an IP address: " + ec.message());
  const tcp::endpoint ep(addr, static_cast<unsigned short>(c.port));
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("could not listen on " + c.host + ":" + std::to_string(c.port) + ": " + ec.message());
}

unsigned short HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

int HttpServer::run() {
  auto& im = *impl_;
  im.signals.add(SIGTERM);
  im.signals.add(SIGINT);
  im.signals.add(SIGHUP);
  im.arm_signals();
  im.accept();
  im.arm_reload();
  im.arm_clock_watch();
  asio::post(im.pool, [&im] {
    im.state.open_engine();
    im.opening.store(false);
    if (im.state.phase() == Phase::Failed) asio::post(im.ioc, [&im] { im.finish(1); });
  });
  std::vector<std::thread> threads;
  for (std::int64_t i = 1; i < im.state.config.io_threads; ++i) threads.emplace_back([&im] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : threads) t.join();
  im.pool.join();
  im.streams->stop(0.0);  // after a failed open (no drain ran); idempotent
  return im.exit_code.load();
}

}  // namespace engram::server

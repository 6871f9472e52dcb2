#include "stream.hpp"

#include <boost/asio.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cmath>
#include <random>
#include <set>

#include "auth.hpp"
#include "engram/errors.hpp"
#include "engram/validation.hpp"
#include "json_reader.hpp"
#include "json_writer.hpp"
#include "router.hpp"
#include "state.hpp"

namespace engram::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::string_view kPrefixV1 = "/api/v1/spaces/";
constexpr std::string_view kPrefixV2 = "/api/v2/spaces/";
constexpr std::string_view kSuffix = "/stream";
constexpr std::size_t kMaxDim = 65536;  // the largest dimension a space may have (CreateSpace)
constexpr std::size_t kReadChunk = 64 * 1024;

bool retryable(std::string_view code) {
  return code == "overloaded" || code == "not_ready" || code == "shutting_down" || code == "storage_unavailable" ||
         code == "memory_pressure";  // resent after the delay: stored once memory is freed
}

ApiError api_error_of(const std::exception& e) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) return *api;
  if (auto err = from_exception(e)) return *err;
  return ApiError(500, "internal", "stream setup failed");
}

std::string reject_json(std::int64_t seq, const ApiError& err) {
  JsonWriter w;
  w.begin_object()
      .field("type", "reject")
      .field("seq", seq)
      .field("code", err.code)
      .field("message", std::string(err.what()));
  w.field("retryable", retryable(err.code));
  if (err.retry_after_s) w.field("retry_after_ms", static_cast<std::int64_t>(*err.retry_after_s * 1000.0));
  return w.end_object().take();
}

// The idempotency fingerprint of an observation: a reused key with another payload is a conflict.
std::string fingerprint(const Observation& o) {
  JsonWriter w;
  w.begin_array().value(o.content).value(o.confidence);
  if (o.timestamp) {
    w.value(*o.timestamp);
  } else {
    w.null();
  }
  auto md = o.metadata;
  std::sort(md.begin(), md.end());
  w.begin_array();
  for (const auto& [k, v] : md) w.begin_array().value(k).value(v).end_array();
  w.end_array().end_array();
  std::string data(reinterpret_cast<const char*>(o.embedding.data()), o.embedding.size() * sizeof(float));
  data.push_back('\0');
  data += w.str();
  return sha256_hex(data);
}

// One WebSocket connection. Every member is touched on the connection's strand only.
template <class Next>
class StreamSession : public StreamSessionHandle, public std::enable_shared_from_this<StreamSession<Next>> {
 public:
  StreamSession(StreamHub& hub, Next&& next, StreamTarget target)
      : hub_(hub),
        st_(hub.state),
        ws_(std::move(next)),
        space_(std::move(target.space)),
        ids_(target.ids),
        id_(random_id()) {
    st_.connections.fetch_add(1);
  }
  ~StreamSession() override {
    if (registered_) {
      hub_.remove(reg_id_);
      const double s = std::chrono::duration<double>(Clock::now() - t0_).count();
      st_.log.info("stream_closed",
                   {{"session", id_},
                    {"space", space_},
                    last_seq_ ? LogField("last_seq", *last_seq_) : LogField("last_seq", std::optional<std::string>()),
                    {"seconds", std::round(s * 1000) / 1000}});
    }
    st_.connections.fetch_sub(1);
  }

  void start(http::request<http::string_body>&& req) {
    req_ = std::move(req);
    beast::get_lowest_layer(ws_).expires_never();  // the websocket's own timeouts from here on
    auto to = websocket::stream_base::timeout::suggested(beast::role_type::server);
    to.idle_timeout = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(std::max(1.0, st_.config.idle_timeout_s)));
    to.keep_alive_pings = true;  // an idle but live client answers pings; a vanished one is closed
    ws_.set_option(to);
    ws_.read_message_max(0);  // bounded by on_read (max_body_bytes), which answers 4413 first
    ws_.auto_fragment(false);
    if (auto a = req_.find(http::field::authorization); a != req_.end()) authorization_ = std::string(a->value());
    // authorised before the upgrade is accepted, as every route is before its body is read
    std::optional<ApiError> refused;
    try {
      if (!is_valid_space_name(space_)) {
        throw ApiError(400, "invalid_input",
                       "invalid space name '" + preview(space_, 64) + "'; expected " + std::string(kSpaceNameRule));
      }
      Engine& engine = st_.require_ready();
      principal_ = st_.principal(authorization_);
      principal_->authorize(Role::Write, space_, false);
      dim_ = engine.space(space_)->dim();  // an unknown space is refused now, not per observation
    } catch (const std::exception& e) {
      refused = api_error_of(e);
    }
    ws_.async_accept(req_,
                     [s = this->shared_from_this(), refused](beast::error_code ec) { s->on_accept(ec, refused); });
  }

  void notify_flow() override {
    asio::post(ws_.get_executor(), [s = this->shared_from_this()] { s->maybe_flow(); });
  }

  void begin_drain() override {
    asio::post(ws_.get_executor(), [s = this->shared_from_this()] {
      if (s->draining_ || s->close_) return;
      s->draining_ = true;
      JsonWriter w;
      s->push(w.begin_object().field("type", "draining").field("outstanding", s->outstanding_).end_object().take());
      s->maybe_finish_drain();
    });
  }

  void recheck_key() override {
    asio::post(ws_.get_executor(), [s = this->shared_from_this()] {
      if (s->close_ || !s->st_.keys) return;
      try {
        auto p = s->st_.principal(s->authorization_);
        p->authorize(Role::Write, s->space_, false);
        s->principal_ = std::move(p);
      } catch (const std::exception& e) {
        const ApiError err = api_error_of(e);
        s->st_.log.info("stream_key_revoked", {{"session", s->id_}, {"space", s->space_}, {"code", err.code}});
        s->fatal(static_cast<std::uint16_t>(4000 + err.status), err.code,
                 std::string("this stream's key no longer grants it: ") + err.what());
      }
    });
  }

 private:
  struct Entry {
    bool ready = false;
    std::string msg;
    std::optional<std::pair<std::uint16_t, std::string>> close;  // a fatal error: close after it
  };

  void on_accept(beast::error_code ec, const std::optional<ApiError>& refused) {
    if (ec) {
      st_.log.debug("stream_upgrade_failed", {{"error", ec.message()}});
      return;
    }
    if (refused) {
      JsonWriter w;
      push(w.begin_object()
               .field("type", "error")
               .field("code", refused->code)
               .field("message", std::string(refused->what()))
               .end_object()
               .take());
      close_ = std::make_pair(static_cast<std::uint16_t>(4000 + refused->status), refused->code);
      stop_reading_ = true;
      return kick();
    }
    reg_id_ = hub_.add(this->weak_from_this());
    registered_ = true;
    t0_ = Clock::now();
    st_.log.info("stream_opened", {{"session", id_}, {"space", space_}, {"key", principal_->key_id}});
    JsonWriter w;
    push(w.begin_object()
             .field("type", "ready")
             .field("session", id_)
             .field("max_outstanding", st_.config.stream_max_outstanding)
             .field("queue_limit", st_.config.stream_queue_limit)
             .end_object()
             .take());
    do_read();
  }

  // ---------------------------------------------------------------------------------- reading
  void do_read() {
    ws_.async_read_some(rbuf_, kReadChunk,
                        [s = this->shared_from_this()](beast::error_code ec, std::size_t) { s->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) {  // the peer closed or vanished, or our close completed: nothing more to read
      if (ec != websocket::error::closed)
        st_.log.debug("stream_read_ended", {{"session", id_}, {"error", ec.message()}});
      stop_reading_ = true;
      return;
    }
    if (stop_reading_) return;  // after a fatal error or the drain's close: frames are dropped
    const auto limit = static_cast<std::size_t>(st_.config.max_body_bytes);
    if (rbuf_.size() > limit) {
      return fatal(4413, "payload_too_large",
                   "message of more than " + std::to_string(limit) + " bytes exceeds the limit of " +
                       std::to_string(limit) + " bytes");
    }
    if (!ws_.is_message_done()) return do_read();
    const bool binary = ws_.got_binary();
    std::string text = beast::buffers_to_string(rbuf_.data());
    rbuf_.consume(rbuf_.size());
    on_message(binary, text);
    if (stop_reading_) return;
    // Answers waiting behind the writer (acks not yet due, and the rejects queued behind them in
    // seq order): past twice the outstanding limit, stop reading until they drain. The client's
    // sends then block on TCP, which is the backpressure a fixed-rate sender should feel; its
    // memory stays bounded, and a slow writer is not mistaken for a client that does not read.
    if (static_cast<std::int64_t>(pending_.size()) >= 2 * st_.config.stream_max_outstanding) {
      read_paused_ = true;
      st_.metrics.inc("engram_stream_read_pauses_total",
                      "Times a stream stopped reading because its answers waited behind the writer.");
      return;
    }
    do_read();
  }

  // Resumes a paused read once the answers due have come down to the outstanding limit.
  void maybe_resume_read() {
    if (read_paused_ && !stop_reading_ &&
        static_cast<std::int64_t>(pending_.size()) <= st_.config.stream_max_outstanding) {
      read_paused_ = false;
      do_read();
    }
  }

  void on_message(bool binary, const std::string& text) {
    const auto received = Clock::now();  // the staleness histogram's start (ingest.cpp)
    if (binary) return fatal(4400, "protocol_error", "send observations as JSON text frames, not binary");
    std::unique_ptr<JsonDocument> doc;
    try {
      doc = std::make_unique<JsonDocument>(text, "StreamObservation");
    } catch (const std::exception& e) {  // defect 13: never tied to an earlier seq
      return fatal(4400, "protocol_error", std::string("unreadable message: ") + e.what());
    }
    const auto root = doc->root();
    if (!root.is_object()) {
      return fatal(4400, "protocol_error",
                   "unreadable message: expected a JSON object with type 'observation', got " + describe(root));
    }
    ObjectReader o = doc->object();
    const auto seqv = o.get("seq");
    if (!seqv) return fatal(4400, "protocol_error", "unreadable message: seq: field required (an increasing integer)");
    // defect 15: seq is a JSON integer, never a string, boolean or fraction
    if (seqv->element().type() != simdjson::dom::element_type::INT64) {
      return fatal(4400, "protocol_error",
                   "unreadable message: seq: expected an integer in the int64 range, got " + describe(seqv->element()));
    }
    const std::int64_t seq = seqv->element().get_int64().value_unsafe();
    if (last_seq_ && seq <= *last_seq_) {
      return fatal(4400, "protocol_error",
                   "seq " + std::to_string(seq) + " does not follow " + std::to_string(*last_seq_) +
                       "; sequence numbers must increase");
    }
    last_seq_ = seq;
    Observation obs;
    obs.received = received;
    try {
      const auto type = o.required("type").as_string();
      if (type != "observation") {
        throw ApiError(400, "invalid_input", "type: expected 'observation', got '" + preview(type, 40) + "'");
      }
      obs.embedding = o.required("embedding").as_float_array(kMaxDim);
      if (auto c = o.opt_string("content")) obs.content = std::string(*c);
      if (auto c = o.opt_number("confidence", 0.0, 1.0)) obs.confidence = *c;
      obs.timestamp =
          o.opt_number("timestamp", -std::numeric_limits<double>::max(), std::numeric_limits<double>::max());
      if (auto md = o.get("metadata")) {
        const auto e = md->element();
        if (!e.is_object()) throw ApiError(400, "invalid_input", "metadata: expected an object, got " + describe(e));
        std::set<std::string_view> seen;
        // a copy: iterating get_object().value_unsafe() directly would dangle (the result is a temporary)
        const simdjson::dom::object fields = e.get_object().value_unsafe();
        for (auto field : fields) {
          if (!field.value.is_string()) {
            throw ApiError(400, "invalid_input",
                           "metadata." + std::string(field.key) + ": expected a string, got " + describe(field.value));
          }
          if (!seen.insert(field.key).second) {
            throw ApiError(400, "invalid_input", "metadata." + std::string(field.key) + ": duplicate key");
          }
          obs.metadata.emplace_back(std::string(field.key), std::string(field.value.get_string().value_unsafe()));
        }
      }
      if (auto k = o.opt_string("idempotency_key", 1, kMaxIdempotencyKeyBytes)) {
        obs.key = IdempotencyKey{std::string(*k), ""};
      }
      o.finish();
      if (obs.embedding.size() != dim_) {
        throw ApiError(400, "dimension_mismatch",
                       "embedding has " + std::to_string(obs.embedding.size()) + " dimensions; space '" + space_ +
                           "' expects " + std::to_string(dim_));
      }
    } catch (const ApiError& e) {
      return reject(seq, e);
    }
    accept(seq, std::move(obs));
  }

  void accept(std::int64_t seq, Observation obs) {
    const auto& cfg = st_.config;
    if (draining_ || st_.phase() != Phase::Ready) {
      return reject(seq, ApiError(503, "shutting_down", "the server is draining; resend elsewhere", 1.0));
    }
    try {  // memory admission (engine memory_budget.hpp): refused before it is queued
      (void)st_.engine_in_flight().memory().admit_write(0, "observation");
    } catch (const MemoryPressureError& e) {
      return reject(seq, *from_exception(e));
    }
    if (outstanding_ >= cfg.stream_max_outstanding) {
      return reject(seq,
                    ApiError(429, "overloaded",
                             std::to_string(outstanding_) + " observations of this stream await their ack (limit " +
                                 std::to_string(cfg.stream_max_outstanding) + "); wait for acks before sending more",
                             hub_.ingest.retry_after_s()));
    }
    // Answers due but unwritten: the socket is backed up because the client does not read them.
    if (static_cast<std::int64_t>(outbox_.size()) > 2 * cfg.stream_max_outstanding) {
      return fatal(4429, "overloaded", "the client is not reading its acks");
    }
    const std::uint64_t ord = next_ord_++;
    obs.space = space_;
    if (obs.key) obs.key->fingerprint = fingerprint(obs);
    obs.done = [s = this->shared_from_this(), ord](IngestOutcome r) {
      asio::post(s->ws_.get_executor(), [s, ord, r = std::move(r)]() mutable { s->on_outcome(ord, std::move(r)); });
    };
    pending_.emplace(ord, Entry{});
    try {
      hub_.ingest.submit(std::move(obs));
    } catch (const ApiError& e) {
      pending_.erase(ord);
      return reject(seq, e);
    }
    seq_of_[ord] = seq;
    ++outstanding_;
    maybe_flow();
  }

  void on_outcome(std::uint64_t ord, IngestOutcome r) {
    const auto it = pending_.find(ord);
    const std::int64_t seq = seq_of_[ord];
    seq_of_.erase(ord);
    --outstanding_;
    if (it != pending_.end()) {
      if (r.error) {
        count_reject(r.error->code);
        it->second.msg = reject_json(seq, *r.error);
      } else {
        st_.metrics.inc("engram_stream_acks_total", "Stream observations acknowledged.");
        JsonWriter w(ids_);
        it->second.msg = w.begin_object()
                             .field("type", "ack")
                             .field("seq", seq)
                             .field_id("id", r.id)
                             .field("replayed", r.replayed)
                             .end_object()
                             .take();
      }
      it->second.ready = true;
      flush_pending();
    }
    maybe_resume_read();
    maybe_flow();
    maybe_finish_drain();
  }

  void count_reject(const std::string& code) {
    st_.metrics.inc("engram_stream_rejects_total", "Stream observations rejected, by code.", 1.0, {{"code", code}});
  }

  void reject(std::int64_t seq, const ApiError& err) {
    count_reject(err.code);
    pending_.emplace(next_ord_++, Entry{true, reject_json(seq, err), std::nullopt});
    flush_pending();
    maybe_flow();
    maybe_finish_drain();
  }

  // A protocol error: sent after the answers already due, then the connection closes with code.
  void fatal(std::uint16_t code, const std::string& err_code, const std::string& message) {
    stop_reading_ = true;
    if (fatal_queued_ || close_) return;
    fatal_queued_ = true;
    JsonWriter w;
    w.begin_object().field("type", "error").field("code", err_code).field("message", message);
    w.field("close", static_cast<std::int64_t>(code)).end_object();
    pending_.emplace(next_ord_++, Entry{true, w.take(), std::make_pair(code, err_code)});
    flush_pending();
  }

  void flush_pending() {
    while (!pending_.empty() && pending_.begin()->second.ready) {
      Entry e = std::move(pending_.begin()->second);
      pending_.erase(pending_.begin());
      push(std::move(e.msg));
      if (e.close) {
        close_ = std::move(e.close);
        break;
      }
    }
    kick();
  }

  // The writer queue's backpressure level (backpressure.hpp), sent when it differs from the last
  // one this session sent: on each of its own events, and at once when the level changes
  // (StreamHub's hook posts notify_flow to every session). "at" is when the level changed (the
  // server's wall clock), so a client on the same host can tell how late it learnt of it.
  void maybe_flow() {
    const Pressure now = hub_.ingest.flow();
    if (now == flow_ || close_ || dead_) return;
    flow_ = now;
    const auto& bp = hub_.ingest.pressure();
    JsonWriter w;
    push(w.begin_object()
             .field("type", "flow")
             .field("state", pressure_name(now))
             .field("queue_depth", hub_.ingest.depth())
             .field("queue_limit", bp.capacity())
             .field("fill", bp.fill())
             .field("at", bp.changed_at_unix())
             .end_object()
             .take());
  }

  void maybe_finish_drain() {
    if (draining_ && outstanding_ == 0 && pending_.empty() && !close_) {
      close_ = std::make_pair(static_cast<std::uint16_t>(websocket::close_code::going_away),
                              std::string("server shutting down"));
      stop_reading_ = true;
      kick();
    }
  }

  // ---------------------------------------------------------------------------------- writing
  void push(std::string msg) {
    if (dead_) return;
    outbox_.push_back(std::move(msg));
    kick();
  }

  void kick() {
    if (writing_ || dead_) return;
    if (!outbox_.empty()) {
      writing_ = true;
      ws_.text(true);
      ws_.async_write(asio::buffer(outbox_.front()),
                      [s = this->shared_from_this()](beast::error_code ec, std::size_t) { s->on_write(ec); });
      return;
    }
    if (close_ && !closing_) {
      closing_ = true;
      writing_ = true;
      ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_->first), close_->second),
                      [s = this->shared_from_this()](beast::error_code) {
                        s->writing_ = false;
                        s->dead_ = true;
                      });
    }
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (ec) {  // the peer is gone: nothing more can be told
      dead_ = true;
      outbox_.clear();
      return;
    }
    outbox_.pop_front();
    kick();
  }

  StreamHub& hub_;
  ServerState& st_;
  websocket::stream<Next> ws_;
  http::request<http::string_body> req_;
  std::string space_;
  IdStyle ids_;  // memory ids in acks: numbers (API v1) or strings (v2)
  std::string id_;
  std::optional<std::string> authorization_;
  std::shared_ptr<const Principal> principal_;
  std::size_t dim_ = 0;
  beast::flat_buffer rbuf_;
  std::deque<std::string> outbox_;
  std::map<std::uint64_t, Entry> pending_;  // answers in seq order: ordinal -> answer (when ready)
  std::map<std::uint64_t, std::int64_t> seq_of_;
  std::uint64_t next_ord_ = 0;
  std::int64_t outstanding_ = 0;
  std::optional<std::int64_t> last_seq_;
  std::optional<std::pair<std::uint16_t, std::string>> close_;  // close after the outbox
  Pressure flow_ = Pressure::Normal;
  Clock::time_point t0_ = Clock::now();
  std::uint64_t reg_id_ = 0;
  bool registered_ = false, draining_ = false, stop_reading_ = false, fatal_queued_ = false, writing_ = false,
       closing_ = false, dead_ = false, read_paused_ = false;
};

}  // namespace

namespace {
constexpr const char* kStateHelp =
    "Writer queue backpressure: 0 normal, 1 warning (50%), 2 critical (80%, signalled), 3 overloaded (95%); "
    "writes are refused from 90%.";
}  // namespace

StreamHub::StreamHub(ServerState& st) : state(st), ingest(st) {
  state.metrics.gauge("engram_streaming_open_streams", "Open observation streams.",
                      [this] { return static_cast<double>(open_.load()); });
  state.metrics.gauge("engram_streaming_queue_depth", "Observations queued or being stored.",
                      [this] { return static_cast<double>(ingest.depth()); });
  state.metrics.gauge("engram_streaming_backpressure_state", kStateHelp,
                      [this] { return static_cast<double>(static_cast<int>(ingest.flow())); });
  state.metrics.gauge("engram_streaming_queue_fill_ratio", "Writer queue fill (queued / stream_queue_limit).",
                      [this] { return ingest.pressure().fill(); });
  ingest.pressure().on_change([this](Pressure) {
    std::vector<std::shared_ptr<StreamSessionHandle>> live;
    {
      MutexLock lock(mu_);
      for (auto& [id, w] : sessions_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->notify_flow();
  });
  state.metrics.declare_counter("engram_stream_acks_total", "Stream observations acknowledged.");
  state.on_drain([this] {
    std::vector<std::shared_ptr<StreamSessionHandle>> live;
    {
      MutexLock lock(mu_);
      for (auto& [id, w] : sessions_)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) s->begin_drain();
  });
}

StreamHub::~StreamHub() {
  stop(0.0);
  // the gauges must not outlive the hub
  state.metrics.gauge("engram_streaming_open_streams", "Open observation streams.", [] { return 0.0; });
  state.metrics.gauge("engram_streaming_queue_depth", "Observations queued or being stored.", [] { return 0.0; });
  state.metrics.gauge("engram_streaming_backpressure_state", kStateHelp, [] { return 0.0; });
  state.metrics.gauge("engram_streaming_queue_fill_ratio", "Writer queue fill (queued / stream_queue_limit).",
                      [] { return 0.0; });
}

std::optional<StreamTarget> StreamHub::stream_space(std::string_view path) {
  const bool v2 = path.starts_with(kPrefixV2);
  const std::string_view prefix = v2 ? kPrefixV2 : kPrefixV1;
  if (!path.starts_with(prefix) || !path.ends_with(kSuffix) || path.size() < prefix.size() + kSuffix.size()) {
    return std::nullopt;
  }
  const auto seg = path.substr(prefix.size(), path.size() - prefix.size() - kSuffix.size());
  if (seg.empty() || seg.find('/') != std::string_view::npos) return std::nullopt;
  return StreamTarget{percent_decode(seg), v2 ? IdStyle::String : IdStyle::Number};
}

void StreamHub::accept(beast::tcp_stream&& stream, http::request<http::string_body>&& req, StreamTarget target) {
  std::make_shared<StreamSession<beast::tcp_stream>>(*this, std::move(stream), std::move(target))
      ->start(std::move(req));
}

void StreamHub::accept(beast::ssl_stream<beast::tcp_stream>&& stream, http::request<http::string_body>&& req,
                       StreamTarget target) {
  std::make_shared<StreamSession<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(stream), std::move(target))
      ->start(std::move(req));
}

std::uint64_t StreamHub::add(std::weak_ptr<StreamSessionHandle> s) {
  MutexLock lock(mu_);
  const auto id = next_id_++;
  sessions_.emplace(id, std::move(s));
  open_.fetch_add(1);
  return id;
}

void StreamHub::remove(std::uint64_t id) {
  MutexLock lock(mu_);
  if (sessions_.erase(id) > 0) open_.fetch_sub(1);
}

void StreamHub::keys_reloaded() {
  std::vector<std::shared_ptr<StreamSessionHandle>> live;
  {
    MutexLock lock(mu_);
    for (auto& [id, w] : sessions_)
      if (auto s = w.lock()) live.push_back(std::move(s));
  }
  for (auto& s : live) s->recheck_key();
}

void StreamHub::stop(double timeout_s) {
  if (stopped_.exchange(true)) return;
  const bool drained = ingest.stop(timeout_s);
  state.log.info("ingest_stopped", {{"drained", drained}, {"stored", static_cast<std::uint64_t>(ingest.stored())}});
}

}  // namespace engram::server

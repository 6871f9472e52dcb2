// Streaming ingestion over a WebSocket: /api/v1/spaces/{space}/stream (API v1's
// URL and messages; docs/architecture.md, "Streams").
//
// Client -> server: text frames {"type": "observation", "seq": n, "embedding": [...], "content",
// "confidence", "timestamp", "metadata", "idempotency_key"}; seq is a JSON integer that increases
// on a connection. Server -> client, in seq order: {"type": "ack", "seq", "id", "replayed"} once
// the observation is stored (durable under the engine's mode and searchable), or {"type":
// "reject", "seq", "code", "message", "retryable"[, "retry_after_ms"]}. Out of band: {"type":
// "ready", "session", "max_outstanding", "queue_limit"} first, {"type": "flow", "state":
// normal|warning|critical|overloaded, "queue_depth", "queue_limit", "fill", "at"} when the writer
// queue's backpressure level changes (backpressure.hpp; critical is the signal to slow down,
// from 90% observations are rejected 429 with retry_after_ms), and {"type":
// "draining", "outstanding"} at shutdown, after which the server sends the remaining acks and
// closes with 1001. A message the server cannot tie to a sequence number (not JSON, not an
// object, no integer seq, seq not increasing, binary, too big, a client not reading its acks) is
// an {"type": "error", "code", "message", "close"} after the answers already due, then that close
// code (4400, 4413, 4429). Setup failures are an error message and close 4000 + HTTP status.
// Past stream_max_outstanding unacknowledged observations each new one is rejected (429,
// retryable); when the answers waiting behind the writer (acks not yet due and the rejects queued
// behind them) reach twice that, the session stops reading frames until they come down to the
// limit, so a sender outrunning the writer meets TCP backpressure rather than a close.
//
// The upgrade request is authorised before the upgrade is accepted, by the rules of every other
// route (space name, readiness, key, role write on the space, space exists); a refused upgrade
// is completed only to deliver the documented error and close code, and no session starts. A
// key's streams are re-authorised whenever the key file is reloaded (polled every
// key_reload_interval_s, or SIGHUP): a revoked or narrowed key's streams get an error and close
// 4401/4403 (issue 13, defect 5).
//
// Threading: each session runs on its connection's strand; the writer thread (ingest.hpp) posts
// outcomes there. The hub's mu_ guards the session registry and is a leaf.
#pragma once

#include <atomic>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engram/thread_annotations.hpp"
#include "ingest.hpp"
#include "json_writer.hpp"

namespace engram::server {

class ServerState;

// What a live session offers the hub (called on any thread; implementations post to their strand).
class StreamSessionHandle {
 public:
  virtual ~StreamSessionHandle() = default;
  virtual void begin_drain() = 0;
  virtual void notify_flow() = 0;  // the writer queue's backpressure level changed
  virtual void recheck_key() = 0;
};

// What a stream URL names: the space, and how acks write memory ids (by the path's API version).
struct StreamTarget {
  std::string space;
  IdStyle ids = IdStyle::Number;
};

class StreamHub {
 public:
  explicit StreamHub(ServerState& state);  // registers the drain hook and the stream gauges
  ~StreamHub();
  StreamHub(const StreamHub&) = delete;
  StreamHub& operator=(const StreamHub&) = delete;

  // The {space} of a stream URL (/api/v1|v2/spaces/{space}/stream, percent-decoded), or nullopt.
  static std::optional<StreamTarget> stream_space(std::string_view path);

  // Takes over a connection whose request is a WebSocket upgrade of a stream URL.
  void accept(boost::beast::tcp_stream&& stream, boost::beast::http::request<boost::beast::http::string_body>&& req,
              StreamTarget target);
  void accept(boost::beast::ssl_stream<boost::beast::tcp_stream>&& stream,
              boost::beast::http::request<boost::beast::http::string_body>&& req, StreamTarget target);

  std::int64_t open_streams() const noexcept { return open_.load(); }
  // After the key file was reloaded: every stream re-authorises its key.
  void keys_reloaded() EXCLUDES(mu_);
  // End of the drain (streams closed or the deadline passed): stops the writer, finishing what is
  // queued within timeout_s; logs ingest_stopped. Idempotent.
  void stop(double timeout_s);

  ServerState& state;
  Ingestor ingest;

  // Session bookkeeping (stream.cpp).
  std::uint64_t add(std::weak_ptr<StreamSessionHandle> s) EXCLUDES(mu_);
  void remove(std::uint64_t id) EXCLUDES(mu_);

 private:
  std::atomic<std::int64_t> open_{0};
  std::atomic<bool> stopped_{false};
  Mutex mu_;
  std::uint64_t next_id_ GUARDED_BY(mu_) = 0;
  std::map<std::uint64_t, std::weak_ptr<StreamSessionHandle>> sessions_ GUARDED_BY(mu_);
};

}  // namespace engram::server

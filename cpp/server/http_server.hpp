// The HTTP/1.1 server (Boost.Beast over Asio): the listener, one session per connection, and the
// request pipeline every route shares:
//   1. the request line and headers, bounded by max_header_bytes (431) and header_timeout_s;
//      a keep-alive connection waits at most idle_timeout_s for its next request;
//   2. request id, route match (404 route_not_found / 405), overload (429 at max_inflight;
//      /health/* and /metrics exempt), readiness (503), authentication (401) and authorisation
//      on the path's space and the route's role (403) -- all BEFORE any body byte is read, so
//      an unauthorised client's body is never read (the connection is closed after the answer);
//      then, for Exec::Worker routes, the key's worker-pool budget (admission.hpp: run, wait in
//      the key's queue, or 429);
//   3. the body, bounded by max_body_bytes (413, chunked too) and body_timeout_s; a client that
//      goes away mid-body is counted as a client abort, never a 500;
//   4. the handler: inline on the IO thread (Exec::Inline: short engine calls) or on the bounded
//      worker pool (Exec::Worker: anything that can block), the answer posted back to the session;
//   5. the response with X-Request-Id, Engram-API-Version and Retry-After; metrics; a log line.
// TLS (tls_cert/tls_key) wraps the same sessions. Connections beyond max_connections get a
// bounded 503 and are closed.
//
// Lifecycle (state.hpp): listen() binds first (/health/live answers at once); run() opens the
// engine on a worker, serves until SIGTERM/SIGINT, drains (503 for new requests, in-flight ones
// finish within drain_timeout_s, drain hooks run), checkpoints and closes the engine, and returns
// the exit code (0; 1 when the engine failed to open). SIGHUP reloads the key file.
//
// Threading: io_threads run the io_context; each session is bound to a strand, so its handlers
// never run concurrently. The worker pool is an asio::thread_pool of worker_threads.
#pragma once

#include <memory>

#include "state.hpp"

namespace engram::server {

class HttpServer {
 public:
  explicit HttpServer(ServerState& state);  // throws std::runtime_error on a bad TLS setup
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Binds and listens on config.host:config.port; throws std::runtime_error with the reason.
  void listen();
  unsigned short port() const;
  bool tls() const noexcept;
  int run();

  struct Impl;  // the sessions (http_server.cpp) reach it too

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace engram::server

// Everything one server process shares: configuration, log, metrics, keys, the engine, the route
// table and the lifecycle:
//   starting (listening, engine opening: live, not ready) -> ready -> draining (SIGTERM: new
//   requests get 503 shutting_down, in-flight ones finish) -> stopped (checkpointed, closed);
//   failed: the open failed, the process exits 1.
//
// Locking: phase_, inflight_ and connections_ are atomics. The engine pointer is written once,
// before phase_ becomes Ready (release), and read after an acquire load of phase_. mu_ guards the
// per-key in-flight counts and the drain hooks. Lock order: mu_ is a leaf (nothing is called
// while holding it).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "admission.hpp"
#include "auth.hpp"
#include "backpressure.hpp"
#include "backup.hpp"
#include "clock_watch.hpp"
#include "config.hpp"
#include "engram/engine.hpp"
#include "engram/thread_annotations.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "rollout.hpp"
#include "router.hpp"
#include "tracing.hpp"

namespace engram::server {

enum class Phase { Starting, Ready, Draining, Stopped, Failed };
std::string_view phase_name(Phase p) noexcept;

class ServerState {
 public:
  explicit ServerState(ServerConfig cfg);
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;

  const ServerConfig config;
  JsonLog log;
  ServerMetrics metrics;
  RouteTable routes;
  std::unique_ptr<KeyStore> keys;  // null with no_auth
  // Logs `storage_unavailable` (WARNING: the disk refused a write; the error names the cause) at
  // most once a second, with how many such errors were not logged since: a full disk refuses every
  // write and must not flood the log.
  void log_storage_error(const std::string& error);
  // Steps of the engine clock against a steady clock (clock_watch.hpp), checked once a second.
  ClockWatch clock_watch;
  // Per-key budget of worker-pool work (defect 9): taken before a Worker route's body is read.
  WorkAdmission work{config.work_budget_per_key, config.work_queue_per_key};
  // Milestone 11 backpressure of the HTTP requests in flight against max_inflight (writes refused
  // from 90%, the X-Engram-Backpressure signal from 80%).
  Backpressure requests_pressure{"requests", config.max_inflight, metrics, log};
  // Hot backups over HTTP (routes_backup.cpp): one at a time, counted for /metrics.
  BackupRunner backups;
  // Traces of sampled requests, exported over OTLP/HTTP when --otlp-endpoint is set (tracing.hpp).
  tracing::Tracer tracer{config, metrics, log};

  Phase phase() const noexcept { return phase_.load(std::memory_order_acquire); }
  void set_phase(Phase p) noexcept { phase_.store(p, std::memory_order_release); }
  // Opens the engine the configuration names (blocking: recovery); sets Ready or Failed.
  void open_engine();
  const std::string& open_error() const noexcept { return open_error_; }  // after Failed
  // Log lines for what recovery found (crash_detected, corruption_quarantined, ...).
  void log_recovery(const RecoveryInfo& r);
  // The engine for a new request: ApiError 503 not_ready / shutting_down otherwise.
  Engine& require_ready() const;
  // The engine for a request already admitted: available while draining, not once stopped.
  Engine& engine_in_flight() const;
  std::shared_ptr<Engine> engine_ptr() const noexcept;  // null until Ready
  // Checkpoint (durable) and close; logs engine_checkpoint and engine_closed.
  void close_engine();

  std::shared_ptr<const Principal> principal(std::optional<std::string_view> authorization) const;

  std::atomic<std::int64_t> inflight{0};
  std::atomic<std::int64_t> connections{0};
  // Per-key in-flight counts (max_connections_per_key); false when the key is at its limit.
  bool acquire_key_slot(const std::string& key_id) EXCLUDES(mu_);
  void release_key_slot(const std::string& key_id) EXCLUDES(mu_);

  // Hooks run once when the drain begins (the stream part tells its sessions to finish).
  void on_drain(std::function<void()> hook) EXCLUDES(mu_);
  void run_drain_hooks() EXCLUDES(mu_);

 private:
  std::atomic<Phase> phase_{Phase::Starting};
  std::atomic<double> storage_logged_at_{-1e18};  // steady seconds (log_storage_error)
  std::atomic<std::uint64_t> storage_unlogged_{0};
  std::shared_ptr<Engine> engine_;  // written once before Ready (see above)
  std::string open_error_;
  mutable Mutex mu_;
  std::unordered_map<std::string, std::int64_t> key_inflight_ GUARDED_BY(mu_);
  std::vector<std::function<void()>> drain_hooks_ GUARDED_BY(mu_);
};

}  // namespace engram::server

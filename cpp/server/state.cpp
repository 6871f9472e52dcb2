#include "state.hpp"

#include <chrono>
#include <cmath>

#include "api_error.hpp"
#include "engram/errors.hpp"
#include "engram/wal.hpp"
#include "json_writer.hpp"

namespace engram::server {

std::string_view phase_name(Phase p) noexcept {
  switch (p) {
    case Phase::Starting: return "starting";
    case Phase::Ready: return "ready";
    case Phase::Draining: return "draining";
    case Phase::Stopped: return "stopped";
    case Phase::Failed: return "failed";
  }
  return "?";
}

ServerState::ServerState(ServerConfig cfg) : config(std::move(cfg)), log(parse_log_level(config.log_level)) {
  if (!config.no_auth) keys = std::make_unique<KeyStore>(*config.api_keys);
  auto& m = metrics;
  const double started = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  m.gauge("engram_server_start_time_seconds", "Unix time the server process started (recovery follows).",
          [started] { return started; });
  m.gauge("engram_server_inflight_requests", "HTTP requests being served.",
          [this] { return static_cast<double>(inflight.load()); });
  m.gauge("engram_server_open_connections", "Open HTTP connections.",
          [this] { return static_cast<double>(connections.load()); });
  m.gauge("engram_server_ready", "1 once the engine is open and recovered.",
          [this] { return phase() == Phase::Ready ? 1.0 : 0.0; });
  m.gauge("engram_api_keys", "API keys loaded.", [this] { return keys ? static_cast<double>(keys->size()) : 0.0; });
  // The stream part (issue 13) replaces these with its queue's figures; until then no stream exists.
  m.gauge("engram_streaming_open_streams", "Open observation streams.", [] { return 0.0; });
  m.gauge("engram_streaming_queue_depth", "Observations queued or being stored.", [] { return 0.0; });
  m.gauge("engram_streaming_backpressure_state", "Writer queue backpressure level (0-3; no stream part yet).",
          [] { return 0.0; });
  m.gauge("engram_server_backpressure_state",
          "Requests in flight against max_inflight: 0 normal, 1 warning (50%), 2 critical (80%, signalled), "
          "3 overloaded (95%); writes are refused from 90%.",
          [this] { return static_cast<double>(static_cast<int>(requests_pressure.level())); });
  m.gauge("engram_server_inflight_fill_ratio", "Requests in flight / max_inflight.",
          [this] { return requests_pressure.fill(); });
  m.declare_counter("engram_server_write_backpressure_rejections_total",
                    "Writes refused with 429: requests in flight at 90% of max_inflight.");
  m.declare_counter("engram_server_overload_rejections_total", "Requests refused with 429 (too many in flight).");
  m.declare_counter("engram_server_client_aborts_total",
                    "Requests whose client disconnected before the whole request was received.");
  m.declare_counter("engram_server_connections_refused_total", "Connections refused at max_connections.");
  m.declare_counter("engram_server_timeouts_total", "Connections closed for a slow header, slow body or idleness.");
  m.declare_counter("engram_server_work_queued_total",
                    "Requests that waited for their key's worker-pool budget (expensive calls queue).");
  m.declare_counter("engram_server_work_refusals_total",
                    "Requests refused with 429: their key's worker-pool budget and queue were full.");
  for (const char* status : {"401", "403"})  // declared at 0: a burst of refusals is an increase() from 0
    m.inc("engram_server_auth_failures_total",
          "Requests refused for their API key: 401 unknown or missing, 403 not granted.", 0.0, {{"status", status}});
  for (const char* outcome : {"ok", "failed"})  // both series from the start: alerts take increase() of them
    m.inc("engram_backup_runs_total", "Hot backups over HTTP by outcome (ok, failed).", 0.0, {{"outcome", outcome}});
  m.gauge("engram_backup_last_success_timestamp_seconds", "Unix time of the last successful backup (0: none yet).",
          [this] { return backups.last_success_unix(); });
  m.gauge("engram_backup_last_failure_timestamp_seconds", "Unix time of the last failed backup (0: none yet).",
          [this] { return backups.last_failure_unix(); });
  m.gauge("engram_backup_last_duration_seconds", "Duration of the last successful backup.",
          [this] { return backups.last_seconds(); });
  m.gauge("engram_backup_running", "1 while a backup runs.", [this] { return backups.running() ? 1.0 : 0.0; });
  for (const char* direction : {"forward", "backward"})  // labelled as counted, from 0 (alerts take increase())
    m.inc("engram_clock_skew_detected_total", "Steps of the engine clock against a steady clock of 1 s or more.", 0.0,
          {{"direction", direction}});
  m.gauge("engram_clock_offset_seconds",
          "The engine clock minus a steady clock since the server started (the clock steps seen).",
          [this] { return clock_watch.offset_s(); });
}

namespace {
std::string recovery_json(const RecoveryInfo& r) {
  JsonWriter w;
  w.begin_object();
  w.field("durable", r.durable).field("duration_s", r.duration_s).field("checkpoint_lsn", r.checkpoint_lsn);
  w.field("records_replayed", r.records_replayed).field("records_skipped", r.records_skipped);
  w.field("last_lsn", r.last_lsn).field("torn_tails", r.torn_tails).field("corruptions", r.corruptions);
  w.key("events").begin_array();
  for (const auto& e : r.events) {
    w.begin_object().field("kind", e.kind).field("file", e.file).field("offset", e.offset);
    w.field("detail", e.detail).field("quarantined_to", e.quarantined_to).end_object();
  }
  w.end_array().end_object();
  return w.take();
}
}  // namespace

// What recovery found, one line each, before engine_ready (which carries the whole report): an
// unclean shutdown of the previous process and its phase, and each damaged file or torn tail.
void ServerState::log_recovery(const RecoveryInfo& r) {
  if (r.migrated_from != 0) {
    log.warning("store_migrated", {{"from_format", static_cast<std::uint64_t>(r.migrated_from)},
                                   {"to_format", static_cast<std::uint64_t>(kFormatVersion)},
                                   {"seconds", r.migration_s},
                                   {"rollback", "engramd migrate --data DIR --to " + std::to_string(r.migrated_from) +
                                                    " while nothing of format " + std::to_string(kFormatVersion) +
                                                    " only is stored (docs/format.md, Migration)"}});
  }
  if (r.unclean_shutdown) {
    log.warning("crash_detected", {{"crash_point", r.crash_phase.empty() ? std::string("unknown") : r.crash_phase},
                                   {"previous_pid", r.previous_pid},
                                   {"records_replayed", r.records_replayed},
                                   {"recovery_seconds", r.duration_s},
                                   {"orphaned_concepts", r.orphaned_concepts},
                                   {"partial_bindings", r.partial_bindings}});
  }
  for (const RecoveryEvent& e : r.events) {
    log.warning(e.kind == "torn_tail" ? "wal_torn_tail_truncated" : "corruption_quarantined",
                {{"kind", e.kind},
                 {"file", e.file},
                 {"offset", static_cast<std::uint64_t>(e.offset)},
                 {"detail", e.detail},
                 {"quarantined_to", e.quarantined_to}});
  }
}

void ServerState::open_engine() {
  const auto t0 = std::chrono::steady_clock::now();
  log.info("engine_opening", {{"data", config.data}, {"in_memory", config.in_memory}});
  try {
    EngineConfig ec;
    ec.space.dim = static_cast<std::size_t>(config.dim);
    ec.idempotency_capacity = static_cast<std::size_t>(config.idempotency_capacity);
    ec.space.max_content_bytes = static_cast<std::size_t>(config.max_content_bytes);
    ec.memory.bytes = static_cast<std::uint64_t>(std::llround(config.memory_budget_mb * (1 << 20)));
    ec.memory.poll_interval_s = config.memory_poll_interval_ms / 1000.0;
    auto engine = std::make_shared<Engine>(ec);
    // One log line per pressure change, from the engine's monitor thread (metrics: engine.cpp).
    engine->on_memory_pressure([this](const PressureTransition& t) {
      const double pct = std::round(t.ratio * 1000.0) / 10.0;
      const LogLevel level = t.to == MemoryPressure::Normal ? LogLevel::Info : LogLevel::Warning;
      log.emit(level, "memory_pressure",
               {{"from", memory_pressure_name(t.from)},
                {"to", memory_pressure_name(t.to)},
                {"used_bytes", t.used_bytes},
                {"budget_bytes", t.budget_bytes},
                {"percent", pct},
                {"admission_control", t.to == MemoryPressure::Critical ? "engaged" : "lifted"},
                {"consolidation", t.to == MemoryPressure::Normal ? "resumed" : "paused"}});
    });
    if (!config.in_memory) {
      StoreOptions so;
      so.path = *config.data;
      so.durability = config.durability == "fsync"  ? Durability::Fsync
                      : config.durability == "none" ? Durability::None
                                                    : Durability::Group;
      so.disk_full_fraction = config.disk_full_fraction;
      so.migrate = config.migrate;
      // One log line per tenth of each phase of a conversion (docs/format.md, Migration).
      so.migrate_progress = every_tenth([this](const MigrationProgress& p) {
        log.info("store_migration", {{"phase", p.phase}, {"done", p.done}, {"total", p.total}});
      });
      engine->open_store(so);
    }
    engine_ = std::move(engine);
  } catch (const std::exception& e) {
    open_error_ = e.what();
    set_phase(Phase::Failed);
    log.error("engine_open_failed", {{"error", open_error_}});
    return;
  }
  if (engine_->durable()) log_recovery(engine_->recovery_info());
  // anchors the clock watch now, so a step in the first second of service is seen too
  clock_watch.observe(engine_->clock().unheld_now());
  set_phase(Phase::Ready);
  std::string names = "[";
  for (const auto& n : engine_->space_names()) {
    if (names.size() > 1) names += ",";
    JsonWriter::append_string(names, n);
  }
  names += "]";
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  log.info("engine_ready", {{"seconds", std::round(seconds * 1000) / 1000},
                            LogField::raw_json("spaces", names),
                            LogField::raw_json("recovery", engine_->durable() ? recovery_json(engine_->recovery_info())
                                                                              : std::string("null"))});
}

Engine& ServerState::require_ready() const {
  const Phase p = phase();
  if (p == Phase::Draining || p == Phase::Stopped) {
    throw ApiError(503, "shutting_down", "the server is shutting down; retry against another instance", 1.0);
  }
  if (p != Phase::Ready || !engine_) {
    throw ApiError(503, "not_ready", "the engine is still opening (recovering its log); retry shortly", 1.0);
  }
  return *engine_;
}

Engine& ServerState::engine_in_flight() const {
  const Phase p = phase();
  if (p == Phase::Draining && engine_) return *engine_;
  return require_ready();
}

std::shared_ptr<Engine> ServerState::engine_ptr() const noexcept {
  const Phase p = phase();
  return p == Phase::Starting || p == Phase::Failed ? nullptr : engine_;
}

void ServerState::close_engine() {
  if (!engine_) return;
  if (engine_->durable()) {
    try {
      const auto lsn = engine_->checkpoint();
      log.info("engine_checkpoint", {{"data", config.data}, {"lsn", static_cast<std::uint64_t>(lsn)}});
    } catch (const std::exception& e) {
      log.error("engine_checkpoint_failed", {{"data", config.data}, {"error", std::string(e.what())}});
    }
  }
  engine_->close();
  set_phase(Phase::Stopped);
  log.info("engine_closed", {{"data", config.data}});
}

std::shared_ptr<const Principal> ServerState::principal(std::optional<std::string_view> authorization) const {
  if (!keys) return anonymous_admin();
  return keys->authenticate(authorization);
}

void ServerState::log_storage_error(const std::string& error) {
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  double last = storage_logged_at_.load();
  if (now - last < 1.0 || !storage_logged_at_.compare_exchange_strong(last, now)) {
    storage_unlogged_.fetch_add(1);
    return;
  }
  log.warning("storage_unavailable", {{"error", error}, {"not_logged_since", storage_unlogged_.exchange(0)}});
}

bool ServerState::acquire_key_slot(const std::string& key_id) {
  MutexLock lock(mu_);
  auto& n = key_inflight_[key_id];
  if (n >= config.max_connections_per_key) return false;
  ++n;
  return true;
}

void ServerState::release_key_slot(const std::string& key_id) {
  MutexLock lock(mu_);
  auto it = key_inflight_.find(key_id);
  if (it != key_inflight_.end() && --it->second <= 0) key_inflight_.erase(it);
}

void ServerState::on_drain(std::function<void()> hook) {
  MutexLock lock(mu_);
  drain_hooks_.push_back(std::move(hook));
}

void ServerState::run_drain_hooks() {
  std::vector<std::function<void()>> hooks;
  {
    MutexLock lock(mu_);
    hooks.swap(drain_hooks_);
  }
  for (auto& h : hooks) h();
}

}  // namespace engram::server

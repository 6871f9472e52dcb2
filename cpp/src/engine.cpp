#include "engram/engine.hpp"

#include <unistd.h>

#include <cmath>
#include <mutex>
#include <sstream>

#include "engram/errors.hpp"
#include "engram/lock_stats.hpp"
#include "engram/simd.hpp"
#include "engram/validation.hpp"

namespace engram {

void validate(const EngineConfig& c) {
  validate(c.space);  // bad defaults for new spaces fail when the engine is made, not later
  if (c.max_spaces < 1 || c.max_spaces > (std::size_t{1} << 22)) {
    throw InvalidInputError("max_spaces must be between 1 and 4194304 (space ordinals); got " +
                            std::to_string(c.max_spaces));
  }
  if (c.idempotency_capacity < 1 || c.idempotency_capacity > (std::size_t{1} << 26)) {
    throw InvalidInputError("idempotency_capacity must be between 1 and 67108864 keys per space; got " +
                            std::to_string(c.idempotency_capacity));
  }
  validate(c.memory);
}

void validate(const StoreOptions& o) {
  if (o.path.empty()) throw InvalidInputError("a durable engine needs a non-empty path");
  const auto fail = [](const char* field, const std::string& got, const char* range) {
    throw InvalidInputError(std::string(field) + " must be " + range + "; got " + got);
  };
  if (o.segment_bytes < 4096 || o.segment_bytes > (std::uint64_t{1} << 40)) {
    fail("segment_bytes", std::to_string(o.segment_bytes), "between 4096 and 1099511627776 bytes");
  }
  if (!std::isfinite(o.checkpoint_interval_s) ||
      (o.checkpoint_interval_s != 0.0 && (o.checkpoint_interval_s < 0.01 || o.checkpoint_interval_s > 31536000.0))) {
    fail("checkpoint_interval_s", format_g(o.checkpoint_interval_s), "0 (off) or between 0.01 and 31536000 seconds");
  }
  if (!std::isfinite(o.flush_interval_s) || o.flush_interval_s < 0.001 || o.flush_interval_s > 3600.0) {
    fail("flush_interval_s", format_g(o.flush_interval_s), "between 0.001 and 3600 seconds");
  }
  if (!std::isfinite(o.disk_full_fraction) || o.disk_full_fraction < 0.5 || o.disk_full_fraction > 1.0) {
    fail("disk_full_fraction", format_g(o.disk_full_fraction), "between 0.5 and 1 (1: no guard)");
  }
}

Engine::Engine(EngineConfig config) : config_(config), clock_(std::make_shared<Clock>()) {
  validate(config_);
  memory_ = std::make_shared<MemoryGovernor>(config_.memory);
  if (memory_->enabled()) memory_monitor_ = std::jthread([this](std::stop_token st) { memory_loop(std::move(st)); });
}

Engine::~Engine() {
  try {
    close();
  } catch (...) {  // destructors must not throw; close() on a healthy engine does not
  }
}

void Engine::ensure_open() const {
  if (closed()) throw ClosedError("the engine is closed");
}

std::shared_ptr<Space> Engine::create_space(std::string_view name, std::optional<SpaceConfig> config) {
  check_space_name(name);
  if (wal_) wal_->check_writable();
  std::uint64_t lsn = 0;
  std::shared_ptr<Space> sp;
  {
    std::shared_lock<SharedMutex> gate;  // held only when durable: not visible to the analysis
    if (wal_) gate = std::shared_lock(wal_->gate());
    WriterLock lock(spaces_mu_);
    ensure_open();
    if (spaces_.find(name) != spaces_.end()) {
      throw SpaceExists("memory space '" + std::string(name) + "' already exists");
    }
    if (spaces_.size() >= config_.max_spaces) {
      throw CapacityError("the engine holds " + std::to_string(spaces_.size()) + " spaces, its limit");
    }
    if (next_ordinal_ >= (1u << 22)) throw CapacityError("space ordinals exhausted; restart the engine to compact");
    sp = std::make_shared<Space>(std::string(name), next_ordinal_, config.value_or(config_.space), clock_);
    sp->set_features(features_);
    sp->set_memory_governor(memory_);
    sp->set_idempotency_capacity(config_.idempotency_capacity);
    if (wal_) {
      lsn = wal_->append(RecordType::CreateSpace, sp->create_payload());
      sp->set_wal(wal_);
      sp->set_run_marker(marker_);
    }
    ++next_ordinal_;
    spaces_.emplace(std::string(name), sp);
  }
  if (lsn != 0) wal_->wait_durable(lsn);
  return sp;
}

std::shared_ptr<Space> Engine::space(std::string_view name) const {
  ReaderLock lock(spaces_mu_);
  ensure_open();
  const auto it = spaces_.find(name);
  if (it == spaces_.end()) {
    throw SpaceNotFound("unknown memory space '" + preview(name) + "'; create it first");
  }
  return it->second;
}

std::vector<std::string> Engine::space_names() const {
  ReaderLock lock(spaces_mu_);
  ensure_open();
  std::vector<std::string> names;
  names.reserve(spaces_.size());
  for (const auto& [n, s] : spaces_) names.push_back(n);
  return names;
}

std::vector<std::shared_ptr<Space>> Engine::spaces() const {
  ReaderLock lock(spaces_mu_);
  std::vector<std::shared_ptr<Space>> out;
  out.reserve(spaces_.size());
  for (const auto& [n, s] : spaces_) out.push_back(s);
  return out;
}

void Engine::drop_space(std::string_view name) {
  if (wal_) wal_->check_writable();
  std::shared_ptr<Space> victim;
  std::uint64_t lsn = 0;
  {
    std::shared_lock<SharedMutex> gate;
    if (wal_) gate = std::shared_lock(wal_->gate());
    WriterLock lock(spaces_mu_);
    ensure_open();
    const auto it = spaces_.find(name);
    if (it == spaces_.end()) throw SpaceNotFound("unknown memory space '" + preview(name) + "'");
    victim = it->second;
    if (wal_) {
      Encoder e;
      e.put<std::uint32_t>(victim->ordinal());
      lsn = wal_->append(RecordType::DropSpace, e.str());
    }
    spaces_.erase(it);
  }
  victim->mark_dropped();  // waits for in-flight operations on it
  if (lsn != 0) wal_->wait_durable(lsn);
}

void Engine::close() {
  if (memory_monitor_.joinable()) {  // first: it lists the spaces and holds consolidation
    memory_monitor_.request_stop();
    memory_monitor_.join();
  }
  stop_consolidation();  // before the spaces go: its thread lists and runs them
  if (checkpointer_.joinable()) {
    checkpointer_.request_stop();
    checkpointer_.join();
  }
  std::map<std::string, std::shared_ptr<Space>, std::less<>> all;
  {
    WriterLock lock(spaces_mu_);
    if (closed_.exchange(true)) return;
    all.swap(spaces_);
  }
  for (auto& [n, s] : all) s->mark_dropped();
  if (wal_) {
    MutexLock cl(checkpoint_mu_);
    struct ReleaseLock {  // the store is released even when the last flush fails
      std::unique_ptr<FileLock>& lock;
      ~ReleaseLock() { lock.reset(); }
    } release{lock_};
    wal_->close();                  // flushes and syncs what "none" mode still buffers
    if (marker_) marker_->close();  // only after a clean flush: else the next open reports a crash
  }
}

void validate(const RolloutChange& change) {
  if (!change.stage) return;
  const std::string at = "rollout." + std::string(feature_name(change.feature));
  const double p = change.stage->percent;
  if (!std::isfinite(p) || p < 0.0 || p > 100.0) {
    throw InvalidInputError(at + ".percent must be a number from 0 to 100; got " + std::to_string(p));
  }
  if (change.stage->shadow && change.feature == Feature::ConceptFormation) {
    throw InvalidInputError(at + ".shadow: concept formation has no shadow stage (it rolls out by space)");
  }
  if (change.stage->shadow && p > 0.0) {
    throw InvalidInputError(at +
                            ".shadow: shadow runs beside a flag that is off for everyone: use percent 0 "
                            "with shadow");
  }
}

std::string encode_features(const FeatureFlags& f, std::uint32_t major) {
  Encoder e;
  e.put<std::uint8_t>(f.blended_recall.load() ? 1 : 0);
  e.put<std::uint8_t>(f.fan_effect.load() ? 1 : 0);
  e.put<std::uint8_t>(f.concept_formation.load() ? 1 : 0);
  if (major >= 2) {  // format 2: each flag's rollout stage (docs/format.md, "9 Features")
    for (const Feature flag : kFeatures) {
      const std::uint32_t w = f.rollout_word(flag);
      const bool active = (w & FeatureFlags::kRolloutActive) != 0;
      e.put<std::uint8_t>(active ? 1 : 0);
      e.put<std::uint8_t>(active && (w & FeatureFlags::kRolloutShadow) ? 1 : 0);
      e.put<std::uint16_t>(active ? static_cast<std::uint16_t>(w & FeatureFlags::kRolloutBasisMask) : 0);
    }
  }
  return e.take();
}

void decode_features(FeatureFlags& f, Decoder& in, std::uint32_t major) {
  f.blended_recall.store(in.get<std::uint8_t>() != 0);
  f.fan_effect.store(in.get<std::uint8_t>() != 0);
  f.concept_formation.store(in.get<std::uint8_t>() != 0);
  if (major >= 2) {
    for (const Feature flag : kFeatures) {
      const bool active = in.get<std::uint8_t>() != 0;
      const auto shadow = in.get<std::uint8_t>();
      const auto bp = in.get<std::uint16_t>();
      if (shadow > 1 || bp > 10000 || (!active && (shadow != 0 || bp != 0)) ||
          (shadow && (bp != 0 || flag == Feature::ConceptFormation))) {
        throw CorruptionError("features record: rollout stage of " + std::string(feature_name(flag)) +
                              " is not valid (active " + std::to_string(active) + ", shadow " + std::to_string(shadow) +
                              ", basis points " + std::to_string(bp) + ")");
      }
      const std::uint32_t w =
          active ? FeatureFlags::kRolloutActive | (shadow ? FeatureFlags::kRolloutShadow : 0u) | bp : 0u;
      f.rollout[static_cast<std::size_t>(flag)].store(w, std::memory_order_release);
    }
  }
  if (!in.done()) throw CorruptionError("features record has trailing bytes");
}

void Engine::set_features(std::optional<bool> blended_recall, std::optional<bool> fan_effect,
                          std::optional<bool> concept_formation, const std::vector<RolloutChange>& rollout) {
  ensure_open();
  for (const RolloutChange& c : rollout) validate(c);  // all checked before anything changes
  if (wal_) wal_->check_writable();
  std::uint64_t lsn = 0;
  {
    std::shared_lock<SharedMutex> gate;
    if (wal_) gate = std::shared_lock(wal_->gate());
    MutexLock lock(features_mu_);
    if (blended_recall) features_->blended_recall.store(*blended_recall, std::memory_order_relaxed);
    if (fan_effect) features_->fan_effect.store(*fan_effect, std::memory_order_relaxed);
    if (concept_formation) features_->concept_formation.store(*concept_formation, std::memory_order_relaxed);
    for (const RolloutChange& c : rollout) {
      features_->rollout[static_cast<std::size_t>(c.feature)].store(FeatureFlags::encode_stage(c.stage),
                                                                    std::memory_order_release);
    }
    // One record with the whole state after the change: flags and stages change together.
    if (wal_) lsn = wal_->append(RecordType::Features, encode_features(*features_, kFormatVersion));
  }
  if (lsn != 0) wal_->wait_durable(lsn);
}

void Engine::start_consolidation(double interval_s, ConsolidationParams params) {
  ensure_open();
  std::unique_ptr<BackgroundConsolidator> old;
  MutexLock lock(consolidator_mu_);
  old = std::move(consolidator_);  // joined when `old` goes out of scope, after the new one starts
  consolidator_ = std::make_unique<BackgroundConsolidator>([this] { return spaces(); }, interval_s, std::move(params));
  // Under pressure a new consolidator starts held (the monitor changes the hold under this lock).
  if (memory_->state() != MemoryPressure::Normal) consolidator_->hold(true);
}

void Engine::stop_consolidation() {
  std::unique_ptr<BackgroundConsolidator> old;
  {
    MutexLock lock(consolidator_mu_);
    old = std::move(consolidator_);
  }
  // ~BackgroundConsolidator joins outside the lock, so status() callers never wait on a run.
}

void Engine::pause_consolidation() {
  MutexLock lock(consolidator_mu_);
  if (consolidator_) consolidator_->pause();
}

void Engine::resume_consolidation() {
  MutexLock lock(consolidator_mu_);
  if (consolidator_) consolidator_->resume();
}

ConsolidatorStatus Engine::consolidation_status() const {
  MutexLock lock(consolidator_mu_);
  return consolidator_ ? consolidator_->status() : ConsolidatorStatus{};
}

std::uint64_t Engine::accounted_bytes() const {
  std::uint64_t total = 0;
  for (const auto& sp : spaces()) {
    try {
      total += sp->stats().total_bytes();
    } catch (const SpaceNotFound&) {  // dropped meanwhile: its memory is going away
    }
  }
  return total;
}

void Engine::on_memory_pressure(PressureListener listener) {
  MutexLock lock(listeners_mu_);
  listeners_.push_back(std::move(listener));
}

std::optional<PressureTransition> Engine::sample_memory() {
  MutexLock lock(sample_mu_);
  const auto t = memory_->observe(accounted_bytes());
  if (!t) return t;
  {
    MutexLock cl(consolidator_mu_);
    if (consolidator_) consolidator_->hold(t->to != MemoryPressure::Normal);
  }
  std::vector<PressureListener> listeners;
  {
    MutexLock ll(listeners_mu_);
    listeners = listeners_;
  }
  for (const auto& f : listeners) {
    try {
      f(*t);
    } catch (...) {  // a listener's failure must not stop the monitor
    }
  }
  return t;
}

void Engine::memory_loop(std::stop_token st) {
  while (!st.stop_requested()) {
    memory_->wait_for_sample(st);
    if (st.stop_requested()) break;
    try {
      sample_memory();
    } catch (...) {  // e.g. the engine closing under it; the next poll tries again
    }
  }
}

void Engine::memory_metrics(std::ostream& out) const {
  const MemoryGovernor& m = *memory_;
  const MemoryBudget& b = m.budget();
  out << "# HELP engram_memory_budget_bytes The engine's memory budget (0: none).\n"
         "# TYPE engram_memory_budget_bytes gauge\nengram_memory_budget_bytes "
      << b.bytes << "\n";
  out << "# HELP engram_memory_usage_bytes Accounted engine memory at the last sample, and the pressure thresholds.\n"
         "# TYPE engram_memory_usage_bytes gauge\nengram_memory_usage_bytes "
      << m.used_bytes() << "\n";
  const auto line = [&](const char* label, double frac) {
    out << "engram_memory_usage_bytes{threshold=\"" << label << "\"} "
        << static_cast<std::uint64_t>(frac * static_cast<double>(b.bytes)) << "\n";
  };
  line("warning", b.warning);
  line("critical", b.critical);
  line("release", b.release);
  out << "# HELP engram_memory_pressure_state Memory pressure state (1 for the current one).\n"
         "# TYPE engram_memory_pressure_state gauge\n";
  for (const auto p : {MemoryPressure::Normal, MemoryPressure::Warning, MemoryPressure::Critical}) {
    out << "engram_memory_pressure_state{state=\"" << memory_pressure_name(p) << "\"} " << (m.state() == p ? 1 : 0)
        << "\n";
  }
  out << "# HELP engram_memory_pressure_transitions_total Changes into each memory pressure state.\n"
         "# TYPE engram_memory_pressure_transitions_total counter\n";
  for (const auto p : {MemoryPressure::Normal, MemoryPressure::Warning, MemoryPressure::Critical}) {
    out << "engram_memory_pressure_transitions_total{state=\"" << memory_pressure_name(p) << "\"} "
        << m.transitions_to(p) << "\n";
  }
  out << "# HELP engram_admission_checks_total Memory admission checks of writes (with a budget).\n"
         "# TYPE engram_admission_checks_total counter\nengram_admission_checks_total "
      << m.checks() << "\n";
  out << "# HELP engram_admission_check_seconds_total Time spent in memory admission checks.\n"
         "# TYPE engram_admission_check_seconds_total counter\nengram_admission_check_seconds_total "
      << static_cast<double>(m.check_ns_total()) * 1e-9 << "\n";
  out << "# HELP engram_admission_check_seconds_max Longest memory admission check.\n"
         "# TYPE engram_admission_check_seconds_max gauge\nengram_admission_check_seconds_max "
      << static_cast<double>(m.check_ns_max()) * 1e-9 << "\n";
  out << "# HELP engram_admission_checks_slow_total Memory admission checks that took 5 ms or more.\n"
         "# TYPE engram_admission_checks_slow_total counter\nengram_admission_checks_slow_total "
      << m.slow_checks() << "\n";
  out << "# HELP engram_admission_control_rejections_total Writes refused under critical memory pressure.\n"
         "# TYPE engram_admission_control_rejections_total counter\nengram_admission_control_rejections_total "
      << m.rejections() << "\n";
}

std::string Engine::prometheus() const {
  const auto all = spaces();
  std::ostringstream out;
  out.precision(17);
  out << "# HELP engram_operations_total Engine operations by memory space and operation.\n"
         "# TYPE engram_operations_total counter\n";
  for (const auto& sp : all) {
    const std::string space = prometheus_escape(sp->name());
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      out << "engram_operations_total{space=\"" << space << "\",op=\"" << op_name(static_cast<Op>(o)) << "\"} "
          << s.total << "\n";
    }
  }
  out << "# HELP engram_operation_errors_total Engine operations that failed, by space and operation.\n"
         "# TYPE engram_operation_errors_total counter\n";
  for (const auto& sp : all) {
    const std::string space = prometheus_escape(sp->name());
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      out << "engram_operation_errors_total{space=\"" << space << "\",op=\"" << op_name(static_cast<Op>(o)) << "\"} "
          << s.errors << "\n";
    }
  }
  out << "# HELP engram_operation_duration_seconds Engine operation latency.\n"
         "# TYPE engram_operation_duration_seconds histogram\n";
  for (const auto& sp : all) {
    const std::string space = prometheus_escape(sp->name());
    for (std::size_t o = 0; o < kOpCount; ++o) {
      const OpSnapshot s = sp->metrics().snapshot(static_cast<Op>(o));
      const std::string labels = "space=\"" + space + "\",op=\"" + op_name(static_cast<Op>(o)) + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < kLatencyBounds.size(); ++b) {
        cumulative += s.latency.buckets[b];
        out << "engram_operation_duration_seconds_bucket{" << labels << ",le=\"" << format_g(kLatencyBounds[b])
            << "\"} " << cumulative << "\n";
      }
      cumulative += s.latency.buckets.back();
      out << "engram_operation_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << cumulative << "\n";
      out << "engram_operation_duration_seconds_sum{" << labels << "} " << s.latency.sum_seconds << "\n";
      out << "engram_operation_duration_seconds_count{" << labels << "} " << cumulative << "\n";
    }
  }
  out << "# HELP engram_memories_total Live memories by space and kind.\n# TYPE engram_memories_total gauge\n";
  std::vector<SpaceStats> stats;
  stats.reserve(all.size());
  for (const auto& sp : all) {
    SpaceStats st;
    try {
      st = sp->stats();
    } catch (const SpaceNotFound&) {  // dropped between listing and reading
    }
    stats.push_back(st);
    const std::string space = prometheus_escape(sp->name());
    out << "engram_memories_total{space=\"" << space << "\",kind=\"episode\"} " << st.episodes << "\n";
    out << "engram_memories_total{space=\"" << space << "\",kind=\"concept\"} " << st.concepts << "\n";
  }
  out << "# HELP engram_memory_bytes Memory used by space and component.\n# TYPE engram_memory_bytes gauge\n";
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::string space = prometheus_escape(all[i]->name());
    const SpaceStats& st = stats[i];
    const std::pair<const char*, std::uint64_t> parts[] = {
        {"vectors", st.vector_bytes}, {"index_links", st.index_link_bytes}, {"index_nodes", st.index_node_bytes},
        {"records", st.record_bytes}, {"content", st.content_bytes},        {"metadata", st.metadata_bytes}};
    for (const auto& [component, bytes] : parts) {
      out << "engram_memory_bytes{space=\"" << space << "\",component=\"" << component << "\"} " << bytes << "\n";
    }
  }
  // Consolidation and concepts (counters are monotonic per space; breaker state is a gauge).
  const auto per_space = [&](const char* name, const char* type, const char* help, auto value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    for (const auto& sp : all) {
      out << name << "{space=\"" << prometheus_escape(sp->name()) << "\"} " << value(sp->concept_store().counters())
          << "\n";
    }
  };
  using CC = ConsolidationCounters;
  const auto load = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  per_space("engram_concepts_formed_total", "counter", "Concepts formed by consolidation.",
            [&](const CC& c) { return load(c.concepts_formed); });
  per_space("engram_concepts_updated_total", "counter", "Concept updates (members joined or left).",
            [&](const CC& c) { return load(c.concepts_updated); });
  per_space("engram_concept_bindings_created_total", "counter", "Episode-concept bindings created.",
            [&](const CC& c) { return load(c.episodes_bound); });
  per_space("engram_consolidation_runs_total", "counter", "Consolidation runs (manual and background).",
            [&](const CC& c) { return load(c.runs); });
  per_space("engram_consolidation_failures_total", "counter", "Consolidation runs that failed.",
            [&](const CC& c) { return load(c.failures); });
  per_space("engram_consolidation_last_duration_seconds", "gauge", "Duration of the last consolidation run.",
            [&](const CC& c) { return load(c.last_duration_s); });
  per_space("engram_consolidation_last_run_timestamp_seconds", "gauge", "Engine-clock time of the last run.",
            [&](const CC& c) { return load(c.last_run_at); });
  out << "# HELP engram_concept_circuit_breaker_trips_total Concept formations held back by a circuit breaker.\n"
         "# TYPE engram_concept_circuit_breaker_trips_total counter\n";
  for (const auto& sp : all) {
    const CC& c = sp->concept_store().counters();
    const std::string space = prometheus_escape(sp->name());
    out << "engram_concept_circuit_breaker_trips_total{space=\"" << space << "\",breaker=\"rate\"} "
        << load(c.rate_breaker_trips) << "\n";
    out << "engram_concept_circuit_breaker_trips_total{space=\"" << space << "\",breaker=\"ratio\"} "
        << load(c.ratio_breaker_trips) << "\n";
  }
  out << "# HELP engram_concept_circuit_breaker_open Whether a breaker held formations back in the last run.\n"
         "# TYPE engram_concept_circuit_breaker_open gauge\n";
  for (const auto& sp : all) {
    const CC& c = sp->concept_store().counters();
    const std::string space = prometheus_escape(sp->name());
    out << "engram_concept_circuit_breaker_open{space=\"" << space << "\",breaker=\"rate\"} "
        << (load(c.rate_breaker_open) ? 1 : 0) << "\n";
    out << "engram_concept_circuit_breaker_open{space=\"" << space << "\",breaker=\"ratio\"} "
        << (load(c.ratio_breaker_open) ? 1 : 0) << "\n";
  }
  {
    const ConsolidatorStatus st = consolidation_status();
    out << "# HELP engram_consolidator_state Background consolidator state (1 for the current one).\n"
           "# TYPE engram_consolidator_state gauge\n";
    for (const auto s : {ConsolidatorState::Stopped, ConsolidatorState::Running, ConsolidatorState::Paused}) {
      out << "engram_consolidator_state{state=\"" << consolidator_state_name(s) << "\"} " << (st.state == s ? 1 : 0)
          << "\n";
    }
    out << "# HELP engram_consolidator_cycles Passes of the current background consolidator.\n"
           "# TYPE engram_consolidator_cycles gauge\nengram_consolidator_cycles "
        << st.cycles << "\n";
    out << "# HELP engram_consolidator_busy_seconds How long the background cycle under way has run (0 between "
           "cycles); it grows while a cycle is stuck.\n"
           "# TYPE engram_consolidator_busy_seconds gauge\nengram_consolidator_busy_seconds "
        << st.busy_s << "\n";
    out << "# HELP engram_consolidator_last_cycle_duration_seconds Duration of the last complete background cycle.\n"
           "# TYPE engram_consolidator_last_cycle_duration_seconds "
           "gauge\nengram_consolidator_last_cycle_duration_seconds "
        << st.last_cycle_duration_s << "\n";
    out << "# HELP engram_consolidator_interval_seconds Seconds between background cycles (0: stopped).\n"
           "# TYPE engram_consolidator_interval_seconds gauge\nengram_consolidator_interval_seconds "
        << st.interval_s << "\n";
  }
  durability_metrics(out);
  memory_metrics(out);
  out << "# HELP engram_spaces Memory spaces open.\n# TYPE engram_spaces gauge\nengram_spaces " << all.size() << "\n";
  // process-wide (lock_stats.hpp): every engine of the process and the server's own locks
  const auto waits = lock_wait_snapshot();
  out << "# HELP engram_lock_contended_total Lock acquisitions that had to wait, by lock class (process-wide).\n"
         "# TYPE engram_lock_contended_total counter\n";
  for (const auto& w : waits) out << "engram_lock_contended_total{lock=\"" << w.lock << "\"} " << w.contended << "\n";
  out << "# HELP engram_lock_wait_seconds_total Time threads spent waiting for contended locks, by lock class "
         "(process-wide).\n# TYPE engram_lock_wait_seconds_total counter\n";
  for (const auto& w : waits) out << "engram_lock_wait_seconds_total{lock=\"" << w.lock << "\"} " << w.wait_s << "\n";
  out << "# HELP engram_simd_info Distance kernels in use.\n# TYPE engram_simd_info gauge\nengram_simd_info{level=\""
      << simd::level_name(simd::active_level()) << "\"} 1\n";
  return out.str();
}

}  // namespace engram

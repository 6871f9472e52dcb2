#include "ingest.hpp"

#include <algorithm>
#include <cmath>

#include "engram/errors.hpp"
#include "state.hpp"

namespace engram::server {

namespace {

// API v1's streaming histogram (same name, help and buckets since its first server):
// receipt of an observation to its engine call returning (stored, searchable and durable under
// the engine's durability mode), for observations stored now (replays are not timed).
constexpr const char* kLatencyName = "engram_streaming_observation_latency_seconds";
constexpr const char* kLatencyHelp = "Time from receiving an observation to storing it (searchable and durable).";
// The two parts of that latency, so an operator (and the staleness benchmark) can tell a writer
// that waits from an engine call that is slow: the oldest observation's wait in the queue when
// its batch starts, and each engine call's duration (one call per run of one space's batch).
constexpr const char* kWaitName = "engram_streaming_queue_wait_seconds";
constexpr const char* kWaitHelp = "Time the oldest observation of each writer batch waited in the queue.";
constexpr const char* kCallName = "engram_streaming_store_call_seconds";
constexpr const char* kCallHelp = "Duration of each engine call storing a writer batch's observations of one space.";

ApiError to_api_error(const std::exception& e, JsonLog& log) {
  if (const auto* api = dynamic_cast<const ApiError*>(&e)) return *api;
  if (auto err = from_exception(e)) return *err;
  log.error("ingest_failure", {{"error", std::string(e.what())}});
  return ApiError(500, "internal", "the observation could not be stored; the server log has details");
}

EpisodeInput episode_of(const Observation& o) {
  EpisodeInput ep;
  ep.embedding = o.embedding.data();
  ep.embedding_size = o.embedding.size();
  ep.content = o.content;
  ep.confidence = o.confidence;
  ep.has_timestamp = o.timestamp.has_value();
  ep.timestamp = o.timestamp.value_or(0.0);
  ep.metadata = o.metadata;
  return ep;
}

}  // namespace

Ingestor::Ingestor(ServerState& state)
    : state_(state),
      limit_(state.config.stream_queue_limit),
      batch_(static_cast<std::size_t>(state.config.ingest_batch)),
      throttle_s_(state.config.ingest_throttle_ms / 1000.0),
      pressure_("stream", limit_, state.metrics, state.log) {
  state_.metrics.declare_counter("engram_streaming_observations_rejected_total",
                                 "Observations refused: writer queue 90% full.");
  state_.metrics.declare_histogram(kLatencyName, kLatencyHelp);
  state_.metrics.declare_histogram(kWaitName, kWaitHelp);
  state_.metrics.declare_histogram(kCallName, kCallHelp);
  thread_ = std::thread([this] { run(); });
}

Ingestor::~Ingestor() { stop(0.0); }

double Ingestor::retry_after_s() const {
  std::int64_t queued = 0;
  {
    MutexLock lock(mu_);
    queued = static_cast<std::int64_t>(queue_.size());
  }
  // before the writer's rate is measured: a batch's worth of time per batch above the signal
  const double fallback = std::max(1.0, static_cast<double>(queued) - kSignalFill * static_cast<double>(limit_)) /
                          static_cast<double>(batch_) * std::max(throttle_s_, 0.005);
  return pressure_.retry_after_s(queued, fallback);
}

void Ingestor::submit(Observation obs) {
  std::int64_t queued = 0;
  std::uint64_t version = 0;
  {
    MutexLock lock(mu_);
    if (stop_) throw ApiError(503, "shutting_down", "the server is draining; resend elsewhere", 1.0);
    queued = static_cast<std::int64_t>(queue_.size());
    if (pressure_.admits_write(queued)) {
      queue_.push_back(std::move(obs));
      drained_ = false;
      version = ++version_;
      ++queued;
      lock.unlock();
      cv_.notify_one();
      pressure_.update(queued, version);
      return;
    }
  }
  state_.metrics.inc("engram_streaming_observations_rejected_total", "Observations refused: writer queue 90% full.");
  throw ApiError(429, "overloaded",
                 "the ingestion queue holds " + std::to_string(queued) + " of " + std::to_string(limit_) +
                     " observations (writes are refused from 90%); resend after the retry delay",
                 retry_after_s());
}

std::int64_t Ingestor::depth() const {
  MutexLock lock(mu_);
  return static_cast<std::int64_t>(queue_.size()) + busy_;
}

bool Ingestor::stop(double timeout_s) {
  std::deque<Observation> left;
  bool drained = false;
  {
    MutexLock lock(mu_);
    if (stopped_) return drained_;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(std::max(0.0, timeout_s));
    while ((!queue_.empty() || busy_ > 0) && std::chrono::steady_clock::now() < deadline) {  // bounded by deadline
      idle_cv_.wait_until(mu_, deadline);
    }
    drained = queue_.empty() && busy_ == 0;
    stop_ = true;
    left.swap(queue_);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& o : left) {  // never leave a stream waiting on an observation
    o.done(IngestOutcome{0, false, ApiError(503, "shutting_down", "the server stopped before storing it", 1.0)});
  }
  MutexLock lock(mu_);
  stopped_ = true;
  drained_ = drained;
  return drained;
}

void Ingestor::run() {
  std::vector<Observation> batch;
  for (;;) {  // one batch per iteration; exits when stopped
    std::int64_t queued = 0;
    std::uint64_t version = 0;
    bool backlog = false;  // the writer is the bottleneck: this batch measures its drain rate
    {
      MutexLock lock(mu_);
      while (queue_.empty() && !stop_) cv_.wait(mu_);
      if (stop_) return;
      const std::size_t n = std::min(batch_, queue_.size());
      backlog = n == batch_;
      batch.clear();
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      busy_ = static_cast<std::int64_t>(n);
      queued = static_cast<std::int64_t>(queue_.size());
      version = ++version_;
    }
    pressure_.update(queued, version);
    const auto t0 = std::chrono::steady_clock::now();
    store(batch);
    {
      MutexLock lock(mu_);
      busy_ = 0;
      if (queue_.empty()) drained_ = true;
    }
    idle_cv_.notify_all();
    if (throttle_s_ > 0) std::this_thread::sleep_for(std::chrono::duration<double>(throttle_s_));
    if (backlog) {
      pressure_.drained(static_cast<double>(batch.size()),
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // The observations' callbacks hold their sessions: kept until the next batch, a stream whose
    // client closed after its last ack stayed open (and held the drain) until more work came.
    batch.clear();
  }
}

void Ingestor::store(std::vector<Observation>& batch) {
  // one engine call per run of consecutive observations of one space
  if (!batch.empty()) {
    state_.metrics.observe(
        kWaitName, kWaitHelp,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - batch.front().received).count());
  }
  std::size_t begin = 0;
  while (begin < batch.size()) {
    std::size_t end = begin;
    while (end < batch.size() && batch[end].space == batch[begin].space) ++end;
    store_group(batch, begin, end);
    begin = end;
  }
}

void Ingestor::store_group(std::vector<Observation>& batch, std::size_t begin, std::size_t end) {
  std::vector<IngestOutcome> out(end - begin);
  try {
    auto space = state_.engine_in_flight().space(batch[begin].space);
    std::vector<EpisodeInput> episodes;
    std::vector<std::optional<IdempotencyKey>> keys;
    episodes.reserve(end - begin);
    keys.reserve(end - begin);
    for (std::size_t i = begin; i < end; ++i) {
      episodes.push_back(episode_of(batch[i]));
      keys.push_back(batch[i].key);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto res = space->remember_each(std::move(episodes), keys);
    state_.metrics.observe(kCallName, kCallHelp,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    for (std::size_t i = 0; i < res.size(); ++i) out[i] = IngestOutcome{res[i].id, res[i].replayed, std::nullopt};
  } catch (const std::exception&) {
    // the batch is all or nothing: store one by one so only the bad observations fail
    for (std::size_t i = begin; i < end; ++i) {
      const auto& o = batch[i];
      try {
        auto space = state_.engine_in_flight().space(o.space);
        if (o.key) {
          const auto r = space->remember(episode_of(o), *o.key);
          out[i - begin] = IngestOutcome{r.id, r.replayed, std::nullopt};
        } else {
          out[i - begin] = IngestOutcome{space->remember(episode_of(o)), false, std::nullopt};
        }
      } catch (const std::exception& e) {
        if (dynamic_cast<const StorageError*>(&e)) state_.log_storage_error(e.what());
        out[i - begin] = IngestOutcome{0, false, to_api_error(e, state_.log)};
      }
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (std::size_t i = begin; i < end; ++i) {
    auto& r = out[i - begin];
    if (!r.error && !r.replayed) {
      stored_.fetch_add(1);
      state_.metrics.observe(kLatencyName, kLatencyHelp,
                             std::chrono::duration<double>(now - batch[i].received).count());
    }
    batch[i].done(std::move(r));
  }
}

}  // namespace engram::server

// The streaming writer: a bounded queue of observations drained by one
// thread in batches. Stream sessions (stream.hpp) submit observations; the writer stores each batch
// with Space::remember_each (one engine call and one WAL record per run of one space's
// observations; the call returns once the engine's durability mode has made them durable and they
// are searchable) and only then reports each observation's outcome, so an ack is never early and
// never late by a timer: the writer waits on a condition variable, not a poll, and reports as soon
// as the engine call returns.
//
// The queue is bounded (stream_queue_limit) and follows milestone 11's backpressure
// (backpressure.hpp): normal / warning (50%) / critical (80%, the signal) / overloaded (95%);
// from 90% submit() refuses with 429 overloaded and a retry delay computed from the writer's
// measured drain rate, so memory stays bounded whatever the clients do and nothing is dropped
// silently. ingest_throttle_ms pauses after each batch (capacity drills, tests).
//
// Locking: mu_ guards the queue and the stop flag; it is a leaf (the engine is called, outcomes
// reported and the backpressure level recorded without it). Outcome callbacks run on the writer
// thread and must not block (sessions post them to their strand).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api_error.hpp"
#include "backpressure.hpp"
#include "engram/idempotency.hpp"
#include "engram/memory.hpp"
#include "engram/thread_annotations.hpp"

namespace engram::server {

class ServerState;

// What happened to one observation: stored (or replayed by its idempotency key), or an error.
struct IngestOutcome {
  std::int64_t id = 0;
  bool replayed = false;
  std::optional<ApiError> error;
};

struct Observation {
  std::string space;
  std::vector<float> embedding;
  std::string content;
  double confidence = 1.0;
  std::optional<double> timestamp;
  Metadata metadata;
  std::optional<IdempotencyKey> key;
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  // Called exactly once, on the writer thread (or by stop() for what was never stored).
  std::function<void(IngestOutcome)> done;
};

class Ingestor {
 public:
  explicit Ingestor(ServerState& state);  // starts the writer thread
  ~Ingestor();
  Ingestor(const Ingestor&) = delete;
  Ingestor& operator=(const Ingestor&) = delete;

  // Queues an observation; ApiError 429 "overloaded" (with a retry delay) when the queue is 90%
  // full, 503 "shutting_down" once stopped. On a throw the observation's callback is not called.
  void submit(Observation obs) EXCLUDES(mu_);
  std::int64_t depth() const EXCLUDES(mu_);  // queued + being stored
  Pressure flow() const noexcept { return pressure_.level(); }
  Backpressure& pressure() noexcept { return pressure_; }
  double retry_after_s() const EXCLUDES(mu_);
  std::int64_t limit() const noexcept { return limit_; }
  std::uint64_t stored() const noexcept { return stored_.load(); }
  // Lets the writer finish what is queued (bounded by timeout_s), then stops it; observations
  // left are answered 503 shutting_down. True when everything queued was stored. Idempotent.
  bool stop(double timeout_s) EXCLUDES(mu_);

 private:
  void run() EXCLUDES(mu_);
  void store(std::vector<Observation>& batch);
  void store_group(std::vector<Observation>& batch, std::size_t begin, std::size_t end);

  ServerState& state_;
  const std::int64_t limit_;
  const std::size_t batch_;
  const double throttle_s_;
  Backpressure pressure_;
  mutable Mutex mu_;
  std::condition_variable_any cv_;       // work queued, or stop requested
  std::condition_variable_any idle_cv_;  // queue empty and nothing being stored
  std::deque<Observation> queue_ GUARDED_BY(mu_);
  std::int64_t busy_ GUARDED_BY(mu_) = 0;  // taken from the queue, outcomes not yet reported
  bool stop_ GUARDED_BY(mu_) = false;
  bool stopped_ GUARDED_BY(mu_) = false;
  bool drained_ GUARDED_BY(mu_) = true;
  std::uint64_t version_ GUARDED_BY(mu_) = 1;  // orders the depths given to pressure_
  std::atomic<std::uint64_t> stored_{0};
  std::thread thread_;
};

}  // namespace engram::server

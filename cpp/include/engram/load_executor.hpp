// Open-loop executor for load schedules, run in-process from C++ worker threads.
//
// Each operation has an intended start time (from the arrival process). Workers claim
// operations in schedule order from one atomic cursor, sleep until the intended start if early,
// and record latency from the *intended* start, so a stall delays and penalises every operation
// queued behind it (no coordinated omission). Nothing is dropped: every operation ends with a
// latency and an error code, or NotStarted when the run's deadline passed first.
//
// Thread safety: run() owns its worker threads (joined before return) and writes each output
// slot from exactly one worker; inputs are read-only for the duration of the call.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engram/space.hpp"

namespace engram {

// Operation codes; the values match engram.workloads.ops.Op.
enum class LoadOp : std::uint8_t {
  Remember = 0,
  RecallEpisodic = 1,
  RecallSemantic = 2,
  RecallBlended = 3,
  Search = 4,
  Spread = 5,
  Complete = 6,
  Consolidate = 7,
};

// Error codes; index into load_error_classes().
enum class LoadError : std::int16_t {
  Ok = 0,
  InvalidInput = 1,
  NotFound = 2,
  Capacity = 3,
  SpaceNotFound = 4,
  Engram = 5,
  Other = 6,
  NotStarted = 7,
  Unsupported = 8,
};
const std::vector<const char*>& load_error_classes();

struct LoadSchedule {
  std::span<const std::int64_t> start_ns;  // offsets from the run start, non-decreasing
  std::span<const std::uint8_t> op;
  std::span<const std::int16_t> space;
  std::span<const float> vectors;  // one row of `dim` floats per operation
  std::span<const std::int32_t> k;
  std::span<const float> threshold;
  std::span<const float> confidence;
  std::size_t dim = 0;
};

struct LoadOutcome {
  std::vector<std::int64_t> actual_start_ns;  // -1 when never started
  std::vector<std::int64_t> latency_ns;       // completion - intended start; -1 when never started
  std::vector<std::int16_t> error_code;
  std::int64_t wall_ns = 0;  // run start to last completion
};

struct LoadOptions {
  unsigned threads = 4;
  std::int64_t deadline_ns = 0;  // operations not started by this offset are NotStarted (0: no deadline)
};

LoadOutcome run_schedule(const std::vector<std::shared_ptr<Space>>& spaces, const LoadSchedule& schedule,
                         const LoadOptions& options);

}  // namespace engram

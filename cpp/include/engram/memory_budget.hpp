// The engine's memory budget and its pressure state machine (workflow 105).
//
// The engine accounts its own memory (SpaceStats::total_bytes over every space: vectors, index
// links and nodes, records, content, metadata, concepts, graph edges) against a budget in bytes.
// A monitor thread of the engine samples that figure every poll interval and feeds it to
// observe(), which moves the state:
//
//   Normal  --(used >= warning)-->  Warning  --(used >= critical)-->  Critical
//   Normal  --(used >= critical)------------------------------------> Critical
//   Warning --(used <  release)-->  Normal
//   Critical --(used < release)-->  Normal   (hysteresis: no way back through Warning)
//
// with ratios warning 0.80, critical 0.90 and release 0.70 by default. Under Critical every
// write that adds memory (remember, batches, stream observations) is refused by admit_write with
// MemoryPressureError before anything is stored; reads, forget and space drops (the relief) go
// on. Under Warning and Critical the engine holds background consolidation.
//
// Between two samples admit_write adds each admitted write's estimated size to the last sample.
// The write that takes that estimate across the critical line is admitted, and its caller wakes
// the monitor once it is stored (sample_soon), so the crossing is seen at once rather than a poll
// interval later; writes arriving in between are refused already (the estimate says critical).
// A sample replaces the estimate, so an estimate that ran ahead of the real figure never keeps
// writes refused for longer than one sample. admit_write is two atomic loads and an add on its
// fast path.
//
// Locking: mu_ serialises observe() (the state machine) and is a leaf; wake_mu_ guards the wake
// flag of the monitor's wait and is a leaf too. state_, used_ and the counters are atomics read
// without a lock.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <string_view>

#include "engram/thread_annotations.hpp"

namespace engram {

enum class MemoryPressure : std::uint8_t { Normal = 0, Warning = 1, Critical = 2 };
const char* memory_pressure_name(MemoryPressure p) noexcept;

struct MemoryBudget {
  std::uint64_t bytes = 0;  // 0: no budget (no monitor, every write admitted)
  double warning = 0.80;    // fractions of bytes
  double critical = 0.90;
  double release = 0.70;
  double poll_interval_s = 0.1;  // the monitor's sampling period
  double retry_after_s = 1.0;    // what a refused write is told
};

// InvalidInputError naming the field, the value and the valid range: bytes 0 or 1 MiB to 2^50;
// 0 < release < warning <= critical <= 1; poll_interval_s 0.001 to 10 s; retry_after_s 0.001 to
// 3600 s.
void validate(const MemoryBudget& budget);

struct PressureTransition {
  MemoryPressure from = MemoryPressure::Normal;
  MemoryPressure to = MemoryPressure::Normal;
  std::uint64_t used_bytes = 0;
  std::uint64_t budget_bytes = 0;
  double ratio = 0.0;  // used / budget
};

class MemoryGovernor {
 public:
  explicit MemoryGovernor(MemoryBudget budget);  // validates
  MemoryGovernor(const MemoryGovernor&) = delete;
  MemoryGovernor& operator=(const MemoryGovernor&) = delete;

  const MemoryBudget& budget() const noexcept { return budget_; }
  bool enabled() const noexcept { return budget_.bytes != 0; }
  MemoryPressure state() const noexcept { return state_.load(std::memory_order_acquire); }
  std::uint64_t used_bytes() const noexcept { return used_.load(std::memory_order_relaxed); }

  // The pure transition function (the diagram above) for a usage ratio.
  static MemoryPressure next_state(MemoryPressure current, double ratio, const MemoryBudget& b) noexcept;

  // Admission of a write adding about `bytes`: MemoryPressureError (what the write was, the
  // usage, the budget and the retry-after) under Critical or when the estimate is already past
  // the critical line; otherwise counts the bytes towards the next sample and returns true when
  // this write takes the estimate across it (then call sample_soon() once it is stored). Always
  // admits (false) without a budget.
  [[nodiscard]] bool admit_write(std::uint64_t bytes, std::string_view what);
  // Wakes the monitor for a sample now.
  void sample_soon() EXCLUDES(wake_mu_);

  // Feeds a measured usage; returns the transition when the state changed. Thread-safe.
  std::optional<PressureTransition> observe(std::uint64_t used_bytes) EXCLUDES(mu_);

  // The monitor's sleep: one poll interval, cut short by a stop or by admit_write crossing the
  // critical line.
  void wait_for_sample(std::stop_token stop) EXCLUDES(wake_mu_);

  std::uint64_t rejections() const noexcept { return rejections_.load(std::memory_order_relaxed); }
  // Time spent in admission checks (the caller's whole check: estimate, replay lookup, decision),
  // so the overhead is measured where it is paid, not from a client's round trip.
  void record_check(std::uint64_t ns) noexcept;
  std::uint64_t checks() const noexcept { return checks_.load(std::memory_order_relaxed); }
  std::uint64_t check_ns_total() const noexcept { return check_ns_total_.load(std::memory_order_relaxed); }
  std::uint64_t check_ns_max() const noexcept { return check_ns_max_.load(std::memory_order_relaxed); }
  // Checks that took 5 ms or more (the workflow's bound; share < 1% means P99 < 5 ms).
  std::uint64_t slow_checks() const noexcept { return slow_checks_.load(std::memory_order_relaxed); }
  static constexpr std::uint64_t kSlowCheckNs = 5'000'000;
  std::uint64_t transitions_to(MemoryPressure p) const noexcept {
    return transitions_[static_cast<std::size_t>(p)].load(std::memory_order_relaxed);
  }

 private:
  const MemoryBudget budget_;
  const std::uint64_t critical_bytes_;
  std::atomic<MemoryPressure> state_{MemoryPressure::Normal};
  std::atomic<std::uint64_t> used_{0};      // the last sample
  std::atomic<std::uint64_t> admitted_{0};  // estimated bytes admitted since the last sample
  std::atomic<std::uint64_t> rejections_{0};
  std::atomic<std::uint64_t> checks_{0}, check_ns_total_{0}, check_ns_max_{0}, slow_checks_{0};
  std::array<std::atomic<std::uint64_t>, 3> transitions_{};
  Mutex mu_{LockClass::MemoryBudget};
  Mutex wake_mu_;
  std::condition_variable_any wake_cv_;
  bool wake_ GUARDED_BY(wake_mu_) = false;
};

}  // namespace engram

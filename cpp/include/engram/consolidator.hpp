// The background consolidator of one engine: a thread that runs consolidate()
// (consolidation.hpp) on every space, periodically.
//
// Locking: mu_ guards paused_ and held_ and is held only briefly; the thread never holds it while it
// runs a space, so the consolidator's lock sits outside the engine's lock order (engine.hpp)
// apart from Engine::consolidator_mu_, which may be held while mu_ is taken.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <thread>
#include <vector>

#include "engram/consolidation.hpp"
#include "engram/space.hpp"
#include "engram/thread_annotations.hpp"

namespace engram {

enum class ConsolidatorState : std::uint8_t { Stopped = 0, Running = 1, Paused = 2 };
const char* consolidator_state_name(ConsolidatorState s) noexcept;

struct ConsolidatorStatus {
  ConsolidatorState state = ConsolidatorState::Stopped;
  double interval_s = 0.0;
  std::uint64_t cycles = 0;    // completed passes over all spaces
  std::uint64_t failures = 0;  // space runs that threw (the loop carries on)
  double last_cycle_duration_s = 0.0;
  double busy_s = 0.0;       // how long the cycle under way has run (0 between cycles): a stall shows here
  bool memory_hold = false;  // held by memory pressure (memory_budget.hpp), apart from pause()
};

// The background consolidator of one engine: a thread that, every interval_s (steady time, start to start),
// runs consolidate() on each space the engine lists, unless paused. Owned by the Engine;
// destruction requests a stop, wakes the thread and joins it (std::jthread), so it never
// outlives its engine. A pause takes effect between spaces; a stop also inside a space's run, at
// its next block (ConsolidationParams::stop), which commits what it completed.
// Runs take the same locks as a manual consolidate(), so writers are not blocked by them.
class BackgroundConsolidator {
 public:
  using SpaceList = std::function<std::vector<std::shared_ptr<Space>>()>;
  BackgroundConsolidator(SpaceList spaces, double interval_s, ConsolidationParams params);
  ~BackgroundConsolidator();
  BackgroundConsolidator(const BackgroundConsolidator&) = delete;
  BackgroundConsolidator& operator=(const BackgroundConsolidator&) = delete;

  void pause();
  void resume();
  // The engine's memory-pressure hold: like pause(), but separate from it, so relief never
  // resumes a consolidator an operator paused (the state is Paused while either is set).
  void hold(bool on);
  ConsolidatorStatus status() const;

 private:
  void loop(std::stop_token stop);

  SpaceList spaces_;
  double interval_s_;
  ConsolidationParams params_;
  mutable Mutex mu_{LockClass::Consolidator};
  std::condition_variable_any cv_;
  bool paused_ GUARDED_BY(mu_) = false;
  bool held_ GUARDED_BY(mu_) = false;
  std::atomic<std::uint64_t> cycles_{0};
  std::atomic<std::uint64_t> failures_{0};
  std::atomic<double> last_duration_s_{0.0};
  std::atomic<double> cycle_started_{0.0};  // steady seconds when the cycle under way began; 0 between cycles
  std::jthread thread_;                     // last: starts once every other member exists, joins first
};

}  // namespace engram

// Named crash points for durability tests (test build only; fault.hpp).
//
// In the test build, ENGRAM_CRASH_AT=<point>[:<nth>] (or a crash clause of ENGRAM_FAULTS, see
// docs/faults.md) makes the nth call of crash_point("<point>") kill the process on the spot with
// SIGKILL: no destructors, no buffered I/O flushed, what `kill -9` leaves behind (the page cache
// survives; simulated power loss is FaultEnv's, fault_env.hpp). The points in use are listed in
// faults::kFaultSites. In a release build both functions are empty inline functions: the call
// and its name compile away.
#pragma once

#include <string_view>

#include "engram/fault.hpp"

namespace engram {

inline void crash_point([[maybe_unused]] std::string_view name) noexcept {
#ifdef ENGRAM_FAULT_INJECTION
  faults::site(name);
#endif
}

// Whether the plan would crash at this point's next hit (lets a caller set up a partial write).
inline bool crash_armed([[maybe_unused]] std::string_view name) noexcept {
#ifdef ENGRAM_FAULT_INJECTION
  return faults::crash_armed(name);
#else
  return false;
#endif
}

}  // namespace engram

// Lock-wait counters: how often and how long threads waited for a contended lock, by lock class,
// process-wide (engram_lock_contended_total / engram_lock_wait_seconds_total in
// Engine::prometheus(), lock_wait_snapshot() for code). They let a capacity run classify a
// bottleneck as lock wait (the seeds' "contention > 1% of wall time") without a profiler.
//
// Cost: none on an uncontended acquisition (the wrappers of thread_annotations.hpp try the lock
// first and read the clock only when it is taken); a contended one adds two clock reads and two
// relaxed atomic adds to a wait that is already a context switch or a spin.
//
// Thread safety: the counters are relaxed atomics, one cache line per class; a snapshot is a set
// of independent reads (a class's two figures may come from slightly different instants).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace engram {

// The engine's lock classes (engine.hpp "Lock order" lists the locks themselves).
enum class LockClass : std::uint8_t {
  Other,
  EngineSpaces,
  EngineCheckpoint,
  EngineFeatures,
  SpaceStructure,
  SpaceRecords,
  SpaceAppend,
  SpaceGraphLog,
  GraphNode,
  Concepts,
  Consolidator,
  WalGate,
  WalBuffer,
  WalIo,
  HnswEntry,
  HnswNode,
  MemoryBudget,
  Server,
};
inline constexpr std::size_t kLockClasses = static_cast<std::size_t>(LockClass::Server) + 1;

inline constexpr std::array<const char*, kLockClasses> kLockClassNames = {
    "other",        "engine.spaces",   "engine.checkpoint", "engine.features", "space.structure", "space.records",
    "space.append", "space.graph_log", "graph.node",        "concepts",        "consolidator",    "wal.gate",
    "wal.buffer",   "wal.io",          "hnsw.entry",        "hnsw.node",       "memory_budget",   "server"};

struct alignas(64) LockCounters {
  std::atomic<std::uint64_t> contended{0};
  std::atomic<std::uint64_t> wait_ns{0};
};

namespace detail {
inline std::array<LockCounters, kLockClasses> lock_counters{};
}  // namespace detail

inline void note_lock_wait(LockClass c, std::chrono::steady_clock::time_point since) noexcept {
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - since).count();
  auto& k = detail::lock_counters[static_cast<std::size_t>(c)];
  k.contended.fetch_add(1, std::memory_order_relaxed);
  k.wait_ns.fetch_add(static_cast<std::uint64_t>(ns > 0 ? ns : 0), std::memory_order_relaxed);
}

struct LockWait {
  const char* lock;
  std::uint64_t contended;
  double wait_s;
};

inline std::vector<LockWait> lock_wait_snapshot() {
  std::vector<LockWait> out;
  out.reserve(kLockClasses);
  for (std::size_t i = 0; i < kLockClasses; ++i) {
    const auto& k = detail::lock_counters[i];
    out.push_back({kLockClassNames[i], k.contended.load(std::memory_order_relaxed),
                   static_cast<double>(k.wait_ns.load(std::memory_order_relaxed)) * 1e-9});
  }
  return out;
}

}  // namespace engram

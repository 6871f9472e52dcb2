// Feature flags that change at run time, without a restart (Engine::set_features).
//
// One instance per engine, shared with every space through a shared_ptr; each flag is a relaxed
// atomic read at the start of an operation, so a change applies to operations that start after
// it and never tears one that is running.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

namespace engram {

// The rollout bucket of a key for a flag, in [0, 10000): FNV-1a 64 of "<flag>:<key>", stable across
// builds and platforms. A key is on at a stage of p percent when its bucket < p x 100, so raising
// the percentage only turns keys on. The server's per-request rollout (cpp/server/rollout.hpp)
// and concept formation's per-space rollout below use the same buckets.
inline std::uint32_t rollout_bucket(std::string_view flag, std::string_view key) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  const auto mix = [&h](std::string_view s) {
    for (const unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(flag);
  mix(":");
  mix(key);
  return static_cast<std::uint32_t>(h % 10000u);
}

// A plain copy of the flags, as a caller sees them at one moment.
struct FeatureValues {
  bool blended_recall = true;
  bool fan_effect = true;
  bool concept_formation = true;
};

struct FeatureFlags {
  // Blended recall uses the semantic (concept) pathway and spreading; off: every recall mode
  // answers from the episodic pathway only (provenance "episodic").
  std::atomic<bool> blended_recall{true};
  // Anderson's fan effect in the spreading step of blended recall.
  std::atomic<bool> fan_effect{true};
  // Consolidation may form new concepts; off: runs still refresh existing concepts.
  std::atomic<bool> concept_formation{true};
  // A staged rollout of concept formation by space (the server's PUT /admin/features): -1 none
  // (concept_formation decides), else basis points (0..10000): a space forms concepts when its
  // rollout bucket is below. Held in memory, as every rollout stage (a restart clears it).
  std::atomic<std::int32_t> concept_formation_rollout_bp{-1};

  // Whether consolidation may form concepts in `space` now.
  bool formation_allowed(std::string_view space) const noexcept {
    const std::int32_t bp = concept_formation_rollout_bp.load(std::memory_order_relaxed);
    if (bp < 0) return concept_formation.load(std::memory_order_relaxed);
    return rollout_bucket("concept_formation", space) < static_cast<std::uint32_t>(bp);
  }

  FeatureValues values() const noexcept { return {blended_recall.load(), fan_effect.load(), concept_formation.load()}; }
};

}  // namespace engram

// Feature flags that change at run time, without a restart (Engine::set_features).
//
// One instance per engine, shared with every space through a shared_ptr; each flag is a relaxed
// atomic read at the start of an operation, so a change applies to operations that start after
// it and never tears one that is running.
#pragma once

#include <atomic>

namespace engram {

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

  FeatureValues values() const noexcept { return {blended_recall.load(), fan_effect.load(), concept_formation.load()}; }
};

}  // namespace engram

// Feature flags that change at run time, without a restart (Engine::set_features).
//
// One instance per engine, shared with every space through a shared_ptr; each flag is a relaxed
// atomic read at the start of an operation, so a change applies to operations that start after
// it and never tears one that is running. The flags and their rollout stages are durable: each
// change is one Features record (docs/format.md), written by Engine::set_features.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <optional>
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

// The flags, by number: the order of the stages in the Features record (docs/format.md).
enum class Feature : std::uint8_t { BlendedRecall = 0, FanEffect = 1, ConceptFormation = 2 };
inline constexpr std::array<Feature, 3> kFeatures = {Feature::BlendedRecall, Feature::FanEffect,
                                                     Feature::ConceptFormation};
constexpr std::string_view feature_name(Feature f) noexcept {
  switch (f) {
    case Feature::BlendedRecall: return "blended_recall";
    case Feature::FanEffect: return "fan_effect";
    case Feature::ConceptFormation: return "concept_formation";
  }
  return "unknown";
}

// The flag named `name` ("blended_recall", ...); nullopt for any other name.
constexpr std::optional<Feature> parse_feature(std::string_view name) noexcept {
  for (const Feature f : kFeatures) {
    if (feature_name(f) == name) return f;
  }
  return std::nullopt;
}

// A staged rollout of one flag: on for `percent` of rollout keys (requests' keys for
// blended_recall and fan_effect, space names for concept_formation); shadow (percent 0, per-request
// flags only): the flag-on path is computed beside the served one and compared.
struct RolloutStage {
  double percent = 100.0;  // [0, 100], kept to 0.01 (basis points)
  bool shadow = false;
};

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
  // Each flag's rollout stage as one word (kRolloutActive | kRolloutShadow | basis points), so a
  // reader sees a consistent stage without a lock; 0: no rollout (the flag's value applies).
  // Durable since format 2 (the Features record; Engine::set_features).
  static constexpr std::uint32_t kRolloutActive = 1u << 31, kRolloutShadow = 1u << 30, kRolloutBasisMask = 0xffff;
  std::array<std::atomic<std::uint32_t>, kFeatures.size()> rollout{};

  static std::uint32_t encode_stage(const std::optional<RolloutStage>& st) noexcept {
    if (!st) return 0;
    const double pct = std::min(100.0, std::max(0.0, st->percent));
    return kRolloutActive | (st->shadow ? kRolloutShadow : 0u) | static_cast<std::uint32_t>(std::lround(pct * 100.0));
  }
  static std::optional<RolloutStage> decode_stage(std::uint32_t w) noexcept {
    if (!(w & kRolloutActive)) return std::nullopt;
    return RolloutStage{static_cast<double>(w & kRolloutBasisMask) / 100.0, (w & kRolloutShadow) != 0};
  }
  std::uint32_t rollout_word(Feature f) const noexcept {
    return rollout[static_cast<std::size_t>(f)].load(std::memory_order_acquire);
  }
  std::optional<RolloutStage> rollout_stage(Feature f) const noexcept { return decode_stage(rollout_word(f)); }

  // Whether consolidation may form concepts in `space` now.
  bool formation_allowed(std::string_view space) const noexcept {
    const std::uint32_t w = rollout_word(Feature::ConceptFormation);
    if (!(w & kRolloutActive)) return concept_formation.load(std::memory_order_relaxed);
    return rollout_bucket("concept_formation", space) < (w & kRolloutBasisMask);
  }

  FeatureValues values() const noexcept { return {blended_recall.load(), fan_effect.load(), concept_formation.load()}; }
};

}  // namespace engram

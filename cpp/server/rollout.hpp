// Staged rollout of the per-request feature flags (docs/operations/README.md, "Feature flags and
// staged rollout"; workflow 113): blended_recall and fan_effect can be on for a percentage of
// requests instead of all or none, the stages the seeds name being shadow, 1%, 10%, 50% and 100%.
//
// A request is assigned by its rollout key (the Engram-Rollout-Key header, else the API key's id,
// else "anonymous"): bucket = FNV-1a(flag ":" key) mod 10,000, on when bucket < percent x 100. The
// same key is always on the same side, and raising the percentage only moves keys from off to on.
// Shadow (percent 0 with shadow on): every request is served with the flag off and the recall is
// computed a second time with it on, its top-k compared with the served one
// (engram_rollout_shadow_*), so the new path is measured on live traffic before anyone sees it.
//
// A stage is the engine's (FeatureFlags::rollout, features.hpp), set through PUT /admin/features
// (Engine::set_features): it applies from the next request, without a restart, and is durable
// (the Features record of store format 2), so a restart resumes the rollout where it stood. Every
// server of one store sees the same stage.
//
// Locking: none. Each flag's stage is one atomic word of the engine's FeatureFlags, so a request
// reads a consistent stage without a lock.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "engram/features.hpp"

namespace engram::server {

// The flags a request is assigned by its key (concept formation rolls out by space instead).
using RolloutFlag = Feature;
inline constexpr std::array<RolloutFlag, 2> kRolloutFlags = {Feature::BlendedRecall, Feature::FanEffect};
inline std::string_view rollout_flag_name(RolloutFlag f) noexcept { return feature_name(f); }

// A request's side of one flag: whether the flag is on for it, and whether to shadow it.
struct RolloutAssignment {
  bool on = false;
  bool shadow = false;
};

// nullopt when the flag has no rollout (every request gets the engine's value).
std::optional<RolloutAssignment> assign_rollout(const FeatureFlags& flags, RolloutFlag f,
                                                std::string_view key) noexcept;
// The key's bucket for a flag, in [0, 10000).
std::uint32_t rollout_key_bucket(RolloutFlag f, std::string_view key) noexcept;

}  // namespace engram::server

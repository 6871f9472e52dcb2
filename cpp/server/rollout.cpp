#include "rollout.hpp"

namespace engram::server {

std::optional<RolloutAssignment> assign_rollout(const FeatureFlags& flags, RolloutFlag f,
                                                std::string_view key) noexcept {
  const std::uint32_t w = flags.rollout_word(f);
  if (!(w & FeatureFlags::kRolloutActive)) return std::nullopt;
  const bool on = rollout_key_bucket(f, key) < (w & FeatureFlags::kRolloutBasisMask);
  return RolloutAssignment{on, !on && (w & FeatureFlags::kRolloutShadow) != 0};
}

std::uint32_t rollout_key_bucket(RolloutFlag f, std::string_view key) noexcept {
  return rollout_bucket(rollout_flag_name(f), key);
}

}  // namespace engram::server

#include "rollout.hpp"

#include <cmath>

#include "engram/features.hpp"

namespace engram::server {

std::string_view rollout_flag_name(RolloutFlag f) noexcept {
  return f == RolloutFlag::BlendedRecall ? "blended_recall" : "fan_effect";
}

void Rollout::set(RolloutFlag f, std::optional<RolloutStage> stage) noexcept {
  std::uint32_t w = 0;
  if (stage) {
    const double pct = std::min(100.0, std::max(0.0, stage->percent));
    w = kActive | (stage->shadow ? kShadow : 0u) | static_cast<std::uint32_t>(std::lround(pct * 100.0));
  }
  words_[static_cast<std::size_t>(f)].store(w, std::memory_order_release);
}

std::optional<RolloutStage> Rollout::stage(RolloutFlag f) const noexcept {
  const std::uint32_t w = words_[static_cast<std::size_t>(f)].load(std::memory_order_acquire);
  if (!(w & kActive)) return std::nullopt;
  return RolloutStage{static_cast<double>(w & kPercentMask) / 100.0, (w & kShadow) != 0};
}

std::optional<RolloutAssignment> Rollout::assign(RolloutFlag f, std::string_view key) const noexcept {
  const std::uint32_t w = words_[static_cast<std::size_t>(f)].load(std::memory_order_acquire);
  if (!(w & kActive)) return std::nullopt;
  const bool on = bucket(f, key) < (w & kPercentMask);
  return RolloutAssignment{on, !on && (w & kShadow) != 0};
}

std::uint32_t Rollout::bucket(RolloutFlag f, std::string_view key) noexcept {
  return rollout_bucket(rollout_flag_name(f), key);
}

}  // namespace engram::server

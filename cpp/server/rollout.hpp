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
// A stage is the server's, held in memory: it applies from the next request, without a restart,
// and a restart returns each flag to the engine's durable value (PUT /admin/features with
// booleans, a WAL record), so a rollout in progress is re-applied by whoever drives it. The
// engine's flag stays the value for requests of other servers and for background work.
//
// Locking: none. Each flag's stage is one atomic word (active, shadow, percent x 100), so a
// request reads a consistent stage without a lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>

namespace engram::server {

enum class RolloutFlag : std::uint8_t { BlendedRecall = 0, FanEffect = 1 };
inline constexpr std::array<RolloutFlag, 2> kRolloutFlags = {RolloutFlag::BlendedRecall, RolloutFlag::FanEffect};
std::string_view rollout_flag_name(RolloutFlag f) noexcept;

struct RolloutStage {
  double percent = 100.0;  // [0, 100]: the share of rollout keys with the flag on
  bool shadow = false;     // with percent 0: compute the flag-on path beside the served one
};

// A request's side of one flag: whether the flag is on for it, and whether to shadow it.
struct RolloutAssignment {
  bool on = false;
  bool shadow = false;
};

class Rollout {
 public:
  // nullopt: no rollout for the flag (every request gets the engine's value).
  void set(RolloutFlag f, std::optional<RolloutStage> stage) noexcept;
  std::optional<RolloutStage> stage(RolloutFlag f) const noexcept;
  // nullopt when the flag has no rollout.
  std::optional<RolloutAssignment> assign(RolloutFlag f, std::string_view key) const noexcept;
  // The key's bucket for a flag, in [0, 10000).
  static std::uint32_t bucket(RolloutFlag f, std::string_view key) noexcept;

 private:
  static constexpr std::uint32_t kActive = 1u << 31, kShadow = 1u << 30, kPercentMask = 0xffff;
  std::array<std::atomic<std::uint32_t>, kRolloutFlags.size()> words_{};
};

}  // namespace engram::server

// The staged rollout's assignment (rollout.hpp): stable per key, monotone in the percentage, close
// to the percentage over many keys, shadow only for the keys left off. Over HTTP:
// tests/server/test_rollout.py.
#include "rollout.hpp"

#include <gtest/gtest.h>

#include <string>

namespace engram::server {
namespace {

// A stand-in for Engine::set_features's store of a stage (engine tests cover the record).
void set(FeatureFlags& f, RolloutFlag flag, std::optional<RolloutStage> st) {
  f.rollout[static_cast<std::size_t>(flag)].store(FeatureFlags::encode_stage(st));
}

TEST(Rollout, NoStageMeansTheEnginesValue) {
  FeatureFlags r;
  EXPECT_FALSE(assign_rollout(r, RolloutFlag::BlendedRecall, "k"));
  EXPECT_FALSE(r.rollout_stage(RolloutFlag::FanEffect));
}

TEST(Rollout, AssignmentIsStableAndMonotoneInThePercentage) {
  FeatureFlags r;
  int on_at[5] = {0, 0, 0, 0, 0};
  const double stages[5] = {0.0, 1.0, 10.0, 50.0, 100.0};
  constexpr int kKeys = 20000;
  for (int s = 0; s < 5; ++s) {
    set(r, RolloutFlag::BlendedRecall, RolloutStage{stages[s], false});
    for (int k = 0; k < kKeys; ++k) {
      const std::string key = "key-" + std::to_string(k);
      const bool on = assign_rollout(r, RolloutFlag::BlendedRecall, key)->on;
      EXPECT_EQ(on, assign_rollout(r, RolloutFlag::BlendedRecall, key)->on);  // stable
      if (s > 0 && !on) {                                                     // monotone: off now, off before
        set(r, RolloutFlag::BlendedRecall, RolloutStage{stages[s - 1], false});
        EXPECT_FALSE(assign_rollout(r, RolloutFlag::BlendedRecall, key)->on) << key;
        set(r, RolloutFlag::BlendedRecall, RolloutStage{stages[s], false});
      }
      on_at[s] += on;
    }
  }
  EXPECT_EQ(on_at[0], 0);
  EXPECT_EQ(on_at[4], kKeys);
  // binomial: 20,000 keys at p gives a standard deviation of sqrt(p(1-p)/n) (<= 0.35 points)
  EXPECT_NEAR(100.0 * on_at[1] / kKeys, 1.0, 0.5);
  EXPECT_NEAR(100.0 * on_at[2] / kKeys, 10.0, 1.5);
  EXPECT_NEAR(100.0 * on_at[3] / kKeys, 50.0, 2.0);
}

TEST(Rollout, FlagsAreAssignedIndependently) {
  int both = 0;
  for (int k = 0; k < 10000; ++k) {
    const std::string key = std::to_string(k);
    both += rollout_key_bucket(RolloutFlag::BlendedRecall, key) < 5000 &&
            rollout_key_bucket(RolloutFlag::FanEffect, key) < 5000;
  }
  EXPECT_NEAR(both / 10000.0, 0.25, 0.03);  // not the same half for both flags
}

TEST(Rollout, ShadowOnlyForKeysLeftOff) {
  FeatureFlags r;
  set(r, RolloutFlag::FanEffect, RolloutStage{0.0, true});
  const auto a = assign_rollout(r, RolloutFlag::FanEffect, "anyone");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->on);
  EXPECT_TRUE(a->shadow);
  EXPECT_EQ(r.rollout_stage(RolloutFlag::FanEffect)->shadow, true);
  set(r, RolloutFlag::FanEffect, std::nullopt);
  EXPECT_FALSE(assign_rollout(r, RolloutFlag::FanEffect, "anyone"));
}

}  // namespace
}  // namespace engram::server

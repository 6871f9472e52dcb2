// Temporal decay functions against their closed forms and anchor values.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engram/decay.hpp"
#include "engram/errors.hpp"

namespace engram::decay {
namespace {

TEST(Decay, DefaultsMatchTheRequirements) {
  EXPECT_DOUBLE_EQ(Exponential{}.tau, 1.96 * kHour);
  EXPECT_DOUBLE_EQ(PowerLaw{}.beta, 0.18);
  EXPECT_DOUBLE_EQ(TwoComponent{}.recent_half_life, 7 * kDay);
  EXPECT_DOUBLE_EQ(TwoComponent{}.remote_half_life, 90 * kDay);
  EXPECT_DOUBLE_EQ(Hybrid{}.tau, 0.8 * kHour);
  EXPECT_DOUBLE_EQ(Hybrid{}.beta, 0.25);
  EXPECT_DOUBLE_EQ(Hybrid{}.switch_after, 24 * kHour);
}

TEST(Decay, AnchorValues) {
  EXPECT_DOUBLE_EQ(exponential(0.0), 1.0);
  EXPECT_NEAR(exponential(1.96 * kHour), std::exp(-1.0), 1e-15);  // R(tau) = 1/e
  // Power law: R = 0.5 where (1 + t)^beta = 2.
  const double t_half = (std::pow(2.0, 1.0 / 0.18) - 1.0) * kHour;
  EXPECT_NEAR(power_law(t_half), 0.5, 1e-12);
  // Two components with all weight on one of them halve at that half-life.
  EXPECT_NEAR(two_component(7 * kDay, {7 * kDay, 90 * kDay, 1.0}), 0.5, 1e-15);
  EXPECT_NEAR(two_component(90 * kDay, {7 * kDay, 90 * kDay, 0.0}), 0.5, 1e-15);
  EXPECT_NEAR(two_component(7 * kDay), 0.5 * 0.5 + 0.5 * std::exp2(-7.0 / 90.0), 1e-15);
  // Hybrid: exponential just before the switch, power law from it on (the upstream jump).
  EXPECT_NEAR(hybrid(24 * kHour - 1.0), std::exp(-(24 * kHour - 1.0) / (0.8 * kHour)), 1e-18);
  EXPECT_NEAR(hybrid(24 * kHour), std::pow(25.0, -0.25), 1e-15);
}

TEST(Decay, MatchesClosedFormsOnRandomAgesAndParameters) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> age(0.0, 400 * kDay), pos(60.0, 30 * kDay), expo(0.0, 2.0), w(0.0, 1.0);
  for (int i = 0; i < 2000; ++i) {
    const double t = age(rng);
    const Exponential e{pos(rng)};
    EXPECT_NEAR(retention(Model{e}, t), std::exp(-t / e.tau), 1e-15);
    const PowerLaw p{expo(rng), pos(rng)};
    EXPECT_NEAR(retention(Model{p}, t), std::pow(1.0 + t / p.unit, -p.beta), 1e-15);
    const TwoComponent c{pos(rng), pos(rng), w(rng)};
    EXPECT_NEAR(retention(Model{c}, t),
                c.recent_weight * std::pow(0.5, t / c.recent_half_life) +
                    (1 - c.recent_weight) * std::pow(0.5, t / c.remote_half_life),
                1e-14);
    const Hybrid h{pos(rng), expo(rng), pos(rng), pos(rng), false};
    const double expect = t < h.switch_after ? std::exp(-t / h.tau) : std::pow(1.0 + t / h.unit, -h.beta);
    EXPECT_NEAR(retention(Model{h}, t), expect, 1e-15);
  }
}

TEST(Decay, MonotoneNonIncreasingAndWithinUnitInterval) {
  for (const Model& m :
       {Model{Exponential{}}, Model{PowerLaw{}}, Model{TwoComponent{}}, Model{Hybrid{.match_at_switch = true}}}) {
    double prev = retention(m, 0.0);
    EXPECT_DOUBLE_EQ(prev, 1.0) << model_name(m);
    for (double t = 60.0; t < 2 * 365 * kDay; t *= 1.3) {
      const double r = retention(m, t);
      EXPECT_LE(r, prev) << model_name(m) << " at " << t;
      EXPECT_GE(r, 0.0);
      prev = r;
    }
  }
}

TEST(Decay, MatchAtSwitchMakesHybridContinuous) {
  const Hybrid h{.match_at_switch = true};
  const double before = hybrid(h.switch_after - 1e-3, h), at = hybrid(h.switch_after, h);
  EXPECT_NEAR(at / before, 1.0, 1e-5);
  const Hybrid upstream{};
  EXPECT_GT(hybrid(upstream.switch_after, upstream) / hybrid(upstream.switch_after - 1e-3, upstream), 1e6);
}

TEST(Decay, NegativeAndNanAgesCountAsZero) {
  for (const Model& m : {Model{Exponential{}}, Model{PowerLaw{}}, Model{TwoComponent{}}, Model{Hybrid{}}}) {
    EXPECT_DOUBLE_EQ(retention(m, -100.0), 1.0);
    EXPECT_DOUBLE_EQ(retention(m, std::nan("")), 1.0);
  }
  EXPECT_DOUBLE_EQ(retention_at(Model{Exponential{}}, 1000.0, 1000.0 + 1.96 * kHour), std::exp(-1.0));
}

TEST(Decay, ValidationNamesTheBadParameter) {
  EXPECT_THROW(validate(Model{Exponential{0.0}}), InvalidInputError);
  EXPECT_THROW(validate(Model{PowerLaw{-0.1, kHour}}), InvalidInputError);
  EXPECT_THROW(validate(Model{TwoComponent{kDay, kDay, 1.5}}), InvalidInputError);
  EXPECT_THROW(validate(Model{Hybrid{.tau = std::nan("")}}), InvalidInputError);
  EXPECT_NO_THROW(validate(Model{TwoComponent{}}));
  try {
    validate(Model{PowerLaw{1.0, -1.0}});
    FAIL();
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("unit"), std::string::npos);
  }
}

TEST(Decay, ModelNames) {
  for (const char* n : {"exponential", "power_law", "two_component", "hybrid"}) {
    const auto m = model_from_name(n);
    ASSERT_TRUE(m.has_value()) << n;
    EXPECT_STREQ(model_name(*m), n);
  }
  EXPECT_TRUE(model_from_name("two-component").has_value());
  EXPECT_FALSE(model_from_name("ebbinghaus").has_value());
}

}  // namespace
}  // namespace engram::decay

// Spreading activation: exact values on small graphs and invariants on random graphs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <unordered_map>
#include <vector>

#include "engram/errors.hpp"
#include "engram/graph.hpp"
#include "engram/spread.hpp"

namespace engram {
namespace {

std::map<std::int64_t, Activation> by_id(const std::vector<Activation>& r) {
  std::map<std::int64_t, Activation> m;
  for (const Activation& a : r) m[a.id] = a;
  return m;
}

// A config where only the function under test attenuates: unit direction weights, no fan.
SpreadConfig plain() {
  SpreadConfig c;
  c.threshold = 0.0;
  c.fan_effect = false;
  c.direction = {1.0, 1.0, 1.0, 1.0};
  return c;
}

TEST(Spread, ChainCarriesTheHopDecayOfEachDistance) {
  Graph g;
  for (std::int64_t i = 1; i < 6; ++i) g.add_edge(i, i + 1, EdgeKind::Association);
  for (const HopDecay d : {HopDecay::Exponential, HopDecay::PowerLaw, HopDecay::Linear}) {
    SpreadConfig c = plain();
    c.decay = d;
    c.max_hops = 5;
    const Seed s{1, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c));
    const double rate = default_decay_rate(d);
    for (std::int64_t i = 2; i <= 5; ++i) {
      const auto h = static_cast<std::uint32_t>(i - 1);
      if (hop_decay(d, rate, h) == 0.0) {  // linear: nothing survives a zero attenuation
        EXPECT_FALSE(m.count(i)) << hop_decay_name(d) << " node " << i;
        continue;
      }
      ASSERT_TRUE(m.count(i)) << hop_decay_name(d) << " node " << i;
      EXPECT_EQ(m.at(i).hops, h);
      EXPECT_NEAR(m.at(i).activation, hop_decay(d, rate, h), 1e-6) << hop_decay_name(d) << " hop " << h;
      if (i > 2) EXPECT_LT(m.at(i).activation, m.at(i - 1).activation);
    }
  }
}

TEST(Spread, HopDecayClosedForms) {
  EXPECT_DOUBLE_EQ(hop_decay(HopDecay::Exponential, 0.7, 0), 1.0);
  EXPECT_DOUBLE_EQ(hop_decay(HopDecay::Exponential, 0.7, 3), std::exp(-2.1));
  EXPECT_DOUBLE_EQ(hop_decay(HopDecay::PowerLaw, 1.5, 2), std::pow(3.0, -1.5));
  EXPECT_DOUBLE_EQ(hop_decay(HopDecay::Linear, 0.25, 3), 0.25);
  EXPECT_DOUBLE_EQ(hop_decay(HopDecay::Linear, 0.25, 5), 0.0);
  EXPECT_EQ(parse_hop_decay("power-law"), HopDecay::PowerLaw);
  EXPECT_FALSE(parse_hop_decay("cubic").has_value());
}

TEST(Spread, LinearDecayStopsWhereItReachesZero) {
  Graph g;
  for (std::int64_t i = 1; i < 10; ++i) g.add_edge(i, i + 1, EdgeKind::Association);
  SpreadConfig c = plain();
  c.decay = HopDecay::Linear;
  c.decay_rate = 0.5;  // 0.5 at hop 1, 0 at hop 2
  c.max_hops = 8;
  const Seed s{1, 1.0};
  const auto m = by_id(spread(g, {&s, 1}, c));
  EXPECT_EQ(m.size(), 2u);
  EXPECT_NEAR(m.at(2).activation, 0.5, 1e-7);
}

TEST(Spread, WeightsAndDirectionWeightsMultiply) {
  Graph g;
  g.add_edge(1, 2, EdgeKind::Association, 0.5f);
  SpreadConfig c;
  c.threshold = 0.0;
  c.fan_effect = false;
  const Seed s{1, 0.8};
  const auto m = by_id(spread(g, {&s, 1}, c));
  // episode -> episode: episodic direction weight 0.3, exponential step e^-0.7.
  EXPECT_NEAR(m.at(2).activation, 0.8 * 0.5 * 0.3 * std::exp(-0.7), 1e-7);
  EXPECT_NEAR(m.at(1).activation, 0.8, 1e-7);
}

TEST(Spread, HierarchicalDirectionsFollowNodeKinds) {
  // Episodes 1, 2; concepts 10, 11. Binding 1 -> 10 (walked up from 1, down from 10),
  // hierarchy 10 -> 11.
  Graph g;
  g.add_edge(1, 10, EdgeKind::Binding, 1.0f, 0.5f, 1.0f);
  g.add_edge(2, 10, EdgeKind::Binding, 1.0f, 1.0f, 1.0f);
  g.add_edge(10, 11, EdgeKind::Hierarchy, 1.0f);
  const NodeKindFn kinds = [](std::int64_t id) -> std::optional<MemoryKind> {
    return id >= 10 ? MemoryKind::Concept : MemoryKind::Episode;
  };
  SpreadConfig c;
  c.threshold = 0.0;
  c.fan_effect = false;
  c.decay_rate = 0.0;  // step 1: isolate the direction weights
  c.max_hops = 1;
  {
    const Seed s{1, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c, kinds));
    EXPECT_NEAR(m.at(10).activation, 0.8 * 0.5, 1e-7);  // upward x binding strength
  }
  {
    const Seed s{10, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c, kinds));
    EXPECT_NEAR(m.at(1).activation, 0.6 * 0.5, 1e-7);  // downward through the binding in-edge
    EXPECT_NEAR(m.at(2).activation, 0.6, 1e-7);
    EXPECT_NEAR(m.at(11).activation, 0.4, 1e-7);  // lateral
  }
  {
    c.follow_bindings_backward = false;
    const Seed s{10, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c, kinds));
    EXPECT_FALSE(m.count(1));
    EXPECT_TRUE(m.count(11));
  }
  {
    // With the fan effect the upward boost applies: episode 1 has fan 1.
    c.fan_effect = true;
    const Seed s{1, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c, kinds));
    EXPECT_NEAR(m.at(10).activation, 0.8 * 0.5 * 1.2, 1e-7);
  }
}

TEST(Spread, FanEffectDividesBySourceFan) {
  std::vector<double> per_target;
  for (int fan = 1; fan <= 8; ++fan) {
    Graph g;
    for (int t = 0; t < fan; ++t) g.add_edge(1, 100 + t, EdgeKind::Association);
    SpreadConfig c = plain();
    c.fan_effect = true;
    c.max_hops = 1;
    const Seed s{1, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c));
    ASSERT_EQ(m.size(), static_cast<std::size_t>(fan) + 1);
    EXPECT_NEAR(m.at(100).activation, std::exp(-0.7) / fan, 1e-7);
    per_target.push_back(m.at(100).activation);
    c.fan_divisor = FanDivisor::Sqrt;
    EXPECT_NEAR(by_id(spread(g, {&s, 1}, c)).at(100).activation, std::exp(-0.7) / std::sqrt(fan), 1e-7);
    c.fan_effect = false;
    EXPECT_NEAR(by_id(spread(g, {&s, 1}, c)).at(100).activation, std::exp(-0.7), 1e-7);
  }
  for (std::size_t i = 1; i < per_target.size(); ++i) EXPECT_LT(per_target[i], per_target[i - 1]);
}

TEST(Spread, MinFanAppliesBelowIt) {
  Graph g;
  g.add_edge(1, 2, EdgeKind::Association);
  SpreadConfig c = plain();
  c.fan_effect = true;
  c.min_fan = 4.0;
  c.max_hops = 1;
  const Seed s{1, 1.0};
  EXPECT_NEAR(by_id(spread(g, {&s, 1}, c)).at(2).activation, std::exp(-0.7) / 4.0, 1e-7);
}

TEST(Spread, DeadTargetsAreNeitherEnteredNorCountedInTheFan) {
  Graph g;
  g.add_edge(1, 2, EdgeKind::Association);
  g.add_edge(1, 3, EdgeKind::Association);
  g.add_edge(3, 4, EdgeKind::Association);
  const NodeKindFn kinds = [](std::int64_t id) -> std::optional<MemoryKind> {
    if (id == 3) return std::nullopt;
    return MemoryKind::Episode;
  };
  SpreadConfig c = plain();
  c.fan_effect = true;
  const Seed s{1, 1.0};
  const auto m = by_id(spread(g, {&s, 1}, c, kinds));
  EXPECT_FALSE(m.count(3));
  EXPECT_FALSE(m.count(4));
  EXPECT_NEAR(m.at(2).activation, std::exp(-0.7), 1e-7);  // fan 1, not 2
}

TEST(Spread, RevisitsArePenalisedAndCapped) {
  Graph g;
  g.add_edge(1, 2, EdgeKind::Association, 0.5f);
  g.add_edge(2, 1, EdgeKind::Association, 0.5f);
  SpreadConfig c = plain();
  c.decay_rate = 0.0;
  c.max_hops = 2;
  const Seed s{1, 0.5};
  const auto m = by_id(spread(g, {&s, 1}, c));
  EXPECT_NEAR(m.at(2).activation, 0.25, 1e-7);
  // Hop 2 returns 0.125 to the seed, which was activated once before: x 0.93.
  EXPECT_NEAR(m.at(1).activation, 0.5 + 0.125 * 0.93, 1e-7);
  EXPECT_EQ(m.at(1).hops, 0u);

  // Many strong paths into one node never push it above the cap.
  Graph star;
  for (int i = 0; i < 20; ++i) {
    star.add_edge(1, 100 + i, EdgeKind::Association);
    star.add_edge(100 + i, 2, EdgeKind::Association);
  }
  SpreadConfig d = plain();
  d.decay_rate = 0.0;
  const auto r = by_id(spread(star, {&s, 1}, d));
  EXPECT_FLOAT_EQ(r.at(2).activation, 1.0f);
}

TEST(Spread, CyclesTerminateAndResultsAreDeterministic) {
  // A dense random graph with cycles everywhere, threshold 0 and the deepest allowed spread.
  std::mt19937_64 rng(7);
  std::vector<std::pair<std::int64_t, std::int64_t>> edges;
  for (std::int64_t a = 1; a <= 60; ++a) {
    for (std::int64_t b = 1; b <= 60; ++b) {
      if (a != b && rng() % 4 == 0) edges.emplace_back(a, b);
    }
  }
  std::vector<float> weights;
  for (std::size_t i = 0; i < edges.size(); ++i) weights.push_back(static_cast<float>(rng() % 1000) / 1000.0f);
  Graph g1, g2;
  for (std::size_t i = 0; i < edges.size(); ++i)
    g1.add_edge(edges[i].first, edges[i].second, EdgeKind::Association, weights[i]);
  // Same edge set, inserted in reverse order.
  for (std::size_t i = edges.size(); i-- > 0;)
    g2.add_edge(edges[i].first, edges[i].second, EdgeKind::Association, weights[i]);
  SpreadConfig c;
  c.threshold = 0.0;
  c.max_hops = 64;
  c.decay_rate = 0.05;
  c.direction.episodic = 1.0;
  const Seed seeds[] = {{3, 1.0}, {17, 0.6}};
  const auto r1 = spread(g1, seeds, c);
  const auto r2 = spread(g1, seeds, c);
  const auto r3 = spread(g2, seeds, c);
  ASSERT_EQ(r1.size(), r2.size());
  ASSERT_EQ(r1.size(), r3.size());
  for (std::size_t i = 0; i < r1.size(); ++i) {
    EXPECT_EQ(r1[i].id, r2[i].id);
    EXPECT_EQ(r1[i].activation, r2[i].activation);  // bitwise
    EXPECT_EQ(r1[i].id, r3[i].id);
    EXPECT_EQ(r1[i].activation, r3[i].activation);
    EXPECT_EQ(r1[i].hops, r3[i].hops);
    if (i > 0) {
      EXPECT_TRUE(r1[i - 1].activation > r1[i].activation ||
                  (r1[i - 1].activation == r1[i].activation && r1[i - 1].id < r1[i].id));
    }
  }
}

// Random graphs: with the linear fan divisor nothing reached by spreading exceeds its seed,
// and the activation first reached at hop h is bounded by the geometric mass of hops >= h.
TEST(Spread, RandomGraphsNeverExceedTheSeedAndMassDecaysWithHops) {
  std::mt19937_64 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    Graph g;
    const int n = 5 + static_cast<int>(rng() % 40);
    const int m = static_cast<int>(rng() % static_cast<unsigned>(4 * n));
    for (int e = 0; e < m; ++e) {
      const std::int64_t a = 1 + static_cast<std::int64_t>(rng() % static_cast<unsigned>(n));
      const std::int64_t b = 1 + static_cast<std::int64_t>(rng() % static_cast<unsigned>(n));
      if (a != b) g.add_edge(a, b, EdgeKind::Association, static_cast<float>(rng() % 1001) / 1000.0f);
    }
    SpreadConfig c;
    c.threshold = 0.0;
    c.max_hops = 1 + static_cast<std::uint32_t>(rng() % 6);
    c.decay_rate = static_cast<double>(rng() % 100) / 100.0;
    c.direction.episodic = static_cast<double>(1 + rng() % 100) / 100.0;
    const double seed_act = static_cast<double>(1 + rng() % 1000) / 1000.0;
    const Seed s{1, seed_act};
    const auto r = spread(g, {&s, 1}, c);
    const double f = c.direction.episodic * std::exp(-*c.decay_rate);  // largest per-hop factor
    std::vector<double> mass(c.max_hops + 1, 0.0);
    for (const Activation& a : r) {
      if (a.id == 1) {
        EXPECT_GE(a.activation, static_cast<float>(seed_act) - 1e-6f);
        continue;
      }
      EXPECT_LE(a.activation, seed_act + 1e-6) << "trial " << trial;
      ASSERT_GE(a.hops, 1u);
      mass[a.hops] += a.activation;
    }
    for (std::uint32_t h = 1; h <= c.max_hops; ++h) {
      const double bound = f >= 1.0 ? seed_act * (c.max_hops - h + 1) : seed_act * std::pow(f, h) / (1.0 - f);
      EXPECT_LE(mass[h], bound + 1e-6) << "trial " << trial << " hop " << h;
    }
  }
}

TEST(Spread, RandomTreesDecreaseAlongEveryPath) {
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 100; ++trial) {
    Graph g;
    const int n = 2 + static_cast<int>(rng() % 60);
    std::unordered_map<std::int64_t, std::int64_t> parent;
    for (std::int64_t v = 2; v <= n; ++v) {
      const std::int64_t p = 1 + static_cast<std::int64_t>(rng() % static_cast<unsigned>(v - 1));
      parent[v] = p;
      g.add_edge(p, v, EdgeKind::Association, static_cast<float>(1 + rng() % 1000) / 1000.0f);
    }
    SpreadConfig c;
    c.threshold = 0.0;
    c.max_hops = 8;
    c.fan_effect = rng() % 2 == 0;
    c.decay = static_cast<HopDecay>(rng() % 3);
    const Seed s{1, 1.0};
    const auto m = by_id(spread(g, {&s, 1}, c));
    for (const auto& [id, a] : m) {
      if (id == 1) continue;
      ASSERT_TRUE(m.count(parent[id]));
      EXPECT_LT(a.activation, m.at(parent[id]).activation);
      EXPECT_EQ(a.hops, m.at(parent[id]).hops + 1);
    }
  }
}

TEST(Spread, ThresholdFiltersResultsButKeepsSeeds) {
  Graph g;
  g.add_edge(1, 2, EdgeKind::Association, 1.0f);
  g.add_edge(1, 3, EdgeKind::Association, 0.1f);
  SpreadConfig c;
  c.fan_effect = false;
  c.direction.episodic = 1.0;
  c.threshold = 0.1;
  const Seed s{1, 0.05};  // seed below the threshold
  auto m = by_id(spread(g, {&s, 1}, c));
  EXPECT_EQ(m.size(), 1u);
  const Seed strong{1, 1.0};
  m = by_id(spread(g, {&strong, 1}, c));
  EXPECT_TRUE(m.count(2));   // e^-0.7 ~ 0.50
  EXPECT_FALSE(m.count(3));  // ~ 0.05
  for (const auto& [id, a] : m) EXPECT_TRUE(id == 1 || a.activation >= 0.1f);
  c.max_results = 1;
  EXPECT_EQ(spread(g, {&strong, 1}, c).size(), 1u);
}

TEST(Spread, DuplicateSeedsKeepTheLargestAndZeroHopsReturnsSeeds) {
  Graph g;
  g.add_edge(1, 2, EdgeKind::Association);
  SpreadConfig c;
  c.max_hops = 0;
  const Seed seeds[] = {{1, 0.3}, {1, 0.9}, {2, 0.2}};
  const auto r = spread(g, seeds, c);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].id, 1);
  EXPECT_FLOAT_EQ(r[0].activation, 0.9f);
  EXPECT_EQ(r[1].hops, 0u);
}

TEST(Spread, InvalidConfigAndSeedsAreRejected) {
  Graph g;
  const Seed ok{1, 1.0};
  const auto bad = [&](auto mutate) {
    SpreadConfig c;
    mutate(c);
    EXPECT_THROW(spread(g, {&ok, 1}, c), InvalidInputError);
  };
  bad([](SpreadConfig& c) { c.threshold = -0.1; });
  bad([](SpreadConfig& c) { c.threshold = 1.5; });
  bad([](SpreadConfig& c) { c.max_hops = 65; });
  bad([](SpreadConfig& c) { c.decay_rate = -1.0; });
  bad([](SpreadConfig& c) { c.decay_rate = std::nan(""); });
  bad([](SpreadConfig& c) { c.min_fan = 0.5; });
  bad([](SpreadConfig& c) { c.direction.upward = 1.5; });
  bad([](SpreadConfig& c) { c.cycle_penalty = 1.1; });
  bad([](SpreadConfig& c) { c.max_activation = 0.0; });
  for (const double a : {0.0, -0.5, 1.5, std::nan("")}) {
    const Seed s{1, a};
    EXPECT_THROW(spread(g, {&s, 1}, SpreadConfig{}), InvalidInputError);
  }
}

}  // namespace
}  // namespace engram

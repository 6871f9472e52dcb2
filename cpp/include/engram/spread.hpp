// Spreading activation over a Graph: single-threaded per query, one frontier per hop.
//
// Semantics:
//  - Seeds start with their initial activation (in (0, 1]) at hop 0.
//  - At hop h (1..max_hops) every node u of the frontier sends, along each followed edge u -> v
//    whose target is live, the contribution
//        delta_u * weight * direction(kind(u), kind(v)) * step(h) / fan(u)   [* upward_boost]
//    where delta_u is the activation u gained at the previous hop (only gains propagate),
//    step(h) = decay(h) / decay(h-1) so that a chain of unit edges carries decay(h) to hop h,
//    direction() is upward (episode->concept), downward (concept->episode), lateral
//    (concept->concept) or episodic (episode->episode), fan(u) = max(min_fan, number of live
//    followed edges of u) (or its square root) when fan_effect is on, else 1, and
//    upward_boost applies to upward hops when fan_effect is on.
//  - Followed edges of u: its out-edges, plus (follow_bindings_backward) the binding in-edges
//    of u reversed, so a concept reaches its member episodes.
//  - Contributions to one target within one hop are summed (in canonical id order). A sum
//    below threshold is dropped. A node already activated before this hop is a revisit: its
//    sum is multiplied by cycle_penalty^(earlier activations). The node's activation becomes
//    min(max_activation, old + sum); the applied gain is its delta for the next hop.
//  - hops of a result = the hop at which the node was first activated (0 for seeds).
//  - Results: nodes with activation >= threshold (seeds always), ranked by activation
//    descending then id ascending; truncated to max_results when non-zero.
// Termination is bounded by max_hops; results depend only on the graph, the seeds and the
// config (frontiers and edges are visited in id order), not on timing or insertion order.
// With fan_effect on (linear divisor), weights and direction weights <= 1 and upward_boost *
// upward <= 1, the total activation sent out never exceeds what a node received, so no
// node's activation exceeds the sum of the seeds' activations.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engram/graph.hpp"
#include "engram/memory.hpp"

namespace engram {

enum class HopDecay : std::uint8_t { Exponential = 0, PowerLaw = 1, Linear = 2 };
const char* hop_decay_name(HopDecay d) noexcept;
// "exponential", "power_law" (also "power-law", "powerlaw") or "linear"; nullopt otherwise.
std::optional<HopDecay> parse_hop_decay(std::string_view name) noexcept;
// The rate used when SpreadConfig::decay_rate is unset: 0.7 (exponential), 1.0 (power law
// exponent), 0.25 (linear slope).
double default_decay_rate(HopDecay d) noexcept;
// Attenuation of a path of `hops` hops: e^(-rate*h), (1+h)^(-rate), max(0, 1 - rate*h).
double hop_decay(HopDecay d, double rate, std::uint32_t hops) noexcept;

enum class FanDivisor : std::uint8_t { Linear = 0, Sqrt = 1 };

struct DirectionWeights {
  double upward = 0.8;    // episode -> concept
  double downward = 0.6;  // concept -> episode
  double lateral = 0.4;   // concept -> concept
  double episodic = 0.3;  // episode -> episode
};

struct SpreadConfig {
  std::uint32_t max_hops = 3;
  HopDecay decay = HopDecay::Exponential;
  std::optional<double> decay_rate;  // unset: default_decay_rate(decay)
  double threshold = 0.1;
  bool fan_effect = true;
  FanDivisor fan_divisor = FanDivisor::Linear;
  double min_fan = 1.0;
  double upward_boost = 1.2;  // Anderson fan model: episode -> concept hops, only with fan_effect
  DirectionWeights direction{};
  double cycle_penalty = 0.93;
  double max_activation = 1.0;  // per-node cap
  bool follow_bindings_backward = true;
  std::size_t max_results = 0;  // 0: all
};

// Throws InvalidInputError naming the bad field and its allowed range.
void validate(const SpreadConfig& c);

struct Seed {
  std::int64_t id = 0;
  double activation = 1.0;
};

struct Activation {
  std::int64_t id = 0;
  float activation = 0.0f;
  std::uint32_t hops = 0;
};

// Kind of a live node, or nullopt when the node is not live (forgotten, unknown): such nodes
// are never entered. An empty function treats every node as a live episode.
using NodeKindFn = std::function<std::optional<MemoryKind>(std::int64_t)>;

// Validates the config and seeds (finite activations in (0, 1]; duplicate ids keep the
// largest), then spreads. Seeds are not checked against node_kind: the caller does that.
std::vector<Activation> spread(const Graph& graph, std::span<const Seed> seeds, const SpreadConfig& config,
                               const NodeKindFn& node_kind = {});

}  // namespace engram

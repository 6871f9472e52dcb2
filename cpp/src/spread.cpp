#include "engram/spread.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "engram/errors.hpp"

namespace engram {

const char* hop_decay_name(HopDecay d) noexcept {
  switch (d) {
    case HopDecay::Exponential: return "exponential";
    case HopDecay::PowerLaw: return "power_law";
    case HopDecay::Linear: return "linear";
  }
  return "unknown";
}

std::optional<HopDecay> parse_hop_decay(std::string_view name) noexcept {
  if (name == "exponential") return HopDecay::Exponential;
  if (name == "power_law" || name == "power-law" || name == "powerlaw") return HopDecay::PowerLaw;
  if (name == "linear") return HopDecay::Linear;
  return std::nullopt;
}

double default_decay_rate(HopDecay d) noexcept {
  switch (d) {
    case HopDecay::Exponential: return 0.7;
    case HopDecay::PowerLaw: return 1.0;
    case HopDecay::Linear: return 0.25;
  }
  return 0.7;
}

double hop_decay(HopDecay d, double rate, std::uint32_t hops) noexcept {
  const double h = static_cast<double>(hops);
  switch (d) {
    case HopDecay::Exponential: return std::exp(-rate * h);
    case HopDecay::PowerLaw: return std::pow(1.0 + h, -rate);
    case HopDecay::Linear: return std::max(0.0, 1.0 - rate * h);
  }
  return 0.0;
}

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw InvalidInputError(what);
}

std::string num(double v) { return std::to_string(v); }

}  // namespace

void validate(const SpreadConfig& c) {
  require(c.max_hops <= 64, "max_hops must be between 0 and 64, got " + std::to_string(c.max_hops));
  if (c.decay_rate) {
    require(std::isfinite(*c.decay_rate) && *c.decay_rate >= 0.0,
            "decay_rate must be a finite number >= 0, got " + num(*c.decay_rate));
  }
  require(std::isfinite(c.threshold) && c.threshold >= 0.0 && c.threshold <= 1.0,
          "threshold must be in [0, 1], got " + num(c.threshold));
  require(std::isfinite(c.min_fan) && c.min_fan >= 1.0, "min_fan must be a finite number >= 1, got " + num(c.min_fan));
  require(std::isfinite(c.upward_boost) && c.upward_boost >= 0.0,
          "upward_boost must be a finite number >= 0, got " + num(c.upward_boost));
  const auto dir = [](double v, const char* name) {
    require(std::isfinite(v) && v >= 0.0 && v <= 1.0,
            std::string("direction weight '") + name + "' must be in [0, 1], got " + num(v));
  };
  dir(c.direction.upward, "upward");
  dir(c.direction.downward, "downward");
  dir(c.direction.lateral, "lateral");
  dir(c.direction.episodic, "episodic");
  require(std::isfinite(c.cycle_penalty) && c.cycle_penalty >= 0.0 && c.cycle_penalty <= 1.0,
          "cycle_penalty must be in [0, 1], got " + num(c.cycle_penalty));
  require(std::isfinite(c.max_activation) && c.max_activation > 0.0,
          "max_activation must be a finite number > 0, got " + num(c.max_activation));
}

namespace {

struct NodeState {
  double activation = 0.0;
  std::uint32_t hops = 0;
  std::uint32_t visits = 0;  // hops at which the node gained activation (seeding counts as one)
  MemoryKind kind = MemoryKind::Episode;
};

struct Target {
  std::int64_t id;
  double weight;
  MemoryKind kind;
  bool live;
};

struct Pending {
  double sum = 0.0;
  MemoryKind kind = MemoryKind::Episode;
};

double direction_weight(const DirectionWeights& d, MemoryKind from, MemoryKind to) noexcept {
  if (from == MemoryKind::Episode) return to == MemoryKind::Concept ? d.upward : d.episodic;
  return to == MemoryKind::Concept ? d.lateral : d.downward;
}

}  // namespace

std::vector<Activation> spread(const Graph& graph, std::span<const Seed> seeds, const SpreadConfig& c,
                               const NodeKindFn& node_kind) {
  validate(c);
  const double rate = c.decay_rate.value_or(default_decay_rate(c.decay));
  const auto kind_of = [&](std::int64_t id) -> std::optional<MemoryKind> {
    return node_kind ? node_kind(id) : std::optional<MemoryKind>(MemoryKind::Episode);
  };

  std::unordered_map<std::int64_t, NodeState> state;
  state.reserve(seeds.size() * 16 + 16);
  for (const Seed& s : seeds) {
    if (!std::isfinite(s.activation) || s.activation <= 0.0 || s.activation > 1.0) {
      throw InvalidInputError("seed activation must be in (0, 1], got " + num(s.activation) + " for id " +
                              std::to_string(s.id));
    }
    NodeState& st = state[s.id];
    st.activation = std::max(st.activation, std::min(s.activation, c.max_activation));
    st.visits = 1;
    st.kind = kind_of(s.id).value_or(MemoryKind::Episode);
  }
  // The frontier holds (node, activation gained at the previous hop), in id order.
  std::vector<std::pair<std::int64_t, double>> frontier;
  frontier.reserve(state.size());
  for (const auto& [id, st] : state) frontier.emplace_back(id, st.activation);
  std::sort(frontier.begin(), frontier.end());

  std::vector<Target> targets;
  std::unordered_map<std::int64_t, Pending> incoming;
  std::vector<std::pair<std::int64_t, Pending>> ordered;
  double previous_decay = 1.0;  // hop_decay(0) is 1 for every family
  for (std::uint32_t hop = 1; hop <= c.max_hops && !frontier.empty(); ++hop) {
    const double current_decay = hop_decay(c.decay, rate, hop);
    const double step = previous_decay > 0.0 ? current_decay / previous_decay : 0.0;
    previous_decay = current_decay;
    if (step <= 0.0) break;

    incoming.clear();
    for (const auto& [u, delta] : frontier) {
      const MemoryKind u_kind = state.at(u).kind;
      targets.clear();
      graph.for_each_out(u, [&](const Edge& e) {
        const double w = e.kind == EdgeKind::Binding ? double{e.weight} * e.strength : double{e.weight};
        targets.push_back({e.other, w, MemoryKind::Episode, false});
      });
      if (c.follow_bindings_backward) {
        graph.for_each_in(u, [&](const Edge& e) {
          if (e.kind == EdgeKind::Binding)
            targets.push_back({e.other, double{e.weight} * e.strength, MemoryKind::Episode, false});
        });
      }
      // Liveness is checked outside the graph lock: a dead target is neither counted in the
      // fan nor entered.
      std::size_t live = 0;
      for (Target& t : targets) {
        const auto k = kind_of(t.id);
        if (!k) continue;
        t.kind = *k;
        t.live = true;
        ++live;
      }
      if (live == 0) continue;
      double divisor = 1.0;
      if (c.fan_effect) {
        divisor = std::max(c.min_fan, static_cast<double>(live));
        if (c.fan_divisor == FanDivisor::Sqrt) divisor = std::sqrt(divisor);
      }
      const double base = delta * step / divisor;
      for (const Target& t : targets) {
        if (!t.live) continue;
        double contribution = base * t.weight * direction_weight(c.direction, u_kind, t.kind);
        if (c.fan_effect && u_kind == MemoryKind::Episode && t.kind == MemoryKind::Concept) {
          contribution *= c.upward_boost;
        }
        if (contribution <= 0.0) continue;
        Pending& p = incoming[t.id];
        p.sum += contribution;
        p.kind = t.kind;
      }
    }

    ordered.assign(incoming.begin(), incoming.end());
    std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    frontier.clear();
    for (const auto& [v, p] : ordered) {
      double sum = p.sum;
      auto it = state.find(v);
      if (it != state.end()) sum *= std::pow(c.cycle_penalty, static_cast<double>(it->second.visits));
      if (sum < c.threshold) continue;
      if (it == state.end()) {
        it = state.emplace(v, NodeState{0.0, hop, 0, p.kind}).first;
      }
      NodeState& st = it->second;
      const double before = st.activation;
      st.activation = std::min(c.max_activation, before + sum);
      ++st.visits;
      const double gained = st.activation - before;
      if (gained > 0.0) frontier.emplace_back(v, gained);
    }
  }

  std::vector<Activation> out;
  out.reserve(state.size());
  for (const auto& [id, st] : state) {
    if (st.hops == 0 || st.activation >= c.threshold) out.push_back({id, static_cast<float>(st.activation), st.hops});
  }
  std::sort(out.begin(), out.end(), [](const Activation& a, const Activation& b) {
    return a.activation != b.activation ? a.activation > b.activation : a.id < b.id;
  });
  if (c.max_results > 0 && out.size() > c.max_results) out.resize(c.max_results);
  return out;
}

}  // namespace engram

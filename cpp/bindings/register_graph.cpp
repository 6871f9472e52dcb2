// Edges, spreading activation and the decay functions: methods of Space and two module
// functions, with the Edge and Activation value types. engram/graph.py and engram/decay.py
// wrap them. Every engine call releases the GIL.
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "convert.hpp"
#include "engram/decay.hpp"
#include "engram/errors.hpp"
#include "engram/graph.hpp"
#include "engram/space.hpp"
#include "engram/spread.hpp"
#include "register.hpp"

namespace engram::bind {

namespace {

EdgeKind edge_kind_arg(const std::string& name) {
  const auto k = parse_edge_kind(name);
  if (!k) throw InvalidInputError("unknown edge kind '" + name + "'; expected association, binding or hierarchy");
  return *k;
}

HopDecay hop_decay_arg(const std::string& name) {
  const auto d = parse_hop_decay(name);
  if (!d) throw InvalidInputError("unknown decay '" + name + "'; expected exponential, power_law or linear");
  return *d;
}

FanDivisor fan_divisor_arg(const std::string& name) {
  if (name == "linear") return FanDivisor::Linear;
  if (name == "sqrt") return FanDivisor::Sqrt;
  throw InvalidInputError("unknown fan_divisor '" + name + "'; expected linear or sqrt");
}

using OptReal = std::optional<double>;

decay::Model decay_model(const std::string& name, OptReal tau, OptReal beta, OptReal unit, OptReal recent_half_life,
                         OptReal remote_half_life, OptReal recent_weight, OptReal switch_after, bool match_at_switch) {
  auto m = decay::model_from_name(name);
  if (!m) {
    throw InvalidInputError("unknown decay model '" + name +
                            "'; expected exponential, power_law, two_component or hybrid");
  }
  const auto unused = [&](bool given, const char* param) {
    if (given) {
      throw InvalidInputError(std::string("parameter '") + param + "' does not apply to decay model '" + name + "'");
    }
  };
  std::visit(
      [&](auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, decay::Exponential>) {
          if (tau) p.tau = *tau;
          unused(beta || unit || recent_half_life || remote_half_life || recent_weight || switch_after,
                 "other than tau");
        } else if constexpr (std::is_same_v<T, decay::PowerLaw>) {
          if (beta) p.beta = *beta;
          if (unit) p.unit = *unit;
          unused(tau || recent_half_life || remote_half_life || recent_weight || switch_after,
                 "other than beta and unit");
        } else if constexpr (std::is_same_v<T, decay::TwoComponent>) {
          if (recent_half_life) p.recent_half_life = *recent_half_life;
          if (remote_half_life) p.remote_half_life = *remote_half_life;
          if (recent_weight) p.recent_weight = *recent_weight;
          unused(tau || beta || unit || switch_after, "other than the half-lives and recent_weight");
        } else {
          if (tau) p.tau = *tau;
          if (beta) p.beta = *beta;
          if (unit) p.unit = *unit;
          if (switch_after) p.switch_after = *switch_after;
          p.match_at_switch = match_at_switch;
          unused(recent_half_life || remote_half_life || recent_weight, "other than tau, beta, unit and switch_after");
        }
      },
      *m);
  decay::validate(*m);
  return *m;
}

void register_spread(py::class_<Space, std::shared_ptr<Space>>& space) {
  space.def(
      "spread",
      [](const Space& sp, const IdList& ids, const RealList& activations,
         const Int<"max_hops", std::uint32_t>& max_hops, const Text<"decay">& decay,
         const std::optional<Real<"decay_rate">>& decay_rate, const Real<"threshold">& threshold,
         const Flag<"fan_effect">& fan_effect, const Text<"fan_divisor">& fan_divisor, const Real<"min_fan">& min_fan,
         const Real<"upward_boost">& upward_boost, const std::optional<Real<"upward">>& upward,
         const std::optional<Real<"downward">>& downward, const std::optional<Real<"lateral">>& lateral,
         const std::optional<Real<"episodic">>& episodic, const Real<"cycle_penalty">& cycle_penalty,
         const std::optional<Int<"max_results", std::size_t>>& max_results) {
        const std::vector<std::int64_t> seed_ids = to_ids(ids.obj, sp.name(), "seed ids");
        const std::vector<double> seed_acts = to_doubles(activations.obj, "seed activations");
        if (seed_ids.size() != seed_acts.size()) throw InvalidInputError("seed ids and activations differ in length");
        SpreadConfig c;
        c.max_hops = max_hops.get();
        c.decay = hop_decay_arg(decay.get());
        c.decay_rate = get(decay_rate);
        c.threshold = threshold.get();
        c.fan_effect = fan_effect.get();
        c.fan_divisor = fan_divisor_arg(fan_divisor.get());
        c.min_fan = min_fan.get();
        c.upward_boost = upward_boost.get();
        if (upward) c.direction.upward = upward->get();
        if (downward) c.direction.downward = downward->get();
        if (lateral) c.direction.lateral = lateral->get();
        if (episodic) c.direction.episodic = episodic->get();
        c.cycle_penalty = cycle_penalty.get();
        if (max_results) {
          c.max_results = max_results->get();  // the engine's 0 ("all") is None here
          if (c.max_results == 0) throw InvalidInputError("max_results must be a positive integer or None, got 0");
        }
        std::vector<Seed> seeds(seed_ids.size());
        for (std::size_t i = 0; i < seeds.size(); ++i) seeds[i] = {seed_ids[i], seed_acts[i]};
        py::gil_scoped_release release;
        return sp.spread(seeds, c);
      },
      py::arg("ids"), py::arg("activations"), py::arg("max_hops"), py::arg("decay"), py::arg("decay_rate"),
      py::arg("threshold"), py::arg("fan_effect"), py::arg("fan_divisor"), py::arg("min_fan"), py::arg("upward_boost"),
      py::arg("upward"), py::arg("downward"), py::arg("lateral"), py::arg("episodic"), py::arg("cycle_penalty"),
      py::arg("max_results"),
      "Spread activation from seed ids with the given activations; ranked by activation, seeds at hop 0.");
}

}  // namespace

void register_graph(py::module_& m) {
  py::class_<Edge>(m, "Edge", "One out-edge of a memory (Space.neighbors).")
      .def_readonly("id", &Edge::other, "The destination memory.")
      .def_readonly("weight", &Edge::weight)
      .def_property_readonly(
          "kind", [](const Edge& e) { return std::string(edge_kind_name(e.kind)); },
          "'association', 'binding' or 'hierarchy'.")
      .def_readonly("strength", &Edge::strength, "Binding strength; 1 for the other kinds.")
      .def_readonly("contribution", &Edge::contribution, "The episode's share of its concept; 1 for the other kinds.");

  py::class_<Activation>(m, "Activation", "One memory reached by spreading activation.")
      .def_readonly("id", &Activation::id)
      .def_readonly("activation", &Activation::activation)
      .def_readonly("hops", &Activation::hops, "Hops from the nearest seed (0 for a seed).");

  auto space = py::reinterpret_borrow<py::class_<Space, std::shared_ptr<Space>>>(m.attr("Space"));
  space
      .def(
          "link",
          [](Space& sp, const Id& src, const Id& dst, const Real<"weight">& weight, const Text<"kind">& kind,
             const Real<"strength">& strength, const Real<"contribution">& contribution) {
            const std::int64_t s = src.get(sp.name()), d = dst.get(sp.name());
            const float w = static_cast<float>(weight.get());
            const EdgeKind k = edge_kind_arg(kind.get());
            const auto st = static_cast<float>(strength.get()), co = static_cast<float>(contribution.get());
            py::gil_scoped_release release;
            return sp.link(s, d, k, w, st, co);
          },
          py::arg("src"), py::arg("dst"), py::arg("weight") = 1.0, py::arg("kind") = "association",
          py::arg("strength") = 1.0, py::arg("contribution") = 1.0,
          "Add or replace the edge src -> dst; True when it is new.")
      .def(
          "unlink",
          [](Space& sp, const Id& src, const Id& dst) {
            const std::int64_t s = src.get(sp.name()), d = dst.get(sp.name());
            py::gil_scoped_release release;
            return sp.unlink(s, d);
          },
          py::arg("src"), py::arg("dst"), "Remove the edge src -> dst; whether there was one.")
      .def(
          "neighbors",
          [](const Space& sp, const Id& id) {
            const std::int64_t mid = id.get(sp.name());
            py::gil_scoped_release release;
            return sp.neighbors(mid);
          },
          py::arg("id"), "Out-edges of a live memory to live memories, by target id.")
      .def(
          "edge_count", [](const Space& sp) { return sp.graph().edge_count(); }, "Edges stored in the space's graph.");
  register_spread(space);

  m.def(
      "decay_retention",
      [](const Text<"model">& model, const Array& ages, const std::optional<Real<"tau">>& tau,
         const std::optional<Real<"beta">>& beta, const std::optional<Real<"unit">>& unit,
         const std::optional<Real<"recent_half_life">>& recent_half_life,
         const std::optional<Real<"remote_half_life">>& remote_half_life,
         const std::optional<Real<"recent_weight">>& recent_weight,
         const std::optional<Real<"switch_after">>& switch_after, const Flag<"match_at_switch">& match_at_switch) {
        const decay::Model mdl =
            decay_model(model.get(), get(tau), get(beta), get(unit), get(recent_half_life), get(remote_half_life),
                        get(recent_weight), get(switch_after), match_at_switch.get());
        const auto in = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(
            to_numeric(ages.obj, "ages", "an array of ages in seconds"));
        py::array_t<double> out(std::vector<py::ssize_t>(in.shape(), in.shape() + in.ndim()));
        const double* a = in.data();
        double* o = out.mutable_data();
        for (py::ssize_t i = 0; i < in.size(); ++i) o[i] = decay::retention(mdl, a[i]);
        return out;
      },
      py::arg("model"), py::arg("ages"), py::arg("tau") = py::none(), py::arg("beta") = py::none(),
      py::arg("unit") = py::none(), py::arg("recent_half_life") = py::none(), py::arg("remote_half_life") = py::none(),
      py::arg("recent_weight") = py::none(), py::arg("switch_after") = py::none(), py::arg("match_at_switch") = false,
      "Retention in [0, 1] of each age (seconds) under a decay model, same shape as ages.");
  m.def(
      "hop_decay",
      [](const Text<"decay">& decay, const Int<"hops", std::uint32_t>& hops, const std::optional<Real<"rate">>& rate) {
        const HopDecay d = hop_decay_arg(decay.get());
        return hop_decay(d, get(rate).value_or(default_decay_rate(d)), hops.get());
      },
      py::arg("decay"), py::arg("hops"), py::arg("rate") = py::none(),
      "Attenuation of a spreading path of `hops` hops.");
}

}  // namespace engram::bind

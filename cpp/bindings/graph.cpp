// Bindings for the edge graph, spreading activation and the decay functions. Adds methods to
// the Space class registered in module.cpp; engram/graph.py and engram/decay.py wrap them.
#include "engram/graph.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "engram/decay.hpp"
#include "engram/errors.hpp"
#include "engram/space.hpp"
#include "engram/spread.hpp"

namespace py = pybind11;

namespace engram {

namespace {

EdgeKind edge_kind_arg(const std::string& name) {
  const auto k = parse_edge_kind(name);
  if (!k) throw InvalidInputError("unknown edge kind '" + name + "'; expected association, binding or hierarchy");
  return *k;
}

// (id, weight, kind, strength, contribution) per edge.
using EdgeTuple = std::tuple<std::int64_t, float, std::string, float, float>;

std::vector<EdgeTuple> edge_tuples(const std::vector<Edge>& edges) {
  std::vector<EdgeTuple> out;
  out.reserve(edges.size());
  for (const Edge& e : edges) out.emplace_back(e.other, e.weight, edge_kind_name(e.kind), e.strength, e.contribution);
  return out;
}

decay::Model decay_model(const std::string& name, std::optional<double> tau, std::optional<double> beta,
                         std::optional<double> unit, std::optional<double> recent_half_life,
                         std::optional<double> remote_half_life, std::optional<double> recent_weight,
                         std::optional<double> switch_after, bool match_at_switch) {
  auto m = decay::model_from_name(name);
  if (!m) {
    throw InvalidInputError("unknown decay model '" + name +
                            "'; expected exponential, power_law, two_component or hybrid");
  }
  const auto unused = [&](bool given, const char* param) {
    if (given)
      throw InvalidInputError(std::string("parameter '") + param + "' does not apply to decay model '" + name + "'");
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

}  // namespace

void register_graph(py::module_& m) {
  auto space = py::reinterpret_borrow<py::class_<Space, std::shared_ptr<Space>>>(m.attr("Space"));

  space
      .def(
          "link",
          [](Space& sp, std::int64_t src, std::int64_t dst, float weight, const std::string& kind, float strength,
             float contribution) {
            const EdgeKind k = edge_kind_arg(kind);
            py::gil_scoped_release release;
            return sp.link(src, dst, k, weight, strength, contribution);
          },
          py::arg("src"), py::arg("dst"), py::arg("weight") = 1.0f, py::arg("kind") = "association",
          py::arg("strength") = 1.0f, py::arg("contribution") = 1.0f)
      .def("unlink", &Space::unlink, py::arg("src"), py::arg("dst"), py::call_guard<py::gil_scoped_release>())
      .def("neighbors",
           [](const Space& sp, std::int64_t id) {
             std::vector<Edge> edges;
             {
               py::gil_scoped_release release;
               edges = sp.neighbors(id);
             }
             return edge_tuples(edges);
           })
      .def("edge_count", [](const Space& sp) { return sp.graph().edge_count(); })
      .def(
          "spread",
          [](const Space& sp, const std::vector<std::int64_t>& ids, const std::vector<double>& activations,
             std::uint32_t max_hops, const std::string& decay, std::optional<double> decay_rate, double threshold,
             bool fan_effect, const std::string& fan_divisor, double min_fan, double upward_boost,
             std::optional<double> upward, std::optional<double> downward, std::optional<double> lateral,
             std::optional<double> episodic, double cycle_penalty, std::size_t max_results) {
            if (ids.size() != activations.size()) {
              throw InvalidInputError("seed ids and activations differ in length");
            }
            SpreadConfig c;
            c.max_hops = max_hops;
            const auto d = parse_hop_decay(decay);
            if (!d) throw InvalidInputError("unknown decay '" + decay + "'; expected exponential, power_law or linear");
            c.decay = *d;
            c.decay_rate = decay_rate;
            c.threshold = threshold;
            c.fan_effect = fan_effect;
            if (fan_divisor == "linear") {
              c.fan_divisor = FanDivisor::Linear;
            } else if (fan_divisor == "sqrt") {
              c.fan_divisor = FanDivisor::Sqrt;
            } else {
              throw InvalidInputError("unknown fan_divisor '" + fan_divisor + "'; expected linear or sqrt");
            }
            c.min_fan = min_fan;
            c.upward_boost = upward_boost;
            if (upward) c.direction.upward = *upward;
            if (downward) c.direction.downward = *downward;
            if (lateral) c.direction.lateral = *lateral;
            if (episodic) c.direction.episodic = *episodic;
            c.cycle_penalty = cycle_penalty;
            c.max_results = max_results;
            std::vector<Seed> seeds(ids.size());
            for (std::size_t i = 0; i < ids.size(); ++i) seeds[i] = {ids[i], activations[i]};
            std::vector<Activation> result;
            {
              py::gil_scoped_release release;
              result = sp.spread(seeds, c);
            }
            std::vector<std::tuple<std::int64_t, float, std::uint32_t>> out;
            out.reserve(result.size());
            for (const Activation& a : result) out.emplace_back(a.id, a.activation, a.hops);
            return out;
          },
          py::arg("ids"), py::arg("activations"), py::arg("max_hops"), py::arg("decay"), py::arg("decay_rate"),
          py::arg("threshold"), py::arg("fan_effect"), py::arg("fan_divisor"), py::arg("min_fan"),
          py::arg("upward_boost"), py::arg("upward"), py::arg("downward"), py::arg("lateral"), py::arg("episodic"),
          py::arg("cycle_penalty"), py::arg("max_results"));

  m.def(
      "decay_retention",
      [](const std::string& model, py::array_t<double, py::array::c_style | py::array::forcecast> ages,
         std::optional<double> tau, std::optional<double> beta, std::optional<double> unit,
         std::optional<double> recent_half_life, std::optional<double> remote_half_life,
         std::optional<double> recent_weight, std::optional<double> switch_after, bool match_at_switch) {
        const decay::Model mdl = decay_model(model, tau, beta, unit, recent_half_life, remote_half_life, recent_weight,
                                             switch_after, match_at_switch);
        py::array_t<double> out(ages.request().shape);
        const double* in = ages.data();
        double* o = out.mutable_data();
        for (py::ssize_t i = 0; i < ages.size(); ++i) o[i] = decay::retention(mdl, in[i]);
        return out;
      },
      py::arg("model"), py::arg("ages"), py::arg("tau") = py::none(), py::arg("beta") = py::none(),
      py::arg("unit") = py::none(), py::arg("recent_half_life") = py::none(), py::arg("remote_half_life") = py::none(),
      py::arg("recent_weight") = py::none(), py::arg("switch_after") = py::none(), py::arg("match_at_switch") = false);
  m.def(
      "hop_decay",
      [](const std::string& decay, std::uint32_t hops, std::optional<double> rate) {
        const auto d = parse_hop_decay(decay);
        if (!d) throw InvalidInputError("unknown decay '" + decay + "'; expected exponential, power_law or linear");
        return hop_decay(*d, rate.value_or(default_decay_rate(*d)), hops);
      },
      py::arg("decay"), py::arg("hops"), py::arg("rate") = py::none());
}

}  // namespace engram

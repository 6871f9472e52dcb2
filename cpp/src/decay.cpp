#include "engram/decay.hpp"

#include <cmath>
#include <string>
#include <type_traits>

#include "engram/errors.hpp"

namespace engram::decay {

namespace {

// Negative ages (timestamp after now) count as zero; NaN ages too, so R stays in [0, 1].
double age_of(double age_s) noexcept { return std::isnan(age_s) || age_s < 0.0 ? 0.0 : age_s; }

}  // namespace

double exponential(double age_s, const Exponential& p) noexcept { return std::exp(-age_of(age_s) / p.tau); }

double power_law(double age_s, const PowerLaw& p) noexcept { return std::pow(1.0 + age_of(age_s) / p.unit, -p.beta); }

double two_component(double age_s, const TwoComponent& p) noexcept {
  const double t = age_of(age_s);
  return p.recent_weight * std::exp2(-t / p.recent_half_life) +
         (1.0 - p.recent_weight) * std::exp2(-t / p.remote_half_life);
}

double hybrid(double age_s, const Hybrid& p) noexcept {
  const double t = age_of(age_s);
  if (t < p.switch_after) return std::exp(-t / p.tau);
  double r = std::pow(1.0 + t / p.unit, -p.beta);
  if (p.match_at_switch) {
    r *= std::exp(-p.switch_after / p.tau) / std::pow(1.0 + p.switch_after / p.unit, -p.beta);
  }
  return r;
}

double retention(const Model& m, double age_s) noexcept {
  return std::visit(
      [age_s](const auto& p) -> double {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Exponential>)
          return exponential(age_s, p);
        else if constexpr (std::is_same_v<T, PowerLaw>)
          return power_law(age_s, p);
        else if constexpr (std::is_same_v<T, TwoComponent>)
          return two_component(age_s, p);
        else
          return hybrid(age_s, p);
      },
      m);
}

namespace {

void positive(double v, const char* what) {
  if (!std::isfinite(v) || v <= 0.0) {
    throw InvalidInputError(std::string(what) + " must be a finite number of seconds > 0, got " + std::to_string(v));
  }
}
void non_negative(double v, const char* what) {
  if (!std::isfinite(v) || v < 0.0) {
    throw InvalidInputError(std::string(what) + " must be a finite number >= 0, got " + std::to_string(v));
  }
}

}  // namespace

void validate(const Model& m) {
  std::visit(
      [](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Exponential>) {
          positive(p.tau, "exponential tau");
        } else if constexpr (std::is_same_v<T, PowerLaw>) {
          non_negative(p.beta, "power-law beta");
          positive(p.unit, "power-law time unit");
        } else if constexpr (std::is_same_v<T, TwoComponent>) {
          positive(p.recent_half_life, "two-component recent half-life");
          positive(p.remote_half_life, "two-component remote half-life");
          if (!std::isfinite(p.recent_weight) || p.recent_weight < 0.0 || p.recent_weight > 1.0) {
            throw InvalidInputError("two-component recent weight must be in [0, 1], got " +
                                    std::to_string(p.recent_weight));
          }
        } else {
          positive(p.tau, "hybrid tau");
          non_negative(p.beta, "hybrid beta");
          positive(p.unit, "hybrid time unit");
          non_negative(p.switch_after, "hybrid switch time");
        }
      },
      m);
}

std::optional<Model> model_from_name(std::string_view name) {
  std::string n(name);
  for (char& ch : n) {
    if (ch == '-') ch = '_';
  }
  if (n == "exponential") return Model{Exponential{}};
  if (n == "power_law" || n == "powerlaw") return Model{PowerLaw{}};
  if (n == "two_component") return Model{TwoComponent{}};
  if (n == "hybrid") return Model{Hybrid{}};
  return std::nullopt;
}

const char* model_name(const Model& m) noexcept {
  switch (m.index()) {
    case 0: return "exponential";
    case 1: return "power_law";
    case 2: return "two_component";
    default: return "hybrid";
  }
}

}  // namespace engram::decay

// Temporal decay: retention R(age) in [0, 1] of a memory as a function of its age in seconds.
//
// Closed forms (each parameter configurable; defaults from the requirements):
//  - Exponential   R = e^(-t/tau),                         tau = 1.96 h
//  - PowerLaw      R = (1 + t/unit)^(-beta),               beta = 0.18, unit = 1 h
//  - TwoComponent  R = w * 2^(-t/h_recent) + (1 - w) * 2^(-t/h_remote)
//                  h_recent = 7 d, h_remote = 90 d, w = 0.5 (a fast hippocampal and a slow
//                  neocortical trace; each component halves at its half-life)
//  - Hybrid        R = e^(-t/tau) for t < switch, (1 + t/unit)^(-beta) from switch on,
//                  tau = 0.8 h, beta = 0.25, switch = 24 h. As upstream defines it, R jumps at the
//                  switch (about e^-30 to 0.45); match_at_switch = true scales the power-law
//                  tail by R_exp(switch) / R_pow(switch) so the curve is continuous.
// Ages below zero (a timestamp after `now`, e.g. a clock set back) count as zero: R = 1.
// Pure functions of their arguments: thread-safe. The engine clock (clock.hpp) supplies `now`.
#pragma once

#include <optional>
#include <string_view>
#include <variant>

namespace engram::decay {

inline constexpr double kHour = 3600.0;
inline constexpr double kDay = 86400.0;

struct Exponential {
  double tau = 1.96 * kHour;
};
struct PowerLaw {
  double beta = 0.18;
  double unit = kHour;
};
struct TwoComponent {
  double recent_half_life = 7.0 * kDay;
  double remote_half_life = 90.0 * kDay;
  double recent_weight = 0.5;
};
struct Hybrid {
  double tau = 0.8 * kHour;
  double beta = 0.25;
  double switch_after = 24.0 * kHour;
  double unit = kHour;
  bool match_at_switch = false;
};

using Model = std::variant<Exponential, PowerLaw, TwoComponent, Hybrid>;

double exponential(double age_s, const Exponential& p = {}) noexcept;
double power_law(double age_s, const PowerLaw& p = {}) noexcept;
double two_component(double age_s, const TwoComponent& p = {}) noexcept;
double hybrid(double age_s, const Hybrid& p = {}) noexcept;

double retention(const Model& m, double age_s) noexcept;
// Retention of a memory stamped at `timestamp` seen at `now` (both seconds since the epoch).
inline double retention_at(const Model& m, double timestamp, double now) noexcept {
  return retention(m, now - timestamp);
}

// Throws InvalidInputError naming the bad parameter (time constants finite and > 0, exponents
// finite and >= 0, weights in [0, 1]).
void validate(const Model& m);

// "exponential", "power_law", "two_component", "hybrid" (hyphens accepted): that model with
// its defaults; nullopt otherwise.
std::optional<Model> model_from_name(std::string_view name);
const char* model_name(const Model& m) noexcept;

}  // namespace engram::decay

// SPDX-License-Identifier: Apache-2.0
// Fixed-step Runge–Kutta solver used by CLEX (docs/reference.md §4.4): Kutta's 3/8 rule
// (torchdiffeq's method "rk4", which is this variant and not classic RK4) on a grid τ_j = t_a + j·Δ
// whose last point is clipped to t_b, with outputs at grid points taken as they are and outputs
// between grid points linearly interpolated in the state. No adaptivity. Vectors are Eigen column
// vectors of Scalar (double, or long double for long double tables). detail: no API promise.
#ifndef ROPESCALE_DETAIL_ODE_HPP
#define ROPESCALE_DETAIL_ODE_HPP

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "ropescale/detail/throw.hpp"

namespace ropescale {
namespace detail {

template <class Scalar>
using ode_vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// Number of steps M = N − 1 of the fixed grid from t_a to t_b = t_a + span with step dt, where
/// N = ⌈span/dt + 1⌉ (torchdiffeq's grid). A quotient span/dt within 1e-9 relative of an integer
/// is taken as that integer, so grids that reach integers in upstream's f32 reach them here.
/// Requires span >= 0, dt > 0 (callers validate); throws if the count does not fit.
template <class Scalar>
inline std::int64_t rk38_step_count(Scalar span, Scalar dt) {
  Scalar x = span / dt;
  const Scalar r = std::nearbyint(x);
  if (std::fabs(x - r) <= Scalar(1e-9) * std::max(Scalar(1), r)) x = r;
  const Scalar m = std::ceil(x);
  if (!(m >= Scalar(0)) || !(m < Scalar(9.0e15)))
    throw_invalid_value("time_dt", "gives an ODE grid with too many steps", static_cast<double>(m));
  return static_cast<std::int64_t>(m);
}

/// Solves dy/dt = f(t, y), y(t0) = y0 with the fixed-step 3/8 rule and returns y at every time in
/// `outs` (ascending, each >= t0; the last one is t_b). Step from τ to τ' (h = τ' − τ):
///   k1 = f(τ, y), k2 = f(τ + h/3, y + h·k1/3), k3 = f(τ + 2h/3, y + h·(k2 − k1/3)),
///   k4 = f(τ', y + h·(k1 − k2 + k3)),  y' = y + h·(k1 + 3k2 + 3k3 + k4)/8.
/// Grid τ_j = t0 + j·dt (a product, not a running sum), τ_M := t_b. An output within 1e-9·dt of
/// a grid point takes that point's state; any other is linearly interpolated between the
/// bracketing grid states (torchdiffeq's fixed-grid output rule). `f(t, y, dy)` writes dy and
/// must not alias y. The grid may be laid out to a later end t_b = grid_end >= outs.back() (the
/// solve still stops after the step that reaches the last output), so one row of a longer solve
/// is computed alone with the same grid and the same result. Cost: 4 evaluations of f per step
/// taken. Throws invalid_parameter on bad outputs.
template <class Scalar, class Rhs>
inline std::vector<ode_vector<Scalar>> rk38_solve(Rhs&& f, const ode_vector<Scalar>& y0, Scalar t0,
                                                  Scalar dt, const std::vector<Scalar>& outs,
                                                  Scalar grid_end) {
  using vec = ode_vector<Scalar>;
  std::vector<vec> res;
  if (outs.empty()) return res;
  if (!(dt > Scalar(0)) || !std::isfinite(dt))
    throw_invalid_value("time_dt", "must be a finite number > 0", static_cast<double>(dt));
  const Scalar tol = Scalar(1e-9) * dt;
  for (std::size_t i = 0; i < outs.size(); ++i) {
    if (!std::isfinite(outs[i]) || outs[i] < t0 - tol || (i > 0 && outs[i] < outs[i - 1]))
      throw_invalid_value("t", "output times must be finite, ascending and >= the initial time",
                          static_cast<double>(outs[i]));
  }
  res.reserve(outs.size());
  std::size_t next = 0;
  while (next < outs.size() && outs[next] <= t0 + tol) {
    res.push_back(y0);
    ++next;
  }
  if (!(grid_end >= outs.back()))
    throw_invalid_value("t", "the grid must end at or after the last output",
                        static_cast<double>(grid_end));
  const Scalar tb = grid_end;
  const std::int64_t steps = rk38_step_count<Scalar>(std::max(Scalar(0), tb - t0), dt);
  const Eigen::Index n = y0.size();
  vec y = y0, yn(n), tmp(n), k1(n), k2(n), k3(n), k4(n);
  const Scalar third = Scalar(1) / Scalar(3);
  for (std::int64_t q = 0; q < steps && next < outs.size(); ++q) {
    const Scalar tau0 = t0 + static_cast<Scalar>(q) * dt;
    const Scalar tau1 = (q == steps - 1) ? tb : t0 + static_cast<Scalar>(q + 1) * dt;
    const Scalar h = tau1 - tau0;
    f(tau0, y, k1);
    tmp = y + (h * third) * k1;
    f(tau0 + h * third, tmp, k2);
    tmp = y + h * (k2 - third * k1);
    f(tau0 + Scalar(2) * h * third, tmp, k3);
    tmp = y + h * (k1 - k2 + k3);
    f(tau1, tmp, k4);
    yn = y + (h * Scalar(0.125)) * (k1 + Scalar(3) * k2 + Scalar(3) * k3 + k4);
    while (next < outs.size() && outs[next] <= tau1 + tol) {
      const Scalar t = outs[next];
      if (std::fabs(t - tau1) <= tol) {
        res.push_back(yn);
      } else if (std::fabs(t - tau0) <= tol) {
        res.push_back(y);
      } else {
        res.push_back(y + ((t - tau0) / h) * (yn - y));
      }
      ++next;
    }
    y.swap(yn);
  }
  // Only reachable when rounding left an output a hair beyond t_b: it gets the final state.
  while (next < outs.size()) {
    res.push_back(y);
    ++next;
  }
  return res;
}

/// rk38_solve with the grid ending at the last output.
template <class Scalar, class Rhs>
inline std::vector<ode_vector<Scalar>> rk38_solve(Rhs&& f, const ode_vector<Scalar>& y0, Scalar t0,
                                                  Scalar dt, const std::vector<Scalar>& outs) {
  return rk38_solve<Scalar>(std::forward<Rhs>(f), y0, t0, dt, outs,
                            outs.empty() ? t0 : outs.back());
}

}  // namespace detail
}  // namespace ropescale

#endif  // ROPESCALE_DETAIL_ODE_HPP

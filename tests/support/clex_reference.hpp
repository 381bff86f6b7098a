// SPDX-License-Identifier: Apache-2.0
// Independent long-double reference for CLEX (docs/reference.md §4.3/§4.4), written from the spec
// without the library: plain loops for the row-vector products, the 3/8-rule step, the torchdiffeq
// grid (N = ceil(span/Δ + 1) points, last one clipped) and linear interpolation of outputs between
// grid points. The time-embedding base b0 is a parameter so a test can hard-code 10000.
#ifndef ROPESCALE_TESTS_SUPPORT_CLEX_REFERENCE_HPP
#define ROPESCALE_TESTS_SUPPORT_CLEX_REFERENCE_HPP

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace ropescale_test {

struct clex_ref {
  int d = 0;                       // rotary dim
  int p = 1;                       // param_factor
  bool tanh_act = true;            // else SiLU
  long double dt = 0.01L;          // Δ
  long double b0 = 10000.0L;       // time-embedding base (upstream: hard-wired 10000)
  std::vector<long double> theta;  // θ_k, k < n
  std::vector<long double> up;     // [n, p·d] row-major
  std::vector<long double> down;   // [p·d, n] row-major

  int n() const { return d / 2; }
  int h() const { return p * d; }

  std::vector<long double> rhs(long double t, const std::vector<long double>& z) const {
    const int nn = n(), hh = h();
    const long double alpha = 2 * t - 1;
    std::vector<long double> u(nn), hid(hh, 0.0L), out(nn, 0.0L);
    for (int k = 0; k < nn; ++k) {
      const long double e = -(2.0L * k / d) * std::log(b0) - (2.0L * k / (d - 2)) * std::log(alpha);
      u[k] = z[k] + e;
    }
    for (int k = 0; k < nn; ++k)
      for (int j = 0; j < hh; ++j) hid[j] += u[k] * up[static_cast<std::size_t>(k) * hh + j];
    for (int j = 0; j < hh; ++j)
      hid[j] = tanh_act ? std::tanh(hid[j]) : hid[j] / (1 + std::exp(-hid[j]));
    for (int j = 0; j < hh; ++j)
      for (int k = 0; k < nn; ++k) out[k] += hid[j] * down[static_cast<std::size_t>(j) * nn + k];
    for (int k = 0; k < nn; ++k) out[k] += -4.0L * k / ((d - 2) * alpha);
    return out;
  }

  static std::vector<long double> axpy(const std::vector<long double>& y, long double a,
                                       const std::vector<long double>& x) {
    std::vector<long double> r(y);
    for (std::size_t i = 0; i < r.size(); ++i) r[i] += a * x[i];
    return r;
  }

  std::vector<long double> step(long double t0, long double t1,
                                const std::vector<long double>& y) const {
    const long double hs = t1 - t0;
    const auto k1 = rhs(t0, y);
    const auto k2 = rhs(t0 + hs / 3, axpy(y, hs / 3, k1));
    std::vector<long double> tmp(y);
    for (std::size_t i = 0; i < y.size(); ++i) tmp[i] = y[i] + hs * (k2[i] - k1[i] / 3);
    const auto k3 = rhs(t0 + 2 * hs / 3, tmp);
    for (std::size_t i = 0; i < y.size(); ++i) tmp[i] = y[i] + hs * (k1[i] - k2[i] + k3[i]);
    const auto k4 = rhs(t1, tmp);
    std::vector<long double> out(y);
    for (std::size_t i = 0; i < y.size(); ++i)
      out[i] = y[i] + hs * (k1[i] + 3 * k2[i] + 3 * k3[i] + k4[i]) / 8;
    return out;
  }

  /// z(t) for each t in outs (ascending, >= 1), solving from z(1) = ln θ on the grid to
  /// outs.back().
  std::vector<std::vector<long double>> solve_z(const std::vector<long double>& outs) const {
    std::vector<long double> z(n());
    for (int k = 0; k < n(); ++k) z[k] = std::log(theta[k]);
    const long double tb = outs.back();
    long double q = (tb - 1) / dt;
    const long double r = std::round(q);
    if (std::fabs(q - r) <= 1e-9L * (r > 1 ? r : 1)) q = r;
    const long double npts = std::ceil(q + 1);
    std::vector<long double> grid;
    for (long double j = 0; j < npts; ++j) grid.push_back(1 + j * dt);
    grid.back() = tb;
    std::vector<std::vector<long double>> res;
    std::size_t next = 0;
    while (next < outs.size() && std::fabs(outs[next] - 1) <= 1e-9L * dt) {
      res.push_back(z);
      ++next;
    }
    for (std::size_t j = 0; j + 1 < grid.size() && next < outs.size(); ++j) {
      const auto zn = step(grid[j], grid[j + 1], z);
      while (next < outs.size() && outs[next] <= grid[j + 1] + 1e-9L * dt) {
        const long double t = outs[next];
        if (std::fabs(t - grid[j + 1]) <= 1e-9L * dt) {
          res.push_back(zn);
        } else {
          const long double w = (t - grid[j]) / (grid[j + 1] - grid[j]);
          std::vector<long double> zi(z);
          for (std::size_t i = 0; i < z.size(); ++i) zi[i] = z[i] + w * (zn[i] - z[i]);
          res.push_back(zi);
        }
        ++next;
      }
      z = zn;
    }
    return res;
  }

  /// ω(t) = exp(z(t)).
  std::vector<std::vector<long double>> solve_omega(const std::vector<long double>& outs) const {
    auto z = solve_z(outs);
    for (auto& row : z)
      for (auto& v : row) v = std::exp(v);
    return z;
  }
};

/// Deterministic pseudo-random weights with entries uniform in [-scale, scale].
inline std::vector<double> clex_random_weights(std::size_t count, double scale, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-scale, scale);
  std::vector<double> w(count);
  for (auto& v : w) v = u(rng);
  return w;
}

}  // namespace ropescale_test

#endif  // ROPESCALE_TESTS_SUPPORT_CLEX_REFERENCE_HPP

// SPDX-License-Identifier: Apache-2.0
// Independent long-double recomputation of every closed-form method of docs/reference.md §3 (and
// the HF binary32 tables of §5.3), written straight from the spec for the method tests. Nothing
// here calls the library: powers are formed as expl(−x·logl(θ)) rather than pow, the scaled NTK
// base θ' is formed explicitly, and the binary32 tables use double pow (the library uses long
// double), so shared mistakes are unlikely. Also: ulp-distance helpers used to state tolerances.
#ifndef ROPESCALE_TESTS_SUPPORT_REFERENCE_METHODS_HPP
#define ROPESCALE_TESTS_SUPPORT_REFERENCE_METHODS_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace ropescale_test::refm {

using ld = long double;

inline constexpr ld pi_l = 3.141592653589793238462643383279502884L;

/// d = int(H·prf): Python float product (binary64), truncated toward zero.
inline std::int64_t rotary_dim(std::int64_t H, double prf) {
  volatile double product = static_cast<double>(H) * prf;  // force a binary64 product
  return static_cast<std::int64_t>(std::trunc(product));
}

/// θ^(−x) as exp(−x·ln θ) in long double.
inline ld pow_neg(ld theta, ld x) { return std::exp(-x * std::log(theta)); }

/// ω⁰_i = θ^(−2i/d), i < d/2.
inline std::vector<ld> base(ld theta, std::int64_t d) {
  std::vector<ld> w;
  for (std::int64_t i = 0; i < d / 2; ++i) w.push_back(pow_neg(theta, ld(2 * i) / ld(d)));
  return w;
}

/// §3.2: ω⁰/s.
inline std::vector<ld> linear(ld theta, std::int64_t d, ld s) {
  std::vector<ld> w = base(theta, d);
  for (ld& x : w) x /= s;
  return w;
}

/// §3.3: θ' = θ·s^(d/(d−2)), ω_i = θ'^(−2i/d).
inline std::vector<ld> ntk(ld theta, std::int64_t d, ld s) {
  const ld theta_p = theta * std::exp(std::log(s) * ld(d) / ld(d - 2));
  return base(theta_p, d);
}

/// §3.4 stateless: L_eff = max(S, L) (L if S absent); θ' = θ·(s·L_eff/L − (s−1))^(d/(d−2)).
inline std::vector<ld> dynamic(ld theta, std::int64_t d, ld s, std::int64_t L,
                               std::optional<std::int64_t> S) {
  const std::int64_t l_eff = S ? std::max(*S, L) : L;
  const ld k = s * ld(l_eff) / ld(L) - (s - 1);
  if (k == 1) return base(theta, d);
  const ld theta_p = theta * std::exp(std::log(k) * ld(d) / ld(d - 2));
  return base(theta_p, d);
}

/// §3.5.4 m(s, a).
inline ld yarn_m(ld s, ld a) { return s <= 1 ? ld(1) : ld(0.1L) * a * std::log(s) + 1; }

struct yarn_in {
  ld theta;
  std::int64_t d;
  ld s;
  std::int64_t L0;
  ld beta_fast = 32;
  ld beta_slow = 1;
  bool truncate = true;
};

/// §3.5.2 corr(r) = d·ln(L0/(2π·r)) / (2 ln θ), in double as the spec requires (HF: Python
/// floats), so that floor/ceil and the fractional bounds match HF's.
inline double yarn_corr(const yarn_in& in, double r) {
  const double pi = 3.14159265358979323846;
  const double ratio = static_cast<double>(in.L0) / (2.0 * pi * r);
  return static_cast<double>(in.d) * std::log(ratio) /
         (2.0 * std::log(static_cast<double>(in.theta)));
}

/// §3.5.2 bounds after truncation, clamps and the +0.001 rule (double).
inline void yarn_bounds(const yarn_in& in, ld& lo_out, ld& hi_out) {
  double lo = yarn_corr(in, static_cast<double>(in.beta_fast));
  double hi = yarn_corr(in, static_cast<double>(in.beta_slow));
  if (in.truncate) {
    lo = std::floor(lo);
    hi = std::ceil(hi);
  }
  if (lo < 0) lo = 0;
  if (hi > static_cast<double>(in.d - 1)) hi = static_cast<double>(in.d - 1);
  if (lo == hi) hi += 0.001;
  lo_out = lo;
  hi_out = hi;
}

/// §3.5.3 ramp r_i.
inline ld yarn_ramp(ld i, ld lo, ld hi) {
  ld r = (i - lo) / (hi - lo);
  return r < 0 ? ld(0) : (r > 1 ? ld(1) : r);
}

/// §3.5.3 table.
inline std::vector<ld> yarn(const yarn_in& in) {
  ld lo = 0, hi = 0;
  yarn_bounds(in, lo, hi);
  std::vector<ld> w0 = base(in.theta, in.d);
  std::vector<ld> w(w0.size());
  for (std::size_t i = 0; i < w0.size(); ++i) {
    const ld r = yarn_ramp(ld(i), lo, hi);
    w[i] = w0[i] / in.s * r + w0[i] * (1 - r);
  }
  return w;
}

/// §3.6: ω_i = 1/(ext_i·θ^(2i/d)).
inline std::vector<ld> longrope(ld theta, std::int64_t d, const std::vector<double>& ext) {
  std::vector<ld> w;
  for (std::int64_t i = 0; i < d / 2; ++i) {
    w.push_back(
        1 / (ld(ext[static_cast<std::size_t>(i)]) * std::exp(ld(2 * i) / ld(d) * std::log(theta))));
  }
  return w;
}

/// §3.6 A for computed factors.
inline ld longrope_attention(ld s, std::int64_t L0) {
  return s <= 1 ? ld(1) : std::sqrt(1 + std::log(s) / std::log(ld(L0)));
}

/// §3.7 table.
inline std::vector<ld> llama3(ld theta, std::int64_t d, ld s, ld a, ld b, std::int64_t L0) {
  std::vector<ld> w = base(theta, d);
  for (ld& x : w) {
    const ld lambda = 2 * pi_l / x;
    if (lambda < ld(L0) / b) continue;
    if (lambda > ld(L0) / a) {
      x /= s;
      continue;
    }
    const ld g = (a == b) ? ld(0) : (ld(L0) / lambda - a) / (b - a);
    x = (1 - g) * x / s + g * x;
  }
  return w;
}

/// §3.8: H/2 entries, θ^(−2i/H)/s for i < ⌊prf·H/2⌋, zeros after.
inline std::vector<ld> proportional(ld theta, std::int64_t H, double prf, ld s) {
  volatile double prod = prf * static_cast<double>(H);
  const std::int64_t n_rot = static_cast<std::int64_t>(std::floor(prod / 2));
  std::vector<ld> w(static_cast<std::size_t>(H / 2), ld(0));
  for (std::int64_t i = 0; i < n_rot; ++i) {
    w[static_cast<std::size_t>(i)] = pow_neg(theta, ld(2 * i) / ld(H)) / s;
  }
  return w;
}

// ---------------------------------------------------------------- HF binary32 (§5.3) ----------
// Each step is written as one float operation stored in a volatile float, so no contraction or
// excess precision can sneak in.

inline float f32_P(double theta, std::int64_t i, std::int64_t denom) {
  volatile float th = static_cast<float>(theta);
  volatile float num = static_cast<float>(2 * i);
  volatile float den = static_cast<float>(denom);
  volatile float e = num / den;
  return static_cast<float>(std::pow(static_cast<double>(th), static_cast<double>(e)));
}

inline std::vector<float> f32_base(double theta, std::int64_t denom, std::int64_t count) {
  std::vector<float> w;
  for (std::int64_t i = 0; i < count; ++i) {
    volatile float P = f32_P(theta, i, denom);
    volatile float r = 1.0f / P;
    w.push_back(static_cast<float>(r));
  }
  return w;
}

inline std::vector<float> f32_linear(double theta, std::int64_t d, double s) {
  std::vector<float> w = f32_base(theta, d, d / 2);
  const float s32 = static_cast<float>(s);
  for (float& x : w) {
    volatile float q = x / s32;
    x = q;
  }
  return w;
}

/// ntk and dynamic: θ' in double (Python float arithmetic), then the base table with fl32(θ').
inline std::vector<float> f32_ntk_theta(double theta_prime, std::int64_t d) {
  return f32_base(theta_prime, d, d / 2);
}

/// yarn binary32, with the double bounds lo, hi.
inline std::vector<float> f32_yarn(double theta, std::int64_t d, double s, double lo, double hi) {
  std::vector<float> w;
  const float s32 = static_cast<float>(s);
  const float lo32 = static_cast<float>(lo);
  const float span32 = static_cast<float>(hi - lo);
  for (std::int64_t i = 0; i < d / 2; ++i) {
    volatile float P = f32_P(theta, i, d);
    volatile float w_ext = 1.0f / P;
    volatile float sP = s32 * P;
    volatile float w_int = 1.0f / sP;
    volatile float num = static_cast<float>(i) - lo32;
    volatile float r = num / span32;
    float rc = r;
    if (rc < 0.0f) rc = 0.0f;
    if (rc > 1.0f) rc = 1.0f;
    volatile float wf = 1.0f - rc;
    volatile float one_minus_w = 1.0f - wf;
    volatile float a = w_int * one_minus_w;
    volatile float b = w_ext * wf;
    volatile float sum = a + b;
    w.push_back(static_cast<float>(sum));
  }
  return w;
}

inline std::vector<float> f32_longrope(double theta, std::int64_t d,
                                       const std::vector<double>& ext) {
  std::vector<float> w;
  for (std::int64_t i = 0; i < d / 2; ++i) {
    volatile float e32 = static_cast<float>(ext[static_cast<std::size_t>(i)]);
    volatile float P = f32_P(theta, i, d);
    volatile float prod = e32 * P;
    volatile float r = 1.0f / prod;
    w.push_back(static_cast<float>(r));
  }
  return w;
}

inline std::vector<float> f32_llama3(double theta, std::int64_t d, double s, double a, double b,
                                     std::int64_t L0) {
  std::vector<float> w = f32_base(theta, d, d / 2);
  const float two_pi32 = static_cast<float>(2 * pi_l);
  const float low_wl = static_cast<float>(static_cast<double>(L0) / a);
  const float high_wl = static_cast<float>(static_cast<double>(L0) / b);
  const float L0f = static_cast<float>(L0);
  const float a32 = static_cast<float>(a);
  const float ba32 = static_cast<float>(b - a);
  const float s32 = static_cast<float>(s);
  for (float& x : w) {
    volatile float lambda = two_pi32 / x;
    const float base_x = x;
    float out = base_x;
    if (lambda > low_wl) {
      volatile float q = base_x / s32;
      out = q;
    }
    const bool medium = !(lambda < high_wl) && !(lambda > low_wl);
    if (medium) {
      float g = 0.0f;
      if (a != b) {
        volatile float t0 = L0f / lambda;
        volatile float t1 = t0 - a32;
        volatile float t2 = t1 / ba32;
        g = t2;
      }
      volatile float one_minus_g = 1.0f - g;
      volatile float t3 = one_minus_g * out;
      volatile float t4 = t3 / s32;
      volatile float t5 = g * out;
      volatile float t6 = t4 + t5;
      out = t6;
    }
    x = out;
  }
  return w;
}

inline std::vector<float> f32_proportional(double theta, std::int64_t H, double prf, double s) {
  volatile double prod = prf * static_cast<double>(H);
  const std::int64_t n_rot = static_cast<std::int64_t>(std::floor(prod / 2));
  std::vector<float> w(static_cast<std::size_t>(H / 2), 0.0f);
  const float s32 = static_cast<float>(s);
  for (std::int64_t i = 0; i < n_rot; ++i) {
    volatile float P = f32_P(theta, i, H);
    volatile float b = 1.0f / P;
    volatile float q = b / s32;
    w[static_cast<std::size_t>(i)] = q;
  }
  return w;
}

// ---------------------------------------------------------------- tolerances ------------------

/// Spacing of Real at the magnitude of x (x != 0): one ulp of Real near x.
template <class Real>
inline ld ulp_of(ld x) {
  int e = 0;
  std::frexp(x, &e);  // |x| = m·2^e, 0.5 <= m < 1
  return std::ldexp(ld(std::numeric_limits<Real>::epsilon()), e - 1);
}

/// |got − ref| in ulps of Real at ref (0 when both are 0).
template <class Real>
inline double ulps_off(Real got, ld ref) {
  if (ref == 0) return got == Real(0) ? 0.0 : std::numeric_limits<double>::infinity();
  return static_cast<double>(std::fabs(ld(got) - ref) / ulp_of<Real>(ref));
}

/// ulp distance between two floats (same sign, finite).
inline std::int64_t float_ulp_distance(float a, float b) {
  if (a == b) return 0;
  std::int64_t n = 0;
  float x = std::min(a, b);
  const float y = std::max(a, b);
  while (x < y && n < 1000000) {
    x = std::nextafter(x, y);
    ++n;
  }
  return n;
}

}  // namespace ropescale_test::refm

#endif  // ROPESCALE_TESTS_SUPPORT_REFERENCE_METHODS_HPP

// SPDX-License-Identifier: Apache-2.0
// Accurate angle formation (docs/reference.md §5.2): the product p·ω is formed exactly as a double
// pair (p < 2^53 converts exactly; fma recovers the product's rounding error), then reduced mod 2π
// with a two-constant Cody–Waite split. Reduction error is about 1e-15 rad for p·ω up to 1e8 rad,
// far below the 1e-9 the spec allows. Scalar: the cold table path on the scalar target, the HF-f32
// mode, and the per-row fallback of the vector paths for |p·ω| >= 2^30 rad or non-finite ω. The
// vector paths (simd/sincos-inl.hpp) use the same exact product and a two-constant reduction
// mod π/2 instead.
#ifndef ROPESCALE_DETAIL_ANGLE_HPP
#define ROPESCALE_DETAIL_ANGLE_HPP

#include <cmath>
#include <cstdint>

namespace ropescale::detail {

/// Largest |ω| a table accepts (docs/limits.md): p·ω stays below 2^63 rad for every position
/// p <= 2^31, where the reduction below is exact to about 1e-13 rad; real tables have ω <= 1.
inline constexpr double max_inv_freq = 4294967296.0;  // 2^32

/// 2π split into a double head and the tail (2π − head), for Cody–Waite reduction.
inline constexpr double two_pi_hi = 6.283185307179586;       // fl64(2π)
inline constexpr double two_pi_lo = 2.4492935982947064e-16;  // 2π − two_pi_hi
inline constexpr double inv_two_pi = 0.15915494309189535;

/// r ≡ position·omega (mod 2π), r in about [−π, π]. position must satisfy |position| < 2^53.
inline double reduce_angle(std::int64_t position, double omega) noexcept {
  const double p = static_cast<double>(position);
  const double phi = p * omega;
  const double phi_err = std::fma(p, omega, -phi);  // p·ω = phi + phi_err exactly
  const double k = std::nearbyint(phi * inv_two_pi);
  double r = std::fma(-k, two_pi_hi, phi);  // one rounding, result small
  r = std::fma(-k, two_pi_lo, r);
  return r + phi_err;
}

/// Accurate-mode table entry (§5.2): A·cos(p·ω), A·sin(p·ω) with double angle and reduction,
/// double sin/cos, one final rounding to float.
inline void accurate_cos_sin(std::int64_t position, double omega, double attention_factor,
                             float& cos_out, float& sin_out) noexcept {
  const double r = reduce_angle(position, omega);
  cos_out = static_cast<float>(attention_factor * std::cos(r));
  sin_out = static_cast<float>(attention_factor * std::sin(r));
}

/// HF-compatible entry (§5.3): binary32 angle fl32(fl32(p)·ω32), its cos/sin computed accurately
/// and rounded to float, then multiplied by fl32(A) in binary32.
inline void hf_f32_cos_sin(std::int64_t position, float omega32, double attention_factor,
                           float& cos_out, float& sin_out) noexcept {
  const float angle = static_cast<float>(position) * omega32;
  const float a32 = static_cast<float>(attention_factor);
  cos_out = static_cast<float>(std::cos(static_cast<double>(angle))) * a32;
  sin_out = static_cast<float>(std::sin(static_cast<double>(angle))) * a32;
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_ANGLE_HPP

// SPDX-License-Identifier: Apache-2.0
// The scalar target: plain C++ at the baseline ISA, always compiled. It runs on CPUs without a
// supported SIMD extension and in ROPESCALE_DISABLE_SIMD builds, and it provides rotate_pair(),
// the per-pair function every other target uses for remainders shorter than a vector. Its `ops`
// has one lane, so the shared bodies reduce to simple per-pair loops over contiguous arrays,
// which the compiler may vectorise at the baseline ISA. It is not the test reference: that lives
// in tests/support/rotate_reference.hpp and is written independently in double.
#ifndef ROPESCALE_SIMD_SCALAR_HPP
#define ROPESCALE_SIMD_SCALAR_HPP

#include <cmath>  // std::fma, std::nearbyint, std::signbit (sincos ops, helper D)
#include <cstdint>

#include "ropescale/detail/angle.hpp"  // accurate_cos_sin: sincos-inl's huge-angle fallback (helper D)
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/target.hpp"
#include "ropescale/types.hpp"

namespace ropescale::simd::scalar {

/// Rotates one pair in float: a ← a·c − b·s, b ← b·c + a·s, each result rounded once to T
/// (callers pass −s for the inverse rotation; the negation is exact).
template <class T>
inline void rotate_pair(T* pa, T* pb, float c, float s) noexcept {
  const float a = load_as_float(*pa);
  const float b = load_as_float(*pb);
  // Every product rounded to float before the sum. Where the target has FMA (AArch64 always),
  // g++'s default -ffp-contract=fast may fuse a·c or b·s, chosen per call site, so the same pair
  // could round two ways in one program (the out-of-place and in-place tails of one ISA
  // disagreed by an ulp under qemu-aarch64). A volatile product cannot be contracted; this path
  // only runs for the scalar ISA and a vector ISA's tail pairs.
  volatile float ac = a * c, bs = b * s, bc = b * c, as = a * s;
  *pa = store_from_float<T>(ac - bs);
  *pb = store_from_float<T>(bc + as);
}

/// One-lane vocabulary (the vector-only members exist so the shared bodies compile; they are
/// never reached with lanes == 1).
struct ops {
  using vec = float;
  static constexpr std::int64_t lanes = 1;
  /// Vector registers the kernels may use to keep a cos/sin row resident across heads.
  static constexpr int row_regs = 0;
  template <class T>
  static float load(const T* p) noexcept {
    return load_as_float(*p);
  }
  template <class T>
  static void store(T* p, float v) noexcept {
    *p = store_from_float<T>(v);
  }
  static float set1(float f) noexcept { return f; }
  static float mul(float a, float b) noexcept { return a * b; }
  /// a·b + c, unfused (fused would be a libm call at the baseline ISA; the scalar target never
  /// runs the vector sincos polynomials, which use it fused on the vector targets)
  static float fmadd(float a, float b, float c) noexcept { return a * b + c; }
  static float fnmadd(float a, float b, float c) noexcept { return c - a * b; }
  static float fmaddsub(float a, float b, float c) noexcept { return a * b - c; }
  static float fmsubadd(float a, float b, float c) noexcept { return a * b + c; }
  static float swap_pairs(float v) noexcept { return v; }
  static void dup_pairs(float v, float& lo, float& hi) noexcept { lo = hi = v; }
  static constexpr bool has_bf16_split = false;  // (the members below are never called)
  static void split_bf16(const bf16* p, float& even, float& odd) noexcept {
    even = to_float(p[0]);
    odd = to_float(p[1]);
  }
  static void merge_bf16(bf16* p, float even, float odd) noexcept {
    p[0] = to_bf16(even);
    p[1] = to_bf16(odd);
  }
  static void deinterleave(float v0, float v1, float& even, float& odd) noexcept {
    even = v0;
    odd = v1;
  }
};

/// The cos/sin vocabulary of simd/sincos-inl.hpp (angles and their reduction in double lanes,
/// quadrant selection, narrowing to float), on top of the rotation ops it also uses.
struct sincos_ops : ops {
  // Double "lanes" for the angle and its reduction (simd/sincos-inl.hpp). Quadrant masks are
  // floats whose sign bit carries the flag (−0.0f = set), mirroring the vector targets.
  using dvec = double;
  static constexpr std::int64_t dlanes = 1;
  static double dload(const double* p) noexcept { return *p; }
  static double dset1(double d) noexcept { return d; }
  static double dmul(double a, double b) noexcept { return a * b; }
  static double dadd(double a, double b) noexcept { return a + b; }
  /// a·b − c with one rounding
  static double dfmsub(double a, double b, double c) noexcept { return std::fma(a, b, -c); }
  /// c − a·b with one rounding
  static double dfnmadd(double a, double b, double c) noexcept { return std::fma(-a, b, c); }
  /// nearest integer, ties to even (default rounding mode)
  static double dround(double a) noexcept { return std::nearbyint(a); }
  static float narrow(const double* d) noexcept { return static_cast<float>(d[0]); }
  /// k is an exact integer with |k| < 2^30: sign-bit flags for k odd, bit 1 of k, bit 1 of k + 1.
  static void quadrant_masks(const double* k, float& swap, float& sin_flip,
                             float& cos_flip) noexcept {
    // Rows with |k| >= 2^30 (or NaN) are recomputed by the caller; keep the conversion defined.
    const auto q = static_cast<std::int64_t>(std::fabs(k[0]) < 1073741824.0 ? k[0] : 0.0);
    swap = (q & 1) != 0 ? -0.0f : 0.0f;
    sin_flip = (q & 2) != 0 ? -0.0f : 0.0f;
    cos_flip = ((q + 1) & 2) != 0 ? -0.0f : 0.0f;
  }
  /// b where mask's sign bit is set, else a
  static float select_sign(float mask, float a, float b) noexcept {
    return std::signbit(mask) ? b : a;
  }
  /// v with its sign flipped where mask's sign bit is set
  static float flip_sign(float v, float mask) noexcept { return std::signbit(mask) ? -v : v; }
  static double dsub(double a, double b) noexcept { return a - b; }
  static void widen(float x, double* d) noexcept { d[0] = static_cast<double>(x); }
  /// accumulates "some lane is not finite-and-below limit" into bad
  static double dbad_or(double bad, double v, double limit) noexcept {
    return std::fabs(v) < limit ? bad : 1.0;
  }
  static bool dany(double bad) noexcept { return bad != 0.0; }
  static double dzero() noexcept { return 0.0; }
  // Double-lane sincos (sincos-inl.hpp's cos_sin_row_double); never reached with one lane.
  static double dfma(double a, double b, double c) noexcept { return std::fma(a, b, c); }
  static double select_sign(double mask, double a, double b) noexcept {
    return std::signbit(mask) ? b : a;
  }
  static double flip_sign(double v, double mask) noexcept { return std::signbit(mask) ? -v : v; }
  static void dquadrant_masks(double k, double& swap, double& sin_flip, double& cos_flip) noexcept {
    const auto q = static_cast<std::int64_t>(std::fabs(k) < 1073741824.0 ? k : 0.0);
    swap = (q & 1) != 0 ? -0.0 : 0.0;
    sin_flip = (q & 2) != 0 ? -0.0 : 0.0;
    cos_flip = ((q + 1) & 2) != 0 ? -0.0 : 0.0;
  }
  static void dstore_float(float* p, double v) noexcept { *p = static_cast<float>(v); }
};

// Order matters: each body uses the ones above it.
// clang-format off
#include "ropescale/simd/rotate-inl.hpp"
#include "ropescale/simd/sincos-inl.hpp"  // cos/sin rows + on-the-fly body
#include "ropescale/simd/append-inl.hpp"  // out-of-place rotation, paged KV append
// clang-format on

}  // namespace ropescale::simd::scalar

#endif  // ROPESCALE_SIMD_SCALAR_HPP

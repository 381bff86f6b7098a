// SPDX-License-Identifier: Apache-2.0
// NEON target (AArch64 only; Advanced SIMD is part of the AArch64 baseline, so no target region).
//
// Instruction choices. 4 float lanes per float32x4_t; fmla/fmls for the NeoX pair update. GPT-J
// duplicates cos/sin with zip1/zip2, swaps pairs with rev64, and emulates x86's fmaddsub by
// flipping the sign of the even lanes of the product term before one fmla. bf16 widens with
// ushll + shift and narrows with integer round-to-nearest-even plus a NaN select (xtn); f16 uses
// fcvtl/fcvtn (RNE under the default FPCR). Compiled and tested only on AArch64 hosts.
#ifndef ROPESCALE_SIMD_NEON_HPP
#define ROPESCALE_SIMD_NEON_HPP

#include <cstdint>

#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/scalar.hpp"
#include "ropescale/simd/target.hpp"
#include "ropescale/types.hpp"

#if ROPESCALE_COMPILE_NEON
#include <arm_neon.h>

namespace ropescale::simd::neon {

struct ops {
  using vec = float32x4_t;
  static constexpr std::int64_t lanes = 4;
  /// Vector registers the kernels may use to keep a cos/sin row resident across heads.
  static constexpr int row_regs = 16;

  static float32x4_t load(const float* p) noexcept { return vld1q_f32(p); }
  static float32x4_t load(const bf16* p) noexcept {
    const uint16x4_t h = vld1_u16(reinterpret_cast<const std::uint16_t*>(p));
    return vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(h), 16));
  }
  static float32x4_t load(const f16* p) noexcept {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p))));
  }
  static void store(float* p, float32x4_t v) noexcept { vst1q_f32(p, v); }
  static void store(bf16* p, float32x4_t v) noexcept {
    const uint32x4_t u = vreinterpretq_u32_f32(v);
    const uint32x4_t hi = vshrq_n_u32(u, 16);
    const uint32x4_t lsb = vandq_u32(hi, vdupq_n_u32(1));
    const uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7FFF)), lsb), 16);
    const uint32x4_t not_nan = vceqq_f32(v, v);
    const uint32x4_t out = vbslq_u32(not_nan, r, vorrq_u32(hi, vdupq_n_u32(0x40)));
    vst1_u16(reinterpret_cast<std::uint16_t*>(p), vmovn_u32(out));
  }
  static void store(f16* p, float32x4_t v) noexcept {
    vst1_u16(reinterpret_cast<std::uint16_t*>(p), vreinterpret_u16_f16(vcvt_f16_f32(v)));
  }

  static float32x4_t set1(float f) noexcept { return vdupq_n_f32(f); }
  static float32x4_t mul(float32x4_t a, float32x4_t b) noexcept { return vmulq_f32(a, b); }
  /// a·b + c
  static float32x4_t fmadd(float32x4_t a, float32x4_t b, float32x4_t c) noexcept {
    return vfmaq_f32(c, a, b);
  }
  /// c − a·b
  static float32x4_t fnmadd(float32x4_t a, float32x4_t b, float32x4_t c) noexcept {
    return vfmsq_f32(c, a, b);
  }
  /// even lanes a·b − c, odd lanes a·b + c
  static float32x4_t fmaddsub(float32x4_t a, float32x4_t b, float32x4_t c) noexcept {
    const uint32x4_t even_sign = vreinterpretq_u32_u64(vdupq_n_u64(0x80000000ull));
    return vfmaq_f32(vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(c), even_sign)), a, b);
  }
  /// even lanes a·b + c, odd lanes a·b − c
  static float32x4_t fmsubadd(float32x4_t a, float32x4_t b, float32x4_t c) noexcept {
    const uint32x4_t odd_sign = vreinterpretq_u32_u64(vdupq_n_u64(0x8000000000000000ull));
    return vfmaq_f32(vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(c), odd_sign)), a, b);
  }
  /// [v1 v0 v3 v2]
  static float32x4_t swap_pairs(float32x4_t v) noexcept { return vrev64q_f32(v); }
  /// lo = [v0 v0 v1 v1], hi = [v2 v2 v3 v3]
  static void dup_pairs(float32x4_t v, float32x4_t& lo, float32x4_t& hi) noexcept {
    lo = vzip1q_f32(v, v);
    hi = vzip2q_f32(v, v);
  }
  /// bf16 pairs in 32-bit lanes: 8 bf16 at p → floats of the even- and odd-indexed elements.
  static constexpr bool has_bf16_split = true;
  static void split_bf16(const bf16* p, float32x4_t& even, float32x4_t& odd) noexcept {
    const uint32x4_t u = vld1q_u32(reinterpret_cast<const std::uint32_t*>(p));
    even = vreinterpretq_f32_u32(vshlq_n_u32(u, 16));
    odd = vreinterpretq_f32_u32(vandq_u32(u, vdupq_n_u32(0xFFFF0000u)));
  }
  static uint32x4_t round_bf16_hi(float32x4_t v) noexcept {  // bf16 bits in the upper half
    const uint32x4_t u = vreinterpretq_u32_f32(v);
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
    const uint32x4_t r = vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7FFF)), lsb);
    return vbslq_u32(vceqq_f32(v, v), r, vorrq_u32(u, vdupq_n_u32(0x00400000)));
  }
  /// Rounds both to bf16 (RNE; a NaN stays a quiet NaN, as to_bf16) and stores them interleaved.
  static void merge_bf16(bf16* p, float32x4_t even, float32x4_t odd) noexcept {
    const uint32x4_t e = vshrq_n_u32(round_bf16_hi(even), 16);
    const uint32x4_t o = vandq_u32(round_bf16_hi(odd), vdupq_n_u32(0xFFFF0000u));
    vst1q_u32(reinterpret_cast<std::uint32_t*>(p), vorrq_u32(e, o));
  }
  /// even = [v0_0 v0_2 v1_0 v1_2], odd = [v0_1 v0_3 v1_1 v1_3]
  static void deinterleave(float32x4_t v0, float32x4_t v1, float32x4_t& even,
                           float32x4_t& odd) noexcept {
    even = vuzp1q_f32(v0, v1);
    odd = vuzp2q_f32(v0, v1);
  }
};

/// The cos/sin vocabulary of simd/sincos-inl.hpp (angles and their reduction in double lanes,
/// quadrant selection, narrowing to float), on top of the rotation ops it also uses.
struct sincos_ops : ops {
  // Double lanes for the angle and its reduction (simd/sincos-inl.hpp): two float64x2_t per
  // float vector. Quadrant masks are float32x4_t holding only sign bits.
  using dvec = float64x2_t;
  static constexpr std::int64_t dlanes = 2;
  static float64x2_t dload(const double* p) noexcept { return vld1q_f64(p); }
  static float64x2_t dset1(double d) noexcept { return vdupq_n_f64(d); }
  static float64x2_t dmul(float64x2_t a, float64x2_t b) noexcept { return vmulq_f64(a, b); }
  static float64x2_t dadd(float64x2_t a, float64x2_t b) noexcept { return vaddq_f64(a, b); }
  /// a·b − c with one rounding
  static float64x2_t dfmsub(float64x2_t a, float64x2_t b, float64x2_t c) noexcept {
    return vfmaq_f64(vnegq_f64(c), a, b);
  }
  /// c − a·b with one rounding
  static float64x2_t dfnmadd(float64x2_t a, float64x2_t b, float64x2_t c) noexcept {
    return vfmsq_f64(c, a, b);
  }
  /// nearest integer, ties to even
  static float64x2_t dround(float64x2_t a) noexcept { return vrndnq_f64(a); }
  /// [d0 lanes, d1 lanes] as floats
  static float32x4_t narrow(const float64x2_t* d) noexcept {
    return vcombine_f32(vcvt_f32_f64(d[0]), vcvt_f32_f64(d[1]));
  }
  /// k exact integers, |k| < 2^30: sign-bit masks for k odd, bit 1 of k, bit 1 of k + 1.
  static void quadrant_masks(const float64x2_t* k, float32x4_t& swap, float32x4_t& sin_flip,
                             float32x4_t& cos_flip) noexcept {
    const uint32x4_t q = vreinterpretq_u32_s32(
        vcombine_s32(vmovn_s64(vcvtnq_s64_f64(k[0])), vmovn_s64(vcvtnq_s64_f64(k[1]))));
    const uint32x4_t q1 = vaddq_u32(q, vdupq_n_u32(1));
    swap = vreinterpretq_f32_u32(vshlq_n_u32(q, 31));
    sin_flip = vreinterpretq_f32_u32(vshlq_n_u32(vshrq_n_u32(q, 1), 31));
    cos_flip = vreinterpretq_f32_u32(vshlq_n_u32(vshrq_n_u32(q1, 1), 31));
  }
  /// b where mask's sign bit is set, else a
  static float32x4_t select_sign(float32x4_t mask, float32x4_t a, float32x4_t b) noexcept {
    const uint32x4_t m = vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(mask), 31));
    return vbslq_f32(m, b, a);
  }
  /// v with its sign flipped where mask (sign bits only) is set
  static float32x4_t flip_sign(float32x4_t v, float32x4_t mask) noexcept {
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(v), vreinterpretq_u32_f32(mask)));
  }
  static float64x2_t dsub(float64x2_t a, float64x2_t b) noexcept { return vsubq_f64(a, b); }
  /// inverse of narrow: float lanes [0, 2) to d[0], [2, 4) to d[1], exactly
  static void widen(float32x4_t x, float64x2_t* d) noexcept {
    d[0] = vcvt_f64_f32(vget_low_f32(x));
    d[1] = vcvt_high_f64_f32(x);
  }
  /// bad | (lanes of v that are NaN or have |v| >= limit): all-ones lanes
  static float64x2_t dbad_or(float64x2_t bad, float64x2_t v, float64x2_t limit) noexcept {
    const uint64x2_t ok = vcltq_f64(vabsq_f64(v), limit);  // false for NaN
    return vreinterpretq_f64_u64(vorrq_u64(vreinterpretq_u64_f64(bad), vmvnq_u64_compat(ok)));
  }
  static uint64x2_t vmvnq_u64_compat(uint64x2_t v) noexcept {
    return veorq_u64(v, vdupq_n_u64(~0ull));
  }
  static bool dany(float64x2_t bad) noexcept { return vmaxvq_u32(vreinterpretq_u32_f64(bad)) != 0; }
  static float64x2_t dzero() noexcept { return vdupq_n_f64(0.0); }
  // Double-lane sincos (sincos-inl.hpp's cos_sin_row_double): masks are float64x2_t sign bits.
  static float64x2_t dfma(float64x2_t a, float64x2_t b, float64x2_t c) noexcept {
    return vfmaq_f64(c, a, b);
  }
  /// b where mask's sign bit is set, else a
  static float64x2_t select_sign(float64x2_t mask, float64x2_t a, float64x2_t b) noexcept {
    const uint64x2_t m = vreinterpretq_u64_s64(vshrq_n_s64(vreinterpretq_s64_f64(mask), 63));
    return vbslq_f64(m, b, a);
  }
  static float64x2_t flip_sign(float64x2_t v, float64x2_t mask) noexcept {
    return vreinterpretq_f64_u64(veorq_u64(vreinterpretq_u64_f64(v), vreinterpretq_u64_f64(mask)));
  }
  /// k exact integers, |k| < 2^30: k + 1.5·2^52 holds k's low bits in its mantissa.
  static void dquadrant_masks(float64x2_t k, float64x2_t& swap, float64x2_t& sin_flip,
                              float64x2_t& cos_flip) noexcept {
    const uint64x2_t t = vreinterpretq_u64_f64(vaddq_f64(k, vdupq_n_f64(6755399441055744.0)));
    const uint64x2_t t1 = vaddq_u64(t, vdupq_n_u64(1));
    swap = vreinterpretq_f64_u64(vshlq_n_u64(t, 63));
    sin_flip = vreinterpretq_f64_u64(vshlq_n_u64(vshrq_n_u64(t, 1), 63));
    cos_flip = vreinterpretq_f64_u64(vshlq_n_u64(vshrq_n_u64(t1, 1), 63));
  }
  /// rounds the dlanes doubles to float and stores them
  static void dstore_float(float* p, float64x2_t v) noexcept { vst1_f32(p, vcvt_f32_f64(v)); }
};

// Order matters: each body uses the ones above it.
// clang-format off
#include "ropescale/simd/rotate-inl.hpp"
#include "ropescale/simd/sincos-inl.hpp"  // cos/sin rows + on-the-fly body
#include "ropescale/simd/append-inl.hpp"  // out-of-place rotation, paged KV append
// clang-format on

}  // namespace ropescale::simd::neon

#endif  // ROPESCALE_COMPILE_NEON
#endif  // ROPESCALE_SIMD_NEON_HPP

// SPDX-License-Identifier: Apache-2.0
// AVX2 + FMA + F16C target (x86-64; compiled in every x86-64 build inside a target region, run
// only where best_isa()/available() says so).
//
// Instruction choices. 8 float lanes per __m256. NeoX: two loads of data, two of the table row,
// one vmulps + one vfmadd/vfnmadd per output vector. GPT-J: the row's cos/sin are duplicated into
// both lanes of each pair (vunpcklps/vunpckhps + vperm2f128, two shuffles per 8 pairs each), the
// data pair is swapped in-lane (vpermilps) and vfmaddsubps produces a·c − b·s / b·c + a·s in one
// instruction. bf16 widens with vpmovzxwd + shift and narrows with integer round-to-nearest-even
// (+0x7FFF + lsb) plus a NaN blend, packed by vpackusdw; f16 uses F16C vcvtph2ps / vcvtps2ph
// (imm 0 = RNE), which is bit-exact against the scalar conversion including subnormals.
// bf16 rotations use split_bf16/merge_bf16 (both halves of a 32-bit lane at once) instead.
//
// row_regs = 8: half the 16 ymm registers hold the token's cos/sin row, so a 128-dim NeoX head
// takes two register-resident sweeps per token in cache (GPT-J, whose duplicated row takes twice
// the registers, four); DRAM-sized calls with such rows stream instead (rotate-inl.hpp).
// bf16 narrowing is grouped (merge_bf16_n): a whole head's vectors are narrowed at once and the
// NaN case (which the +0x7FFF + lsb rounding gets wrong) is screened once per head with one
// vcmpps(unord) + vorps per vector pair and a single vmovmskps branch. docs/architecture.md
// ("What was tried") has the measurements behind these choices.
#ifndef ROPESCALE_SIMD_AVX2_HPP
#define ROPESCALE_SIMD_AVX2_HPP

#include <cstdint>

#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/scalar.hpp"
#include "ropescale/simd/target.hpp"
#include "ropescale/types.hpp"

#if ROPESCALE_COMPILE_AVX2
#include <immintrin.h>

ROPESCALE_BEGIN_AVX2
namespace ropescale::simd::avx2 {

struct ops {
  using vec = __m256;
  static constexpr std::int64_t lanes = 8;
  /// Vector registers the kernels may use to keep a cos/sin row resident across heads.
  static constexpr int row_regs = 8;

  static __m256 load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static __m256 load(const bf16* p) noexcept {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static __m256 load(const f16* p) noexcept {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static void store(float* p, __m256 v) noexcept { _mm256_storeu_ps(p, v); }
  /// v as bf16 (RNE; a NaN stays a quiet NaN, as to_bf16) and as f16 (RNE)
  static __m128i narrow_bf16(__m256 v) noexcept {
    const __m256i u = _mm256_castps_si256(v);
    const __m256i hi = _mm256_srli_epi32(u, 16);
    const __m256i lsb = _mm256_and_si256(hi, _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb), 16);
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(hi, _mm256_set1_epi32(0x40)), nan);
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  }
  static __m128i narrow_f16(__m256 v) noexcept {
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
  }
  static void store(bf16* p, __m256 v) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), narrow_bf16(v));
  }
  static void store(f16* p, __m256 v) noexcept {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), narrow_f16(v));
  }
  /// Non-temporal stores of what store() writes (simd/append-inl.hpp, DRAM-sized KV appends):
  /// p aligned to lanes·sizeof(T) bytes; a call that streams ends with stream_fence().
  static constexpr bool has_stream = true;
  static void stream(float* p, __m256 v) noexcept { _mm256_stream_ps(p, v); }
  static void stream(bf16* p, __m256 v) noexcept {
    _mm_stream_si128(reinterpret_cast<__m128i*>(p), narrow_bf16(v));
  }
  static void stream(f16* p, __m256 v) noexcept {
    _mm_stream_si128(reinterpret_cast<__m128i*>(p), narrow_f16(v));
  }
  /// One vector register's bytes (32) copied bit for bit from x to p non-temporally (p aligned
  /// to 32 bytes): the streaming form of a 16-bit copy, which must not convert.
  static void stream_bits(void* p, const void* x) noexcept {
    _mm256_stream_si256(static_cast<__m256i*>(p),
                        _mm256_loadu_si256(static_cast<const __m256i*>(x)));
  }
  static void stream_fence() noexcept { _mm_sfence(); }

  static __m256 set1(float f) noexcept { return _mm256_set1_ps(f); }
  static __m256 mul(__m256 a, __m256 b) noexcept { return _mm256_mul_ps(a, b); }
  /// a·b + c
  static __m256 fmadd(__m256 a, __m256 b, __m256 c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  /// c − a·b
  static __m256 fnmadd(__m256 a, __m256 b, __m256 c) noexcept { return _mm256_fnmadd_ps(a, b, c); }
  /// even lanes a·b − c, odd lanes a·b + c
  static __m256 fmaddsub(__m256 a, __m256 b, __m256 c) noexcept {
    return _mm256_fmaddsub_ps(a, b, c);
  }
  /// even lanes a·b + c, odd lanes a·b − c
  static __m256 fmsubadd(__m256 a, __m256 b, __m256 c) noexcept {
    return _mm256_fmsubadd_ps(a, b, c);
  }
  /// [v1 v0 v3 v2 …]
  static __m256 swap_pairs(__m256 v) noexcept { return _mm256_permute_ps(v, 0xB1); }
  /// lo = [v0 v0 v1 v1 v2 v2 v3 v3], hi = [v4 v4 … v7 v7]
  static void dup_pairs(__m256 v, __m256& lo, __m256& hi) noexcept {
    const __m256 l = _mm256_unpacklo_ps(v, v);  // v0 v0 v1 v1 | v4 v4 v5 v5
    const __m256 h = _mm256_unpackhi_ps(v, v);  // v2 v2 v3 v3 | v6 v6 v7 v7
    lo = _mm256_permute2f128_ps(l, h, 0x20);
    hi = _mm256_permute2f128_ps(l, h, 0x31);
  }
  /// bf16 pairs in 32-bit lanes: 16 bf16 at p → floats of the even- and odd-indexed elements.
  static constexpr bool has_bf16_split = true;
  static void split_bf16(const bf16* p, __m256& even, __m256& odd) noexcept {
    const __m256i u = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    even = _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
    odd =
        _mm256_castsi256_ps(_mm256_and_si256(u, _mm256_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  static __m256i round_bf16_hi(__m256 v) noexcept {  // bf16 bits in the upper 16 bits
    const __m256i u = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    const __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7FFF)), lsb);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    const __m256i q = _mm256_or_si256(u, _mm256_set1_epi32(0x00400000));
    return _mm256_castps_si256(
        _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(q), nan));
  }
  /// Rounds both to bf16 (RNE; a NaN stays a quiet NaN, as to_bf16) and stores them interleaved.
  static void merge_bf16(bf16* p, __m256 even, __m256 odd) noexcept {
    const __m256i e = _mm256_srli_epi32(round_bf16_hi(even), 16);
    const __m256i o = round_bf16_hi(odd);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_blend_epi16(e, o, 0xAA));
  }
  /// merge_bf16 for N pairs (pair i = r[2i], r[2i+1] at p[i]) with one NaN screen for the group:
  /// the integer rounding (+0x7FFF + lsb) is exact for every non-NaN input, so the fast path
  /// drops the per-vector NaN blend (vcmpps + vpor + vblendvps) for one vcmpps + vorps per pair
  /// and one vmovmskps + branch per group; a group holding a NaN takes merge_bf16.
  static constexpr bool merge_bf16_grouped = true;
  template <int N>
  ROPESCALE_INLINE static void merge_bf16_n(bf16* const* p, const __m256* r) noexcept {
    __m256 nan = _mm256_cmp_ps(r[0], r[1], _CMP_UNORD_Q);
    ROPESCALE_UNROLL
    for (int i = 1; i < N; ++i)
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(r[2 * i], r[2 * i + 1], _CMP_UNORD_Q));
    if (_mm256_movemask_ps(nan) != 0) {
      ROPESCALE_UNROLL
      for (int i = 0; i < N; ++i) merge_bf16(p[i], r[2 * i], r[2 * i + 1]);
      return;
    }
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i bias = _mm256_set1_epi32(0x7FFF);
    ROPESCALE_UNROLL
    for (int i = 0; i < N; ++i) {
      const __m256i ue = _mm256_castps_si256(r[2 * i]);
      const __m256i uo = _mm256_castps_si256(r[2 * i + 1]);
      const __m256i le = _mm256_and_si256(_mm256_srli_epi32(ue, 16), one);
      const __m256i lo = _mm256_and_si256(_mm256_srli_epi32(uo, 16), one);
      const __m256i e = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(ue, bias), le), 16);
      const __m256i o = _mm256_add_epi32(_mm256_add_epi32(uo, bias), lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(p[i]), _mm256_blend_epi16(e, o, 0xAA));
    }
  }
  /// even = [v0_0 v0_2 v0_4 v0_6 v1_0 … v1_6], odd = [v0_1 … v1_7]
  static void deinterleave(__m256 v0, __m256 v1, __m256& even, __m256& odd) noexcept {
    const __m256 e = _mm256_shuffle_ps(v0, v1, 0x88);  // v0_0 v0_2 v1_0 v1_2 | v0_4 v0_6 v1_4 v1_6
    const __m256 o = _mm256_shuffle_ps(v0, v1, 0xDD);
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
  }
};

/// The cos/sin vocabulary of simd/sincos-inl.hpp (angles and their reduction in double lanes,
/// quadrant selection, narrowing to float), on top of the rotation ops it also uses.
struct sincos_ops : ops {
  // Double lanes for the angle and its reduction (simd/sincos-inl.hpp): two __m256d per float
  // vector. Quadrant masks are __m256 holding only sign bits.
  using dvec = __m256d;
  static constexpr std::int64_t dlanes = 4;
  static __m256d dload(const double* p) noexcept { return _mm256_loadu_pd(p); }
  static __m256d dset1(double d) noexcept { return _mm256_set1_pd(d); }
  static __m256d dmul(__m256d a, __m256d b) noexcept { return _mm256_mul_pd(a, b); }
  static __m256d dadd(__m256d a, __m256d b) noexcept { return _mm256_add_pd(a, b); }
  /// a·b − c with one rounding
  static __m256d dfmsub(__m256d a, __m256d b, __m256d c) noexcept {
    return _mm256_fmsub_pd(a, b, c);
  }
  /// c − a·b with one rounding
  static __m256d dfnmadd(__m256d a, __m256d b, __m256d c) noexcept {
    return _mm256_fnmadd_pd(a, b, c);
  }
  /// nearest integer, ties to even
  static __m256d dround(__m256d a) noexcept {
    return _mm256_round_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  /// [d0 lanes, d1 lanes] as floats
  static __m256 narrow(const __m256d* d) noexcept {
    return _mm256_set_m128(_mm256_cvtpd_ps(d[1]), _mm256_cvtpd_ps(d[0]));
  }
  /// k exact integers, |k| < 2^30: sign-bit masks for k odd, bit 1 of k, bit 1 of k + 1.
  static void quadrant_masks(const __m256d* k, __m256& swap, __m256& sin_flip,
                             __m256& cos_flip) noexcept {
    const __m256i q = _mm256_set_m128i(_mm256_cvtpd_epi32(k[1]), _mm256_cvtpd_epi32(k[0]));
    const __m256i q1 = _mm256_add_epi32(q, _mm256_set1_epi32(1));
    swap = _mm256_castsi256_ps(_mm256_slli_epi32(q, 31));
    sin_flip = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(q, 1), 31));
    cos_flip = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(q1, 1), 31));
  }
  /// b where mask's sign bit is set, else a
  static __m256 select_sign(__m256 mask, __m256 a, __m256 b) noexcept {
    return _mm256_blendv_ps(a, b, mask);
  }
  /// v with its sign flipped where mask (sign bits only) is set
  static __m256 flip_sign(__m256 v, __m256 mask) noexcept { return _mm256_xor_ps(v, mask); }
  static __m256d dsub(__m256d a, __m256d b) noexcept { return _mm256_sub_pd(a, b); }
  /// inverse of narrow: float lanes [0, 4) to d[0], [4, 8) to d[1], exactly
  static void widen(__m256 x, __m256d* d) noexcept {
    d[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
    d[1] = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
  }
  /// bad | (lanes of v that are NaN or have |v| >= limit): all-ones lanes
  static __m256d dbad_or(__m256d bad, __m256d v, __m256d limit) noexcept {
    const __m256d abs = _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
    return _mm256_or_pd(bad, _mm256_cmp_pd(abs, limit, _CMP_NLT_UQ));
  }
  static bool dany(__m256d bad) noexcept { return _mm256_movemask_pd(bad) != 0; }
  static __m256d dzero() noexcept { return _mm256_setzero_pd(); }
  // Double-lane sincos (sincos-inl.hpp's cos_sin_row_double): masks are __m256d sign bits.
  static __m256d dfma(__m256d a, __m256d b, __m256d c) noexcept { return _mm256_fmadd_pd(a, b, c); }
  /// b where mask's sign bit is set, else a
  static __m256d select_sign(__m256d mask, __m256d a, __m256d b) noexcept {
    return _mm256_blendv_pd(a, b, mask);
  }
  static __m256d flip_sign(__m256d v, __m256d mask) noexcept { return _mm256_xor_pd(v, mask); }
  /// k exact integers, |k| < 2^30: k + 1.5·2^52 holds k's low bits in its mantissa.
  static void dquadrant_masks(__m256d k, __m256d& swap, __m256d& sin_flip,
                              __m256d& cos_flip) noexcept {
    const __m256i t = _mm256_castpd_si256(_mm256_add_pd(k, _mm256_set1_pd(6755399441055744.0)));
    const __m256i t1 = _mm256_add_epi64(t, _mm256_set1_epi64x(1));
    swap = _mm256_castsi256_pd(_mm256_slli_epi64(t, 63));
    sin_flip = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_srli_epi64(t, 1), 63));
    cos_flip = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_srli_epi64(t1, 1), 63));
  }
  /// rounds the dlanes doubles to float and stores them
  static void dstore_float(float* p, __m256d v) noexcept { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
};

// Order matters: each body uses the ones above it.
// clang-format off
#include "ropescale/simd/rotate-inl.hpp"
#include "ropescale/simd/sincos-inl.hpp"  // cos/sin rows + on-the-fly body
#include "ropescale/simd/append-inl.hpp"  // out-of-place rotation, paged KV append
// clang-format on

}  // namespace ropescale::simd::avx2
ROPESCALE_END_TARGET

#endif  // ROPESCALE_COMPILE_AVX2
#endif  // ROPESCALE_SIMD_AVX2_HPP

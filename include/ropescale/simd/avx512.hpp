// SPDX-License-Identifier: Apache-2.0
// AVX-512 (F + BW + VL) target. Compiled in every x86-64 build inside a target region; run only
// where the CPU and OS support it (best_isa()/available()).
//
// Instruction choices. 16 float lanes per __m512; the NeoX body is the AVX2 one at twice the
// width. GPT-J duplicates cos/sin with one vpermps per 16 lanes (a full-width cross-lane permute
// is one instruction here, unlike AVX2's unpack + vperm2f128 pair) and finishes with
// vfmaddsub. bf16 narrows with integer round-to-nearest-even plus a masked NaN blend, then
// vpmovdw; vcvtneps2bf16 (AVX512_BF16) was not used because it flushes subnormal inputs and
// outputs, which would break bit-exactness against the scalar conversion. f16 uses
// vcvtph2ps / vcvtps2ph (RNE).
#ifndef ROPESCALE_SIMD_AVX512_HPP
#define ROPESCALE_SIMD_AVX512_HPP

#include <cstdint>
#include <cstring>

#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/scalar.hpp"
#include "ropescale/simd/target.hpp"
#include "ropescale/types.hpp"

#if ROPESCALE_COMPILE_AVX512
#include <immintrin.h>

// g++ 12 reports -Wmaybe-uninitialized inside AVX-512 intrinsics that start from
// _mm512_undefined_* (GCC bug 105593, fixed in 13); silence it for this region only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
ROPESCALE_BEGIN_AVX512
namespace ropescale::simd::avx512 {

struct ops {
  using vec = __m512;
  static constexpr std::int64_t lanes = 16;
  /// Vector registers the kernels may use to keep a cos/sin row resident across heads.
  static constexpr int row_regs = 16;

  static __m512 load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static __m512 load(const bf16* p) noexcept {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static __m512 load(const f16* p) noexcept {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static void store(float* p, __m512 v) noexcept { _mm512_storeu_ps(p, v); }
  /// v as bf16 (RNE; a NaN stays a quiet NaN, as to_bf16) and as f16 (RNE)
  static __m256i narrow_bf16(__m512 v) noexcept {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i hi = _mm512_srli_epi32(u, 16);
    const __m512i lsb = _mm512_and_si512(hi, _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_or_epi32(r, nan, hi, _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(r);
  }
  static __m256i narrow_f16(__m512 v) noexcept {
    // The maskz form with an explicit all-ones mask: g++ -O0 defines _mm512_cvtps_ph as a macro
    // whose (-1) mask argument trips -Wsign-conversion in our code. Same instruction.
    return _mm512_maskz_cvtps_ph(static_cast<__mmask16>(0xFFFF), v,
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static void store(bf16* p, __m512 v) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow_bf16(v));
  }
  static void store(f16* p, __m512 v) noexcept {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), narrow_f16(v));
  }
  /// Non-temporal stores of what store() writes (simd/append-inl.hpp, DRAM-sized KV appends):
  /// p aligned to lanes·sizeof(T) bytes; a call that streams ends with stream_fence().
  static constexpr bool has_stream = true;
  static void stream(float* p, __m512 v) noexcept { _mm512_stream_ps(p, v); }
  static void stream(bf16* p, __m512 v) noexcept {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), narrow_bf16(v));
  }
  static void stream(f16* p, __m512 v) noexcept {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(p), narrow_f16(v));
  }
  /// One vector register's bytes (64) copied bit for bit from x to p non-temporally (p aligned
  /// to 64 bytes): the streaming form of a 16-bit copy, which must not convert.
  static void stream_bits(void* p, const void* x) noexcept {
    _mm512_stream_si512(static_cast<__m512i*>(p), _mm512_loadu_si512(x));
  }
  static void stream_fence() noexcept { _mm_sfence(); }

  static __m512 set1(float f) noexcept { return _mm512_set1_ps(f); }
  static __m512 mul(__m512 a, __m512 b) noexcept { return _mm512_mul_ps(a, b); }
  /// a·b + c
  static __m512 fmadd(__m512 a, __m512 b, __m512 c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  /// c − a·b
  static __m512 fnmadd(__m512 a, __m512 b, __m512 c) noexcept { return _mm512_fnmadd_ps(a, b, c); }
  /// even lanes a·b − c, odd lanes a·b + c
  static __m512 fmaddsub(__m512 a, __m512 b, __m512 c) noexcept {
    return _mm512_fmaddsub_ps(a, b, c);
  }
  /// even lanes a·b + c, odd lanes a·b − c
  static __m512 fmsubadd(__m512 a, __m512 b, __m512 c) noexcept {
    return _mm512_fmsubadd_ps(a, b, c);
  }
  /// [v1 v0 v3 v2 …]
  static __m512 swap_pairs(__m512 v) noexcept { return _mm512_permute_ps(v, 0xB1); }
  /// lo = [v0 v0 v1 v1 … v7 v7], hi = [v8 v8 … v15 v15]
  static void dup_pairs(__m512 v, __m512& lo, __m512& hi) noexcept {
    lo = _mm512_permutexvar_ps(_mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0), v);
    hi = _mm512_permutexvar_ps(
        _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8), v);
  }
  /// bf16 pairs in 32-bit lanes: 32 bf16 at p → floats of the even- and odd-indexed elements.
  static constexpr bool has_bf16_split = true;
  static void split_bf16(const bf16* p, __m512& even, __m512& odd) noexcept {
    const __m512i u = _mm512_loadu_si512(p);
    even = _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
    odd =
        _mm512_castsi512_ps(_mm512_and_si512(u, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
  }
  /// Rounds both to bf16 (RNE; a NaN stays a quiet NaN, as to_bf16) and stores them interleaved.
  static __m512i round_bf16_hi(__m512 v) noexcept {  // bf16 bits in the upper 16 bits
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x00400000));
  }
  static void merge_bf16(bf16* p, __m512 even, __m512 odd) noexcept {
    const __m512i e = _mm512_srli_epi32(round_bf16_hi(even), 16);
    const __m512i o = round_bf16_hi(odd);
    // (o & 0xFFFF0000) | e
    _mm512_storeu_si512(
        p, _mm512_ternarylogic_epi32(o, e, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u)), 0xEC));
  }
  /// even = [v0_0 v0_2 … v0_14 v1_0 … v1_14], odd = [v0_1 … v1_15]
  static void deinterleave(__m512 v0, __m512 v1, __m512& even, __m512& odd) noexcept {
    const __m512i ie = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i io = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    even = _mm512_permutex2var_ps(v0, ie, v1);
    odd = _mm512_permutex2var_ps(v0, io, v1);
  }
};

/// The cos/sin vocabulary of simd/sincos-inl.hpp (angles and their reduction in double lanes,
/// quadrant selection, narrowing to float), on top of the rotation ops it also uses.
struct sincos_ops : ops {
  // Double lanes for the angle and its reduction (simd/sincos-inl.hpp): two __m512d per float
  // vector. Quadrant masks are __m512 holding only sign bits. AVX512F-only instructions (no DQ):
  // halves are joined with vinsertf64x4 and xor/blend go through integer ops and k-masks.
  using dvec = __m512d;
  static constexpr std::int64_t dlanes = 8;
  static __m512d dload(const double* p) noexcept { return _mm512_loadu_pd(p); }
  static __m512d dset1(double d) noexcept { return _mm512_set1_pd(d); }
  static __m512d dmul(__m512d a, __m512d b) noexcept { return _mm512_mul_pd(a, b); }
  static __m512d dadd(__m512d a, __m512d b) noexcept { return _mm512_add_pd(a, b); }
  /// a·b − c with one rounding
  static __m512d dfmsub(__m512d a, __m512d b, __m512d c) noexcept {
    return _mm512_fmsub_pd(a, b, c);
  }
  /// c − a·b with one rounding
  static __m512d dfnmadd(__m512d a, __m512d b, __m512d c) noexcept {
    return _mm512_fnmadd_pd(a, b, c);
  }
  /// nearest integer, ties to even
// g++ -O0 has only a macro form of every vrndscalepd intrinsic, passing an all-ones __mmask8
// to a char builtin parameter (-Wsign-conversion in our code whatever mask we pass).
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-conversion"
#endif
  static __m512d dround(__m512d a) noexcept {
    return _mm512_roundscale_pd(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__)
#pragma GCC diagnostic pop
#endif
  /// [d0 lanes, d1 lanes] as floats
  static __m512 narrow(const __m512d* d) noexcept {
    const __m512d lo = _mm512_castps_pd(_mm512_castps256_ps512(_mm512_cvtpd_ps(d[0])));
    return _mm512_castpd_ps(_mm512_insertf64x4(lo, _mm256_castps_pd(_mm512_cvtpd_ps(d[1])), 1));
  }
  /// k exact integers, |k| < 2^30: sign-bit masks for k odd, bit 1 of k, bit 1 of k + 1.
  static void quadrant_masks(const __m512d* k, __m512& swap, __m512& sin_flip,
                             __m512& cos_flip) noexcept {
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(k[0])),
                                         _mm512_cvtpd_epi32(k[1]), 1);
    const __m512i q1 = _mm512_add_epi32(q, _mm512_set1_epi32(1));
    swap = _mm512_castsi512_ps(_mm512_slli_epi32(q, 31));
    sin_flip = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_srli_epi32(q, 1), 31));
    cos_flip = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_srli_epi32(q1, 1), 31));
  }
  /// b where mask's sign bit is set, else a
  static __m512 select_sign(__m512 mask, __m512 a, __m512 b) noexcept {
    const __mmask16 m = _mm512_test_epi32_mask(_mm512_castps_si512(mask),
                                               _mm512_set1_epi32(static_cast<int>(0x80000000u)));
    return _mm512_mask_blend_ps(m, a, b);
  }
  /// v with its sign flipped where mask (sign bits only) is set
  static __m512 flip_sign(__m512 v, __m512 mask) noexcept {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_castps_si512(mask)));
  }
  static __m512d dsub(__m512d a, __m512d b) noexcept { return _mm512_sub_pd(a, b); }
  /// inverse of narrow: float lanes [0, 8) to d[0], [8, 16) to d[1], exactly
  static void widen(__m512 x, __m512d* d) noexcept {
    d[0] = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    d[1] = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
  }
  /// bad | (lanes of v that are NaN or have |v| >= limit): all-ones lanes
  static __m512d dbad_or(__m512d bad, __m512d v, __m512d limit) noexcept {
    const __m512i abs =
        _mm512_and_si512(_mm512_castpd_si512(v), _mm512_set1_epi64(0x7FFFFFFFFFFFFFFF));
    const __mmask8 m = _mm512_cmp_pd_mask(_mm512_castsi512_pd(abs), limit, _CMP_NLT_UQ);
    return _mm512_castsi512_pd(_mm512_mask_set1_epi64(_mm512_castpd_si512(bad), m, -1));
  }
  static bool dany(__m512d bad) noexcept {
    return _mm512_test_epi64_mask(_mm512_castpd_si512(bad), _mm512_castpd_si512(bad)) != 0;
  }
  static __m512d dzero() noexcept { return _mm512_setzero_pd(); }
  // Double-lane sincos (sincos-inl.hpp's cos_sin_row_double): masks are __m512d sign bits.
  static __m512d dfma(__m512d a, __m512d b, __m512d c) noexcept { return _mm512_fmadd_pd(a, b, c); }
  /// b where mask's sign bit is set, else a
  static __m512d select_sign(__m512d mask, __m512d a, __m512d b) noexcept {
    const __mmask8 m =
        _mm512_test_epi64_mask(_mm512_castpd_si512(mask), _mm512_set1_epi64(INT64_MIN));
    return _mm512_mask_blend_pd(m, a, b);
  }
  static __m512d flip_sign(__m512d v, __m512d mask) noexcept {
    return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(v), _mm512_castpd_si512(mask)));
  }
  /// k exact integers, |k| < 2^30: k + 1.5·2^52 holds k's low bits in its mantissa.
  static void dquadrant_masks(__m512d k, __m512d& swap, __m512d& sin_flip,
                              __m512d& cos_flip) noexcept {
    const __m512i t = _mm512_castpd_si512(_mm512_add_pd(k, _mm512_set1_pd(6755399441055744.0)));
    const __m512i t1 = _mm512_add_epi64(t, _mm512_set1_epi64(1));
    swap = _mm512_castsi512_pd(_mm512_slli_epi64(t, 63));
    sin_flip = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_srli_epi64(t, 1), 63));
    cos_flip = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_srli_epi64(t1, 1), 63));
  }
  /// rounds the dlanes doubles to float and stores them
  static void dstore_float(float* p, __m512d v) noexcept {
    _mm256_storeu_ps(p, _mm512_cvtpd_ps(v));
  }
};

// Order matters: each body uses the ones above it.
// clang-format off
#include "ropescale/simd/rotate-inl.hpp"
#include "ropescale/simd/sincos-inl.hpp"  // cos/sin rows + on-the-fly body
#include "ropescale/simd/append-inl.hpp"  // out-of-place rotation, paged KV append
// clang-format on

}  // namespace ropescale::simd::avx512
ROPESCALE_END_TARGET

// The bf16 rotation of isa::avx512bf16 (AVX-512 DQ and AVX512_BF16 on top of avx512), used for
// calls that stay in cache (the rule and its measurement: kernels<isa::avx512bf16> in
// simd/kernels.hpp; every other kernel of that ISA is avx512's). Same bodies and
// ops, except the bf16 widening and narrowing: NeoX widens in element order (one zero-masking
// vpermw per 16 values) and narrows 32 floats with one vcvtne2ps2bf16 (GPT-J adds one vpermw),
// instead of ~14 integer ops. That instruction treats subnormal inputs as zero, so the narrowing
// is screened per head: a subnormal lane converts to a ±0 word, so the head's converted vectors
// are ANDed together (one vpternlogd per two) and one vptestmw plus one branch sends a head whose
// AND holds a zero magnitude word to vfpclassps and, when a lane is subnormal, the exact integer
// narrowing. Results stay bit-identical to to_bf16. docs/architecture.md ("What was tried") has the
// screens and orders compared.
ROPESCALE_BEGIN_AVX512BF16
namespace ropescale::simd::avx512bf16 {

struct ops : avx512::ops {
  /// Narrows N (even, odd) pairs, pair i = r[2i], r[2i+1], stored interleaved at p[i]:
  /// vcvtne2ps2bf16 + vpermw each. The instruction treats subnormal inputs as zero, so such a
  /// lane comes out as a ±0 word. The group's words are ANDed together with 0x7FFF (vpternlogd,
  /// two vectors per op: a ±0 word anywhere zeroes its position), and one vptestmw plus one
  /// branch screens the whole group; only a group whose AND holds a zero word (a ±0 word, or
  /// rarely words with no magnitude bit in common) pays for the exact check (vfpclassps) and,
  /// when a lane is subnormal, the exact integer narrowing.
  static constexpr bool merge_bf16_grouped = true;
  /// NeoX in element order (rotate-inl.hpp, has_bf16_neox_in_order): pair i is then elements
  /// [0, 16) and [16, 32) of p[i], and the narrowing needs no vpermw.
  static constexpr bool bf16_neox_in_order = true;
  /// 32 bf16 at p → first = elements [0, 16), second = [16, 32), as floats: one zero-masking
  /// vpermw each puts word i into the upper half of 32-bit lane i.
  static void widen_bf16(const bf16* p, __m512& first, __m512& second) noexcept {
    const __m512i u = _mm512_loadu_si512(p);
    const __m512i lo = _mm512_set_epi16(15, 0, 14, 0, 13, 0, 12, 0, 11, 0, 10, 0, 9, 0, 8, 0, 7, 0,
                                        6, 0, 5, 0, 4, 0, 3, 0, 2, 0, 1, 0, 0, 0);
    const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi32(16 << 16));
    constexpr __mmask32 upper_words = 0xAAAAAAAAu;
    first = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(upper_words, lo, u));
    second = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(upper_words, hi, u));
  }
  /// Stream: the group's stores are non-temporal (each p[i] aligned to 64 bytes; a group that
  /// holds a subnormal is stored plainly, as above).
  template <int N, bool InOrder = false, bool Stream = false>
  ROPESCALE_INLINE static void merge_bf16_n(bf16* const* p, const __m512* r) noexcept {
    const __m512i magnitude = _mm512_set1_epi16(0x7FFF);
    __m512i h[slots<N>];
    __m512i all = magnitude;
    ROPESCALE_UNROLL
    for (int i = 0; i < N; ++i) {
      // [r[2i] | r[2i+1]] as bf16 (split order: [even_0 … even_15 | odd_0 … odd_15])
      const __m512bh narrowed = _mm512_cvtne2ps_pbh(r[2 * i + 1], r[2 * i]);
#if ROPESCALE_HAS_BUILTIN(__builtin_bit_cast)
      h[i] = __builtin_bit_cast(__m512i, narrowed);
#else
      std::memcpy(&h[i], &narrowed, sizeof h[i]);
#endif
      if (i % 2 == 1) all = _mm512_ternarylogic_epi32(all, h[i - 1], h[i], 0x80);  // a & b & c
    }
    if constexpr (N % 2 == 1) all = _mm512_and_si512(all, h[N - 1]);
    if (_mm512_test_epi16_mask(all, all) != ~__mmask32{0}) {
      __mmask16 sub = 0;
      ROPESCALE_UNROLL
      for (int i = 0; i < 2 * N; ++i)
        sub = static_cast<__mmask16>(sub | _mm512_fpclass_ps_mask(r[i], 0x20));
      if (sub != 0) {
        ROPESCALE_UNROLL
        for (int i = 0; i < N; ++i) {
          if constexpr (InOrder) {
            avx512::ops::store(p[i], r[2 * i]);
            avx512::ops::store(p[i] + lanes, r[2 * i + 1]);
          } else {
            avx512::ops::merge_bf16(p[i], r[2 * i], r[2 * i + 1]);
          }
        }
        return;
      }
    }
    if constexpr (InOrder && Stream) {
      ROPESCALE_UNROLL
      for (int i = 0; i < N; ++i) _mm512_stream_si512(reinterpret_cast<__m512i*>(p[i]), h[i]);
    } else if constexpr (InOrder) {
      ROPESCALE_UNROLL
      for (int i = 0; i < N; ++i) _mm512_storeu_si512(p[i], h[i]);
    } else {
      static_assert(!Stream, "streaming bf16 groups are stored in element order");
      // interleaved to e0 o0 e1 o1 …
      const __m512i idx =
          _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                           6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
      ROPESCALE_UNROLL
      for (int i = 0; i < N; ++i) _mm512_storeu_si512(p[i], _mm512_permutexvar_epi16(idx, h[i]));
    }
  }
  static void merge_bf16(bf16* p, __m512 even, __m512 odd) noexcept {
    const __m512 r[2] = {even, odd};
    merge_bf16_n<1>(&p, r);
  }
};

#include "ropescale/simd/rotate-inl.hpp"
using avx512::cos_sin_row;                // (the on-the-fly rows of the append body below)
#include "ropescale/simd/append-inl.hpp"  // bf16-cache appends (kv_append.hpp)

}  // namespace ropescale::simd::avx512bf16
ROPESCALE_END_TARGET
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif  // ROPESCALE_COMPILE_AVX512
#endif  // ROPESCALE_SIMD_AVX512_HPP

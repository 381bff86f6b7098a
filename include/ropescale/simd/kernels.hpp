// SPDX-License-Identifier: Apache-2.0
// Every ISA's kernels (simd/scalar.hpp, avx2.hpp, avx512.hpp, neon.hpp) and the one runtime ISA
// switch over them, dispatch(isa, f). The kernel entry points (simd/dispatch.hpp) and the fused KV
// append (kv_append.hpp) are written with it; no other file switches on an isa.
#ifndef ROPESCALE_SIMD_KERNELS_HPP
#define ROPESCALE_SIMD_KERNELS_HPP

#include <cstdint>
#include <type_traits>

#include "ropescale/isa.hpp"
#include "ropescale/simd/avx2.hpp"
#include "ropescale/simd/avx512.hpp"
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/neon.hpp"
#include "ropescale/simd/scalar.hpp"
#include "ropescale/simd/target.hpp"

namespace ropescale::simd {

/// One ISA's kernels as a type, so a caller can be written once for every ISA:
/// dispatch(which, [&](auto k) { decltype(k)::rotate(job); }).
template <isa I>
struct kernels;

#define ROPESCALE_DEFINE_KERNELS(I, NS)                                                          \
  template <>                                                                                    \
  struct kernels<I> {                                                                            \
    template <class T>                                                                           \
    static void rotate(const rotate_job<T>& j) noexcept {                                        \
      NS::rotate(j);                                                                             \
    }                                                                                            \
    template <class T>                                                                           \
    static void rotate_on_the_fly(const rotate_job<T>& j, const double* w, double a,             \
                                  float* row) noexcept {                                         \
      NS::rotate_on_the_fly(j, w, a, row);                                                       \
    }                                                                                            \
    static void cos_sin_row(const double* w, std::int64_t n, std::int64_t p, double a, float* c, \
                            float* s) noexcept {                                                 \
      NS::cos_sin_row(w, n, p, a, c, s);                                                         \
    }                                                                                            \
    static void cos_sin_row_double(const double* w, std::int64_t n, std::int64_t p, double a,    \
                                   float* c, float* s) noexcept {                                \
      NS::cos_sin_row_double(w, n, p, a, c, s);                                                  \
    }                                                                                            \
    template <class T>                                                                           \
    static void scale_in_place(T* x, std::int64_t count, float f) noexcept {                     \
      NS::scale_in_place(x, count, f);                                                           \
    }                                                                                            \
    template <class S, class QD, class C>                                                        \
    static void append(const append_job<S, QD, C>& j) noexcept {                                 \
      NS::append(j);                                                                             \
    }                                                                                            \
  }

ROPESCALE_DEFINE_KERNELS(isa::scalar, scalar);
#if ROPESCALE_COMPILE_AVX2
ROPESCALE_DEFINE_KERNELS(isa::avx2, avx2);
#endif
#if ROPESCALE_COMPILE_AVX512
ROPESCALE_DEFINE_KERNELS(isa::avx512, avx512);
#endif
#if ROPESCALE_COMPILE_NEON
ROPESCALE_DEFINE_KERNELS(isa::neon, neon);
#endif
#undef ROPESCALE_DEFINE_KERNELS

#if ROPESCALE_COMPILE_AVX512
/// avx512 plus AVX512_BF16: the avx512 kernels, except in-cache bf16 rotations (calls moving less
/// than stream_min_bytes()) and appends into bf16 caches, which narrow with vcvtne2ps2bf16
/// (simd/avx512.hpp, namespace avx512bf16). In cache that is ~25% faster (1×32×128: 147 vs 192 ns);
/// for DRAM-sized calls the integer narrowing kept NeoX at the floor and the instruction
/// measured 1.6× slower (4096×32×128: 1.65 vs 1.03 ms). docs/architecture.md ("ISAs").
template <>
struct kernels<isa::avx512bf16> : kernels<isa::avx512> {
  template <class T>
  static void rotate(const rotate_job<T>& j) noexcept {
    if constexpr (std::is_same_v<T, bf16>) {
      if ((j.token_end - j.token_begin) * (j.q_heads + j.k_heads) * j.pairs * 4 <
          stream_min_bytes()) {
        avx512bf16::rotate(j);
        return;
      }
    }
    avx512::rotate(j);
  }
  /// bf16 caches: the append body with vcvtne2ps2bf16 narrowing, at every size (kv_append.hpp).
  template <class S, class QD, class C>
  static void append(const append_job<S, QD, C>& j) noexcept {
    if constexpr (std::is_same_v<C, bf16>) {
      avx512bf16::append(j);
    } else {
      avx512::append(j);
    }
  }
};
#endif

/// The runtime ISA switch, written once: f(kernels<which>{}) (scalar for an ISA this build lacks).
template <class F>
inline void dispatch(isa which, F&& f) noexcept {
  switch (which) {
#if ROPESCALE_COMPILE_AVX512
    case isa::avx512bf16:
      f(kernels<isa::avx512bf16>{});
      return;
    case isa::avx512:
      f(kernels<isa::avx512>{});
      return;
#endif
#if ROPESCALE_COMPILE_AVX2
    case isa::avx2:
      f(kernels<isa::avx2>{});
      return;
#endif
#if ROPESCALE_COMPILE_NEON
    case isa::neon:
      f(kernels<isa::neon>{});
      return;
#endif
    default:
      f(kernels<isa::scalar>{});
      return;
  }
}

}  // namespace ropescale::simd

#endif  // ROPESCALE_SIMD_KERNELS_HPP

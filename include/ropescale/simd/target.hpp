// SPDX-License-Identifier: Apache-2.0
// Target regions: every function defined between ROPESCALE_BEGIN_<ISA> and ROPESCALE_END_TARGET
// is compiled for that ISA, without any -m flag, so scalar, AVX2 and AVX-512 code share one
// translation unit and the binary still runs on baseline x86-64 (dispatch picks at run time).
// Clang ignores `#pragma GCC target`, hence two spellings. Also defines which per-ISA files are
// compiled in this build (ROPESCALE_COMPILE_AVX2 / _AVX512 / _NEON).
#ifndef ROPESCALE_SIMD_TARGET_HPP
#define ROPESCALE_SIMD_TARGET_HPP

#include <cstddef>

#include "ropescale/config.hpp"

#if ROPESCALE_ARCH_X86_64 && !ROPESCALE_DISABLE_SIMD && (defined(__GNUC__) || defined(__clang__))
#define ROPESCALE_COMPILE_AVX2 1
#define ROPESCALE_COMPILE_AVX512 1
#else
#define ROPESCALE_COMPILE_AVX2 0
#define ROPESCALE_COMPILE_AVX512 0
#endif

#if ROPESCALE_ARCH_AARCH64 && !ROPESCALE_DISABLE_SIMD
#define ROPESCALE_COMPILE_NEON 1
#else
#define ROPESCALE_COMPILE_NEON 0
#endif

#if defined(__clang__)
#define ROPESCALE_BEGIN_AVX2 \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c\"))), apply_to = function)")
// _Pragma takes a single string literal (no concatenation), hence the long line.
// clang-format off
#define ROPESCALE_BEGIN_AVX512 _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c,avx512f,avx512bw,avx512vl\"))), apply_to = function)")
#define ROPESCALE_BEGIN_AVX512BF16 _Pragma("clang attribute push(__attribute__((target(\"avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16\"))), apply_to = function)")
// clang-format on
#define ROPESCALE_END_TARGET _Pragma("clang attribute pop")
#elif defined(__GNUC__)
#define ROPESCALE_BEGIN_AVX2 _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c\")")
#define ROPESCALE_BEGIN_AVX512 \
  _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma,f16c,avx512f,avx512bw,avx512vl\")")
#define ROPESCALE_BEGIN_AVX512BF16 \
  _Pragma("GCC push_options")      \
      _Pragma("GCC target(\"avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16\")")
#define ROPESCALE_END_TARGET _Pragma("GCC pop_options")
#else
#define ROPESCALE_BEGIN_AVX2
#define ROPESCALE_BEGIN_AVX512
#define ROPESCALE_BEGIN_AVX512BF16
#define ROPESCALE_END_TARGET
#endif

/// Fully unrolls the next loop (constant trip count), so arrays of vectors indexed by its
/// counter can live in registers.
#if defined(__clang__)
#define ROPESCALE_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define ROPESCALE_UNROLL _Pragma("GCC unroll 16")
#else
#define ROPESCALE_UNROLL
#endif

/// Forces inlining of small kernel helpers that take arrays of vectors (g++ 12 otherwise keeps
/// an 8-pair bf16 narrowing out of line, and the arrays then live in memory).
#if defined(__GNUC__) || defined(__clang__)
#define ROPESCALE_INLINE [[gnu::always_inline]] inline
#else
#define ROPESCALE_INLINE inline
#endif

/// Keeps a large loop (a function template: no `inline` needed) out of its caller, so the
/// caller's common path (the register-resident loop at decode) pays no prologue for it.
#if defined(__GNUC__) || defined(__clang__)
#define ROPESCALE_NOINLINE [[gnu::noinline]]
#elif defined(_MSC_VER)
#define ROPESCALE_NOINLINE __declspec(noinline)
#else
#define ROPESCALE_NOINLINE
#endif

/// Hint that the cache line holding `address` will be read soon (no-op without the builtin).
#if ROPESCALE_HAS_BUILTIN(__builtin_prefetch)
#define ROPESCALE_PREFETCH(address) __builtin_prefetch(address)
#else
#define ROPESCALE_PREFETCH(address) static_cast<void>(address)
#endif

namespace ropescale::simd {

/// Length of a kernel's array of N vectors or pointers (N an int template parameter): unsigned,
/// as an array bound must be, and at least 1 so an N = 0 instantiation stays valid C++.
template <int N>
inline constexpr std::size_t slots = N > 0 ? static_cast<std::size_t>(N) : std::size_t{1};

}  // namespace ropescale::simd

// NEON is part of the AArch64 baseline: no target region is needed.
#define ROPESCALE_BEGIN_NEON
#define ROPESCALE_END_NEON

#endif  // ROPESCALE_SIMD_TARGET_HPP

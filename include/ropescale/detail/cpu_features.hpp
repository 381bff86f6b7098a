// SPDX-License-Identifier: Apache-2.0
// CPU feature detection for runtime ISA dispatch, read directly with CPUID and XGETBV (clang 14
// rejects __builtin_cpu_supports("f16c"), and the OS must have enabled YMM/ZMM state saving,
// which only XGETBV tells). Queried once: cpu_features() caches its answer in a function-local
// static of an inline function, so every translation unit shares one copy.
#ifndef ROPESCALE_DETAIL_CPU_FEATURES_HPP
#define ROPESCALE_DETAIL_CPU_FEATURES_HPP

#include <cstdint>

#include "ropescale/config.hpp"

#if ROPESCALE_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif

namespace ropescale::detail {

/// What the running CPU and OS support, as far as ropescale's kernels care.
struct cpu_feature_set {
  bool avx2 = false;        ///< AVX + AVX2 + FMA + F16C, with YMM state enabled by the OS
  bool avx512 = false;      ///< AVX-512 F + BW + VL on top of avx2, with ZMM/opmask state enabled
  bool avx512bf16 = false;  ///< avx512 + AVX-512 DQ + AVX512_BF16 (bf16 narrowing instruction)
  bool neon = false;        ///< AArch64 Advanced SIMD (architecturally mandatory)
};

#if ROPESCALE_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
/// Raw CPUID leaf/subleaf registers {eax, ebx, ecx, edx}; all zero when the leaf is unsupported.
struct cpuid_regs {
  std::uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

inline cpuid_regs cpuid(std::uint32_t leaf, std::uint32_t subleaf) noexcept {
  cpuid_regs r;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d) != 0) {
    r.eax = a;
    r.ebx = b;
    r.ecx = c;
    r.edx = d;
  }
  return r;
}

/// XCR0: which register states the OS saves on context switch. Only valid when OSXSAVE is set.
inline std::uint64_t xgetbv0() noexcept {
  std::uint32_t lo = 0, hi = 0;
  __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0u));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
}

inline cpu_feature_set detect_cpu_features() noexcept {
  cpu_feature_set f;
  const cpuid_regs l1 = cpuid(1, 0);
  const bool osxsave = (l1.ecx >> 27) & 1u;
  const bool avx = (l1.ecx >> 28) & 1u;
  const bool fma = (l1.ecx >> 12) & 1u;
  const bool f16c = (l1.ecx >> 29) & 1u;
  if (!osxsave || !avx) return f;
  const std::uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6u) == 0x6u;    // SSE + AVX state
  const bool zmm_state = (xcr0 & 0xE6u) == 0xE6u;  // + opmask, ZMM_Hi256, Hi16_ZMM
  const cpuid_regs l7 = cpuid(7, 0);
  const bool avx2 = (l7.ebx >> 5) & 1u;
  const bool avx512f = (l7.ebx >> 16) & 1u;
  const bool avx512bw = (l7.ebx >> 30) & 1u;
  const bool avx512vl = (l7.ebx >> 31) & 1u;
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f && avx512bw && avx512vl;
  const bool avx512dq = (l7.ebx >> 17) & 1u;
  const bool bf16 = (l7.eax >= 1) && ((cpuid(7, 1).eax >> 5) & 1u);  // leaf 7, subleaf 1
  f.avx512bf16 = f.avx512 && avx512dq && bf16;
  return f;
}
#else
inline cpu_feature_set detect_cpu_features() noexcept {
  cpu_feature_set f;
#if ROPESCALE_ARCH_AARCH64
  f.neon = true;
#endif
  return f;
}
#endif

/// Cached once per process (thread-safe static initialisation).
inline const cpu_feature_set& cpu_features() noexcept {
  static const cpu_feature_set features = detect_cpu_features();
  return features;
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_CPU_FEATURES_HPP

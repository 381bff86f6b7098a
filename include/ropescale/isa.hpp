// SPDX-License-Identifier: Apache-2.0
// Instruction-set selection for the kernels. The best ISA the CPU and build support is detected
// once (CPUID + XGETBV, detail/cpu_features.hpp); the active ISA starts as that, or as the
// environment variable ROPESCALE_ISA=scalar|avx2|avx512|avx512bf16|neon (read once; a value naming
// no ISA or an unavailable one is ignored with a warning on stderr), and can be changed with
// set_isa(). Every choice made in code (set_isa, apply_options::force_isa) is checked against
// available(): a missing ISA throws, nothing falls back silently. The cached detection and the
// active choice are the library's only global state; public entry points also take an optional isa
// argument that leaves it alone.
#ifndef ROPESCALE_ISA_HPP
#define ROPESCALE_ISA_HPP

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "ropescale/config.hpp"
#include "ropescale/detail/cpu_features.hpp"
#include "ropescale/detail/quote.hpp"
#include "ropescale/detail/throw.hpp"

namespace ropescale {

/// Kernel instruction sets. avx2 means AVX2+FMA+F16C; avx512 means AVX-512 F+BW+VL on top;
/// avx512bf16 means avx512 plus AVX-512 DQ and AVX512_BF16: the avx512 kernels, except that bf16
/// rotations moving less than simd::stream_min_bytes() (in cache) narrow with vcvtne2ps2bf16
/// (exact: subnormal lanes are screened and take the integer narrowing). The selection rule is in
/// docs/architecture.md ("ISAs").
enum class isa { scalar, avx2, avx512, neon, avx512bf16 };

/// "scalar", "avx2", "avx512", "neon", "avx512bf16".
constexpr const char* name(isa i) noexcept {
  switch (i) {
    case isa::avx2:
      return "avx2";
    case isa::avx512:
      return "avx512";
    case isa::avx512bf16:
      return "avx512bf16";
    case isa::neon:
      return "neon";
    case isa::scalar:
      break;
  }
  return "scalar";
}

/// Parses an ISA name as accepted by ROPESCALE_ISA; nullopt when unknown.
inline std::optional<isa> parse_isa(std::string_view text) noexcept {
  if (text == "scalar") return isa::scalar;
  if (text == "avx2") return isa::avx2;
  if (text == "avx512") return isa::avx512;
  if (text == "avx512bf16") return isa::avx512bf16;
  if (text == "neon") return isa::neon;
  return std::nullopt;
}

/// True if this build contains kernels for `i` and the running CPU/OS can execute them.
/// scalar is always available; ROPESCALE_DISABLE_SIMD builds offer scalar only.
inline bool available(isa i) noexcept {
  if (i == isa::scalar) return true;
#if ROPESCALE_DISABLE_SIMD
  return false;
#else
  const detail::cpu_feature_set& f = detail::cpu_features();
  switch (i) {
#if ROPESCALE_ARCH_X86_64
    case isa::avx2:
      return f.avx2;
    case isa::avx512:
      return f.avx512;
    case isa::avx512bf16:
      return f.avx512bf16;
#endif
#if ROPESCALE_ARCH_AARCH64
    case isa::neon:
      return f.neon;
#endif
    default:
      return false;
  }
#endif
}

/// The fastest available ISA (avx512bf16 > avx512 > avx2 > scalar on x86-64, neon > scalar on
/// AArch64). Detected once per process.
inline isa best_isa() noexcept {
  static const isa best = [] {
    if (available(isa::avx512bf16)) return isa::avx512bf16;
    if (available(isa::avx512)) return isa::avx512;
    if (available(isa::avx2)) return isa::avx2;
    if (available(isa::neon)) return isa::neon;
    return isa::scalar;
  }();
  return best;
}

namespace detail {

/// The active-ISA cell: initialised once from ROPESCALE_ISA (or best_isa()), then changed only
/// by set_isa(). An unknown or unavailable ROPESCALE_ISA value is reported once on stderr and
/// the cell starts at best_isa(): a bad environment must not make every kernel call fail.
class isa_state {
 public:
  isa_state() {
    isa start = best_isa();
    const char* env = std::getenv("ROPESCALE_ISA");
    if (env != nullptr && *env != '\0') {
      const std::optional<isa> parsed = parse_isa(env);
      if (parsed && available(*parsed)) {
        start = *parsed;
      } else {
        const std::string why =
            parsed ? std::string(" (this CPU or build does not support ") + name(*parsed) + ")"
                   : std::string(" (must be one of scalar, avx2, avx512, avx512bf16, neon)");
        std::fprintf(stderr, "ropescale: warning: ignoring ROPESCALE_ISA=%s%s; using %s\n",
                     quote_text(env).c_str(), why.c_str(), name(start));
      }
    }
    current_.store(static_cast<int>(start), std::memory_order_relaxed);
  }
  isa load() const noexcept { return static_cast<isa>(current_.load(std::memory_order_acquire)); }
  void store(isa i) noexcept { current_.store(static_cast<int>(i), std::memory_order_release); }

 private:
  std::atomic<int> current_{0};
};

inline isa_state& isa_global() {
  static isa_state state;
  return state;
}

inline error unavailable_isa_error(std::string_view key, isa i) {
  return make_invalid(
      key,
      std::string("an ISA this CPU and build support (best available: ") + name(best_isa()) + ")",
      name(i));
}

[[noreturn]] inline void throw_unavailable_isa(std::string_view key, isa i) {
  raise(unavailable_isa_error(key, i));
}

}  // namespace detail

/// The ISA the kernels use when no isa argument is given: ROPESCALE_ISA if set (read once, at
/// first use), else best_isa(), until set_isa() changes it. A ROPESCALE_ISA value that names no
/// ISA, or one this CPU or build lacks, is ignored with one warning line on stderr
/// (`ropescale: warning: ignoring ROPESCALE_ISA="..." (...); using avx512`, the value escaped
/// and cut to a short prefix): the process runs with best_isa().
inline isa active_isa() { return detail::isa_global().load(); }

/// Makes `i` the active ISA for the whole process (thread-safe).
/// Throws invalid_parameter if !available(i).
inline void set_isa(isa i) {
  if (!available(i)) detail::throw_unavailable_isa("isa", i);
  detail::isa_global().store(i);
}

/// The ISA a call should use: `forced` if given (checked), else active_isa().
inline isa resolve_isa(std::optional<isa> forced) {
  if (forced) {
    if (!available(*forced)) detail::throw_unavailable_isa("isa", *forced);
    return *forced;
  }
  return active_isa();
}

}  // namespace ropescale

#endif  // ROPESCALE_ISA_HPP

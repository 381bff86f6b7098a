// SPDX-License-Identifier: Apache-2.0
// Runtime dispatch to the per-ISA kernels: one switch on an already-resolved isa per call (never
// per token or head). The isa must be available() — public entry points check that (isa.hpp's
// resolve_isa) before they get here; an ISA not compiled into this build falls to scalar.
#ifndef ROPESCALE_SIMD_DISPATCH_HPP
#define ROPESCALE_SIMD_DISPATCH_HPP

#include <cstdint>
#include <type_traits>

#include "ropescale/detail/cpu_features.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/simd/avx2.hpp"
#include "ropescale/simd/avx512.hpp"
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/neon.hpp"
#include "ropescale/simd/scalar.hpp"
#include "ropescale/simd/target.hpp"

namespace ropescale::simd {

/// In-place rotation of a validated job with the given (available) ISA.
template <class T>
inline void rotate(isa which, const rotate_job<T>& job) noexcept {
  switch (which) {
#if ROPESCALE_COMPILE_AVX512
    case isa::avx512:
      if constexpr (std::is_same_v<T, bf16>) {
        // In cache, vcvtne2ps2bf16 narrowing is ~25% faster (1×32×128: 147 vs 192 ns); for
        // DRAM-sized calls the integer narrowing kept NeoX at the floor while the conversion
        // instruction measured 1.6× slower (4096×32×128: 1.65 vs 1.03 ms), so it stays there.
        if (detail::cpu_features().avx512bf16 &&
            (job.token_end - job.token_begin) * (job.q_heads + job.k_heads) * job.pairs * 4 <
                stream_min_bytes) {
          avx512bf16::rotate(job);
          return;
        }
      }
      avx512::rotate(job);
      return;
#endif
#if ROPESCALE_COMPILE_AVX2
    case isa::avx2: avx2::rotate(job); return;
#endif
#if ROPESCALE_COMPILE_NEON
    case isa::neon: neon::rotate(job); return;
#endif
    default: scalar::rotate(job); return;
  }
}

/// x[i] ← x[i]·f, i < count, with the given ISA: the memory floor of the benchmarks.
template <class T>
inline void scale_in_place(isa which, T* x, std::int64_t count, float f) noexcept {
  switch (which) {
#if ROPESCALE_COMPILE_AVX512
    case isa::avx512: avx512::scale_in_place(x, count, f); return;
#endif
#if ROPESCALE_COMPILE_AVX2
    case isa::avx2: avx2::scale_in_place(x, count, f); return;
#endif
#if ROPESCALE_COMPILE_NEON
    case isa::neon: neon::scale_in_place(x, count, f); return;
#endif
    default: scalar::scale_in_place(x, count, f); return;
  }
}

}  // namespace ropescale::simd

#endif  // ROPESCALE_SIMD_DISPATCH_HPP

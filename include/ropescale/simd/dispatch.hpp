// SPDX-License-Identifier: Apache-2.0
// The kernel entry points. Public headers (apply.hpp, on_the_fly.hpp, cos_sin_table.hpp) call only
// the functions below; each is one dispatch() (simd/kernels.hpp) on an already-resolved,
// available() isa per call (never per token or head) into that ISA's namespace. An ISA not
// compiled into this build falls to scalar.
//
// simd/kernels.hpp holds the ISA switch itself. Two build modes (docs/architecture.md, "Build
// modes and compile cost"):
// - header-only (default): the entry points are inline and every TU that calls one compiles the
//   kernels it needs;
// - separately compiled: user TUs define ROPESCALE_SEPARATE_KERNELS and see declarations only (no
//   ISA header is included); exactly one TU of the program defines ROPESCALE_KERNELS_TU before
//   including any ropescale header, and compiles every entry point once. The two modes use
//   different (inline) namespaces, so a program may mix them without an ODR clash.
#ifndef ROPESCALE_SIMD_DISPATCH_HPP
#define ROPESCALE_SIMD_DISPATCH_HPP

#include <cstdint>
#include <type_traits>

#include "ropescale/isa.hpp"
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/types.hpp"

#if defined(ROPESCALE_KERNELS_TU) && !defined(ROPESCALE_SEPARATE_KERNELS)
#define ROPESCALE_SEPARATE_KERNELS 1
#endif

#if !defined(ROPESCALE_SEPARATE_KERNELS) || defined(ROPESCALE_KERNELS_TU)
#include "ropescale/simd/kernels.hpp"
#endif

// The entry points. Header-only: inline templates. Separately compiled: user TUs see the
// declarations; the kernels TU defines them (not inline) and instantiates them for float, bf16
// and f16.
namespace ropescale::simd {
#if defined(ROPESCALE_SEPARATE_KERNELS)
inline namespace compiled {
#endif

#if defined(ROPESCALE_SEPARATE_KERNELS) && !defined(ROPESCALE_KERNELS_TU)

template <class T>
void rotate(isa which, const rotate_job<T>& job) noexcept;
template <class T>
void rotate_on_the_fly(isa which, const rotate_job<T>& job, const double* w, double a,
                       float* row) noexcept;
template <class T>
void scale_in_place(isa which, T* x, std::int64_t count, float f) noexcept;
void cos_sin_row(isa which, const double* w, std::int64_t n, std::int64_t p, double a, float* c,
                 float* s) noexcept;
void cos_sin_row_double(isa which, const double* w, std::int64_t n, std::int64_t p, double a,
                        float* c, float* s) noexcept;

#else

#if defined(ROPESCALE_KERNELS_TU)
#define ROPESCALE_KERNEL_ENTRY
#else
#define ROPESCALE_KERNEL_ENTRY inline
#endif

/// In-place rotation of a validated job (apply.hpp). Types: float, bf16, f16.
template <class T>
ROPESCALE_KERNEL_ENTRY void rotate(isa which, const rotate_job<T>& job) noexcept {
  dispatch(which, [&](auto k) { decltype(k)::rotate(job); });
}

/// The same, computing each token's cos/sin row into `row` (2·job.pairs floats) from the
/// frequencies w[0 … pairs) and attention factor a (on_the_fly.hpp).
template <class T>
ROPESCALE_KERNEL_ENTRY void rotate_on_the_fly(isa which, const rotate_job<T>& job, const double* w,
                                              double a, float* row) noexcept {
  dispatch(which, [&](auto k) { decltype(k)::rotate_on_the_fly(job, w, a, row); });
}

/// x[i] ← x[i]·f, i < count: the memory floor of the benchmarks.
template <class T>
ROPESCALE_KERNEL_ENTRY void scale_in_place(isa which, T* x, std::int64_t count, float f) noexcept {
  dispatch(which, [&](auto k) { decltype(k)::scale_in_place(x, count, f); });
}

/// One on-the-fly row, c[i] = A·cos(p·w[i]), s[i] = A·sin(p·w[i]), i < n, with the ISA's float
/// sincos on a double-reduced angle (simd/sincos-inl.hpp; within 2e-7·max(1, A)).
ROPESCALE_KERNEL_ENTRY void cos_sin_row(isa which, const double* w, std::int64_t n, std::int64_t p,
                                        double a, float* c, float* s) noexcept {
  dispatch(which, [&](auto k) { decltype(k)::cos_sin_row(w, n, p, a, c, s); });
}

/// One accurate-mode table row, c[i] = A·cos(p·w[i]), s[i] = A·sin(p·w[i]), i < n, with the
/// ISA's double-precision sincos (cos_sin_table.hpp).
ROPESCALE_KERNEL_ENTRY void cos_sin_row_double(isa which, const double* w, std::int64_t n,
                                               std::int64_t p, double a, float* c,
                                               float* s) noexcept {
  dispatch(which, [&](auto k) { decltype(k)::cos_sin_row_double(w, n, p, a, c, s); });
}

#if defined(ROPESCALE_KERNELS_TU)
#define ROPESCALE_INSTANTIATE_ENTRIES(T)                                               \
  template void rotate<T>(isa, const rotate_job<T>&) noexcept;                         \
  template void rotate_on_the_fly<T>(isa, const rotate_job<T>&, const double*, double, \
                                     float*) noexcept;                                 \
  template void scale_in_place<T>(isa, T*, std::int64_t, float) noexcept;
ROPESCALE_INSTANTIATE_ENTRIES(float)
ROPESCALE_INSTANTIATE_ENTRIES(bf16)
ROPESCALE_INSTANTIATE_ENTRIES(f16)
#undef ROPESCALE_INSTANTIATE_ENTRIES
#endif
#undef ROPESCALE_KERNEL_ENTRY

#endif

#if defined(ROPESCALE_SEPARATE_KERNELS)
}  // namespace compiled
#endif
}  // namespace ropescale::simd

#endif  // ROPESCALE_SIMD_DISPATCH_HPP

// SPDX-License-Identifier: Apache-2.0
// The scalar target: plain C++ at the baseline ISA, always compiled. It runs on CPUs without a
// supported SIMD extension and in ROPESCALE_DISABLE_SIMD builds, and it provides rotate_pair(),
// the per-pair function every other target uses for remainders shorter than a vector. Its `ops`
// has one lane, so the shared bodies reduce to simple per-pair loops over contiguous arrays,
// which the compiler may vectorise at the baseline ISA. It is not the test reference: that lives
// in tests/support/rotate_reference.hpp and is written independently in double.
#ifndef ROPESCALE_SIMD_SCALAR_HPP
#define ROPESCALE_SIMD_SCALAR_HPP

#include <cstdint>

#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/types.hpp"

namespace ropescale::simd::scalar {

/// Rotates one pair in float: a ← a·c − b·s, b ← b·c + a·s (Inverse: sin → −sin), each result
/// rounded once to T.
template <class T, bool Inverse>
inline void rotate_pair(T* pa, T* pb, float c, float s) noexcept {
  const float a = load_as_float(*pa);
  const float b = load_as_float(*pb);
  if constexpr (!Inverse) {
    *pa = store_from_float<T>(a * c - b * s);
    *pb = store_from_float<T>(b * c + a * s);
  } else {
    *pa = store_from_float<T>(a * c + b * s);
    *pb = store_from_float<T>(b * c - a * s);
  }
}

/// One-lane vocabulary (the vector-only members exist so the shared bodies compile; they are
/// never reached with lanes == 1).
struct ops {
  using vec = float;
  static constexpr std::int64_t lanes = 1;
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
  static float fmadd(float a, float b, float c) noexcept { return a * b + c; }
  static float fnmadd(float a, float b, float c) noexcept { return c - a * b; }
  static float fmaddsub(float a, float b, float c) noexcept { return a * b - c; }
  static float fmsubadd(float a, float b, float c) noexcept { return a * b + c; }
  static float swap_pairs(float v) noexcept { return v; }
  static void dup_pairs(float v, float& lo, float& hi) noexcept { lo = hi = v; }
  // --- begin ops added by the cos/sin table helper (D) ---
  // --- end ops added by the cos/sin table helper (D) ---
};

#include "ropescale/simd/rotate-inl.hpp"

}  // namespace ropescale::simd::scalar

#endif  // ROPESCALE_SIMD_SCALAR_HPP

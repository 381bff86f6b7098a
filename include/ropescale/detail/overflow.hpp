// SPDX-License-Identifier: Apache-2.0
// Overflow-checked int64 arithmetic for argument checks: the compiler builtins where the compiler
// has them (ROPESCALE_HAS_BUILTIN), a portable comparison otherwise. Each returns true when the
// exact result does not fit (and then leaves an unspecified value in *out).
#ifndef ROPESCALE_DETAIL_OVERFLOW_HPP
#define ROPESCALE_DETAIL_OVERFLOW_HPP

#include <cstdint>
#include <limits>

#include "ropescale/config.hpp"

namespace ropescale::detail {

/// *out = a + b; true on overflow.
inline bool add_overflow(std::int64_t a, std::int64_t b, std::int64_t* out) noexcept {
#if ROPESCALE_HAS_BUILTIN(__builtin_add_overflow)
  return __builtin_add_overflow(a, b, out);
#else
  using lim = std::numeric_limits<std::int64_t>;
  if ((b > 0 && a > lim::max() - b) || (b < 0 && a < lim::min() - b)) return true;
  *out = a + b;
  return false;
#endif
}

/// *out = a − b; true on overflow.
inline bool sub_overflow(std::int64_t a, std::int64_t b, std::int64_t* out) noexcept {
#if ROPESCALE_HAS_BUILTIN(__builtin_sub_overflow)
  return __builtin_sub_overflow(a, b, out);
#else
  using lim = std::numeric_limits<std::int64_t>;
  if ((b < 0 && a > lim::max() + b) || (b > 0 && a < lim::min() + b)) return true;
  *out = a - b;
  return false;
#endif
}

/// *out = a · b; true on overflow.
inline bool mul_overflow(std::int64_t a, std::int64_t b, std::int64_t* out) noexcept {
#if ROPESCALE_HAS_BUILTIN(__builtin_mul_overflow)
  return __builtin_mul_overflow(a, b, out);
#else
  using lim = std::numeric_limits<std::int64_t>;
  if (a != 0 && b != 0) {
    const bool negative = (a < 0) != (b < 0);
    if (a == -1 || b == -1) {
      if (a == lim::min() || b == lim::min()) return true;
    } else if (negative) {
      // |result| <= 2^63: a·b >= min  <=>  (a > 0 ? b >= min / a : a >= min / b)
      if (a > 0 ? b < lim::min() / a : a < lim::min() / b) return true;
    } else {
      if (a > 0 ? a > lim::max() / b : a < lim::max() / b) return true;
    }
  }
  *out = a * b;
  return false;
#endif
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_OVERFLOW_HPP

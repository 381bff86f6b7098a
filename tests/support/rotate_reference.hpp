// SPDX-License-Identifier: Apache-2.0
// Independent reference for the rotation tests: docs/reference.md §1.3 written directly in double
// (and the exact cos/sin in long double with a careful mod-2π reduction), sharing no code with the
// library's kernels. 16-bit storage decoding is also re-derived here from the IEEE formats.
#ifndef ROPESCALE_TESTS_SUPPORT_ROTATE_REFERENCE_HPP
#define ROPESCALE_TESTS_SUPPORT_ROTATE_REFERENCE_HPP

#include <cmath>
#include <cstdint>
#include <vector>

namespace ropescale_test::reference {

/// Decodes IEEE binary16 bits (independent of ropescale::to_float).
inline double half_bits_to_double(std::uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  if (exp == 0x1F) return mant ? std::nan("") : sign * HUGE_VAL;
  if (exp == 0) return sign * std::ldexp(static_cast<double>(mant), -24);
  return sign * std::ldexp(static_cast<double>(mant + 1024), exp - 25);
}

/// Decodes bfloat16 bits (independent of ropescale::to_float).
inline double bf16_bits_to_double(std::uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exp = (h >> 7) & 0xFF;
  const int mant = h & 0x7F;
  if (exp == 0xFF) return mant ? std::nan("") : sign * HUGE_VAL;
  if (exp == 0) return sign * std::ldexp(static_cast<double>(mant), -133);
  return sign * std::ldexp(static_cast<double>(mant + 128), exp - 134);
}

/// Pair indices of pair i for head_dim channels: NeoX (i, i+n), GPT-J (2i, 2i+1).
inline void pair_index(bool gptj, std::int64_t n, std::int64_t i, std::int64_t& ia,
                       std::int64_t& ib) {
  if (gptj) {
    ia = 2 * i;
    ib = 2 * i + 1;
  } else {
    ia = i;
    ib = i + n;
  }
}

/// Rotates the first 2n channels of one head (double), docs/reference.md §1.3:
///   a' = a·c − b·s,  b' = b·c + a·s   (inverse: s → −s)
inline void rotate_head(double* x, std::int64_t n, const double* c, const double* s, bool gptj,
                        bool inverse) {
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t ia = 0, ib = 0;
    pair_index(gptj, n, i, ia, ib);
    const double a = x[ia], b = x[ib];
    const double sn = inverse ? -s[i] : s[i];
    x[ia] = a * c[i] - b * sn;
    x[ib] = b * c[i] + a * sn;
  }
}

/// cos and sin of position·omega in long double: the product is formed in long double (64-bit
/// significand; p <= 1e7 keeps its error near 1e-12 rad) and reduced with a 3-part 2π.
inline void exact_cos_sin(std::int64_t position, double omega, long double& c, long double& s) {
  const long double two_pi_1 = 6.28318530717958647692528676655900577L;
  const long double phi = static_cast<long double>(position) * static_cast<long double>(omega);
  const long double k = std::nearbyint(phi / two_pi_1);
  const long double r = phi - k * two_pi_1;
  c = std::cos(r);
  s = std::sin(r);
}

/// Default RoPE frequencies θ^(−2i/d) in long double, rounded to double.
inline std::vector<double> default_inv_freq(std::int64_t rotary_dim, double theta) {
  std::vector<double> w(static_cast<std::size_t>(rotary_dim / 2));
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = static_cast<double>(
        std::pow(static_cast<long double>(theta),
                 -2.0L * static_cast<long double>(i) / static_cast<long double>(rotary_dim)));
  }
  return w;
}

}  // namespace ropescale_test::reference

#endif  // ROPESCALE_TESTS_SUPPORT_ROTATE_REFERENCE_HPP

// SPDX-License-Identifier: Apache-2.0
// Long-double reference tables shared by the tests that check a whole loaded config: the loader
// (test_hf_config.cpp) and the ropescale-inspect CLI (test_inspect_cli.cpp). Written straight
// from docs/reference.md §1.2, §3.1, §3.5 and §3.7 with std::pow (reference_methods.hpp, used by
// the method tests, forms powers as exp(−x·ln θ) instead), and independent of the library: nothing
// here includes a ropescale header. Also expect_table_near, the relative-error check both files
// use.
#ifndef ROPESCALE_TESTS_SUPPORT_CONFIG_REFERENCE_HPP
#define ROPESCALE_TESTS_SUPPORT_CONFIG_REFERENCE_HPP

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ropescale_test::config_ref {

/// ω⁰_i = θ^(−2i/d) (docs/reference.md §1.2).
inline long double ref_base(long double theta, std::int64_t i, std::int64_t d) {
  return std::pow(theta, -2.0L * static_cast<long double>(i) / static_cast<long double>(d));
}

/// The default table ω⁰_i, i < d/2 (docs/reference.md §3.1).
inline std::vector<long double> ref_default(long double theta, std::int64_t d) {
  std::vector<long double> w;
  for (std::int64_t i = 0; i < d / 2; ++i) w.push_back(ref_base(theta, i, d));
  return w;
}

/// Llama-3 scaling (docs/reference.md §3.7): by wavelength λ = 2π/ω⁰, ω⁰ below L0/b, ω⁰/s above
/// L0/a, and the blend (1 − g)·ω⁰/s + g·ω⁰ with g = (L0/λ − a)/(b − a) in between.
inline std::vector<long double> ref_llama3(long double theta, std::int64_t d, long double s,
                                           long double a, long double b, long double l0) {
  const long double two_pi = 6.283185307179586476925286766559005768394L;
  std::vector<long double> w;
  for (std::int64_t i = 0; i < d / 2; ++i) {
    const long double w0 = ref_base(theta, i, d);
    const long double lambda = two_pi / w0;
    if (lambda < l0 / b) {
      w.push_back(w0);
    } else if (lambda > l0 / a) {
      w.push_back(w0 / s);
    } else {
      const long double g = (l0 / lambda - a) / (b - a);
      w.push_back((1 - g) * w0 / s + g * w0);
    }
  }
  return w;
}

/// YaRN's correction range [lo, hi] in pair-index units (docs/reference.md §3.5.2).
struct yarn_bounds {
  long double lo, hi;
};

/// corr(r) = d·ln(L0/(2π·r)) / (2 ln θ) at r = β_f (lo) and β_s (hi), floored/ceiled when
/// truncate, clamped to [0, d − 1], and hi += 0.001 when they meet (docs/reference.md §3.5.2).
inline yarn_bounds ref_yarn_bounds(long double theta, std::int64_t d, long double l0,
                                   long double beta_fast, long double beta_slow, bool truncate) {
  const long double pi = 3.141592653589793238462643383279502884L;
  auto corr = [&](long double r) {
    return static_cast<long double>(d) * std::log(l0 / (2 * pi * r)) / (2 * std::log(theta));
  };
  long double lo = corr(beta_fast), hi = corr(beta_slow);
  if (truncate) {
    lo = std::floor(lo);
    hi = std::ceil(hi);
  }
  lo = std::max(lo, 0.0L);
  hi = std::min(hi, static_cast<long double>(d - 1));
  if (lo == hi) hi += 0.001L;
  return {lo, hi};
}

/// YaRN table (docs/reference.md §3.5.3): ω_i = (ω⁰_i/s)·r_i + ω⁰_i·(1 − r_i), r_i = clamp((i −
/// lo)/(hi − lo)).
inline std::vector<long double> ref_yarn(long double theta, std::int64_t d, long double s,
                                         long double l0, long double beta_fast,
                                         long double beta_slow, bool truncate) {
  const yarn_bounds b = ref_yarn_bounds(theta, d, l0, beta_fast, beta_slow, truncate);
  std::vector<long double> w;
  for (std::int64_t i = 0; i < d / 2; ++i) {
    const long double w0 = ref_base(theta, i, d);
    long double r = (static_cast<long double>(i) - b.lo) / (b.hi - b.lo);
    r = std::min(std::max(r, 0.0L), 1.0L);
    w.push_back(w0 / s * r + w0 * (1 - r));
  }
  return w;
}

/// YaRN's magnitude m(s, a) = 1 if s <= 1, else 0.1·a·ln s + 1 (docs/reference.md §3.5.4).
inline long double yarn_m(long double s, long double a) {
  return s <= 1 ? 1 : 0.1L * a * std::log(s) + 1;
}

/// Every entry within rel_tol·|want| of the reference; the sizes must match.
inline void expect_table_near(const std::vector<double>& got, const std::vector<long double>& want,
                              long double rel_tol) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const long double err = std::fabs(static_cast<long double>(got[i]) - want[i]);
    EXPECT_LE(err, rel_tol * std::fabs(want[i]))
        << "pair " << i << ": got " << got[i] << ", want " << static_cast<double>(want[i]);
  }
}

}  // namespace ropescale_test::config_ref

#endif  // ROPESCALE_TESTS_SUPPORT_CONFIG_REFERENCE_HPP

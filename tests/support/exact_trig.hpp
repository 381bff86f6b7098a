// SPDX-License-Identifier: Apache-2.0
// Independent long-double reference for RoPE cos/sin values (docs/reference.md §5.2, §7). Nothing
// here is shared with the library: the angle p·ω is formed EXACTLY as a sum of two long doubles (ω
// is split into a 32-bit head and a tail, so each partial product with an integer p < 2^31 is exact
// in the 64-bit long-double significand), reduced by a three-part split of 2π (31 + 64 + 64 bits,
// derived offline from 110 decimal digits of π with exact rational arithmetic), and only then
// handed to cosl/sinl. Error of the reduced angle: about 1e-18 rad for p·ω < 2^31; of the result:
// about 1 ulp of long double. The binary32 helpers reproduce HF's f32 angle independently of the
// library's code (docs/reference.md §5.3).
#ifndef ROPESCALE_TESTS_SUPPORT_EXACT_TRIG_HPP
#define ROPESCALE_TESTS_SUPPORT_EXACT_TRIG_HPP

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace ropescale_test {

static_assert(LDBL_MANT_DIG >= 64, "exact_trig.hpp needs an x87-style 64-bit long double");

// 2π = c1 + c2 + c3 + O(2^-230). c1 has 31 significant bits, so k·c1 is exact for k < 2^33.
inline constexpr long double two_pi_c1 = 0x6487ed51p-28L;
inline constexpr long double two_pi_c2 = 0x42d18469898cc517p-94L;
inline constexpr long double two_pi_c3 = 0x6e0e689481270445p-164L;
inline constexpr long double two_pi_ld = two_pi_c1 + two_pi_c2;

/// p·ω mod 2π in about [−π, π], for integer 0 <= p < 2^31 and any double ω with |p·ω| < 2^31.
inline long double exact_reduced_angle(std::int64_t position, double omega) {
  const long double p = static_cast<long double>(position);
  // ω = head + tail; head keeps 32 significant bits, so p·head (< 63 bits) and p·tail (< 53 bits)
  // are both exact.
  int e = 0;
  const long double w = static_cast<long double>(omega);
  const long double m = std::frexp(w, &e);  // w = m·2^e, 0.5 <= |m| < 1
  const long double head = std::ldexp(std::trunc(std::ldexp(m, 32)), e - 32);
  const long double tail = w - head;      // exact
  const long double phi_head = p * head;  // exact
  const long double phi_tail = p * tail;  // exact
  const long double k = std::nearbyint((phi_head + phi_tail) / two_pi_ld);
  long double r = phi_head - k * two_pi_c1;  // k·c1 exact; difference rounds once, |r| small
  r -= k * two_pi_c2;
  r -= k * two_pi_c3;
  r += phi_tail;
  return r;
}

struct exact_cs {
  long double c;
  long double s;
};

/// A·cos(p·ω), A·sin(p·ω) in long double.
inline exact_cs exact_cos_sin(std::int64_t position, double omega, double attention_factor = 1.0) {
  const long double r = exact_reduced_angle(position, omega);
  const long double a = static_cast<long double>(attention_factor);
  return {a * std::cos(r), a * std::sin(r)};
}

/// HF's binary32 angle fl32(fl32(p)·ω32), computed with volatile floats so that no contraction
/// or excess precision can creep in.
inline float hf_angle_f32(std::int64_t position, float omega32) {
  volatile float p = static_cast<float>(position);
  volatile float w = omega32;
  volatile float phi = p * w;
  return phi;
}

/// The f32-mode value (§5.3): fl32(fl32(cos(angle)) · fl32(A)) with cos evaluated in long double.
inline void hf_f32_reference(std::int64_t position, float omega32, double attention_factor,
                             float& c, float& s) {
  const long double phi = static_cast<long double>(hf_angle_f32(position, omega32));
  volatile float a32 = static_cast<float>(attention_factor);
  volatile float c0 = static_cast<float>(std::cos(phi));
  volatile float s0 = static_cast<float>(std::sin(phi));
  volatile float c1 = c0 * a32;
  volatile float s1 = s0 * a32;
  c = c1;
  s = s1;
}

// ---------------------------------------------------------------------------------------------
// Representative frequency tables, written here from the closed forms of docs/reference.md §3 in
// long double (independent of the library's method classes) and rounded once to double. They only
// need to be realistic inputs for the cos/sin paths: the accuracy reference takes the rounded ω
// as exact.

struct reference_table {
  std::string label;
  std::vector<double> inv_freq;
  double attention_factor = 1.0;
};

/// ω⁰_i = θ^(−2i/d).
inline long double default_omega(long double theta, int d, int i) {
  return std::pow(theta, -2.0L * static_cast<long double>(i) / static_cast<long double>(d));
}

inline std::vector<double> round_table(const std::vector<long double>& w) {
  std::vector<double> out(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) out[i] = static_cast<double>(w[i]);
  return out;
}

inline reference_table default_table(long double theta, int d) {
  std::vector<long double> w(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) w[static_cast<std::size_t>(i)] = default_omega(theta, d, i);
  return {
      "default theta=" + std::to_string(static_cast<long long>(theta)) + " d=" + std::to_string(d),
      round_table(w), 1.0};
}

inline reference_table linear_table(long double theta, int d, long double s) {
  std::vector<long double> w(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) w[static_cast<std::size_t>(i)] = default_omega(theta, d, i) / s;
  return {"linear s=" + std::to_string(static_cast<int>(s)), round_table(w), 1.0};
}

inline reference_table ntk_table(long double theta, int d, long double s) {
  const long double theta2 =
      theta * std::pow(s, static_cast<long double>(d) / static_cast<long double>(d - 2));
  std::vector<long double> w(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) w[static_cast<std::size_t>(i)] = default_omega(theta2, d, i);
  return {"ntk s=" + std::to_string(static_cast<int>(s)), round_table(w), 1.0};
}

/// YaRN (§3.5) with truncate = true and A = 0.1·ln s + 1.
inline reference_table yarn_table(long double theta, int d, long double s, long double l0,
                                  long double beta_fast = 32, long double beta_slow = 1) {
  const long double pi = two_pi_ld / 2;
  auto corr = [&](long double r) {
    return static_cast<long double>(d) * std::log(l0 / (2 * pi * r)) / (2 * std::log(theta));
  };
  long double lo = std::floor(corr(beta_fast)), hi = std::ceil(corr(beta_slow));
  lo = std::max(lo, 0.0L);
  hi = std::min(hi, static_cast<long double>(d - 1));
  if (lo == hi) hi += 0.001L;
  std::vector<long double> w(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) {
    const long double r = std::clamp((i - lo) / (hi - lo), 0.0L, 1.0L);
    const long double w0 = default_omega(theta, d, i);
    w[static_cast<std::size_t>(i)] = (w0 / s) * r + w0 * (1 - r);
  }
  return {"yarn s=" + std::to_string(static_cast<int>(s)), round_table(w),
          static_cast<double>(0.1L * std::log(s) + 1)};
}

/// Llama 3 (§3.7).
inline reference_table llama3_table(long double theta, int d, long double s, long double a,
                                    long double b, long double l0) {
  const long double pi = two_pi_ld / 2;
  std::vector<long double> w(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) {
    const long double w0 = default_omega(theta, d, i);
    const long double lambda = 2 * pi / w0;
    long double v;
    if (lambda < l0 / b) {
      v = w0;
    } else if (lambda > l0 / a) {
      v = w0 / s;
    } else {
      const long double g = (l0 / lambda - a) / (b - a);
      v = (1 - g) * w0 / s + g * w0;
    }
    w[static_cast<std::size_t>(i)] = v;
  }
  return {"llama3 s=" + std::to_string(static_cast<int>(s)), round_table(w), 1.0};
}

/// LongRoPE (§3.6) with deterministic rescale factors in [1, 64) and A = √(1 + ln s / ln L0).
inline reference_table longrope_table(long double theta, int d, long double s, long double l0) {
  std::vector<long double> w(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) {
    const long double ext = 1 + 63 * std::pow(static_cast<long double>(i) / (d / 2), 2.0L) +
                            0.37L * static_cast<long double>(i % 3);
    w[static_cast<std::size_t>(i)] = 1 / (ext * std::pow(theta, 2.0L * i / d));
  }
  return {"longrope s=" + std::to_string(static_cast<int>(s)), round_table(w),
          static_cast<double>(std::sqrt(1 + std::log(s) / std::log(l0)))};
}

/// Proportional (§3.8): H = 128, prf 0.25 → 16 rotating pairs, zeros after.
inline reference_table proportional_table(long double theta, int head_dim, long double s) {
  const int n_rot = head_dim / 8;
  std::vector<long double> w(static_cast<std::size_t>(head_dim / 2), 0.0L);
  for (int i = 0; i < n_rot; ++i)
    w[static_cast<std::size_t>(i)] = default_omega(theta, head_dim, i) / s;
  return {"proportional", round_table(w), 1.0};
}

/// The set every accuracy test runs: defaults (θ = 1e4, 5e5, 1e6; d = 64, 128) and each
/// closed-form family, plus one table with A > 1 well away from 1.
inline std::vector<reference_table> representative_tables() {
  std::vector<reference_table> t;
  t.push_back(default_table(1e4L, 128));
  t.push_back(default_table(1e4L, 64));
  t.push_back(default_table(5e5L, 128));
  t.push_back(default_table(1e6L, 128));
  t.push_back(default_table(1e6L, 64));
  t.push_back(linear_table(1e4L, 128, 4));
  t.push_back(ntk_table(1e4L, 128, 8));
  t.push_back(yarn_table(1e6L, 128, 4, 32768));
  t.push_back(llama3_table(5e5L, 128, 8, 1, 4, 8192));
  t.push_back(longrope_table(1e4L, 96, 32, 4096));
  t.push_back(proportional_table(1e6L, 128, 1));
  reference_table big_a = default_table(1e4L, 128);
  big_a.label = "default A=2.75";
  big_a.attention_factor = 2.75;
  t.push_back(big_a);
  return t;
}

/// Positions the accuracy tests sample beyond a dense prefix: random p up to 1e7, the last 257
/// positions up to 1e7, and multiples of large powers of two (k·2^m <= 1e7, m >= 12).
inline std::vector<std::int64_t> sampled_positions(std::uint32_t seed, int random_count) {
  std::vector<std::int64_t> p;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> any(0, 10'000'000);
  for (int i = 0; i < random_count; ++i) p.push_back(any(rng));
  for (std::int64_t q = 10'000'000 - 256; q <= 10'000'000; ++q) p.push_back(q);
  for (int m = 12; m <= 23; ++m) {
    for (std::int64_t k = 1; (k << m) <= 10'000'000; k += (m < 18 ? 97 : 1)) p.push_back(k << m);
  }
  p.push_back(100000);
  p.push_back(131071);
  p.push_back(1'000'000);
  return p;
}

}  // namespace ropescale_test

#endif  // ROPESCALE_TESTS_SUPPORT_EXACT_TRIG_HPP

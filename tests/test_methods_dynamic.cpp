// SPDX-License-Identifier: Apache-2.0
// Dynamic NTK (docs/reference.md §3.4, §7): the stateless per-length table (default for S <= L, ntk
// with factor s·k − (s − 1) at S = k·L, base monotone in S), the vLLM-static policy (ntk with
// factor s² − s + 1, never implicit) and scripted call sequences of the HF cache object.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ropescale/methods/default_rope.hpp"
#include "ropescale/methods/dynamic.hpp"
#include "ropescale/methods/ntk.hpp"

namespace {

constexpr double kEps = std::numeric_limits<double>::epsilon();

template <class Real>
void expect_equal_ulps(const std::vector<Real>& a, const std::vector<Real>& b, double max_rel) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(std::fabs(static_cast<double>(a[i] / b[i]) - 1.0), max_rel) << "i=" << i;
  }
}

template <class Real>
void check_short_lengths_are_default() {
  const std::int64_t L = 4096;
  for (double s : {1.0, 2.0, 4.0, 8.0})
    for (double theta : {1e4, 1e6}) {
      ropescale::dynamic<Real> m({{128, theta, 1.0}, s, L});
      const std::vector<Real> w0 =
          ropescale::default_rope<Real>(ropescale::default_rope_params{{128, theta, 1.0}})
              .inv_freq();
      EXPECT_EQ(m.inv_freq(), w0);
      EXPECT_EQ(m.inv_freq(1), w0);
      EXPECT_EQ(m.inv_freq(100), w0);
      EXPECT_EQ(m.inv_freq(L - 1), w0);
      EXPECT_EQ(m.inv_freq(L), w0);
      EXPECT_EQ(m.inv_freq_hf_f32(L), m.inv_freq_hf_f32());
      if (s > 1) {
        EXPECT_NE(m.inv_freq(L + 1), w0);
      }
    }
}

TEST(Dynamic, AbsentOrShortLengthIsDefaultExactly) {
  check_short_lengths_are_default<float>();
  check_short_lengths_are_default<double>();
  check_short_lengths_are_default<long double>();
  ropescale::dynamic<double> m({{128, 1e4, 1.0}, 4.0, 4096});
  EXPECT_EQ(m.inv_freq_hf_f32(),
            ropescale::default_rope<double>(ropescale::default_rope_params{{128, 1e4, 1.0}})
                .inv_freq_hf_f32());
  EXPECT_TRUE(ropescale::dynamic<double>::depends_on_seq_len);
  EXPECT_EQ(m.attention_factor(100000), 1.0);
}

TEST(Dynamic, AtMultipleOfLEqualsNtkWithShiftedFactor) {
  const std::int64_t L = 2048;
  for (std::int64_t H : {64, 80, 128, 256})
    for (double theta : {1e4, 5e5, 1e7})
      for (double s : {1.5, 2.0, 4.0, 8.0})
        for (std::int64_t k : {2, 3, 8, 32}) {
          ropescale::dynamic<double> m({{H, theta, 1.0}, s, L});
          const double f = s * static_cast<double>(k) - (s - 1);
          ropescale::ntk<double> n({{H, theta, 1.0}, f});
          expect_equal_ulps(m.inv_freq(k * L), n.inv_freq(), 2 * kEps);
          EXPECT_NEAR(m.scaled_theta(k * L) / n.scaled_theta(), 1.0, 4 * kEps);
        }
}

TEST(Dynamic, ScaledBaseMonotoneInSeqLen) {
  const std::int64_t L = 4096;
  ropescale::dynamic<double> m({{128, 1e4, 1.0}, 4.0, L});
  double prev = m.scaled_theta();
  std::vector<double> prev_t = m.inv_freq();
  for (std::int64_t S = 1; S <= 20 * L; S += 997) {
    const double th = m.scaled_theta(S);
    EXPECT_GE(th, prev) << S;
    const std::vector<double> t = m.inv_freq(S);
    EXPECT_EQ(t[0], 1.0);
    for (std::size_t i = 1; i < t.size(); ++i) EXPECT_LE(t[i], prev_t[i]) << "S=" << S;
    if (S > L) {
      EXPECT_GT(th, m.params().rope_theta);
    } else {
      EXPECT_EQ(th, m.params().rope_theta);
    }
    prev = th;
    prev_t = t;
  }
}

TEST(Dynamic, VllmStaticIsNtkAtSquaredFactorAndNeverImplicit) {
  const std::int64_t L = 4096;
  for (double s : {1.0, 2.0, 4.0, 3.5})
    for (double theta : {1e4, 1e6}) {
      ropescale::dynamic<double> m({{128, theta, 1.0}, s, L});
      ropescale::ntk<double> n({{128, theta, 1.0}, s * s - s + 1});
      const std::vector<double> v = m.inv_freq_vllm_static();
      expect_equal_ulps(v, n.inv_freq(), 2 * kEps);
      // The base fixed at S = s·L.
      expect_equal_ulps(v, m.inv_freq(static_cast<std::int64_t>(s * L)), 2 * kEps);
      EXPECT_EQ(m.inv_freq_for(ropescale::dynamic_policy::vllm_static), v);
      EXPECT_EQ(m.inv_freq_for(ropescale::dynamic_policy::vllm_static, 1), v);
      EXPECT_EQ(m.inv_freq_for(ropescale::dynamic_policy::per_length, 3 * L), m.inv_freq(3 * L));
      EXPECT_EQ(m.inv_freq_for(ropescale::dynamic_policy::per_length), m.inv_freq());
      EXPECT_THROW(m.inv_freq_for(ropescale::dynamic_policy::hf_cache, 10),
                   ropescale::invalid_parameter);
      if (s > 1) {
        // Not what the default calls return, at any S <= L.
        EXPECT_NE(m.inv_freq(), v);
        EXPECT_NE(m.inv_freq(L), v);
      }
    }
}

// ---------------------------------------------------------------- HF cache --------------------

class DynamicHfCache : public ::testing::Test {
 protected:
  static constexpr std::int64_t L = 1000;
  ropescale::dynamic<double> m{{{64, 1e4, 1.0}, 4.0, L}};
};

TEST_F(DynamicHfCache, InitialStateIsDefault) {
  ropescale::dynamic_hf_cache<double> c(m);
  EXPECT_EQ(c.cached_max(), L);
  EXPECT_EQ(c.table(), m.inv_freq());
  EXPECT_EQ(c.version(), 0u);
  // S <= L keeps the default table, no reset at S = L.
  EXPECT_EQ(c.update(1), m.inv_freq());
  EXPECT_EQ(c.update(L), m.inv_freq());
  EXPECT_EQ(c.cached_max(), L);
  EXPECT_EQ(c.version(), 0u);
  // Constructible from params too.
  ropescale::dynamic_hf_cache<double> c2(m.params());
  EXPECT_EQ(c2.table(), c.table());
}

TEST_F(DynamicHfCache, GrowsNeverShrinksAboveLAndResetsOnlyBelowL) {
  ropescale::dynamic_hf_cache<double> c(m);
  // Growth.
  EXPECT_EQ(c.update(1500), m.inv_freq(1500));
  EXPECT_EQ(c.cached_max(), 1500);
  EXPECT_EQ(c.update(3000), m.inv_freq(3000));
  EXPECT_EQ(c.cached_max(), 3000);
  const std::uint64_t v = c.version();
  EXPECT_EQ(v, 2u);
  // L <= S <= cached_max: the longest S's table is kept (not S's own table).
  for (std::int64_t S :
       {std::int64_t{2999}, std::int64_t{2000}, std::int64_t{1001}, L, std::int64_t{3000}}) {
    EXPECT_EQ(c.update(S), m.inv_freq(3000)) << S;
    if (S != 3000) {
      EXPECT_NE(m.inv_freq(S), m.inv_freq(3000)) << S;
    }
    EXPECT_EQ(c.cached_max(), 3000);
  }
  EXPECT_EQ(c.version(), v);
  EXPECT_EQ(c.table_hf_f32(), m.inv_freq_hf_f32(3000));
  // No reset at S = L exactly (already covered above), reset strictly below L.
  EXPECT_EQ(c.update(L - 1), m.inv_freq());
  EXPECT_EQ(c.cached_max(), L);
  EXPECT_EQ(c.version(), v + 1);
  // Further short lengths: nothing changes.
  EXPECT_EQ(c.update(1), m.inv_freq());
  EXPECT_EQ(c.version(), v + 1);
  // Growth again after a reset.
  EXPECT_EQ(c.update(L + 1), m.inv_freq(L + 1));
  EXPECT_EQ(c.cached_max(), L + 1);
  // A single step from above L straight to S < L resets.
  EXPECT_EQ(c.update(5), m.inv_freq());
  // reset().
  c.update(5000);
  c.reset();
  EXPECT_EQ(c.cached_max(), L);
  EXPECT_EQ(c.table(), m.inv_freq());
}

TEST_F(DynamicHfCache, GenerationScriptMatchesStatelessAtLongestLength) {
  // A prompt of 1200 tokens, then decoding one token at a time: the table follows S exactly
  // (each step is a new maximum), and equals the stateless table of the longest S seen.
  ropescale::dynamic_hf_cache<double> c(m);
  std::int64_t longest = L;
  for (std::int64_t S : {1200, 1201, 1202, 1203, 900, 1100, 2500, 2400, 10}) {
    const std::vector<double>& t = c.update(S);
    if (S > longest) longest = S;
    if (S < L && longest > L) longest = L;
    EXPECT_EQ(c.cached_max(), longest) << S;
    EXPECT_EQ(t, m.inv_freq(longest)) << S;
  }
}

TEST_F(DynamicHfCache, RejectsNonPositiveLength) {
  ropescale::dynamic_hf_cache<double> c(m);
  EXPECT_THROW(c.update(0), ropescale::invalid_parameter);
  EXPECT_THROW(c.update(-5), ropescale::invalid_parameter);
  EXPECT_EQ(c.cached_max(), L);
  ropescale::dynamic_hf_cache<float> cf(ropescale::dynamic<float>({{64, 1e4, 1.0}, 4.0, L}));
  EXPECT_EQ(cf.update(2 * L), ropescale::dynamic<float>({{64, 1e4, 1.0}, 4.0, L}).inv_freq(2 * L));
}

}  // namespace

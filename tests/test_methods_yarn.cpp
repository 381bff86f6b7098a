// SPDX-License-Identifier: Apache-2.0
// YaRN invariants (docs/reference.md §3.5, §7): the ramp regions (default below lo, linear above
// hi, linear in i between), s = 1, the correction-dimension identity, truncate = false, the lo ==
// hi +0.001 path, the attention-factor rules of §3.5.4 in closed form (including "mscale alone is
// ignored" and "0/null betas = default") and the DeepSeek softmax multiplier of §3.5.5.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ropescale/methods/default_rope.hpp"
#include "ropescale/methods/linear.hpp"
#include "ropescale/methods/yarn.hpp"

namespace {

using ld = long double;
constexpr ld kPi = 3.141592653589793238462643383279502884L;

ropescale::yarn_params make(std::int64_t H, double theta, double s, std::int64_t L0) {
  ropescale::yarn_params p;
  p.head_dim = H;
  p.rope_theta = theta;
  p.factor = s;
  p.original_max_position_embeddings = L0;
  return p;
}

// corr(r) = d·ln(L0/(2π·r)) / (2 ln θ) in long double.
ld corr(std::int64_t d, ld theta, std::int64_t L0, ld r) {
  return ld(d) * std::log(ld(L0) / (2 * kPi * r)) / (2 * std::log(theta));
}

template <class Real>
void check_ramp_regions(const ropescale::yarn_params& p) {
  ropescale::yarn<Real> m(p);
  const std::int64_t d = m.rotary_dim();
  const std::vector<Real> w = m.inv_freq();
  const std::vector<Real> w0 =
      ropescale::default_rope<Real>(
          ropescale::default_rope_params{{p.head_dim, p.rope_theta, p.partial_rotary_factor}})
          .inv_freq();
  const std::vector<Real> wl =
      ropescale::linear<Real>({{p.head_dim, p.rope_theta, p.partial_rotary_factor}, p.factor})
          .inv_freq();
  const double lo = m.correction_low(), hi = m.correction_high();
  ASSERT_LT(lo, hi);
  int n0 = 0, n1 = 0, nmid = 0;
  for (std::int64_t i = 0; i < d / 2; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double x = static_cast<double>(i);
    if (x <= lo) {
      EXPECT_EQ(w[k], w0[k]) << "r = 0 at i=" << i;
      ++n0;
    } else if (x >= hi) {
      EXPECT_EQ(w[k], wl[k]) << "r = 1 at i=" << i;
      ++n1;
    } else {
      // ω_i/ω⁰_i = 1 − r_i(1 − 1/s), r_i = (i − lo)/(hi − lo).
      const ld r = (ld(i) - ld(lo)) / (ld(hi) - ld(lo));
      const ld w0l = std::exp(-ld(2 * i) / ld(d) * std::log(ld(p.rope_theta)));
      const ld expected = 1 - r * (1 - 1 / ld(p.factor));
      EXPECT_NEAR(static_cast<double>(ld(w[k]) / w0l / expected), 1.0,
                  2 * static_cast<double>(std::numeric_limits<Real>::epsilon()))
          << "i=" << i;
      ++nmid;
    }
  }
  EXPECT_GT(n0, 0);
  EXPECT_GT(n1, 0);
  EXPECT_GT(nmid, 0);
}

TEST(Yarn, RampRegionsDefaultLinearAndBlend) {
  // Llama-2-style: H = 128, θ = 1e4, L0 = 4096: lo = ⌊20.9⌋ = 20, hi = ⌈45.0⌉ = 46.
  ropescale::yarn_params p = make(128, 1e4, 8, 4096);
  ropescale::yarn<double> m(p);
  EXPECT_EQ(m.correction_low(), std::floor(static_cast<double>(corr(128, 1e4L, 4096, 32))));
  EXPECT_EQ(m.correction_high(), std::ceil(static_cast<double>(corr(128, 1e4L, 4096, 1))));
  check_ramp_regions<float>(p);
  check_ramp_regions<double>(p);
  check_ramp_regions<long double>(p);
  for (double s : {2.0, 4.0, 16.0, 40.0})
    for (double theta : {1e4, 1e6})
      for (double prf : {1.0, 0.5}) {
        ropescale::yarn_params q = make(128, theta, s, 8192);
        q.partial_rotary_factor = prf;
        check_ramp_regions<double>(q);
        q.truncate = false;
        check_ramp_regions<double>(q);
      }
}

TEST(Yarn, RatioIsLinearInIndexInsideTheRamp) {
  ropescale::yarn_params p = make(256, 1e4, 16, 4096);
  p.truncate = false;
  ropescale::yarn<double> m(p);
  const std::vector<double> w = m.inv_freq();
  const std::vector<double> w0 =
      ropescale::default_rope<double>(ropescale::default_rope_params{{256, 1e4, 1.0}}).inv_freq();
  const double lo = m.correction_low(), hi = m.correction_high();
  const double slope = -(1 - 1 / 16.0) / (hi - lo);
  int checked = 0;
  for (std::size_t i = 0; i + 1 < w.size(); ++i) {
    if (static_cast<double>(i) > lo && static_cast<double>(i + 1) < hi) {
      const double step = w[i + 1] / w0[i + 1] - w[i] / w0[i];
      EXPECT_NEAR(step, slope, 1e-14) << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 5);
}

TEST(Yarn, UnitFactorIsDefault) {
  for (bool truncate : {true, false})
    for (double theta : {1e4, 1e6}) {
      ropescale::yarn_params p = make(128, theta, 1.0, 4096);
      p.truncate = truncate;
      ropescale::yarn<double> m(p);
      EXPECT_EQ(m.inv_freq(),
                ropescale::default_rope<double>(ropescale::default_rope_params{{128, theta, 1.0}})
                    .inv_freq());
      EXPECT_EQ(m.attention_factor(), 1.0);
      EXPECT_EQ(m.softmax_scale_multiplier(), 1.0);
      ropescale::yarn<float> mf(p);
      EXPECT_EQ(mf.inv_freq(),
                ropescale::default_rope<float>(ropescale::default_rope_params{{128, theta, 1.0}})
                    .inv_freq());
    }
}

TEST(Yarn, CorrectionDimensionFitsRotationsIntoL0) {
  for (std::int64_t H : {64, 128})
    for (double theta : {1e4, 5e5, 1e7})
      for (std::int64_t L0 : {2048, 4096, 131072})
        for (double r : {0.5, 1.0, 8.0, 32.0}) {
          ropescale::yarn<double> m(make(H, theta, 4, L0));
          const ld i = m.correction_dim(r);
          // 2π·θ^(2i/d)·r = L0: pair i makes exactly r turns over L0 tokens.
          const ld lhs = 2 * kPi * std::exp(2 * i / ld(H) * std::log(ld(theta))) * ld(r);
          EXPECT_NEAR(static_cast<double>(lhs / ld(L0)), 1.0, 1e-13)
              << "H=" << H << " theta=" << theta << " L0=" << L0 << " r=" << r;
        }
}

TEST(Yarn, TruncateFalseKeepsFractionalBounds) {
  ropescale::yarn_params p = make(64, 150000, 32, 4096);  // GPT-OSS-like θ, factor, L0
  p.truncate = false;
  ropescale::yarn<double> m(p);
  const double lo = static_cast<double>(corr(64, 150000.0L, 4096, 32));
  const double hi = static_cast<double>(corr(64, 150000.0L, 4096, 1));
  ASSERT_GT(lo, 0);
  ASSERT_LT(hi, 63);
  EXPECT_NEAR(m.correction_low(), lo, 1e-13);
  EXPECT_NEAR(m.correction_high(), hi, 1e-13);
  EXPECT_NE(m.correction_low(), std::floor(m.correction_low()));
  EXPECT_NE(m.correction_high(), std::ceil(m.correction_high()));
  p.truncate = true;
  ropescale::yarn<double> mt(p);
  EXPECT_EQ(mt.correction_low(), std::floor(lo));
  EXPECT_EQ(mt.correction_high(), std::ceil(hi));
  EXPECT_NE(m.inv_freq(), mt.inv_freq());
}

TEST(Yarn, EqualBoundsTakeThePointZeroZeroOnePath) {
  // Both bounds clamp to 0: corr(β_s = 11) = 128·ln(64/(22π))/(2 ln 1e4) ≈ −0.53 → ⌈⌉ = 0, and
  // corr(32) ≈ −8 → ⌊⌋ = −8 → max(·, 0) = 0. lo == hi, so hi = 0.001.
  ropescale::yarn_params p = make(128, 1e4, 4, 64);
  p.beta_slow = 11;
  ropescale::yarn<double> m(p);
  EXPECT_EQ(m.correction_low(), 0.0);
  EXPECT_EQ(m.correction_high(), 0.001);
  const std::vector<double> w = m.inv_freq();
  const std::vector<double> wl = ropescale::linear<double>({{128, 1e4, 1.0}, 4}).inv_freq();
  EXPECT_EQ(w[0], 1.0);                                                    // r_0 = 0
  for (std::size_t i = 1; i < w.size(); ++i) EXPECT_EQ(w[i], wl[i]) << i;  // r = 1
  for (float x : m.inv_freq_hf_f32()) EXPECT_TRUE(std::isfinite(x));

  // truncate = false with β_f == β_s: lo == hi fractional, hi = lo + 0.001.
  ropescale::yarn_params q = make(128, 1e4, 4, 4096);
  q.beta_fast = 8;
  q.beta_slow = 8;
  q.truncate = false;
  ropescale::yarn<double> mq(q);
  const double c = static_cast<double>(corr(128, 1e4L, 4096, 8));
  EXPECT_NEAR(mq.correction_low(), c, 1e-13);
  EXPECT_EQ(mq.correction_high(), mq.correction_low() + 0.001);
  const std::vector<double> wq = mq.inv_freq();
  const std::vector<double> w0 =
      ropescale::default_rope<double>(ropescale::default_rope_params{{128, 1e4, 1.0}}).inv_freq();
  for (std::size_t i = 0; i < wq.size(); ++i) {
    if (static_cast<double>(i) <= mq.correction_low()) {
      EXPECT_EQ(wq[i], w0[i]) << i;
    } else {
      EXPECT_EQ(wq[i], wl[i]) << i;
    }
  }
}

TEST(Yarn, ZeroBetasMeanDefaults) {
  ropescale::yarn_params p = make(128, 1e4, 8, 4096);
  ropescale::yarn<double> ref(p);
  p.beta_fast = 0;
  p.beta_slow = 0;
  ropescale::yarn<double> m(p);
  EXPECT_EQ(m.beta_fast(), 32.0);
  EXPECT_EQ(m.beta_slow(), 1.0);
  EXPECT_EQ(m.correction_low(), ref.correction_low());
  EXPECT_EQ(m.correction_high(), ref.correction_high());
  EXPECT_EQ(m.inv_freq(), ref.inv_freq());
  EXPECT_EQ(m.inv_freq_hf_f32(), ref.inv_freq_hf_f32());
}

TEST(Yarn, AttentionFactorRules) {
  const double s = 40;
  const double m1 = 0.1 * std::log(s) + 1;  // m(s, 1)
  auto mm = [&](double a) { return 0.1 * a * std::log(s) + 1; };
  auto A = [&](std::optional<double> af, std::optional<double> ms, std::optional<double> msad) {
    ropescale::yarn_params p = make(128, 1e4, s, 4096);
    p.attention_factor = af;
    p.mscale = ms;
    p.mscale_all_dim = msad;
    return ropescale::yarn<double>(p);
  };
  // Rule 3: nothing set.
  EXPECT_NEAR(A({}, {}, {}).attention_factor(), m1, 1e-15);
  EXPECT_EQ(A({}, {}, {}).softmax_scale_multiplier(), 1.0);
  EXPECT_TRUE(A({}, {}, {}).diagnostics().empty());
  // Rule 1: explicit attention_factor replaces the computed value, whatever the mscale pair.
  EXPECT_EQ(A(0.5, {}, {}).attention_factor(), 0.5);
  EXPECT_EQ(A(0.5, 1.0, 1.0).attention_factor(), 0.5);
  EXPECT_EQ(A(1.7, 2.0, {}).attention_factor(), 1.7);
  // Rule 2: both set → ratio. DeepSeek-V3: mscale = mscale_all_dim = 1 → A = 1, all the YaRN
  // magnitude in the softmax term.
  EXPECT_EQ(A({}, 1.0, 1.0).attention_factor(), 1.0);
  EXPECT_NEAR(A({}, 1.0, 1.0).softmax_scale_multiplier(), m1 * m1, 1e-14);
  EXPECT_EQ(A({}, 0.707, 0.707).attention_factor(), 1.0);
  EXPECT_NEAR(A({}, 1.2, 0.8).attention_factor(), mm(1.2) / mm(0.8), 1e-15);
  EXPECT_NEAR(A({}, 1.2, 0.8).softmax_scale_multiplier(), mm(0.8) * mm(0.8), 1e-14);
  // mscale alone is ignored entirely (A = m(s, 1)), with a diagnostic.
  EXPECT_NEAR(A({}, 1.5, {}).attention_factor(), m1, 1e-15);
  EXPECT_NEAR(A({}, 1.5, 0.0).attention_factor(), m1, 1e-15);
  EXPECT_EQ(A({}, 1.5, {}).softmax_scale_multiplier(), 1.0);
  EXPECT_FALSE(A({}, 1.5, {}).diagnostics().empty());
  // mscale_all_dim alone: A by rule 3, softmax term m(s, mscale_all_dim)².
  EXPECT_NEAR(A({}, {}, 0.5).attention_factor(), m1, 1e-15);
  EXPECT_NEAR(A({}, {}, 0.5).softmax_scale_multiplier(), mm(0.5) * mm(0.5), 1e-14);
  // 0 means unset, like null.
  EXPECT_NEAR(A({}, 0.0, 1.0).attention_factor(), m1, 1e-15);
  EXPECT_NEAR(A({}, 0.0, 1.0).softmax_scale_multiplier(), m1 * m1, 1e-14);
  EXPECT_NEAR(A({}, 1.0, 0.0).attention_factor(), m1, 1e-15);
  EXPECT_EQ(A({}, 1.0, 0.0).softmax_scale_multiplier(), 1.0);
  EXPECT_EQ(A({}, 0.0, 0.0).attention_factor(), A({}, {}, {}).attention_factor());
  // A is the same for every S (YaRN is static).
  EXPECT_EQ(A({}, {}, {}).attention_factor(1), A({}, {}, {}).attention_factor(1000000));
  // yarn_get_mscale: 1 for s <= 1.
  EXPECT_EQ(ropescale::yarn_get_mscale(1.0, 5.0), 1.0);
  EXPECT_EQ(ropescale::yarn_get_mscale(0.5), 1.0);
}

TEST(Yarn, SeqLenIgnored) {
  ropescale::yarn<double> m(make(128, 1e4, 8, 4096));
  EXPECT_FALSE(ropescale::yarn<double>::depends_on_seq_len);
  EXPECT_EQ(m.inv_freq(1), m.inv_freq());
  EXPECT_EQ(m.inv_freq(1 << 20), m.inv_freq());
  EXPECT_EQ(m.inv_freq_hf_f32(1 << 20), m.inv_freq_hf_f32());
  EXPECT_THROW(m.inv_freq(0), ropescale::invalid_parameter);
}

}  // namespace

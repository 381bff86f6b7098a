// SPDX-License-Identifier: Apache-2.0
// Analytic limits and invariants of default, linear, ntk, longrope, llama3 and proportional
// (docs/reference.md §7), plus the rotary-dimension rule (§1.1). Expected values come from closed
// forms or from the relation between methods, never from numbers printed by the implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "ropescale/methods/default_rope.hpp"
#include "ropescale/methods/dynamic.hpp"
#include "ropescale/methods/linear.hpp"
#include "ropescale/methods/llama3.hpp"
#include "ropescale/methods/longrope.hpp"
#include "ropescale/methods/ntk.hpp"
#include "ropescale/methods/proportional.hpp"
#include "ropescale/methods/yarn.hpp"
#include "support/reference_methods.hpp"

namespace {

using ld = long double;
namespace refm = ropescale_test::refm;

constexpr double kEps = std::numeric_limits<double>::epsilon();

// ---------------------------------------------------------------- rotary dim ------------------

TEST(RotaryDim, DoubleProductTruncates) {
  // 100 × 0.29 = 28.999999999999996 in binary64, so d = 28 (not 29, not rounded).
  EXPECT_EQ(ropescale::detail::rotary_dim_of(100, 0.29), 28);
  EXPECT_EQ(
      ropescale::default_rope<>(ropescale::default_rope_params{{100, 1e4, 0.29}}).rotary_dim(), 28);
  EXPECT_EQ(ropescale::linear<>({{100, 1e4, 0.29}, 2}).rotary_dim(), 28);
  EXPECT_EQ(ropescale::ntk<>({{100, 1e4, 0.29}, 2}).rotary_dim(), 28);
  EXPECT_EQ(ropescale::dynamic<>({{100, 1e4, 0.29}, 2, 4096}).rotary_dim(), 28);
  EXPECT_EQ(ropescale::llama3<>({{100, 1e4, 0.29}, 8, 1, 4, 8192}).rotary_dim(), 28);
  ropescale::yarn_params yp;
  yp.head_dim = 100;
  yp.partial_rotary_factor = 0.29;
  yp.original_max_position_embeddings = 4096;
  EXPECT_EQ(ropescale::yarn<>(yp).rotary_dim(), 28);
  EXPECT_EQ(ropescale::yarn<>(yp).pairs(), 14);
  // Phi-2: int(0.4 × 80) = 32; GPT-NeoX style 0.25 × 128 = 32.
  EXPECT_EQ(ropescale::default_rope<>(ropescale::default_rope_params{{80, 1e4, 0.4}}).rotary_dim(),
            32);
  EXPECT_EQ(ropescale::default_rope<>(ropescale::default_rope_params{{128, 1e4, 0.25}}).pairs(),
            16);
}

TEST(RotaryDim, OddRotaryDimThrowsForEveryMethod) {
  // 100 × 0.27 = 27.000000000000004 → d = 27, odd.
  EXPECT_THROW(ropescale::default_rope<>(ropescale::default_rope_params{{100, 1e4, 0.27}}),
               ropescale::invalid_parameter);
  EXPECT_THROW(ropescale::linear<>({{100, 1e4, 0.27}, 2}), ropescale::invalid_parameter);
  EXPECT_THROW(ropescale::ntk<>({{100, 1e4, 0.27}, 2}), ropescale::invalid_parameter);
  EXPECT_THROW(ropescale::dynamic<>({{100, 1e4, 0.27}, 2, 4096}), ropescale::invalid_parameter);
  EXPECT_THROW(ropescale::llama3<>({{100, 1e4, 0.27}, 8, 1, 4, 8192}),
               ropescale::invalid_parameter);
  ropescale::yarn_params yp;
  yp.head_dim = 100;
  yp.partial_rotary_factor = 0.27;
  yp.original_max_position_embeddings = 4096;
  EXPECT_THROW(ropescale::yarn<>{yp}, ropescale::invalid_parameter);
  ropescale::longrope_params lp;
  lp.head_dim = 100;
  lp.partial_rotary_factor = 0.27;
  lp.short_factor.assign(13, 1.0);
  lp.long_factor.assign(13, 1.0);
  lp.original_max_position_embeddings = 4096;
  lp.max_position_embeddings = 8192;
  EXPECT_THROW(ropescale::longrope<>{lp}, ropescale::invalid_parameter);
  // Odd H with prf = 1 too.
  EXPECT_THROW(ropescale::default_rope<>(ropescale::default_rope_params{{63, 1e4, 1.0}}),
               ropescale::invalid_parameter);
  // d = 2 is fine for default but ntk and dynamic need d >= 4.
  EXPECT_EQ(ropescale::default_rope<>(ropescale::default_rope_params{{2, 1e4, 1.0}}).pairs(), 1);
  EXPECT_THROW(ropescale::ntk<>({{2, 1e4, 1.0}, 2}), ropescale::invalid_parameter);
  EXPECT_THROW(ropescale::dynamic<>({{2, 1e4, 1.0}, 2, 4096}), ropescale::invalid_parameter);
  EXPECT_EQ(ropescale::ntk<>({{4, 1e4, 1.0}, 2}).pairs(), 2);
}

// ---------------------------------------------------------------- default ---------------------

TEST(Default, FirstIsOneAndGeometric) {
  for (std::int64_t H : {64, 80, 96, 128, 256})
    for (double theta : {1e4, 5e5, 1e6, 1e7}) {
      ropescale::default_rope<double> m(ropescale::default_rope_params{{H, theta, 1.0}});
      const std::vector<double> w = m.inv_freq();
      ASSERT_EQ(w.size(), static_cast<std::size_t>(H / 2));
      EXPECT_EQ(w[0], 1.0);
      const ld ratio = std::exp(-2.0L / ld(H) * std::log(ld(theta)));  // θ^(−2/d)
      for (std::size_t i = 0; i + 1 < w.size(); ++i) {
        const ld r = ld(w[i + 1]) / ld(w[i]);
        EXPECT_NEAR(static_cast<double>(r / ratio), 1.0, 3 * kEps) << "H=" << H << " i=" << i;
      }
      EXPECT_EQ(m.attention_factor(), 1.0);
      EXPECT_EQ(m.attention_factor(100), 1.0);
      EXPECT_EQ(m.softmax_scale_multiplier(), 1.0);
      EXPECT_EQ(m.query_scale(5), 1.0);
      EXPECT_TRUE(m.diagnostics().empty());
      EXPECT_EQ(m.inv_freq(123456), w);  // S ignored
    }
}

// ---------------------------------------------------------------- linear ----------------------

TEST(Linear, IsDefaultDividedByFactorExactly) {
  for (std::int64_t H : {64, 96, 128})
    for (double theta : {1e4, 1e6})
      for (double s : {1.0, 2.0, 3.7, 8.0, 40.0}) {
        const std::vector<double> w0 =
            ropescale::default_rope<double>(ropescale::default_rope_params{{H, theta, 1.0}})
                .inv_freq();
        const std::vector<double> w = ropescale::linear<double>({{H, theta, 1.0}, s}).inv_freq();
        ASSERT_EQ(w.size(), w0.size());
        for (std::size_t i = 0; i < w.size(); ++i) EXPECT_EQ(w[i], w0[i] / s) << i;
      }
}

TEST(Linear, AnglesAtScaledPositionsEqualDefaultAngles) {
  const std::vector<double> w0 =
      ropescale::default_rope<double>(ropescale::default_rope_params{{128, 5e5, 1.0}}).inv_freq();
  for (std::int64_t s : {2, 4, 8}) {
    const std::vector<double> w =
        ropescale::linear<double>({{128, 5e5, 1.0}, static_cast<double>(s)}).inv_freq();
    for (std::int64_t p : {1, 7, 4095, 100000, 1000000}) {
      for (std::size_t i = 0; i < w.size(); ++i) {
        const ld a = ld(p * s) * ld(w[i]);  // angle at p·s with the linear table
        const ld b = ld(p) * ld(w0[i]);     // angle at p with the default table
        // Division by a power of two is exact, so the angles agree exactly.
        EXPECT_EQ(a, b) << "s=" << s << " p=" << p << " i=" << i;
      }
    }
  }
  // Non-power-of-two factor: equal to rounding.
  const std::vector<double> w3 = ropescale::linear<double>({{128, 5e5, 1.0}, 3.0}).inv_freq();
  for (std::size_t i = 0; i < w3.size(); ++i) {
    const ld a = ld(3 * 4095) * ld(w3[i]);
    const ld b = ld(4095) * ld(w0[i]);
    EXPECT_LE(std::fabs(a / b - 1), 2 * kEps) << i;
  }
}

// ---------------------------------------------------------------- ntk -------------------------

TEST(Ntk, GeometricWithScaledBaseAndEndpoints) {
  for (std::int64_t H : {64, 80, 128, 256})
    for (double theta : {1e4, 1e6, 1e7})
      for (double s : {1.0, 2.0, 4.0, 16.0, 3.7}) {
        ropescale::ntk<double> m({{H, theta, 1.0}, s});
        const std::vector<double> w = m.inv_freq();
        const std::vector<double> w0 =
            ropescale::default_rope<double>(ropescale::default_rope_params{{H, theta, 1.0}})
                .inv_freq();
        const std::size_t n = w.size();
        EXPECT_EQ(w[0], 1.0);
        // ω_{n−1} = ω⁰_{n−1}/s: the lowest frequency is interpolated like PI.
        EXPECT_NEAR(w[n - 1] / (w0[n - 1] / s), 1.0, 2 * kEps) << "H=" << H << " s=" << s;
        // Geometric with ratio θ'^(−2/d), θ' = θ·s^(d/(d−2)).
        const ld d = ld(H);
        const ld theta_p = ld(theta) * std::exp(std::log(ld(s)) * d / (d - 2));
        const ld ratio = std::exp(-2 / d * std::log(theta_p));
        for (std::size_t i = 0; i + 1 < n; ++i) {
          EXPECT_NEAR(static_cast<double>(ld(w[i + 1]) / ld(w[i]) / ratio), 1.0, 3 * kEps) << i;
        }
        EXPECT_NEAR(m.scaled_theta() / static_cast<double>(theta_p), 1.0, 4 * kEps);
        if (s == 1.0) {
          EXPECT_EQ(w, w0);
        }
      }
}

// ---------------------------------------------------------------- longrope --------------------

ropescale::longrope_params longrope_config(std::int64_t H, double prf, double theta) {
  ropescale::longrope_params p;
  p.head_dim = H;
  p.rope_theta = theta;
  p.partial_rotary_factor = prf;
  const std::int64_t n = ropescale::detail::rotary_dim_of(H, prf) / 2;
  for (std::int64_t i = 0; i < n; ++i) {
    p.short_factor.push_back(1.0 + 0.05 * static_cast<double>(i % 7));
    p.long_factor.push_back(1.5 + 1.75 * static_cast<double>(i));
  }
  p.original_max_position_embeddings = 4096;
  p.max_position_embeddings = 131072;
  return p;
}

TEST(Longrope, SwitchesAtL0NotL) {
  const ropescale::longrope_params p = longrope_config(96, 1.0, 1e4);
  ropescale::longrope<double> m(p);
  const std::vector<double> short_t = m.inv_freq();
  const std::vector<double> long_t = m.inv_freq(131072);
  EXPECT_NE(short_t, long_t);
  EXPECT_EQ(m.inv_freq(1), short_t);
  EXPECT_EQ(m.inv_freq(4095), short_t);
  EXPECT_EQ(m.inv_freq(4096), short_t);  // S = L0: short
  EXPECT_EQ(m.inv_freq(4097), long_t);   // S = L0 + 1: long
  EXPECT_EQ(m.inv_freq(20000), long_t);  // L0 < S <= L: long (old HF picked short here)
  EXPECT_EQ(m.inv_freq(1000000), long_t);
  EXPECT_FALSE(m.uses_long_factor());
  EXPECT_FALSE(m.uses_long_factor(4096));
  EXPECT_TRUE(m.uses_long_factor(4097));
  // Fixed-once choice from the engine's maximum context.
  EXPECT_EQ(m.inv_freq_fixed(4096), short_t);
  EXPECT_EQ(m.inv_freq_fixed(131072), long_t);
  EXPECT_TRUE(ropescale::longrope<double>::depends_on_seq_len);
}

TEST(Longrope, IdentityOmegaTimesExtTimesPowerIsOne) {
  for (std::int64_t H : {64, 96, 128})
    for (double prf : {1.0, 0.5})
      for (double theta : {1e4, 1e6, 1e7}) {
        const ropescale::longrope_params p = longrope_config(H, prf, theta);
        ropescale::longrope<double> m(p);
        const std::int64_t d = m.rotary_dim();
        for (const auto& [S, ext] :
             {std::pair<std::int64_t, std::vector<double>>{1, p.short_factor},
              {8192, p.long_factor}}) {
          const std::vector<double> w = m.inv_freq(S);
          for (std::size_t i = 0; i < w.size(); ++i) {
            const ld power = std::exp(ld(2 * static_cast<std::int64_t>(i)) / ld(d) *
                                      std::log(ld(theta)));  // θ^(2i/d)
            EXPECT_NEAR(static_cast<double>(ld(w[i]) * ld(ext[i]) * power), 1.0, 2 * kEps)
                << "H=" << H << " i=" << i;
          }
        }
      }
}

TEST(Longrope, AttentionFactorClosedForm) {
  ropescale::longrope_params p = longrope_config(96, 1.0, 1e4);
  // factor absent: s = L/L0 = 32.
  {
    ropescale::longrope<double> m(p);
    const double expected = std::sqrt(1.0 + std::log(32.0) / std::log(4096.0));
    EXPECT_NEAR(m.attention_factor(), expected, 1e-15);
    EXPECT_EQ(m.factor(), 32.0);
    // Same A for both tables and every S.
    EXPECT_EQ(m.attention_factor(1), m.attention_factor());
    EXPECT_EQ(m.attention_factor(4096), m.attention_factor());
    EXPECT_EQ(m.attention_factor(4097), m.attention_factor());
  }
  // Explicit factor wins over L/L0 for A.
  p.factor = 4.0;
  {
    ropescale::longrope<double> m(p);
    EXPECT_NEAR(m.attention_factor(), std::sqrt(1.0 + std::log(4.0) / std::log(4096.0)), 1e-15);
  }
  // Explicit attention_factor wins over everything.
  p.attention_factor = 1.19;
  EXPECT_EQ(ropescale::longrope<double>(p).attention_factor(), 1.19);
  EXPECT_EQ(ropescale::longrope<double>(p).attention_factor(10000), 1.19);
  // s <= 1 → A = 1.
  p.attention_factor.reset();
  p.factor = 1.0;
  EXPECT_EQ(ropescale::longrope<double>(p).attention_factor(), 1.0);
  p.factor.reset();
  p.max_position_embeddings = 4096;  // L/L0 = 1
  EXPECT_EQ(ropescale::longrope<double>(p).attention_factor(), 1.0);
  p.max_position_embeddings = 2048;  // L/L0 = 0.5 < 1: accepted, A = 1
  EXPECT_EQ(ropescale::longrope<double>(p).attention_factor(), 1.0);
}

// ---------------------------------------------------------------- llama3 ----------------------

TEST(Llama3, BandsAndMiddleFormula) {
  for (std::int64_t H : {64, 128, 256})
    for (double theta : {1e4, 5e5})
      for (double s : {2.0, 8.0, 32.0}) {
        const double a = 1, b = 4;
        const std::int64_t L0 = 8192;
        ropescale::llama3<double> m({{H, theta, 1.0}, s, a, b, L0});
        const std::vector<double> w = m.inv_freq();
        const std::vector<double> w0 =
            ropescale::default_rope<double>(ropescale::default_rope_params{{H, theta, 1.0}})
                .inv_freq();
        int hi_band = 0, lo_band = 0, mid_band = 0;
        for (std::size_t i = 0; i < w.size(); ++i) {
          const ld w0l =
              std::exp(-ld(2 * static_cast<std::int64_t>(i)) / ld(H) * std::log(ld(theta)));
          const ld lambda = 2 * refm::pi_l / w0l;
          if (lambda < ld(L0) / b) {
            EXPECT_EQ(w[i], w0[i]) << i;  // high frequency: unchanged (bit-identical)
            ++hi_band;
          } else if (lambda > ld(L0) / a) {
            EXPECT_EQ(w[i], w0[i] / s) << i;  // low frequency: as linear (bit-identical)
            ++lo_band;
          } else {
            const ld g = (ld(L0) / lambda - a) / (b - a);
            EXPECT_GE(g, 0);
            EXPECT_LE(g, 1);
            const ld expected = (1 - g) * w0l / s + g * w0l;
            EXPECT_NEAR(static_cast<double>(ld(w[i]) / expected), 1.0, 2 * kEps) << i;
            ++mid_band;
          }
        }
        EXPECT_GT(hi_band, 0);
        EXPECT_GT(lo_band, 0);
        EXPECT_GT(mid_band, 0) << "H=" << H << " theta=" << theta;
        EXPECT_EQ(m.attention_factor(), 1.0);
      }
}

TEST(Llama3, ContinuousAtBothEdges) {
  // Move L0 by one token across each edge of pair i's band: the table entry must move by
  // O(1/λ), not jump by a factor (1 − 1/s).
  const std::int64_t H = 128;
  const double theta = 5e5, s = 8, a = 1, b = 4;
  const std::vector<double> w0 =
      ropescale::default_rope<double>(ropescale::default_rope_params{{H, theta, 1.0}}).inv_freq();
  int checked = 0;
  for (std::size_t i = 1; i < w0.size(); ++i) {
    const ld lambda = 2 * refm::pi_l / ld(w0[i]);
    if (lambda < 100 || lambda > 1e8) continue;
    for (double edge : {b, a}) {
      const auto L0_below = static_cast<std::int64_t>(std::floor(lambda * edge));
      const auto L0_above = L0_below + 1;
      const double wa =
          ropescale::llama3<double>({{H, theta, 1.0}, s, a, b, L0_below}).inv_freq()[i];
      const double wb =
          ropescale::llama3<double>({{H, theta, 1.0}, s, a, b, L0_above}).inv_freq()[i];
      // |Δω|/ω⁰ <= (1 − 1/s)·|ΔL0|/(λ·(b − a)), plus rounding.
      const double bound = static_cast<double>((1 - 1 / ld(s)) / (lambda * (b - a))) + 4 * kEps;
      EXPECT_LE(std::fabs(wa - wb) / w0[i], bound) << "i=" << i << " edge=" << edge;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST(Llama3, EqualFactorsGiveNoNaN) {
  for (std::int64_t H : {64, 128, 256})
    for (double theta : {1e4, 5e5, 1e6})
      for (double ab : {1.0, 2.0, 4.0}) {
        ropescale::llama3<double> m({{H, theta, 1.0}, 8.0, ab, ab, 8192});
        const std::vector<double> w = m.inv_freq();
        const std::vector<double> w0 =
            ropescale::default_rope<double>(ropescale::default_rope_params{{H, theta, 1.0}})
                .inv_freq();
        for (std::size_t i = 0; i < w.size(); ++i) {
          ASSERT_TRUE(std::isfinite(w[i]));
          EXPECT_TRUE(w[i] == w0[i] || w[i] == w0[i] / 8.0) << i;
        }
        for (float x : m.inv_freq_hf_f32()) ASSERT_TRUE(std::isfinite(x));
      }
}

// ---------------------------------------------------------------- proportional ----------------

TEST(Proportional, ZerosBeyondRotatedPairsAndDenominatorH) {
  for (std::int64_t H : {64, 128, 256, 512})
    for (double prf : {0.25, 0.5, 1.0})
      for (double s : {1.0, 8.0}) {
        ropescale::proportional<double> m({{H, 1e6, prf}, s});
        const auto n_rot = static_cast<std::int64_t>(prf * static_cast<double>(H)) / 2;
        EXPECT_EQ(m.rotated_pairs(), n_rot);
        EXPECT_EQ(m.rotary_dim(), H);
        const std::vector<double> w = m.inv_freq();
        ASSERT_EQ(static_cast<std::int64_t>(w.size()), H / 2);
        for (std::int64_t i = 0; i < H / 2; ++i) {
          const double x = w[static_cast<std::size_t>(i)];
          if (i < n_rot) {
            const ld expected = std::exp(-ld(2 * i) / ld(H) * std::log(1e6L)) / ld(s);  // 2i/H
            EXPECT_NEAR(static_cast<double>(ld(x) / expected), 1.0, 2 * kEps) << i;
          } else {
            EXPECT_EQ(x, 0.0) << i;
            EXPECT_FALSE(std::signbit(x));
          }
        }
      }
  // n_rot uses the double product: 100 × 0.58 = 57.99999999999999 → ⌊28.99…⌋ = 28.
  EXPECT_EQ(ropescale::proportional<double>({{100, 1e4, 0.58}, 1}).rotated_pairs(), 28);
}

TEST(Proportional, FullFactorAndUnitScaleEqualsDefault) {
  for (std::int64_t H : {64, 80, 128, 256}) {
    EXPECT_EQ(
        ropescale::proportional<double>({{H, 1e6, 1.0}, 1.0}).inv_freq(),
        ropescale::default_rope<double>(ropescale::default_rope_params{{H, 1e6, 1.0}}).inv_freq());
    EXPECT_EQ(
        ropescale::proportional<float>({{H, 1e4, 1.0}, 1.0}).inv_freq(),
        ropescale::default_rope<float>(ropescale::default_rope_params{{H, 1e4, 1.0}}).inv_freq());
    EXPECT_EQ(ropescale::proportional<double>({{H, 1e6, 1.0}, 1.0}).inv_freq_hf_f32(),
              ropescale::default_rope<double>(ropescale::default_rope_params{{H, 1e6, 1.0}})
                  .inv_freq_hf_f32());
  }
  // Not ordinary partial rotary: prf 0.25 uses exponent 2i/H, default with prf 0.25 uses 2i/d.
  const std::vector<double> prop =
      ropescale::proportional<double>({{256, 1e6, 0.25}, 1}).inv_freq();
  const std::vector<double> part =
      ropescale::default_rope<double>(ropescale::default_rope_params{{256, 1e6, 0.25}}).inv_freq();
  EXPECT_NE(prop[1], part[1]);
  EXPECT_EQ(prop.size(), 128u);
  EXPECT_EQ(part.size(), 32u);
}

}  // namespace

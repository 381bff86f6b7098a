// SPDX-License-Identifier: Apache-2.0
// Tests of include/ropescale/methods/clex.hpp and detail/ode.hpp against independent references
// (docs/reference.md §7, clex row): the W_down = 0 closed form (NTK-aware scaling with factor 2t −
// 1), the solver's order on problems with known solutions, interpolated rows for a Δ that does not
// divide 1, t(S) selection, t = 1 returning θ bit for bit, the b0 = 10000 quirk against a
// long-double RK loop written in tests/support/clex_reference.hpp, checkpoint loading and every
// rejection.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/ode.hpp"
#include "ropescale/hf_config.hpp"
#include "ropescale/methods/clex.hpp"
#include "ropescale/methods/default_rope.hpp"
#include "support/clex_reference.hpp"
#include "support/safetensors_writer.hpp"

using ropescale::clex;
using ropescale::clex_params;
using namespace ropescale_test;

namespace {

clex_params make_params(std::int64_t head_dim, std::int64_t p, std::int64_t T,
                        const std::string& act, double dt, double theta, bool zero_down,
                        unsigned seed = 7, double prf = 1.0, std::int64_t L = 4096) {
  clex_params c;
  c.head_dim = head_dim;
  c.partial_rotary_factor = prf;
  c.rope_theta = theta;
  c.max_position_embeddings = L;
  c.max_factor = T;
  c.param_factor = p;
  c.act = act;
  c.time_dt = dt;
  const auto d = static_cast<std::int64_t>(static_cast<double>(head_dim) * prf);
  const std::size_t count = static_cast<std::size_t>(d / 2 * p * d);
  c.ode_up_proj = clex_random_weights(count, 0.5 / std::sqrt(static_cast<double>(d / 2)), seed);
  c.ode_down_proj =
      zero_down ? std::vector<double>(count, 0.0)
                : clex_random_weights(count, 0.3 / std::sqrt(static_cast<double>(p * d)), seed + 1);
  return c;
}

clex_ref make_ref(const clex_params& c, long double dt) {
  clex_ref r;
  r.d = static_cast<int>(static_cast<double>(c.head_dim) * c.partial_rotary_factor);
  r.p = static_cast<int>(c.param_factor);
  r.tanh_act = c.act == "tanh";
  r.dt = dt;
  r.b0 = 10000.0L;  // hard-wired upstream, whatever rope_theta is
  for (int k = 0; k < r.n(); ++k)
    r.theta.push_back(c.inv_freq
                          ? static_cast<long double>((*c.inv_freq)[k])
                          : std::pow(static_cast<long double>(c.rope_theta), -2.0L * k / r.d));
  r.up.assign(c.ode_up_proj.begin(), c.ode_up_proj.end());
  r.down.assign(c.ode_down_proj.begin(), c.ode_down_proj.end());
  return r;
}

// NTK-aware scaling with factor 2t − 1 and base rope_theta, in long double (docs/reference.md
// §4.7).
long double ntk_closed_form(long double theta, int d, int k, long double t) {
  return std::pow(theta, -2.0L * k / d) * std::pow(2 * t - 1, -2.0L * k / (d - 2));
}

template <class V>
double max_rel(const V& got, const std::vector<long double>& want) {
  double worst = 0;
  for (std::size_t k = 0; k < want.size(); ++k)
    worst = std::max(worst, static_cast<double>(
                                std::fabs((static_cast<long double>(got[k]) - want[k]) / want[k])));
  return worst;
}

std::string message_of(const clex_params& c) {
  try {
    clex<double> m(c);
  } catch (const ropescale::invalid_parameter& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(ClexClosedForm, ZeroDownProjectionIsNtkWithFactor2tMinus1) {
  struct cfg {
    std::int64_t H;
    double prf;
    std::int64_t p;
    const char* act;
    std::int64_t T;
    double theta;
  };
  const cfg cases[] = {{128, 1.0, 1, "tanh", 2, 1e4},
                       {64, 1.0, 2, "silu", 3, 5e5},
                       {80, 0.4, 1, "tanh", 5, 1e4},
                       {16, 1.0, 3, "silu", 6, 1e6},
                       {8, 0.5, 1, "tanh", 4, 2.5e3}};
  for (const auto& cs : cases) {
    SCOPED_TRACE(std::string("H=") + std::to_string(cs.H) + " p=" + std::to_string(cs.p) + " " +
                 cs.act);
    const auto params = make_params(cs.H, cs.p, cs.T, cs.act, 0.002, cs.theta, true, 11);
    clex<double> m(params);
    const int d = static_cast<int>(m.rotary_dim());
    double worst = 0;
    for (std::int64_t t = 2; t <= cs.T; ++t) {
      std::vector<long double> want(static_cast<std::size_t>(d / 2));
      for (int k = 0; k < d / 2; ++k) want[k] = ntk_closed_form(cs.theta, d, k, t);
      worst = std::max(worst, max_rel(m.inv_freq_for_scale(t), want));
    }
    RecordProperty("worst_rel_error", std::to_string(worst));
    EXPECT_LT(worst, 1e-12);
  }
  // Δ = 0.01 (the published step): docs/reference.md §4.7 says ≈ 1.5e-10 relative.
  clex<double> m(make_params(64, 1, 4, "tanh", 0.01, 1e4, true));
  double worst = 0;
  for (std::int64_t t = 2; t <= 4; ++t) {
    std::vector<long double> want(32);
    for (int k = 0; k < 32; ++k) want[k] = ntk_closed_form(1e4, 64, k, t);
    worst = std::max(worst, max_rel(m.inv_freq_for_scale(t), want));
  }
  EXPECT_LT(worst, 3e-10);
  EXPECT_GT(worst, 1e-12);  // the solver is really integrating, not short-cutting
}

TEST(ClexSolver, FourthOrderOnClexClosedForm) {
  // z_k(t) − z_k(1) = −c_k·ln(2t − 1): error at t = 3 for Δ and Δ/2.
  auto err = [](double dt) {
    clex<double> m(make_params(32, 1, 3, "tanh", dt, 1e4, true));
    const auto w = m.inv_freq_for_scale(3);
    double worst = 0;
    for (int k = 1; k < 16; ++k)
      worst =
          std::max(worst, static_cast<double>(std::fabs(std::log(static_cast<long double>(w[k])) -
                                                        std::log(ntk_closed_form(1e4, 32, k, 3)))));
    return worst;
  };
  const double e1 = err(0.1), e2 = err(0.05), e3 = err(0.025);
  EXPECT_NEAR(e1 / e2, 16.0, 2.5) << e1 << " " << e2;
  EXPECT_NEAR(e2 / e3, 16.0, 2.0) << e2 << " " << e3;
}

TEST(ClexSolver, FourthOrderOnScalarProblem) {
  // dy/dt = y·cos t, y(1) = 1  =>  y(t) = exp(sin t − sin 1).
  using vec = ropescale::detail::ode_vector<double>;
  auto f = [](double t, const vec& y, vec& dy) { dy = y * std::cos(t); };
  auto err = [&](double dt) {
    vec y0(1);
    y0[0] = 1.0;
    const auto r = ropescale::detail::rk38_solve<double>(f, y0, 1.0, dt, {4.0});
    return std::fabs(r[0][0] - std::exp(std::sin(4.0) - std::sin(1.0)));
  };
  const double e1 = err(0.025), e2 = err(0.0125), e3 = err(0.00625);
  EXPECT_NEAR(e1 / e2, 16.0, 2.0) << e1 << " " << e2;
  EXPECT_NEAR(e2 / e3, 16.0, 2.0) << e2 << " " << e3;
}

TEST(ClexSolver, GridAndOutputRulesMatchIndependentReference) {
  // Δ = 0.03 does not divide 1: integer rows are interpolated between grid points; the last
  // step is clipped to end at T. The reference redoes all of this in long double.
  for (const char* act : {"tanh", "silu"}) {
    SCOPED_TRACE(act);
    const auto params = make_params(32, 2, 4, act, 0.03, 1e4, false, 21);
    clex<double> m(params);
    const auto ref = make_ref(params, 0.03L).solve_omega({1, 2, 3, 4});
    for (std::int64_t t = 2; t <= 4; ++t)
      EXPECT_LT(max_rel(m.inv_freq_for_scale(t), ref[t - 1]), 1e-12) << t;
  }
  // Fractional t: its own solve, grid clipped to end exactly at t.
  const auto params = make_params(32, 1, 4, "tanh", 0.03, 1e4, false, 22);
  clex<double> m(params);
  for (double t : {1.5, 2.37, 3.999}) {
    const auto ref = make_ref(params, 0.03L).solve_omega({1, static_cast<long double>(t)});
    EXPECT_LT(max_rel(m.inv_freq_at(t), ref[1]), 1e-12) << t;
  }
}

TEST(ClexSolver, InterpolatedRowsWithinBoundOfTinyStepSolve) {
  // W_down = 0: z'' = 4c/(2t−1)² is known, so linear interpolation across one step of 0.03 is
  // off by at most Δ²/8·max|z''| (plus the solver's own tiny error).
  {
    const double dt = 0.03;
    clex<double> coarse(make_params(64, 1, 5, "silu", dt, 1e4, true));
    double saw = 0;
    for (std::int64_t t = 2; t <= 5; ++t) {
      const auto w = coarse.inv_freq_for_scale(t);
      for (int k = 1; k < 32; ++k) {
        const long double c = 2.0L * k / 62;
        const long double a = 2 * (t - dt) - 1;  // smallest α in the bracketing step
        const long double bound = dt * dt / 8 * 4 * c / (a * a) + 1e-9L;
        const long double diff = std::fabs(std::log(static_cast<long double>(w[k])) -
                                           std::log(ntk_closed_form(1e4, 64, k, t)));
        EXPECT_LE(diff, bound) << t << " " << k;
        saw = std::max(saw, static_cast<double>(diff));
      }
    }
    EXPECT_GT(saw, 1e-7);  // interpolation really happened (grid points would be ~1e-8 off)
  }
  // W_down ≠ 0 against a Δ = 0.001 solve: docs/reference.md §4.4 quotes ~4e-5 relative.
  const auto params = make_params(32, 1, 3, "tanh", 0.03, 1e4, false, 23);
  clex<double> coarse(params);
  auto fine_params = params;
  fine_params.time_dt = 0.001;
  clex<double> fine(fine_params);
  for (std::int64_t t = 2; t <= 3; ++t) {
    const auto a = coarse.inv_freq_for_scale(t);
    const auto b = fine.inv_freq_for_scale(t);
    std::vector<long double> bl(b.begin(), b.end());
    const double rel = max_rel(a, bl);
    EXPECT_LT(rel, 2e-4) << t;
  }
}

TEST(ClexSolver, TableRowsEqualTwoPointSolvesWhenStepDividesOne) {
  for (double dt : {0.01, 0.25, 0.125}) {
    clex<double> m(make_params(32, 1, 4, "silu", dt, 1e4, false, 31));
    for (std::int64_t t = 2; t <= 4; ++t) {
      const auto row = m.inv_freq_for_scale(t);
      const auto two = m.inv_freq_at(static_cast<double>(t));
      std::vector<long double> want(two.begin(), two.end());
      EXPECT_LT(max_rel(row, want), 1e-13) << dt << " " << t;
    }
  }
}

TEST(ClexQuirks, TimeEmbeddingBaseIsHardWired10000) {
  // Mixtral-like θ = 1e6 with a real network: the library must match a long-double RK loop that
  // hard-codes b0 = 10000, and must not match one that uses rope_theta.
  const auto params = make_params(32, 2, 3, "tanh", 0.05, 1e6, false, 41);
  clex<double> m(params);
  auto ref = make_ref(params, 0.05L);
  const auto want = ref.solve_omega({1, 2, 3});
  ref.b0 = 1e6L;
  const auto wrong = ref.solve_omega({1, 2, 3});
  for (std::int64_t t = 2; t <= 3; ++t) {
    const auto got = m.inv_freq_for_scale(t);
    EXPECT_LT(max_rel(got, want[t - 1]), 1e-12) << t;
    EXPECT_GT(max_rel(got, wrong[t - 1]), 1e-4) << t;
  }
}

TEST(ClexQuirks, ScaleOneIsThetaBitForBit) {
  const auto params = make_params(128, 1, 5, "tanh", 0.02, 1e4, false);
  clex<double> m(params);
  ropescale::default_rope_params dp;
  dp.head_dim = 128;
  dp.rope_theta = 1e4;
  const auto base = ropescale::default_rope<double>(dp).inv_freq();
  for (const auto& w : {m.inv_freq(), m.inv_freq(1), m.inv_freq(4096), m.inv_freq_for_scale(1),
                        m.inv_freq_at(1.0)}) {
    ASSERT_EQ(w.size(), base.size());
    EXPECT_EQ(std::memcmp(w.data(), base.data(), base.size() * sizeof(double)), 0);
  }
  // Checkpoint θ (slightly off the formula, within 2^-7) is used verbatim for t = 1 and as z(1).
  auto with_ckpt = params;
  std::vector<double> theta(base.begin(), base.end());
  for (std::size_t k = 0; k < theta.size(); ++k)
    theta[k] *= 1.0 + 0.001 * std::sin(static_cast<double>(k));
  with_ckpt.inv_freq = theta;
  with_ckpt.max_factor = 2;
  with_ckpt.time_dt = 0.05;
  clex<double> mc(with_ckpt);
  EXPECT_EQ(mc.inv_freq(), theta);
  const auto ref = make_ref(with_ckpt, 0.05L).solve_omega({1, 2});
  EXPECT_LT(max_rel(mc.inv_freq(8192), ref[1]), 1e-12);
  // float and long double tables: one rounding of the working-precision table.
  clex<float> mf(params);
  const auto f1 = mf.inv_freq();
  const auto f5 = mf.inv_freq_for_scale(5);
  const auto d5 = m.inv_freq_for_scale(5);
  for (std::size_t k = 0; k < base.size(); ++k) {
    EXPECT_EQ(f1[k], static_cast<float>(base[k]));
    EXPECT_EQ(f5[k], static_cast<float>(d5[k]));
  }
  clex<long double> ml(params);
  std::vector<long double> dl(d5.begin(), d5.end());
  EXPECT_LT(max_rel(dl, std::vector<long double>(ml.inv_freq_for_scale(5))), 1e-13);
  EXPECT_EQ(mf.inv_freq_hf_f32(20000), f5);
}

TEST(ClexScale, SelectionFromSequenceLength) {
  const std::int64_t L = 4096, T = 8;
  clex<double> m(make_params(16, 1, T, "tanh", 0.05, 1e4, false, 51, 1.0, L));
  EXPECT_EQ(m.scale_for(1), 1);
  EXPECT_EQ(m.scale_for(L - 1), 1);
  EXPECT_EQ(m.scale_for(L), 1);
  EXPECT_EQ(m.scale_for(L + 1), 2);
  for (std::int64_t k = 2; k <= T; ++k) {
    EXPECT_EQ(m.scale_for(k * L), k);
    EXPECT_EQ(m.scale_for(k * L - 1), k);
    EXPECT_EQ(m.scale_for(k * L + 1), std::min(k + 1, T));
  }
  EXPECT_EQ(m.scale_for(L * T + 1), T);
  EXPECT_EQ(m.scale_for(std::numeric_limits<std::int64_t>::max()), T);
  EXPECT_EQ(m.trained_length(), L * T);
  EXPECT_FALSE(m.beyond_trained_range(L * T));
  EXPECT_TRUE(m.beyond_trained_range(L * T + 1));
  for (std::int64_t s : {std::int64_t{1}, L, L + 1, 3 * L, 3 * L + 1, L * T, 100 * L * T})
    EXPECT_EQ(m.inv_freq(s), m.inv_freq_for_scale(m.scale_for(s))) << s;
  EXPECT_EQ(m.inv_freq(), m.inv_freq_for_scale(1));
  EXPECT_NE(m.inv_freq(L + 1), m.inv_freq(L));
  EXPECT_THROW(m.inv_freq(0), ropescale::invalid_parameter);
  EXPECT_THROW(m.scale_for(-5), ropescale::invalid_parameter);
  EXPECT_THROW(m.inv_freq_for_scale(0), ropescale::invalid_parameter);
  EXPECT_THROW(m.inv_freq_for_scale(T + 1), ropescale::invalid_parameter);
  EXPECT_THROW(m.inv_freq_at(0.5), ropescale::invalid_parameter);
  EXPECT_THROW(m.inv_freq_at(T + 0.5), ropescale::invalid_parameter);
  EXPECT_THROW(m.inv_freq_at(std::nan("")), ropescale::invalid_parameter);
  EXPECT_EQ(m.attention_factor(), 1.0);
  EXPECT_EQ(m.attention_factor(10 * L), 1.0);
  EXPECT_EQ(m.softmax_scale_multiplier(), 1.0);
}

TEST(ClexScale, QueryScaleIsLogRatio) {
  auto params = make_params(16, 1, 4, "tanh", 0.05, 1e4, false, 52, 1.0, 4096);
  clex<double> m(params);
  EXPECT_EQ(m.query_scale(4096), 1.0);
  EXPECT_NEAR(m.query_scale(4096 * 4096), 2.0, 1e-15);
  EXPECT_EQ(m.query_scale(1), 0.0);
  EXPECT_NEAR(m.query_scale(2048), std::log(2048.0) / std::log(4096.0), 1e-16);
  EXPECT_THROW(m.query_scale(0), ropescale::invalid_parameter);
  params.log_scale = false;
  clex<double> off(params);
  EXPECT_EQ(off.query_scale(100000), 1.0);
  // The temperature never reaches the table: same ω with and without log_scale.
  EXPECT_EQ(off.inv_freq(20000), m.inv_freq(20000));
}

TEST(ClexConcurrency, TableBuiltOnceAndSharedByCopies) {
  const clex<double> m(make_params(32, 1, 6, "silu", 0.02, 1e4, false, 61));
  const clex<double> copy = m;
  std::vector<std::vector<double>> got(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] { got[i] = (i % 2 ? copy : m).inv_freq(4096 * (2 + i % 5)); });
  for (auto& th : threads) th.join();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got[i], m.inv_freq_for_scale(2 + i % 5));
}

TEST(ClexValidation, RejectsBadParameters) {
  const auto good = make_params(16, 1, 4, "tanh", 0.01, 1e4, false);
  EXPECT_EQ(message_of(good), "<no error>");
  auto bad = good;
  bad.act = "relu";
  EXPECT_NE(message_of(bad).find("act: must be \"tanh\" or \"silu\", got \"relu\""),
            std::string::npos)
      << message_of(bad);
  for (double dt : {0.0, -0.01, 1.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    bad = good;
    bad.time_dt = dt;
    EXPECT_EQ(message_of(bad).rfind("time_dt: ", 0), 0u) << dt;
  }
  bad = good;
  bad.time_dt = 1.0;  // allowed: Δ <= 1
  EXPECT_EQ(message_of(bad), "<no error>");
  bad = good;
  bad.max_factor = 0;
  EXPECT_EQ(message_of(bad).rfind("max_factor: ", 0), 0u);
  bad = good;
  bad.max_factor = 20000;  // (T − 1)/Δ · max(n·p·d, 512) <= 2^30 is allowed (docs/limits.md)...
  bad.time_dt = 0.01;
  EXPECT_EQ(message_of(bad), "<no error>");
  bad.max_factor = 100001;  // ...more solver work is not, even at exactly 1e7 steps
  EXPECT_NE(message_of(bad).find("solver work"), std::string::npos) << message_of(bad);
  bad.max_factor = 100002;  // and more than 1e7 steps is not either
  EXPECT_NE(message_of(bad).find("1e7"), std::string::npos) << message_of(bad);
  bad = good;
  bad.param_factor = 0;
  EXPECT_EQ(message_of(bad).rfind("param_factor: ", 0), 0u);
  bad = good;
  bad.max_position_embeddings = 0;
  EXPECT_EQ(message_of(bad).rfind("max_position_embeddings: ", 0), 0u);
  bad = good;
  bad.max_position_embeddings = 1;  // ln L = 0 with log_scale
  EXPECT_EQ(message_of(bad).rfind("max_position_embeddings: ", 0), 0u);
  bad.log_scale = false;
  bad.max_position_embeddings = 1;
  EXPECT_EQ(message_of(bad), "<no error>");
  bad = good;
  bad.head_dim = 2;  // d = 2 < 4
  EXPECT_EQ(message_of(bad).rfind("head_dim: ", 0), 0u);
  bad = good;
  bad.rope_theta = 1.0;
  EXPECT_EQ(message_of(bad).rfind("rope_theta: ", 0), 0u);
  bad = good;
  bad.ode_up_proj.pop_back();
  EXPECT_NE(message_of(bad).find("model.clex_layer.proj_func.ode_up_proj: must hold 128 values "
                                 "(shape [n, p*d] = [8, 16])"),
            std::string::npos)
      << message_of(bad);
  bad = good;
  bad.param_factor = 2;  // weights are for p = 1
  EXPECT_NE(message_of(bad).find("ode_up_proj: must hold 256"), std::string::npos)
      << message_of(bad);
  bad = good;
  bad.ode_down_proj[37] = NAN;
  EXPECT_NE(message_of(bad).find("ode_down_proj: must be finite, got nan at flat index 37"),
            std::string::npos)
      << message_of(bad);
  bad = good;
  ropescale::default_rope_params dp;
  dp.head_dim = 16;
  auto theta = ropescale::default_rope<double>(dp).inv_freq();
  bad.inv_freq = theta;
  EXPECT_EQ(message_of(bad), "<no error>");
  (*bad.inv_freq)[5] *= 1.0 + std::ldexp(1.0, -6);
  EXPECT_NE(message_of(bad).find(
                "model.clex_layer.inv_freq: entries must be finite, > 0 and within 2^-7"),
            std::string::npos)
      << message_of(bad);
  EXPECT_NE(message_of(bad).find("at k = 5"), std::string::npos);
  (*bad.inv_freq)[5] = theta[5] * (1.0 + std::ldexp(1.0, -8));
  EXPECT_EQ(message_of(bad), "<no error>");
  bad.inv_freq->push_back(1e-9);
  EXPECT_NE(message_of(bad).find("model.clex_layer.inv_freq: must have shape [n] = [8]"),
            std::string::npos)
      << message_of(bad);
  bad.inv_freq = theta;
  (*bad.inv_freq)[0] = -1.0;
  EXPECT_NE(message_of(bad).find("inv_freq"), std::string::npos);
}

TEST(ClexCheckpoint, LoadsBf16WeightsAndChecksShapes) {
  const int d = 16, n = 8, p = 2;
  std::vector<std::uint16_t> up(n * p * d), down(p * d * n), invf(n);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 0.2f);
  for (auto& v : up) v = bf16_round(nd(rng));
  for (auto& v : down) v = bf16_round(nd(rng));
  for (int k = 0; k < n; ++k) invf[k] = bf16_round(static_cast<float>(std::pow(1e4, -2.0 * k / d)));
  const std::string U = ropescale::clex_up_proj_name, D = ropescale::clex_down_proj_name,
                    I = ropescale::clex_inv_freq_name;
  const auto dir = scratch_dir("clex_checkpoint");
  write_bytes(dir / "w.safetensors", st_image({{U, "BF16", {n, p * d}, u16_bytes(up)},
                                               {D, "BF16", {p * d, n}, u16_bytes(down)},
                                               {I, "BF16", {n}, u16_bytes(invf)}}));
  clex_params c;
  c.head_dim = d;
  c.max_position_embeddings = 2048;
  c.max_factor = 3;
  c.param_factor = p;
  c.act = "tanh";
  c.time_dt = 0.05;
  ropescale::load_clex_weights(c, dir / "w.safetensors");
  ASSERT_EQ(c.ode_up_proj.size(), up.size());
  for (std::size_t i = 0; i < up.size(); ++i) EXPECT_EQ(c.ode_up_proj[i], bf16_value(up[i]));
  for (std::size_t i = 0; i < down.size(); ++i) EXPECT_EQ(c.ode_down_proj[i], bf16_value(down[i]));
  ASSERT_TRUE(c.inv_freq.has_value());
  clex<double> m(c);
  for (int k = 0; k < n; ++k)
    EXPECT_EQ(m.inv_freq()[k], bf16_value(invf[k]));  // bf16 θ, within 2^-7
  const auto ref = make_ref(c, 0.05L).solve_omega({1, 2, 3});
  EXPECT_LT(max_rel(m.inv_freq(5000), ref[2]), 1e-12);

  // Opt-out: the formula θ.
  clex_params c2 = c;
  ropescale::load_clex_weights(c2, dir / "w.safetensors", false);
  EXPECT_FALSE(c2.inv_freq.has_value());

  auto expect_load_error = [&](const std::vector<st_entry>& entries, std::int64_t pf,
                               const std::vector<std::string>& fragments, const std::string& tag) {
    SCOPED_TRACE(tag);
    write_bytes(dir / (tag + ".safetensors"), st_image(entries));
    clex_params cc = c;
    cc.param_factor = pf;
    try {
      ropescale::load_clex_weights(cc, dir / (tag + ".safetensors"));
      ADD_FAILURE() << "no error";
    } catch (const ropescale::invalid_parameter& e) {
      for (const auto& f : fragments)
        EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
            << e.what() << "\nmissing: " << f;
    }
  };
  expect_load_error({{D, "BF16", {p * d, n}, u16_bytes(down)}}, p,
                    {U, "missing tensor", (dir / "missing_up.safetensors").string()}, "missing_up");
  expect_load_error(
      {{U, "BF16", {n, p * d}, u16_bytes(up)}, {D, "BF16", {p * d, n}, u16_bytes(down)}}, 1,
      {U, "shape [8, 32] does not match [8, 16]", "param_factor 1"}, "p_mismatch");
  expect_load_error(
      {{U, "BF16", {p * d, n}, u16_bytes(up)}, {D, "BF16", {p * d, n}, u16_bytes(down)}}, p,
      {U, "shape [32, 8] does not match [8, 32]"}, "transposed_up");
  expect_load_error(
      {{U, "BF16", {n, p * d}, u16_bytes(up)}, {D, "BF16", {n, p * d}, u16_bytes(down)}}, p,
      {D, "shape [8, 32] does not match [32, 8]"}, "transposed_down");
  auto nan_down = down;
  nan_down[77] = 0x7fc0;
  expect_load_error(
      {{U, "BF16", {n, p * d}, u16_bytes(up)}, {D, "BF16", {p * d, n}, u16_bytes(nan_down)}}, p,
      {D, "non-finite", "flat index 77"}, "nan_down");
  auto inf_up = up;
  inf_up[3] = 0xff80;
  expect_load_error(
      {{U, "BF16", {n, p * d}, u16_bytes(inf_up)}, {D, "BF16", {p * d, n}, u16_bytes(down)}}, p,
      {U, "non-finite", "-inf", "flat index 3"}, "inf_up");
  expect_load_error(
      {{U, "I32", {n, p * d / 2}, u16_bytes(up)}, {D, "BF16", {p * d, n}, u16_bytes(down)}}, p,
      {U, "cannot be read as floating point"}, "int_dtype");
  expect_load_error({{U, "BF16", {n, p * d}, u16_bytes(up)},
                     {D, "BF16", {p * d, n}, u16_bytes(down)},
                     {I,
                      "BF16",
                      {n / 2},
                      u16_bytes(std::vector<std::uint16_t>(invf.begin(), invf.begin() + n / 2))}},
                    p, {I, "shape [4] does not match [8]"}, "inv_freq_shape");
  // F32 and F16 copies load to the same values.
  std::vector<float> upf(up.size());
  for (std::size_t i = 0; i < up.size(); ++i) upf[i] = static_cast<float>(bf16_value(up[i]));
  write_bytes(dir / "f32.safetensors", st_image({{U, "F32", {n, p * d}, f32_bytes(upf)},
                                                 {D, "BF16", {p * d, n}, u16_bytes(down)}}));
  clex_params c3 = c;
  ropescale::load_clex_weights(c3, dir / "f32.safetensors");
  EXPECT_EQ(c3.ode_up_proj, c.ode_up_proj);
  EXPECT_FALSE(c3.inv_freq.has_value());
}

TEST(ClexCheckpoint, ShardedIndexFindsTheClexShard) {
  const int d = 8, n = 4;
  const auto dir = scratch_dir("clex_sharded");
  std::vector<float> up(n * d, 0.125f), down(d * n, -0.25f);
  write_bytes(dir / "model-00001-of-00002.safetensors",
              st_image({{"model.embed_tokens.weight", "F32", {2}, f32_bytes({1, 2})}}));
  write_bytes(dir / "model-00002-of-00002.safetensors",
              st_image({{ropescale::clex_up_proj_name, "F32", {n, d}, f32_bytes(up)},
                        {ropescale::clex_down_proj_name, "F32", {d, n}, f32_bytes(down)}}));
  write_text(
      dir / "model.safetensors.index.json",
      std::string(
          R"({"metadata":{},"weight_map":{"model.embed_tokens.weight":"model-00001-of-00002.safetensors",")") +
          ropescale::clex_up_proj_name + R"(":"model-00002-of-00002.safetensors",")" +
          ropescale::clex_down_proj_name + R"(":"model-00002-of-00002.safetensors"}})");
  clex_params c;
  c.head_dim = d;
  c.max_position_embeddings = 16;
  c.max_factor = 2;
  ropescale::load_clex_weights(c, dir);
  EXPECT_EQ(c.ode_up_proj, std::vector<double>(n * d, 0.125));
  EXPECT_EQ(c.ode_down_proj, std::vector<double>(d * n, -0.25));
  EXPECT_NO_THROW(clex<double>{c});
}

// ---------------------------------------------------------------------------------------------
// Loader (hf_config.hpp clex branch)

namespace {

std::filesystem::path write_clex_checkpoint(const std::string& name, int d, int p, bool inv_freq,
                                            double inv_freq_scale = 1.0) {
  const int n = d / 2;
  std::vector<float> up(static_cast<std::size_t>(n * p * d)), down(up.size()),
      invf(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < up.size(); ++i)
    up[i] = 0.01f * static_cast<float>(static_cast<int>(i % 7) - 3);
  for (std::size_t i = 0; i < down.size(); ++i)
    down[i] = 0.02f * static_cast<float>(static_cast<int>(i % 5) - 2);
  for (int k = 0; k < n; ++k)
    invf[k] = static_cast<float>(inv_freq_scale * std::pow(1e4, -2.0 * k / d));
  std::vector<st_entry> e = {{ropescale::clex_up_proj_name, "F32", {n, p * d}, f32_bytes(up)},
                             {ropescale::clex_down_proj_name, "F32", {p * d, n}, f32_bytes(down)}};
  if (inv_freq) e.push_back({ropescale::clex_inv_freq_name, "F32", {n}, f32_bytes(invf)});
  const auto path = scratch_dir("clex_loader") / name;
  write_bytes(path, st_image(e));
  return path;
}

nlohmann::json clex_config(nlohmann::json rope) {
  return nlohmann::json{{"model_type", "llama"},
                        {"hidden_size", 256},
                        {"num_attention_heads", 16},
                        {"max_position_embeddings", 2048},
                        {"rope_scaling", std::move(rope)}};
}

std::string load_error(const nlohmann::json& cfg, const ropescale::load_options& o) {
  try {
    ropescale::load_hf_config(cfg, o);
  } catch (const ropescale::invalid_parameter& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(ClexLoader, DefaultsKeysAndWeights) {
  ropescale::load_options o;
  o.weights = write_clex_checkpoint("d16.safetensors", 16, 1, false);
  const auto c = ropescale::load_hf_config(
      clex_config({{"type", "clex"}, {"max_factor", 4}, {"factor", 1}}), o);
  EXPECT_EQ(c.method.rope_type(), "clex");
  EXPECT_TRUE(c.method.depends_on_seq_len());
  const auto* m = c.method.get_if<clex<double>>();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->params().param_factor, 1);  // defaults, docs/reference.md §2.4
  EXPECT_EQ(m->params().act, "silu");
  EXPECT_EQ(m->params().time_dt, 0.01);
  EXPECT_TRUE(m->params().log_scale);
  EXPECT_EQ(m->params().max_position_embeddings, 2048);
  EXPECT_EQ(m->rotary_dim(), 16);
  EXPECT_EQ(c.method.inv_freq(2049), m->inv_freq_for_scale(2));
  EXPECT_EQ(c.method.query_scale(2048 * 2048), 2.0);
  for (const auto& d : c.diagnostics)
    EXPECT_EQ(d.find("unknown key"), std::string::npos) << d;  // factor is known

  auto cfg = clex_config({{"type", "clex"},
                          {"max_factor", 4},
                          {"param_factor", 2},
                          {"act", "tanh"},
                          {"time_dt", 0.05}});
  cfg["log_scale"] = false;
  o.weights = write_clex_checkpoint("d16p2.safetensors", 16, 2, true);
  const auto c2 = ropescale::load_hf_config(cfg, o);
  const auto* m2 = c2.method.get_if<clex<double>>();
  ASSERT_NE(m2, nullptr);
  EXPECT_EQ(m2->params().act, "tanh");
  EXPECT_EQ(m2->params().time_dt, 0.05);
  EXPECT_FALSE(m2->params().log_scale);
  EXPECT_TRUE(m2->params().inv_freq.has_value());
  EXPECT_EQ(c2.method.query_scale(100000), 1.0);
  o.use_checkpoint_inv_freq = false;
  EXPECT_FALSE(ropescale::load_hf_config(cfg, o)
                   .method.get_if<clex<double>>()
                   ->params()
                   .inv_freq.has_value());
}

TEST(ClexLoader, ErrorsNameKeyPathsFlagsAndFiles) {
  ropescale::load_options o;
  o.weights = write_clex_checkpoint("e16.safetensors", 16, 1, false);
  const auto no_weights = load_error(clex_config({{"type", "clex"}, {"max_factor", 4}}), {});
  EXPECT_NE(no_weights.find("load_options::weights"), std::string::npos) << no_weights;
  EXPECT_NE(no_weights.find("--weights"), std::string::npos) << no_weights;
  EXPECT_NE(load_error(clex_config({{"type", "clex"}}), o).find("requires key 'max_factor'"),
            std::string::npos);
  EXPECT_EQ(load_error(clex_config({{"type", "clex"}, {"max_factor", 4}, {"act", "relu"}}), o)
                .rfind("rope_scaling.act: ", 0),
            0u);
  EXPECT_EQ(load_error(clex_config({{"type", "clex"}, {"max_factor", 4}, {"act", 3}}), o)
                .rfind("rope_scaling.act: ", 0),
            0u);
  EXPECT_EQ(load_error(clex_config({{"type", "clex"}, {"max_factor", 4}, {"time_dt", 0}}), o)
                .rfind("rope_scaling.time_dt: ", 0),
            0u);
  EXPECT_EQ(load_error(clex_config({{"type", "clex"}, {"max_factor", 2.5}}), o)
                .rfind("rope_scaling.max_factor: ", 0),
            0u);
  EXPECT_EQ(load_error(clex_config({{"type", "clex"}, {"max_factor", 4}, {"param_factor", 0}}), o)
                .rfind("rope_scaling.param_factor: ", 0),
            0u);
  auto cfg = clex_config({{"type", "clex"}, {"max_factor", 4}});
  cfg["log_scale"] = "yes";
  EXPECT_EQ(load_error(cfg, o).rfind("log_scale: ", 0), 0u) << load_error(cfg, o);
  cfg = clex_config({{"type", "clex"}, {"max_factor", 4}});
  cfg.erase("max_position_embeddings");
  EXPECT_NE(load_error(cfg, o).find("max_position_embeddings"), std::string::npos);
  // Checkpoint problems name the file and the tensor; p must match the checkpoint.
  const auto p2 =
      load_error(clex_config({{"type", "clex"}, {"max_factor", 4}, {"param_factor", 2}}), o);
  EXPECT_NE(p2.find(o.weights->string()), std::string::npos) << p2;
  EXPECT_NE(p2.find("ode_up_proj"), std::string::npos) << p2;
  o.weights =
      write_clex_checkpoint("bad_inv.safetensors", 16, 1, true, 1.05);  // θ off by 5% > 2^-7
  const auto bad_inv = load_error(clex_config({{"type", "clex"}, {"max_factor", 4}}), o);
  EXPECT_NE(bad_inv.find("model.clex_layer.inv_freq"), std::string::npos) << bad_inv;
  EXPECT_NE(bad_inv.find("bad_inv.safetensors"), std::string::npos) << bad_inv;
  o.use_checkpoint_inv_freq = false;  // the opt-out ignores the tensor
  EXPECT_EQ(load_error(clex_config({{"type", "clex"}, {"max_factor", 4}}), o), "<no error>");
  o.weights = scratch_dir("clex_loader") / "missing.safetensors";
  EXPECT_NE(
      load_error(clex_config({{"type", "clex"}, {"max_factor", 4}}), o).find("missing.safetensors"),
      std::string::npos);
}

TEST(ClexLoader, BundledLlama2Config) {
  ropescale::load_options o;
  o.weights = write_clex_checkpoint("d128.safetensors", 128, 1, false);
  const auto c = ropescale::load_hf_config_file(
      std::string(ROPESCALE_SOURCE_DIR) + "/examples/configs/clex-llama-2-7b-64k.json", o);
  const auto* m = c.method.get_if<clex<double>>();
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->params().max_factor, 64);
  EXPECT_EQ(m->params().act, "tanh");
  EXPECT_FALSE(m->params().log_scale);
  EXPECT_EQ(m->rotary_dim(), 128);
  EXPECT_EQ(m->scale_for(4096 * 64 + 1), 64);
  EXPECT_EQ(c.max_position_embeddings, 4096);
}

TEST(ClexCosSin, SameCachePathAsEveryMethod) {
  // The table for S feeds the shared cos/sin cache (A = 1, no log_scale folded in): row p holds
  // cos(p·ω_k) then sin(p·ω_k), within the docs/reference.md §5.2 bound of 2e-7.
  const auto params = make_params(32, 1, 4, "tanh", 0.05, 1e4, false, 71, 1.0, 1024);
  const clex<double> m(params);
  const ropescale::method any = clex<double>(params);
  for (std::int64_t s : {std::int64_t{1000}, std::int64_t{3000}}) {
    const auto f = ropescale::frequencies_of(any, ropescale::angle_mode::accurate, s);
    EXPECT_EQ(f.inv_freq, m.inv_freq(s));
    EXPECT_EQ(f.attention_factor, 1.0);
    const std::int64_t n = m.pairs();
    std::vector<float> row(static_cast<std::size_t>(2 * n));
    for (std::int64_t pos :
         {std::int64_t{0}, std::int64_t{1}, std::int64_t{2999}, std::int64_t{1000000}}) {
      ropescale::compute_cos_sin_row(f, pos, row.data());
      for (std::int64_t k = 0; k < n; ++k) {
        const long double angle =
            static_cast<long double>(pos) * static_cast<long double>(f.inv_freq[k]);
        EXPECT_NEAR(row[k], static_cast<double>(std::cos(angle)), 2e-7) << pos << " " << k;
        EXPECT_NEAR(row[n + k], static_cast<double>(std::sin(angle)), 2e-7) << pos << " " << k;
      }
    }
  }
}

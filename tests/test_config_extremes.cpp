// SPDX-License-Identifier: Apache-2.0
// Config extremes: values at the edges of what docs/reference.md §2.5 accepts, through the
// config.json loader and the method API. Accepted extremes must give usable methods: every table
// finite and > 0 (proportional: >= 0) with the right length, non-increasing where the method is
// monotone, A and the scales finite, a cos/sin cache and one rotation that keep every pair's norm ×
// A. Rejected ones must throw std::invalid_argument naming the key. Covered: θ just above 1 and
// 1e300, factor 1 + 1e-12, 1e6 and 1e300, head_dim 2 and 1024, L and S at 2^31, 2^53 and beyond,
// non-finite numbers in longrope arrays, CLEX T = 1 and T = 1024 (against the W_down = 0 closed
// form, docs/reference.md §4.7), Δ = 1. Detailed per-key rejection messages live in
// test_hf_config.cpp, test_methods_validation.cpp and test_clex.cpp; the rejection rows here run
// only to print the bad-input table: with ROPESCALE_BAD_INPUT_TABLE_DIR set, the markdown rows
// (input, behaviour, the message the code really prints) go to
// $ROPESCALE_BAD_INPUT_TABLE_DIR/config_extremes.md.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/hf_config.hpp"
#include "ropescale/method.hpp"
#include "ropescale/methods/clex.hpp"
#include "ropescale/safetensors.hpp"
#include "support/bad_input_table.hpp"

namespace {

using ropescale::load_hf_config_string;
using ropescale::method;

constexpr std::int64_t k2p31 = std::int64_t{1} << 31;
constexpr std::int64_t k2p53 = std::int64_t{1} << 53;

using support::rows_out;
const auto* const writer_env =
    ::testing::AddGlobalTestEnvironment(new support::table_writer("config_extremes.md", true));

// Invariants of an accepted method at initial S and at the S values given.
void expect_usable(const method& m, const std::vector<std::int64_t>& seq_lens = {}) {
  const std::string type(m.rope_type());
  SCOPED_TRACE(type);
  const std::int64_t n = m.pairs();
  ASSERT_EQ(n * 2, m.rotary_dim());
  const bool monotone = type != "longrope";
  std::vector<std::optional<std::int64_t>> all = {std::nullopt};
  for (std::int64_t s : seq_lens) all.push_back(s);
  for (const auto& s : all) {
    SCOPED_TRACE(s ? "S = " + std::to_string(*s) : std::string("S absent"));
    const std::vector<double> w = m.inv_freq(s);
    const std::vector<float> w32 = m.inv_freq_hf_f32(s);
    const double a = m.attention_factor(s);
    ASSERT_EQ(static_cast<std::int64_t>(w.size()), n);
    ASSERT_EQ(static_cast<std::int64_t>(w32.size()), n);
    EXPECT_TRUE(std::isfinite(a) && a > 0.0) << a;
    for (std::int64_t i = 0; i < n; ++i) {
      EXPECT_TRUE(std::isfinite(w[i])) << i;
      EXPECT_TRUE(std::isfinite(w32[i]) && w32[i] >= 0.0f) << i;
      if (type == "proportional") {
        EXPECT_GE(w[i], 0.0) << i;
      } else {
        EXPECT_GT(w[i], 0.0) << i;
      }
      if (monotone && i > 0) {
        EXPECT_LE(w[i], w[i - 1]) << i;
      }
    }
    if (s) {
      const double q = m.query_scale(*s);
      EXPECT_TRUE(std::isfinite(q) && q >= 0.0) << q;
    }
    // A small cache and one rotation of a head: norms × A, pass-through untouched.
    const ropescale::cos_sin_rows rows(
        ropescale::frequency_table{w, {}, a, ropescale::angle_mode::accurate}, 3);
    const std::int64_t h = m.head_dim();
    if (h > 4096) continue;
    std::vector<float> x(static_cast<std::size_t>(h));
    for (std::int64_t c = 0; c < h; ++c) x[c] = 0.5f + 0.001f * static_cast<float>(c % 97);
    const std::vector<float> x0 = x;
    const std::int64_t p = 2;
    ropescale::apply_rotary(ropescale::dense_view(x.data(), 1, 1, h), rows,
                            ropescale::token_positions::list(&p, 1), ropescale::layout::neox,
                            m.rotary_dim());
    for (std::int64_t i = 0; i < n; ++i) {
      const double in = std::hypot(x0[i], x0[i + n]), out = std::hypot(x[i], x[i + n]);
      EXPECT_NEAR(out, a * in, 2e-6 * a * in) << "pair " << i;
    }
    for (std::int64_t c = m.rotary_dim(); c < h; ++c) EXPECT_EQ(x[c], x0[c]);
  }
}

method load(const std::string& text) { return load_hf_config_string(text).method; }

// A config for `type` with extra dict entries, H, θ and L.
std::string config(const std::string& type, const std::string& extra, std::int64_t head_dim = 128,
                   const std::string& theta = "10000", const std::string& l = "131072") {
  std::string dict = "\"rope_type\": \"" + type + "\"";
  if (!extra.empty()) dict += ", " + extra;
  return "{\"head_dim\": " + std::to_string(head_dim) + ", \"rope_theta\": " + theta +
         ", \"max_position_embeddings\": " + l + ", \"rope_scaling\": {" + dict + "}}";
}

std::string longrope_arrays(std::int64_t n, double s, double l) {
  std::string a = "\"short_factor\": [", b = "\"long_factor\": [";
  for (std::int64_t i = 0; i < n; ++i) {
    a += (i ? "," : "") + std::to_string(s + 0.01 * static_cast<double>(i));
    b += (i ? "," : "") + std::to_string(l + 0.5 * static_cast<double>(i));
  }
  return a + "], " + b + "], \"original_max_position_embeddings\": 4096";
}

// Every closed-form type with factor s (as JSON text) at head dim H and θ.
std::vector<std::string> all_types(const std::string& s, std::int64_t head_dim,
                                   const std::string& theta) {
  const std::string f = "\"factor\": " + s;
  return {config("default", "", head_dim, theta),
          config("linear", f, head_dim, theta),
          config("ntk", f, head_dim, theta),
          config("dynamic", f, head_dim, theta),
          config("yarn", f + ", \"original_max_position_embeddings\": 4096", head_dim, theta),
          config("llama3",
                 f + ", \"low_freq_factor\": 1, \"high_freq_factor\": 4, "
                     "\"original_max_position_embeddings\": 8192",
                 head_dim, theta),
          config("longrope", f + ", " + longrope_arrays(head_dim / 2, 1.0, 1.5), head_dim, theta),
          config("proportional", f, head_dim, theta)};
}

// Records a rejection for the table; requires std::invalid_argument mentioning `key`.
void reject_row(const std::string& input, const std::string& key,
                const std::function<void()>& call) {
  SCOPED_TRACE(input);
  std::string message;
  try {
    call();
    ADD_FAILURE() << "accepted: " << input;
  } catch (const std::invalid_argument& e) {
    message = e.what();
    EXPECT_NE(message.find(key), std::string::npos) << message;
  }
  rows_out().push_back({input, "throws invalid_parameter", message});
}

void accept_row(const std::string& input, const std::string& behaviour) {
  rows_out().push_back({input, behaviour, ""});
}

// ---------------------------------------------------------------------------------------------
// θ.

TEST(ConfigExtremes, ThetaJustAboveOneAndHuge) {
  for (const char* theta : {"1.0000001", "1.0000000000000002", "1e300"}) {
    SCOPED_TRACE(theta);
    for (const std::string& c : all_types("2.0", 64, theta)) {
      expect_usable(load(c), {1, 4096, 200000});
    }
  }
  // θ → 1⁺: every ω⁰ tends to 1 (no rotation speed difference between pairs).
  const auto w = load(config("default", "", 64, "1.0000001")).inv_freq();
  EXPECT_NEAR(w.back(), 1.0, 1e-6);
  // θ = 1e300: ω⁰_{n−1} = 1e300^(−62/64) is tiny but positive; binary32 θ is inf, so HF's f32
  // table (docs/reference.md §5.3) is 0 beyond ω⁰_0 — documented, and the f32 cache stays finite.
  const method huge = load(config("default", "", 64, "1e300"));
  EXPECT_GT(huge.inv_freq().back(), 0.0);
  EXPECT_EQ(huge.inv_freq_hf_f32().back(), 0.0f);
  ropescale::frequency_table f32{huge.inv_freq(), huge.inv_freq_hf_f32(), 1.0,
                                 ropescale::angle_mode::f32};
  EXPECT_NO_THROW(ropescale::cos_sin_table(f32, 16));
  accept_row("`rope_theta` 1.0000001 or 1e300 (every type)",
             "accepted; tables finite and > 0 (θ = 1e300: the HF-f32 table is 0 beyond pair 0, "
             "since fl32(θ) = inf)");
  reject_row("`rope_theta` 1", "rope_theta", [] { load(config("default", "", 64, "1")); });
  reject_row("`rope_theta` 1e400 in the JSON text", "number overflow",
             [] { load(config("default", "", 64, "1e400")); });
}

// ---------------------------------------------------------------------------------------------
// factor.

TEST(ConfigExtremes, FactorNearOneIsContinuousWithDefault) {
  const std::vector<double> base = load(config("default", "", 128)).inv_freq();
  for (const std::string& c : all_types("1.000000000001", 128, "10000")) {
    const method m = load(c);
    if (m.rope_type() == "longrope") continue;  // its table comes from the factor arrays
    expect_usable(m, {1, 131072, 1 << 20});
    SCOPED_TRACE(std::string(m.rope_type()));
    // dynamic scales by k = s·S/L − (s − 1) → S/L as s → 1, so only S <= L is the default.
    const std::int64_t long_s = m.rope_type() == "dynamic" ? 131072 : 1 << 20;
    for (std::optional<std::int64_t> s :
         {std::optional<std::int64_t>{}, std::optional<std::int64_t>{long_s}}) {
      const std::vector<double> w = m.inv_freq(s);
      for (std::size_t i = 0; i < w.size(); ++i) EXPECT_NEAR(w[i] / base[i], 1.0, 1e-11) << i;
      EXPECT_NEAR(m.attention_factor(s), 1.0, 1e-11);
    }
  }
}

TEST(ConfigExtremes, FactorOneMillionAndHuge) {
  for (const char* s : {"1e6", "1e300"}) {
    SCOPED_TRACE(s);
    for (const std::string& c : all_types(s, 128, "500000")) {
      expect_usable(load(c), {1, 4096, 131072, k2p31, k2p53});
    }
  }
  // Closed forms at s = 1e6.
  const double s = 1e6;
  const std::vector<double> base = load(config("default", "", 128, "500000")).inv_freq();
  const method lin = load(config("linear", "\"factor\": 1e6", 128, "500000"));
  for (std::size_t i = 0; i < base.size(); ++i)
    EXPECT_NEAR(lin.inv_freq()[i] * s / base[i], 1.0, 1e-15);
  const method y = load(
      config("yarn", "\"factor\": 1e6, \"original_max_position_embeddings\": 4096", 128, "500000"));
  EXPECT_NEAR(y.attention_factor(), 0.1 * std::log(s) + 1.0, 1e-14);
  EXPECT_NEAR(y.inv_freq().back() * s / base.back(), 1.0, 1e-14);  // last pair fully interpolated
  accept_row("`factor` 1e6 or 1e300 (every type that reads it), S up to 2^53",
             "accepted; tables finite and > 0, A finite (yarn: 0.1·ln s + 1)");
  reject_row("`factor` 0.999999", "factor", [] { load(config("linear", "\"factor\": 0.999999")); });
}

// ---------------------------------------------------------------------------------------------
// head_dim.

TEST(ConfigExtremes, HeadDimTwoAnd1024) {
  for (const std::string& c : all_types("4.0", 1024, "10000")) expect_usable(load(c), {1, 200000});
  // d = 2: one pair, ω_0 = 1 (default) — every type whose d may be 2.
  for (const std::string& c : all_types("4.0", 2, "10000")) {
    const std::string type = c.substr(c.find("rope_type") + 13, 3);
    if (type == "ntk" || type == "dyn") {
      reject_row("`head_dim` 2 with type " + std::string(type == "ntk" ? "ntk" : "dynamic") +
                     " (d − 2 = 0 is a denominator)",
                 "head_dim", [&] { load(c); });
      continue;
    }
    const method m = load(c);
    expect_usable(m, {1, 200000});
    EXPECT_EQ(m.pairs(), 1);
  }
  EXPECT_EQ(load(config("default", "", 2)).inv_freq(), std::vector<double>{1.0});
  accept_row("`head_dim` 2 (d = 2) or 1024", "accepted (ntk, dynamic, clex need d >= 4)");
  reject_row("`head_dim` 1 (d = 1 is odd)", "head_dim", [] { load(config("default", "", 1)); });
}

// ---------------------------------------------------------------------------------------------
// Positions: L, L0 and S at 2^31, 2^53 and beyond.

TEST(ConfigExtremes, MaxPositionsAt2p31And2p53) {
  for (const char* l : {"2147483648", "2147483649", "9007199254740992"}) {
    SCOPED_TRACE(l);
    const std::string f = "\"factor\": 8";
    for (const std::string& c :
         {config("dynamic", f, 128, "10000", l),
          config("yarn", f + ", \"original_max_position_embeddings\": 2147483648", 128, "10000", l),
          config("llama3",
                 f + ", \"low_freq_factor\": 1, \"high_freq_factor\": 4, "
                     "\"original_max_position_embeddings\": 2147483648",
                 128, "10000", l),
          config("longrope", longrope_arrays(64, 1.0, 2.0), 128, "10000", l)}) {
      const auto lc = load_hf_config_string(c);
      EXPECT_EQ(lc.max_position_embeddings, std::stoll(l));
      expect_usable(lc.method,
                    {1, k2p31, k2p31 + 1, k2p53, std::numeric_limits<std::int64_t>::max()});
    }
  }
  accept_row(
      "`max_position_embeddings` / `original_max_position_embeddings` 2^31, 2^31 + 1, "
      "2^53; S (`seq_len`) up to INT64_MAX",
      "accepted; tables finite (a cos/sin cache still holds at most 2^31 + 1 positions)");
  reject_row("`max_position_embeddings` 2^53 + 1", "max_position_embeddings",
             [] { load(config("dynamic", "\"factor\": 2", 128, "10000", "9007199254740993")); });
  reject_row("`max_position_embeddings` 1e300", "max_position_embeddings",
             [] { load(config("dynamic", "\"factor\": 2", 128, "10000", "1e300")); });
  reject_row("`max_position_embeddings` 2^64 (JSON unsigned)", "max_position_embeddings", [] {
    load(config("dynamic", "\"factor\": 2", 128, "10000", "18446744073709551615"));
  });
  reject_row("`seq_len` 0 (API)", "seq_len",
             [] { (void)load(config("dynamic", "\"factor\": 2")).inv_freq(0); });
}

// ---------------------------------------------------------------------------------------------
// longrope arrays with non-finite numbers.

TEST(ConfigExtremes, LongropeArraysWithNonFiniteNumbers) {
  std::string arrays = longrope_arrays(64, 1.0, 2.0);
  // JSON has no NaN literal: the text is malformed.
  std::string with_nan = arrays;
  with_nan.replace(with_nan.find("1.000000"), 8, "NaN");
  reject_row("longrope `short_factor` containing `NaN` (not JSON)", "malformed JSON",
             [&] { load(config("longrope", with_nan)); });
  std::string with_inf = arrays;
  with_inf.replace(with_inf.find("2.500000"), 8, "1e999");
  reject_row("longrope `long_factor` containing 1e999", "number overflow",
             [&] { load(config("longrope", with_inf)); });
  std::string with_null = arrays;
  with_null.replace(with_null.find("1.000000"), 8, "null");
  reject_row("longrope `short_factor` containing null", "short_factor[0]",
             [&] { load(config("longrope", with_null)); });
  // Through the API: NaN anywhere in either array is rejected with its index.
  ropescale::longrope_params p;
  p.head_dim = 8;
  p.original_max_position_embeddings = 16;
  p.max_position_embeddings = 64;
  p.short_factor = {1, 1, 1, 1};
  p.long_factor = {2, 2, std::nan(""), 2};
  reject_row("API: longrope_params::long_factor[2] = NaN", "long_factor",
             [&] { ropescale::longrope<double> m(p); });
}

// ---------------------------------------------------------------------------------------------
// CLEX T and Δ extremes (API; the loader's CLEX branch is tested with the CLEX loader).

ropescale::clex_params clex_base(std::int64_t t, double dt, bool zero_down) {
  ropescale::clex_params p;
  p.head_dim = 16;
  p.rope_theta = 10000.0;
  p.max_position_embeddings = 64;
  p.max_factor = t;
  p.param_factor = 1;
  p.act = "tanh";
  p.time_dt = dt;
  const std::size_t n = 8, pd = 16;
  p.ode_up_proj.assign(n * pd, 0.0);
  p.ode_down_proj.assign(pd * n, 0.0);
  for (std::size_t i = 0; i < n * pd; ++i) p.ode_up_proj[i] = 0.05 * std::sin(0.3 * i);
  if (!zero_down) {
    for (std::size_t i = 0; i < pd * n; ++i) p.ode_down_proj[i] = 0.02 * std::cos(0.9 * i);
  }
  return p;
}

// ω_k(t) = θ_k·(2t − 1)^(−2k/(d−2)) in long double (docs/reference.md §4.7, W_down = 0).
long double clex_closed_form(std::int64_t k, std::int64_t t, std::int64_t d) {
  const long double theta_k = std::pow(10000.0L, -2.0L * k / d);
  return theta_k * std::pow(2.0L * t - 1.0L, -2.0L * k / (d - 2));
}

TEST(ConfigExtremes, ClexMaxFactorOne) {
  const ropescale::clex<double> m(clex_base(1, 0.01, false));
  const std::vector<double> theta = m.inv_freq();
  for (std::int64_t s : {std::int64_t{1}, std::int64_t{64}, std::int64_t{65}, k2p53,
                         std::numeric_limits<std::int64_t>::max()}) {
    EXPECT_EQ(m.scale_for(s), 1);
    EXPECT_EQ(m.inv_freq(s), theta) << s;  // t = 1 is θ itself, for every S
  }
  EXPECT_TRUE(m.beyond_trained_range(65));
  expect_usable(method(m), {1, 65, k2p53});
  accept_row("CLEX `max_factor` T = 1",
             "accepted; every S uses θ (t = 1), S > L is beyond the "
             "trained range");
}

TEST(ConfigExtremes, ClexMaxFactor1024MatchesClosedForm) {
  // Δ = 0.25 keeps the solve short (4092 steps) even in sanitizer builds; the 3/8 rule's error
  // on g ∝ 1/(2t − 1) is largest near t = 1 and stays far below 1e-4 relative here.
  const ropescale::clex<double> m(clex_base(1024, 0.25, true));
  const std::int64_t d = m.rotary_dim();
  for (std::int64_t t : {std::int64_t{2}, std::int64_t{17}, std::int64_t{1024}}) {
    const std::vector<double> w = m.inv_freq_for_scale(t);
    for (std::int64_t k = 0; k < m.pairs(); ++k) {
      const long double want = clex_closed_form(k, t, d);
      EXPECT_NEAR(static_cast<double>(w[k] / want), 1.0, 1e-4) << "t " << t << " k " << k;
    }
  }
  EXPECT_EQ(m.scale_for(std::numeric_limits<std::int64_t>::max()), 1024);
  expect_usable(method(m), {1, 64 * 1024, 64 * 1024 + 1, std::numeric_limits<std::int64_t>::max()});
  accept_row("CLEX `max_factor` T = 1024",
             "accepted; the table for t = 1 … 1024 is built on first "
             "need, rows match the W_down = 0 closed form");
}

TEST(ConfigExtremes, ClexTimeStepExtremes) {
  // Δ = 1 is the largest allowed step.
  const ropescale::clex<double> big(clex_base(4, 1.0, true));
  const std::vector<double> w = big.inv_freq_for_scale(4);
  for (std::int64_t k = 0; k < big.pairs(); ++k) {
    EXPECT_NEAR(static_cast<double>(w[k] / clex_closed_form(k, 4, big.rotary_dim())), 1.0, 1e-2);
  }
  accept_row("CLEX `time_dt` Δ = 1", "accepted (one RK step per unit of t)");
  for (double dt : {0.0, -0.01, 1.0000001}) {
    reject_row("CLEX `time_dt` Δ = " + ropescale::detail::format_double(dt), "time_dt",
               [&] { ropescale::clex<double> m(clex_base(4, dt, true)); });
  }
  reject_row("CLEX (T − 1)/Δ > 10^7 steps (T = 1024, Δ = 1e-4)", "max_factor",
             [&] { ropescale::clex<double> m(clex_base(1024, 1e-4, true)); });
  reject_row("CLEX `max_factor` 0", "max_factor",
             [&] { ropescale::clex<double> m(clex_base(0, 0.01, true)); });
}

}  // namespace

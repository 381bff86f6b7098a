// SPDX-License-Identifier: Apache-2.0
// Tests of ropescale-compare's report (examples/compare_report.hpp) against closed forms and
// counts recomputed here in long double, independently of the library: PI scales every pair by
// 1/s; NTK keeps pair 0 and divides the last pair by s; Dynamic NTK at S = C = s·L acts as NTK at
// k = s² − s + 1; YaRN keeps pair 0, divides the last by s and has A = 0.1 ln s + 1; Llama-3's
// bands; LongRoPE's A = √(1 + ln s / ln L0); counts of pairs with wavelength > L or > C and of
// out-of-distribution pairs; and the command-line parser's accept/reject rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../examples/compare_report.hpp"

namespace {

namespace cmp = ropescale::examples::compare;
using ld = long double;

constexpr ld two_pi_ld = 6.283185307179586476925286766559005768394L;

/// ω⁰_i = θ^(−2i/d) in long double, written here independently of the library.
ld base_omega(ld theta, std::int64_t i, std::int64_t d) {
  return std::pow(theta, -2.0L * static_cast<ld>(i) / static_cast<ld>(d));
}

cmp::base_rope make_base(double theta, std::int64_t head_dim, std::int64_t L) {
  cmp::base_rope b;
  b.config = "test";
  b.rope_type = "default";
  b.rope_theta = theta;
  b.head_dim = head_dim;
  b.partial_rotary_factor = 1.0;
  b.rotary_dim = head_dim;
  b.pairs = head_dim / 2;
  b.original_context = L;
  return b;
}

const cmp::method_result& find(const cmp::context_result& c, const std::string& key) {
  for (const auto& m : c.methods) {
    if (m.key == key) return m;
  }
  throw std::runtime_error("method not in report: " + key);
}

struct Case {
  double theta;
  std::int64_t head_dim;
  std::int64_t L;
};

const Case kCases[] = {
    {10000.0, 128, 4096}, {500000.0, 128, 8192}, {1e6, 64, 32768}, {10000.0, 80, 2048}};
const std::int64_t kMultiples[] = {1, 2, 4, 8, 32};

TEST(CompareReport, PiScalesEveryPairByInverseFactor) {
  for (const Case& k : kCases) {
    for (const std::int64_t mult : kMultiples) {
      const std::int64_t C = k.L * mult;
      const auto r = cmp::build_report(make_base(k.theta, k.head_dim, k.L), {C}, {"pi"}, {}, true);
      const auto& m = find(r.contexts[0], "pi");
      const double s = static_cast<double>(mult);
      EXPECT_DOUBLE_EQ(r.contexts[0].factor, s);
      for (const double v : m.metrics.scale) EXPECT_NEAR(v, 1.0 / s, 1e-15);
      EXPECT_NEAR(m.metrics.hf_kept, 1.0 / s, 1e-14);
      EXPECT_EQ(m.attention_factor, 1.0);
      // PI maps C positions onto exactly the trained span: no out-of-distribution pair.
      EXPECT_EQ(m.metrics.ood_pairs, 0) << "theta " << k.theta << " C " << C;
      EXPECT_LE(m.metrics.max_angle_ratio, 1.0 + 1e-9);
    }
  }
}

TEST(CompareReport, NtkKeepsPairZeroAndDividesLastPair) {
  for (const Case& k : kCases) {
    for (const std::int64_t mult : kMultiples) {
      const std::int64_t C = k.L * mult;
      const auto r = cmp::build_report(make_base(k.theta, k.head_dim, k.L), {C}, {"ntk"}, {}, true);
      const auto& m = find(r.contexts[0], "ntk");
      const double s = static_cast<double>(mult);
      EXPECT_NEAR(m.metrics.scale.front(), 1.0, 1e-15);
      EXPECT_NEAR(m.metrics.scale.back(), 1.0 / s, 1e-14);
      // Closed form for every pair: s^(−2i/(d−2)).
      const std::int64_t d = k.head_dim;
      for (std::size_t i = 0; i < m.metrics.scale.size(); ++i) {
        const ld expect =
            std::pow(static_cast<ld>(s), -2.0L * static_cast<ld>(i) / static_cast<ld>(d - 2));
        EXPECT_NEAR(m.metrics.scale[i], static_cast<double>(expect), 1e-14);
      }
      EXPECT_DOUBLE_EQ(m.metrics.step0, 1.0);  // ω_0 = 1 rad/token, unchanged
    }
  }
}

TEST(CompareReport, WavelengthCountsMatchIndependentCount) {
  for (const Case& k : kCases) {
    for (const std::int64_t mult : kMultiples) {
      const std::int64_t C = k.L * mult;
      const auto r =
          cmp::build_report(make_base(k.theta, k.head_dim, k.L), {C}, {"pi", "ntk"}, {}, true);
      const std::int64_t d = k.head_dim;
      const ld s = static_cast<ld>(mult);
      std::int64_t base_gt_L = 0, base_gt_C = 0, pi_gt_L = 0, pi_gt_C = 0, ntk_gt_L = 0;
      std::int64_t base_ood = 0, ntk_ood = 0;
      for (std::int64_t i = 0; i < d / 2; ++i) {
        const ld w0 = base_omega(static_cast<ld>(k.theta), i, d);
        const ld lambda0 = two_pi_ld / w0;
        const ld w_ntk = w0 * std::pow(s, -2.0L * static_cast<ld>(i) / static_cast<ld>(d - 2));
        base_gt_L += lambda0 > static_cast<ld>(k.L);
        base_gt_C += lambda0 > static_cast<ld>(C);
        pi_gt_L += lambda0 * s > static_cast<ld>(k.L);
        pi_gt_C += lambda0 * s > static_cast<ld>(C);
        ntk_gt_L += two_pi_ld / w_ntk > static_cast<ld>(k.L);
        // Out of distribution: the pair did not finish a turn in training and covers more angle
        // at C than in training.
        const ld train = std::min(static_cast<ld>(k.L) * w0, two_pi_ld);
        base_ood += std::min(static_cast<ld>(C) * w0, two_pi_ld) > train * (1 + 1e-9L);
        ntk_ood += std::min(static_cast<ld>(C) * w_ntk, two_pi_ld) > train * (1 + 1e-9L);
      }
      const auto& c = r.contexts[0];
      SCOPED_TRACE("theta " + std::to_string(k.theta) + " C " + std::to_string(C));
      EXPECT_EQ(c.unscaled.pairs_wavelength_gt_L, base_gt_L);
      EXPECT_EQ(c.unscaled.pairs_wavelength_gt_context, base_gt_C);
      EXPECT_EQ(c.unscaled.ood_pairs, mult == 1 ? 0 : base_gt_L);
      EXPECT_EQ(c.unscaled.ood_pairs, base_ood);
      EXPECT_EQ(find(c, "pi").metrics.pairs_wavelength_gt_L, pi_gt_L);
      EXPECT_EQ(find(c, "pi").metrics.pairs_wavelength_gt_context, pi_gt_C);
      EXPECT_EQ(find(c, "ntk").metrics.pairs_wavelength_gt_L, ntk_gt_L);
      EXPECT_EQ(find(c, "ntk").metrics.ood_pairs, ntk_ood);
    }
  }
}

TEST(CompareReport, AnglesAndWavelengthsFollowTheirDefinitions) {
  const std::int64_t L = 4096, C = 65536;
  const auto r = cmp::build_report(make_base(10000.0, 128, L), {C}, {"pi"}, {}, true);
  const auto& c = r.contexts[0];
  const auto& m = find(c, "pi");
  for (std::int64_t i = 0; i < 64; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const ld w0 = base_omega(10000.0L, i, 128);
    const ld w = w0 / 16.0L;
    EXPECT_NEAR(m.metrics.wavelength[k] / static_cast<double>(two_pi_ld / w), 1.0, 1e-14);
    EXPECT_NEAR(m.metrics.max_angle[k] / static_cast<double>((C - 1) * w), 1.0, 1e-14);
    EXPECT_NEAR(m.metrics.train_max_angle[k] / static_cast<double>((L - 1) * w0), 1.0, 1e-14);
  }
  EXPECT_EQ(m.short_change, 1.0 - 1.0 / 16.0);  // static: prompts <= L see the scaled table too
}

TEST(CompareReport, DynamicAtTargetActsAsNtkAtSquaredFactor) {
  const std::int64_t L = 4096;
  for (const std::int64_t mult : {2, 4, 8}) {
    const auto r = cmp::build_report(make_base(10000.0, 128, L), {L * mult}, {"dynamic"}, {}, true);
    const auto& m = find(r.contexts[0], "dynamic");
    const ld s = static_cast<ld>(mult);
    const ld k = s * s - s + 1.0L;  // s·C/L − (s − 1) with C = s·L
    EXPECT_NEAR(m.metrics.scale.front(), 1.0, 1e-15);
    EXPECT_NEAR(m.metrics.scale.back(), static_cast<double>(1.0L / k), 1e-13);
    EXPECT_EQ(m.short_change, 0.0);  // S = L: the default table exactly
  }
}

TEST(CompareReport, YarnKeepsHighFrequencyAndHasClosedFormA) {
  const std::int64_t L = 4096;
  for (const std::int64_t mult : {2, 8, 32}) {
    const auto r = cmp::build_report(make_base(10000.0, 128, L), {L * mult}, {"yarn"}, {}, true);
    const auto& m = find(r.contexts[0], "yarn");
    const double s = static_cast<double>(mult);
    EXPECT_EQ(m.metrics.scale.front(), 1.0);
    EXPECT_NEAR(m.metrics.scale.back(), 1.0 / s, 1e-15);
    EXPECT_NEAR(m.attention_factor, 0.1 * std::log(s) + 1.0, 1e-15);
    EXPECT_EQ(m.metrics.hf_kept, 1.0);  // the top quarter is above the β_fast = 32 turns bound
  }
}

TEST(CompareReport, Llama3BandsUseDefaultsWithoutConfig) {
  const std::int64_t L = 8192, C = 65536;
  const auto r = cmp::build_report(make_base(500000.0, 128, L), {C}, {"llama3"}, {}, true);
  const auto& m = find(r.contexts[0], "llama3");
  ASSERT_FALSE(r.notes.empty());  // says which bands were used
  for (std::int64_t i = 0; i < 64; ++i) {
    const ld lambda = two_pi_ld / base_omega(500000.0L, i, 128);
    const double v = m.metrics.scale[static_cast<std::size_t>(i)];
    if (lambda < static_cast<ld>(L) / 4.0L) {
      EXPECT_EQ(v, 1.0) << i;
    }
    if (lambda > static_cast<ld>(L) / 1.0L) {
      EXPECT_NEAR(v, 1.0 / 8.0, 1e-15) << i;
    }
    EXPECT_GE(v, 1.0 / 8.0 - 1e-15);
    EXPECT_LE(v, 1.0 + 1e-15);
  }
}

TEST(CompareReport, LongropeFromConfigWithClosedFormA) {
  const std::int64_t L = 4096, C = 131072;
  cmp::method_sources src;
  ropescale::longrope_params lp;
  for (int i = 0; i < 48; ++i) {
    lp.short_factor.push_back(1.0 + 0.01 * i);
    lp.long_factor.push_back(1.0 + 0.5 * i);
  }
  src.longrope.emplace(lp);
  const auto r = cmp::build_report(make_base(10000.0, 96, L), {C}, {"longrope"}, src, true);
  const auto& m = find(r.contexts[0], "longrope");
  const double s = 32.0;
  EXPECT_NEAR(m.attention_factor, std::sqrt(1.0 + std::log(s) / std::log(4096.0)), 1e-15);
  for (std::size_t i = 0; i < 48; ++i) {
    EXPECT_NEAR(m.metrics.scale[i] * lp.long_factor[i], 1.0, 1e-14) << i;
  }
  // At S = L the short factors apply.
  EXPECT_NEAR(m.short_change, 0.47 / 1.47, 1e-12);
}

TEST(CompareReport, ExternalMethodIsReportedAsGiven) {
  const std::int64_t L = 4096;
  cmp::method_sources src;
  cmp::external_method e;
  e.rope_type = "clex";
  e.inv_freq = [](std::int64_t S) {
    std::vector<double> w;
    const ld t = static_cast<ld>((S + 4095) / 4096);
    for (std::int64_t i = 0; i < 64; ++i) {
      w.push_back(static_cast<double>(base_omega(10000.0L, i, 128) / t));
    }
    return w;
  };
  e.query_scale = [](std::int64_t S) {
    return std::log(static_cast<double>(S)) / std::log(4096.0);
  };
  e.factor = [](std::int64_t S) { return static_cast<double>((S + 4095) / 4096); };
  src.clex.emplace(e);
  const auto r = cmp::build_report(make_base(10000.0, 128, L), {4 * L}, {"clex"}, src, true);
  const auto& m = find(r.contexts[0], "clex");
  EXPECT_EQ(m.factor, 4.0);
  EXPECT_NEAR(m.query_scale, std::log(16384.0) / std::log(4096.0), 1e-15);
  EXPECT_NEAR(m.metrics.scale[10], 0.25, 1e-15);
  EXPECT_EQ(m.short_change, 0.0);
}

TEST(CompareReport, UnavailableMethodsThrowWhenRequestedAndAreNotedOtherwise) {
  const auto base = make_base(10000.0, 128, 4096);
  try {
    (void)cmp::build_report(base, {8192}, {"longrope"}, {}, true);
    FAIL() << "expected invalid_parameter";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_EQ(e.key(), "--methods");
  }
  const auto r = cmp::build_report(base, {8192}, cmp::all_method_keys(), {}, false);
  EXPECT_EQ(r.contexts[0].methods.size(), 5u);  // pi ntk dynamic yarn llama3
  EXPECT_GE(r.notes.size(), 2u);
}

TEST(CompareReport, ContextBelowOriginalThrows) {
  try {
    (void)cmp::build_report(make_base(10000.0, 128, 4096), {2048}, {"pi"}, {}, true);
    FAIL() << "expected invalid_parameter";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_EQ(e.key(), "--context");
    EXPECT_NE(std::string(e.what()).find("2048"), std::string::npos);
  }
}

TEST(CompareReport, TextAndJsonCarryEveryMethodAndContext) {
  const auto r = cmp::build_report(make_base(10000.0, 128, 4096), {16384, 65536},
                                   {"pi", "ntk", "yarn"}, {}, true);
  const std::string text = cmp::to_text(r);
  EXPECT_NE(text.find("context 16384"), std::string::npos);
  EXPECT_NE(text.find("context 65536"), std::string::npos);
  const auto j = cmp::to_json(r);
  ASSERT_EQ(j["contexts"].size(), 2u);
  for (const auto& c : j["contexts"]) {
    ASSERT_EQ(c["methods"].size(), 3u);
    for (const auto& m : c["methods"]) {
      EXPECT_EQ(m["scale"].size(), 64u);
      EXPECT_EQ(m["wavelength"].size(), 64u);
    }
  }
  const std::string md = cmp::to_markdown(r);
  EXPECT_NE(md.find("| method | s | attn |"), std::string::npos);
  EXPECT_NE(md.find("| --- | ---: |"), std::string::npos);
  EXPECT_NE(md.find("\n| yarn | 16 |"), std::string::npos);
  // Round trip through text: the dump parses back.
  EXPECT_EQ(nlohmann::json::parse(j.dump())["pairs"], 64);
}

std::vector<std::string> args(std::initializer_list<const char*> a) {
  return std::vector<std::string>(a.begin(), a.end());
}

TEST(CompareCli, AcceptsTheDocumentedForms) {
  auto r = cmp::parse_args(args({"c.json", "--context", "8192,32768", "--json"}));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.args.contexts, (std::vector<std::int64_t>{8192, 32768}));
  EXPECT_EQ(r.args.methods, cmp::all_method_keys());
  EXPECT_FALSE(r.args.methods_explicit);
  EXPECT_TRUE(r.args.json);
  r = cmp::parse_args(args({"--methods=yarn,pi", "--context=4096", "c.json", "--svg", "o.svg"}));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.args.methods, (std::vector<std::string>{"yarn", "pi"}));
  EXPECT_TRUE(r.args.methods_explicit);
  EXPECT_EQ(r.args.svg.value_or(""), "o.svg");
  r = cmp::parse_args(args({"c.json", "--context", "8192", "--markdown", "--all-pairs"}));
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.args.markdown);
  EXPECT_TRUE(r.args.all_pairs);
}

TEST(CompareCli, RejectsBadInputWithOneLine) {
  for (const auto& bad :
       {args({}), args({"c.json"}), args({"--context", "8192"}), args({"c.json", "--context", "0"}),
        args({"c.json", "--context", "-5"}), args({"c.json", "--context", "8k"}),
        args({"c.json", "--context", ""}), args({"c.json", "--context", "1,,2"}),
        args({"c.json", "--context", "99999999999999999999"}),
        args({"c.json", "--context", "8192,8192"}),
        args({"c.json", "--context", "8192", "--context", "4096"}),
        args({"c.json", "--context", "8192", "--methods", "rope"}),
        args({"c.json", "--context", "8192", "--methods", "pi,pi"}),
        args({"c.json", "--context", "8192", "--methods"}),
        args({"c.json", "--context", "8192", "--frobnicate"}),
        args({"c.json", "--context", "8192", "--json=1"}),
        args({"c.json", "--context", "8192", "--json", "--markdown"}),
        args({"c.json", "--context", "8192", "--svg", ""}),
        args({"c.json", "d.json", "--context", "8192"})}) {
    const auto r = cmp::parse_args(bad);
    EXPECT_FALSE(r.error.empty());
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
  }
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// HF-compatible binary32 tables (docs/reference.md §5.3) of every closed-form method against the
// independent binary32 recomputation in tests/support/reference_methods.hpp (double pow there,
// long double pow in the library): within 2 ulp, bit-identical in nearly all entries. Also a
// sanity bound against the accurate table (§5.1: HF's f32 error is <= 4.5e-7 relative).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
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

namespace refm = ropescale_test::refm;

const std::int64_t kHeads[] = {64, 80, 96, 128, 256};
const double kPrfs[] = {1.0, 0.5, 0.4};
const double kThetas[] = {1e4, 5e5, 1e6, 1e7};
const double kFactors[] = {1.0, 2.0, 3.7, 32.0};

struct stats {
  std::int64_t entries = 0, exact = 0, worst = 0;
  double worst_rel_accurate = 0;
  void report(const char* name) const {
    std::printf(
        "[ hf-f32 ] %-12s %lld entries, %lld bit-identical, worst %lld ulp; worst "
        "relative distance to the accurate table %.3g\n",
        name, static_cast<long long>(entries), static_cast<long long>(exact),
        static_cast<long long>(worst), worst_rel_accurate);
  }
};

// got vs the binary32 reference (<= 2 ulp), and vs the accurate double table (<= rel_bound).
void compare(const std::vector<float>& got, const std::vector<float>& ref,
             const std::vector<double>& accurate, double rel_bound, const std::string& ctx,
             stats& st) {
  ASSERT_EQ(got.size(), ref.size()) << ctx;
  ASSERT_EQ(got.size(), accurate.size()) << ctx;
  for (std::size_t i = 0; i < got.size(); ++i) {
    ++st.entries;
    if (got[i] == ref[i]) {
      ++st.exact;
    } else {
      ASSERT_TRUE(std::isfinite(got[i]) && got[i] > 0) << ctx << " i=" << i;
      const std::int64_t u = refm::float_ulp_distance(got[i], ref[i]);
      if (u > st.worst) st.worst = u;
      ASSERT_LE(u, 2) << ctx << " i=" << i << " got " << got[i] << " ref " << ref[i];
    }
    if (accurate[i] == 0) {
      ASSERT_EQ(got[i], 0.0f) << ctx << " i=" << i;
    } else {
      const double rel = std::fabs(static_cast<double>(got[i]) / accurate[i] - 1);
      if (rel > st.worst_rel_accurate) st.worst_rel_accurate = rel;
      ASSERT_LE(rel, rel_bound) << ctx << " i=" << i;
    }
  }
}

std::string ctx_of(std::int64_t H, double prf, double theta, double s) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "H=%lld prf=%g theta=%g s=%g", static_cast<long long>(H), prf,
                theta, s);
  return buf;
}

// Sanity bounds against the accurate table. Base: §5.1 states <= 4.5e-7 relative for the bases
// it measured (checked exactly in BaseErrorWithinSpecBound); θ = 1e7 reaches ~5.4e-7 (the error
// grows as ln θ·Δe). Scaled tables add binary32 roundings, and the yarn/llama3 blends amplify
// the binary32 error of the ramp by up to s.
constexpr double kBaseBound = 1e-6;
constexpr double kScaledBound = 5e-6;

TEST(HfF32, DefaultLinearNtkDynamic) {
  stats sd, sl, sn, sy;
  const std::int64_t L = 4096;
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas) {
        ropescale::default_rope<double> m0(ropescale::default_rope_params{{H, theta, prf}});
        compare(m0.inv_freq_hf_f32(), refm::f32_base(theta, d, d / 2), m0.inv_freq(), kBaseBound,
                ctx_of(H, prf, theta, 1), sd);
        for (double s : kFactors) {
          const std::string c = ctx_of(H, prf, theta, s);
          ropescale::linear<double> ml({{H, theta, prf}, s});
          compare(ml.inv_freq_hf_f32(), refm::f32_linear(theta, d, s), ml.inv_freq(), kScaledBound,
                  c, sl);
          ropescale::ntk<double> mn({{H, theta, prf}, s});
          const double theta_p =
              theta * std::pow(s, static_cast<double>(d) / static_cast<double>(d - 2));
          compare(mn.inv_freq_hf_f32(), refm::f32_ntk_theta(theta_p, d), mn.inv_freq(),
                  kScaledBound, c, sn);
          ropescale::dynamic<double> my({{H, theta, prf}, s, L});
          for (std::int64_t S : {std::int64_t{1}, L, L + 1, 3 * L, 10 * L + 7}) {
            double th = theta;
            if (S > L) {
              th = theta * std::pow(s * static_cast<double>(S) / static_cast<double>(L) - (s - 1),
                                    static_cast<double>(d) / static_cast<double>(d - 2));
            }
            compare(my.inv_freq_hf_f32(S), refm::f32_ntk_theta(th, d), my.inv_freq(S), kScaledBound,
                    c + " S=" + std::to_string(S), sy);
          }
          compare(my.inv_freq_hf_f32(), refm::f32_base(theta, d, d / 2), my.inv_freq(),
                  kScaledBound, c + " S=-", sy);
        }
      }
    }
  sd.report("default");
  sl.report("linear");
  sn.report("ntk");
  sy.report("dynamic");
}

TEST(HfF32, Yarn) {
  stats st;
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas)
        for (double s : kFactors)
          for (bool truncate : {true, false})
            for (std::int64_t L0 : {4096, 32768}) {
              ropescale::yarn_params p;
              p.head_dim = H;
              p.rope_theta = theta;
              p.partial_rotary_factor = prf;
              p.factor = s;
              p.original_max_position_embeddings = L0;
              p.truncate = truncate;
              ropescale::yarn<double> m(p);
              refm::yarn_in in{theta, d, s, L0, 32, 1, truncate};
              refm::ld lo = 0, hi = 0;
              refm::yarn_bounds(in, lo, hi);
              compare(m.inv_freq_hf_f32(),
                      refm::f32_yarn(theta, d, s, static_cast<double>(lo), static_cast<double>(hi)),
                      m.inv_freq(), kScaledBound,
                      ctx_of(H, prf, theta, s) + " trunc=" + std::to_string(truncate), st);
            }
    }
  st.report("yarn");
}

TEST(HfF32, LongropeLlama3Proportional) {
  stats sr, sl, sp;
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      for (double theta : kThetas) {
        if (d % 2 == 0 && d >= 4) {
          ropescale::longrope_params p;
          p.head_dim = H;
          p.rope_theta = theta;
          p.partial_rotary_factor = prf;
          for (std::int64_t i = 0; i < d / 2; ++i) {
            p.short_factor.push_back(1.0 + 0.0137 * static_cast<double>(i));
            p.long_factor.push_back(1.3 + 0.77 * static_cast<double>(i));
          }
          p.original_max_position_embeddings = 4096;
          p.max_position_embeddings = 131072;
          ropescale::longrope<double> m(p);
          const std::string c = ctx_of(H, prf, theta, 32);
          compare(m.inv_freq_hf_f32(), refm::f32_longrope(theta, d, p.short_factor), m.inv_freq(),
                  kScaledBound, c + " short", sr);
          compare(m.inv_freq_hf_f32(4097), refm::f32_longrope(theta, d, p.long_factor),
                  m.inv_freq(4097), kScaledBound, c + " long", sr);
          for (double s : kFactors)
            for (auto [a, b] : {std::pair<double, double>{1, 4}, {1, 32}, {2, 2}}) {
              ropescale::llama3<double> ml({{H, theta, prf}, s, a, b, 8192});
              compare(ml.inv_freq_hf_f32(), refm::f32_llama3(theta, d, s, a, b, 8192),
                      ml.inv_freq(), kScaledBound,
                      ctx_of(H, prf, theta, s) + " a=" + std::to_string(a), sl);
            }
        }
        for (double s : kFactors) {
          ropescale::proportional<double> mp({{H, theta, prf}, s});
          compare(mp.inv_freq_hf_f32(), refm::f32_proportional(theta, H, prf, s), mp.inv_freq(),
                  kScaledBound, ctx_of(H, prf, theta, s), sp);
        }
      }
    }
  sr.report("longrope");
  sl.report("llama3");
  sp.report("proportional");
}

TEST(HfF32, BaseErrorWithinSpecBound) {
  // §5.1: "Against exact values the relative error is <= 4.5e-7", worst for large bases (1e6).
  double worst = 0;
  for (std::int64_t H : kHeads)
    for (double theta : {1e4, 1e5, 5e5, 1e6}) {
      ropescale::default_rope<long double> m(ropescale::default_rope_params{{H, theta, 1.0}});
      const std::vector<float> f = m.inv_freq_hf_f32();
      const std::vector<long double> exact = m.inv_freq();
      for (std::size_t i = 0; i < f.size(); ++i) {
        const double rel = static_cast<double>(std::fabs(f[i] / exact[i] - 1));
        worst = std::max(worst, rel);
        EXPECT_LE(rel, 4.5e-7) << "H=" << H << " theta=" << theta << " i=" << i;
      }
    }
  std::printf("[ hf-f32 ] base relative error vs exact, theta <= 1e6: %.3g\n", worst);
}

TEST(HfF32, SameForEveryRealType) {
  // The binary32 table does not depend on the accurate table's type.
  ropescale::yarn_params p;
  p.head_dim = 128;
  p.factor = 8;
  p.original_max_position_embeddings = 4096;
  EXPECT_EQ(ropescale::yarn<float>(p).inv_freq_hf_f32(),
            ropescale::yarn<double>(p).inv_freq_hf_f32());
  EXPECT_EQ(ropescale::yarn<long double>(p).inv_freq_hf_f32(),
            ropescale::yarn<double>(p).inv_freq_hf_f32());
  EXPECT_EQ(ropescale::llama3<float>({{128, 5e5, 1}, 8, 1, 4, 8192}).inv_freq_hf_f32(),
            ropescale::llama3<double>({{128, 5e5, 1}, 8, 1, 4, 8192}).inv_freq_hf_f32());
}

}  // namespace

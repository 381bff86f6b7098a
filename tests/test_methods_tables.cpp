// SPDX-License-Identifier: Apache-2.0
// Every closed-form method's inv_freq against the independent long-double recomputation of
// tests/support/reference_methods.hpp (docs/reference.md §7 "all"): H ∈ {64, 80, 96, 128, 256},
// several partial_rotary_factor values, θ from 1e4 to 1e7, several factors, for float, double and
// long double tables. Tolerances in ulps of the table type; the worst error seen is printed.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <type_traits>
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

using ropescale_test::refm::ld;
namespace refm = ropescale_test::refm;

const std::int64_t kHeads[] = {64, 80, 96, 128, 256};
const double kPrfs[] = {1.0, 0.5, 0.25, 0.75, 0.4};
const double kThetas[] = {1e4, 5e5, 1e6, 1e7, 12345.678};
const double kFactors[] = {1.0, 2.0, 3.7, 8.0, 32.0};

// Allowed error in ulps of Real. "plain": one power and at most one division; "blend": yarn,
// llama3 (evaluated in long double, so no worse in practice). Long double: the exponent 2i/d itself
// is rounded, which moves θ^e by ln θ·Δe, up to ~16 ulps for θ = 1e7.
template <class Real>
struct tol;
template <>
struct tol<float> {
  static constexpr double plain = 1.0, blend = 1.0;
};
template <>
struct tol<double> {
  static constexpr double plain = 2.0, blend = 2.0;
};
template <>
struct tol<long double> {
  static constexpr double plain = 64.0, blend = 64.0;
};

template <class Real>
const char* real_name() {
  if constexpr (std::is_same_v<Real, float>) return "float";
  if constexpr (std::is_same_v<Real, double>) return "double";
  return "long double";
}

// Tracks the worst ulp error of one method across the sweep.
struct worst {
  double ulps = 0;
  std::string where;
  void report(const char* method, const char* real) const {
    std::printf("[ worst ] %-12s %-11s %.3f ulp at %s\n", method, real, ulps, where.c_str());
  }
};

template <class Real>
void expect_close(const std::vector<Real>& got, const std::vector<ld>& ref, double limit,
                  const std::string& ctx, worst& w) {
  ASSERT_EQ(got.size(), ref.size()) << ctx;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double u = refm::ulps_off<Real>(got[i], ref[i]);
    if (u > w.ulps) {
      w.ulps = u;
      w.where = ctx + " i=" + std::to_string(i);
    }
    ASSERT_LE(u, limit) << ctx << " i=" << i << " got " << static_cast<ld>(got[i]) << " ref "
                        << ref[i];
  }
}

std::string ctx_of(std::int64_t H, double prf, double theta, double s) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "H=%lld prf=%g theta=%g s=%g", static_cast<long long>(H), prf,
                theta, s);
  return buf;
}

template <class Real>
class MethodTables : public ::testing::Test {};
using RealTypes = ::testing::Types<float, double, long double>;
struct RealNames {
  template <class T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, float>) return "Float";
    if constexpr (std::is_same_v<T, double>) return "Double";
    return "LongDouble";
  }
};
TYPED_TEST_SUITE(MethodTables, RealTypes, RealNames);

TYPED_TEST(MethodTables, DefaultLinearNtk) {
  using Real = TypeParam;
  worst wd, wl, wn;
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas) {
        const std::string c0 = ctx_of(H, prf, theta, 1);
        ropescale::default_rope<Real> m0(ropescale::default_rope_params{{H, theta, prf}});
        ASSERT_EQ(m0.rotary_dim(), d);
        expect_close(m0.inv_freq(), refm::base(theta, d), tol<Real>::plain, c0, wd);
        for (double s : kFactors) {
          const std::string c = ctx_of(H, prf, theta, s);
          ropescale::linear<Real> ml({{H, theta, prf}, s});
          expect_close(ml.inv_freq(), refm::linear(theta, d, s), tol<Real>::plain, c, wl);
          ropescale::ntk<Real> mn({{H, theta, prf}, s});
          expect_close(mn.inv_freq(), refm::ntk(theta, d, s), tol<Real>::plain, c, wn);
          EXPECT_EQ(mn.attention_factor(), Real(1));
          EXPECT_EQ(ml.attention_factor(), Real(1));
        }
      }
    }
  wd.report("default", real_name<Real>());
  wl.report("linear", real_name<Real>());
  wn.report("ntk", real_name<Real>());
}

TYPED_TEST(MethodTables, Dynamic) {
  using Real = TypeParam;
  worst w;
  const std::int64_t L = 4096;
  const std::optional<std::int64_t> lengths[] = {std::nullopt, 1, 4096, 4097, 10000, 131072};
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas)
        for (double s : kFactors) {
          ropescale::dynamic<Real> m({{H, theta, prf}, s, L});
          for (const auto& S : lengths) {
            const std::string c =
                ctx_of(H, prf, theta, s) + " S=" + (S ? std::to_string(*S) : std::string("-"));
            expect_close(m.inv_freq(S), refm::dynamic(theta, d, s, L, S), tol<Real>::plain, c, w);
          }
        }
    }
  w.report("dynamic", real_name<Real>());
}

TYPED_TEST(MethodTables, Yarn) {
  using Real = TypeParam;
  worst w;
  const std::int64_t l0s[] = {2048, 32768};
  struct betas {
    double fast, slow;
  };
  const betas bs[] = {{32, 1}, {64, 0.5}};
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas)
        for (double s : kFactors)
          for (std::int64_t L0 : l0s)
            for (const betas& b : bs)
              for (bool truncate : {true, false}) {
                ropescale::yarn_params p;
                p.head_dim = H;
                p.rope_theta = theta;
                p.partial_rotary_factor = prf;
                p.factor = s;
                p.original_max_position_embeddings = L0;
                p.beta_fast = b.fast;
                p.beta_slow = b.slow;
                p.truncate = truncate;
                ropescale::yarn<Real> m(p);
                refm::yarn_in in{theta, d, s, L0, b.fast, b.slow, truncate};
                ld lo = 0, hi = 0;
                refm::yarn_bounds(in, lo, hi);
                const std::string c = ctx_of(H, prf, theta, s) + " L0=" + std::to_string(L0) +
                                      " bf=" + std::to_string(b.fast) +
                                      " trunc=" + std::to_string(truncate);
                // Bounds agree (double vs long double evaluation of corr()).
                ASSERT_NEAR(m.correction_low(), static_cast<double>(lo), 1e-12) << c;
                ASSERT_NEAR(m.correction_high(), static_cast<double>(hi), 1e-12) << c;
                expect_close(m.inv_freq(), refm::yarn(in), tol<Real>::blend, c, w);
                // A = m(s, 1) by default.
                EXPECT_NEAR(static_cast<double>(m.attention_factor()),
                            static_cast<double>(refm::yarn_m(s, 1)), 4e-7)
                    << c;
              }
    }
  w.report("yarn", real_name<Real>());
}

TYPED_TEST(MethodTables, Longrope) {
  using Real = TypeParam;
  worst w;
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas) {
        ropescale::longrope_params p;
        p.head_dim = H;
        p.rope_theta = theta;
        p.partial_rotary_factor = prf;
        for (std::int64_t i = 0; i < d / 2; ++i) {
          p.short_factor.push_back(1.0 + 0.013 * static_cast<double>(i));
          p.long_factor.push_back(1.0 + 0.61 * static_cast<double>(i * i % 17) + 0.25);
        }
        p.original_max_position_embeddings = 4096;
        p.max_position_embeddings = 131072;
        ropescale::longrope<Real> m(p);
        const std::string c = ctx_of(H, prf, theta, 32);
        expect_close(m.inv_freq(), refm::longrope(theta, d, p.short_factor), tol<Real>::plain,
                     c + " S=-", w);
        expect_close(m.inv_freq(4096), refm::longrope(theta, d, p.short_factor), tol<Real>::plain,
                     c + " S=L0", w);
        expect_close(m.inv_freq(4097), refm::longrope(theta, d, p.long_factor), tol<Real>::plain,
                     c + " S=L0+1", w);
      }
    }
  w.report("longrope", real_name<Real>());
}

TYPED_TEST(MethodTables, Llama3) {
  using Real = TypeParam;
  worst w;
  struct band {
    double a, b;
    std::int64_t L0;
  };
  const band bands[] = {{1, 4, 8192}, {0.5, 32, 4096}, {2, 2, 8192}};
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs) {
      const std::int64_t d = refm::rotary_dim(H, prf);
      if (d % 2 != 0 || d < 4) continue;
      for (double theta : kThetas)
        for (double s : kFactors)
          for (const band& bd : bands) {
            ropescale::llama3<Real> m({{H, theta, prf}, s, bd.a, bd.b, bd.L0});
            const std::string c = ctx_of(H, prf, theta, s) + " a=" + std::to_string(bd.a) +
                                  " b=" + std::to_string(bd.b);
            expect_close(m.inv_freq(), refm::llama3(theta, d, s, bd.a, bd.b, bd.L0),
                         tol<Real>::blend, c, w);
          }
    }
  w.report("llama3", real_name<Real>());
}

TYPED_TEST(MethodTables, Proportional) {
  using Real = TypeParam;
  worst w;
  for (std::int64_t H : kHeads)
    for (double prf : kPrfs)
      for (double theta : kThetas)
        for (double s : kFactors) {
          ropescale::proportional<Real> m({{H, theta, prf}, s});
          ASSERT_EQ(m.rotary_dim(), H);
          ASSERT_EQ(m.pairs(), H / 2);
          expect_close(m.inv_freq(), refm::proportional(theta, H, prf, s), tol<Real>::plain,
                       ctx_of(H, prf, theta, s), w);
        }
  w.report("proportional", real_name<Real>());
}

}  // namespace

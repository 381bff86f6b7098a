// SPDX-License-Identifier: Apache-2.0
// Separately compiled mode (simd/dispatch.hpp): this TU defines ROPESCALE_SEPARATE_KERNELS, so it
// sees only the kernel entry points' declarations and links the ones compiled once in
// support/separate_kernels_tu.cpp. Per ISA: table rotation of float, bf16 and f16 against the
// independent double reference (support/rotate_reference.hpp) on the table's own float values,
// the on-the-fly path against the table path, and a table build against exact cos/sin. Bad calls
// reach the complete checks, which in this mode are compiled in the kernels TU too.
#define ROPESCALE_SEPARATE_KERNELS
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/on_the_fly.hpp"
#include "support/isa_types.hpp"
#include "support/rotate_reference.hpp"

namespace {

using ropescale::bf16;
using ropescale::f16;
using ropescale::isa;
using ropescale::layout;
using ropescale::token_positions;
namespace ref = ropescale_test::reference;

double decode(float v) { return v; }
double decode(bf16 v) { return ref::bf16_bits_to_double(v.bits); }
double decode(f16 v) { return ref::half_bits_to_double(v.bits); }

/// Relative tolerance of one rounding to T after the float computation.
double storage_eps(float) { return 1e-6; }
double storage_eps(bf16) { return 1.0 / 128; }
double storage_eps(f16) { return 1.0 / 1024; }

class SeparateKernels : public ropescale_test::IsaTest {};
ROPESCALE_TEST_EVERY_ISA(SeparateKernels);

template <class T>
void table_rotation_matches_reference(isa which) {
  const std::int64_t tokens = 5, heads = 3, d = 128, n = d / 2, first = 100000;
  const std::vector<double> w = ref::default_inv_freq(d, 1e4);
  ropescale::cos_sin_table table(w, 1.0, first + tokens);
  const auto rows = table.snapshot();
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (layout lay : {layout::neox, layout::gptj}) {
    std::vector<T> x(static_cast<std::size_t>(tokens * heads * d));
    for (T& e : x) e = ropescale::store_from_float<T>(u(rng));
    std::vector<double> expect(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) expect[i] = decode(x[i]);
    for (std::int64_t t = 0; t < tokens; ++t) {
      std::vector<double> c(static_cast<std::size_t>(n)), s(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        c[static_cast<std::size_t>(i)] = rows->cos(first + t, i);
        s[static_cast<std::size_t>(i)] = rows->sin(first + t, i);
      }
      for (std::int64_t h = 0; h < heads; ++h) {
        ref::rotate_head(expect.data() + (t * heads + h) * d, n, c.data(), s.data(),
                         lay == layout::gptj, false);
      }
    }
    ropescale::apply_options opt;
    opt.force_isa = which;
    ropescale::apply_rotary(ropescale::dense_view(x.data(), tokens, heads, d), *rows,
                            token_positions::range(first), lay, d, opt);
    for (std::size_t i = 0; i < x.size(); ++i) {
      ASSERT_NEAR(decode(x[i]), expect[i], storage_eps(T{}) * 1.5) << i;
    }
  }
}

TEST_P(SeparateKernels, TableRotationF32) { table_rotation_matches_reference<float>(GetParam()); }
TEST_P(SeparateKernels, TableRotationBf16) { table_rotation_matches_reference<bf16>(GetParam()); }
TEST_P(SeparateKernels, TableRotationF16) { table_rotation_matches_reference<f16>(GetParam()); }

TEST_P(SeparateKernels, OnTheFlyMatchesTable) {
  const std::int64_t tokens = 4, heads = 2, d = 64, first = 4096;
  const std::vector<double> w = ref::default_inv_freq(d, 5e5);
  ropescale::cos_sin_table table(w, 1.0, first + tokens);
  std::vector<float> a(static_cast<std::size_t>(tokens * heads * d));
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& e : a) e = u(rng);
  std::vector<float> b = a;
  ropescale::apply_options opt;
  opt.force_isa = GetParam();
  ropescale::apply_rotary(ropescale::dense_view(a.data(), tokens, heads, d), *table.snapshot(),
                          token_positions::range(first), layout::neox, d, opt);
  ropescale::apply_rotary_on_the_fly(ropescale::dense_view(b.data(), tokens, heads, d), w.data(),
                                     d / 2, 1.0, token_positions::range(first), layout::neox, d,
                                     opt);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << i;
}

TEST_P(SeparateKernels, TableBuildWithinBound) {
  ropescale::set_isa(GetParam());
  const std::vector<double> w = ref::default_inv_freq(128, 1e6);
  ropescale::cos_sin_table table(w, 1.0, 2048);
  const auto rows = table.snapshot();
  for (std::int64_t p : {0, 1, 77, 2047}) {
    for (std::int64_t i = 0; i < 64; ++i) {
      long double c = 0, s = 0;
      ref::exact_cos_sin(p, w[static_cast<std::size_t>(i)], c, s);
      ASSERT_NEAR(rows->cos(p, i), static_cast<double>(c), 2e-7) << p << " " << i;
      ASSERT_NEAR(rows->sin(p, i), static_cast<double>(s), 2e-7) << p << " " << i;
    }
  }
  ropescale::set_isa(ropescale::best_isa());
}

/// Each type's rejected call goes through checked_rotate_job<T> (compiled in the kernels TU in
/// this mode) and raises the error naming the argument, with nothing written.
template <class T>
void bad_call_names_argument() {
  const std::vector<double> w = ref::default_inv_freq(64, 1e4);
  ropescale::cos_sin_table table(w, 1.0, 16);
  std::vector<T> x(2 * 64, ropescale::store_from_float<T>(0.5f));
  const std::vector<T> before = x;
  try {
    ropescale::apply_rotary(ropescale::dense_view(x.data(), 2, 1, 64), *table.snapshot(),
                            token_positions::range(15), layout::neox, 64);
    FAIL() << "position 16 has no table row, the call must be rejected";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("16"), std::string::npos) << e.what();
  }
  const ropescale::error e =
      ropescale::try_apply_rotary(ropescale::dense_view(x.data(), 2, 1, 64), *table.snapshot(),
                                  token_positions::range(0), layout::neox, 63);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.key, "rotary_dim") << e.message;
  EXPECT_NE(e.message.find("63"), std::string::npos) << e.message;
  EXPECT_EQ(std::memcmp(x.data(), before.data(), x.size() * sizeof(T)), 0);
}

TEST(SeparateKernelsErrors, BadCallsNameTheArgumentF32) { bad_call_names_argument<float>(); }
TEST(SeparateKernelsErrors, BadCallsNameTheArgumentBf16) { bad_call_names_argument<bf16>(); }
TEST(SeparateKernelsErrors, BadCallsNameTheArgumentF16) { bad_call_names_argument<f16>(); }

}  // namespace

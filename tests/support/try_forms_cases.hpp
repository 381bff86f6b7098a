// SPDX-License-Identifier: Apache-2.0
// The non-throwing table build (cos_sin_table::try_from_method) and the overflow-checked
// arithmetic, as GoogleTest cases that compile with and without exceptions: included by
// test_errors.cpp (exceptions on, compiler builtins) and by no_exceptions/test_no_exceptions.cpp
// (-fno-exceptions, portable paths). A rejected call must return an error whose key and message
// name the bad argument.
#ifndef ROPESCALE_TESTS_SUPPORT_TRY_FORMS_CASES_HPP
#define ROPESCALE_TESTS_SUPPORT_TRY_FORMS_CASES_HPP

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/overflow.hpp"
#include "ropescale/methods/yarn.hpp"

namespace try_forms {

constexpr std::int64_t kTokens = 3, kQHeads = 4, kKHeads = 2, kHeadDim = 64;

inline ropescale::yarn<double> test_method() {
  ropescale::yarn_params p;
  p.head_dim = kHeadDim;
  p.rope_theta = 10000.0;
  p.factor = 4.0;
  p.original_max_position_embeddings = 4096;
  return ropescale::yarn<double>(p);
}

/// Q and K with a few guard values on each side; `same_as` compares them bit for bit.
struct buffers {
  static constexpr std::size_t guard = 16;
  std::vector<float> q = filled(kTokens * kQHeads * kHeadDim, 0.25f);
  std::vector<float> k = filled(kTokens * kKHeads * kHeadDim, -0.5f);

  static std::vector<float> filled(std::int64_t n, float base) {
    std::vector<float> v(static_cast<std::size_t>(n) + 2 * guard);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = base + 0.001f * static_cast<float>(i % 97);
    return v;
  }
  ropescale::tensor_view<float> qv() {
    return ropescale::dense_view(q.data() + guard, kTokens, kQHeads, kHeadDim);
  }
  ropescale::tensor_view<float> kv() {
    return ropescale::dense_view(k.data() + guard, kTokens, kKHeads, kHeadDim);
  }
  bool same_as(const buffers& o) const {
    return std::memcmp(q.data(), o.q.data(), q.size() * sizeof(float)) == 0 &&
           std::memcmp(k.data(), o.k.data(), k.size() * sizeof(float)) == 0;
  }
};

inline void expect_error(const ropescale::error& e, const std::string& key,
                         const std::string& message_part) {
  EXPECT_TRUE(static_cast<bool>(e));
  EXPECT_EQ(e.key, key);
  EXPECT_EQ(e.message.rfind(key + ": ", 0), 0u) << e.message;
  EXPECT_NE(e.message.find(message_part), std::string::npos) << e.message;
}

TEST(TryForms, TableFromMethodReportsInsteadOfRaising) {
  const auto m = test_method();
  std::optional<ropescale::cos_sin_table> out;
  expect_error(ropescale::cos_sin_table::try_from_method(out, m, -1), "positions",
               "must be in [0, 2^31], got -1");
  EXPECT_FALSE(out.has_value());
  expect_error(
      ropescale::cos_sin_table::try_from_method(out, m, 16, ropescale::angle_mode::accurate, 0),
      "seq_len", "got 0");
  EXPECT_FALSE(out.has_value());
  const ropescale::error ok = ropescale::cos_sin_table::try_from_method(out, m, 16);
  ASSERT_FALSE(static_cast<bool>(ok)) << ok.message;
  ASSERT_TRUE(out.has_value());
  const auto rows = out->snapshot();
  EXPECT_EQ(rows->positions(), 16);
  // Row 5, pair 2: A·cos(5·ω_2), against the method's double table.
  const double expected = m.attention_factor() * std::cos(5.0 * m.inv_freq()[2]);
  EXPECT_NEAR(static_cast<double>(rows->data()[5 * kHeadDim + 2]), expected, 2e-7);
}

// The overflow helpers against 128-bit arithmetic (builtins or the portable path, per TU).
TEST(TryForms, OverflowHelpersMatchWideArithmetic) {
  using lim = std::numeric_limits<std::int64_t>;
  std::vector<std::int64_t> v = {0,
                                 1,
                                 -1,
                                 2,
                                 -2,
                                 3,
                                 lim::max(),
                                 lim::min(),
                                 lim::max() - 1,
                                 lim::min() + 1,
                                 std::int64_t{1} << 31,
                                 -(std::int64_t{1} << 31),
                                 std::int64_t{3037000499},
                                 std::int64_t{3037000500},
                                 -std::int64_t{3037000500}};
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200; ++i) {
    const auto r = static_cast<std::int64_t>(rng());
    v.push_back(r);
    v.push_back(r >> (rng() % 63));
  }
  __extension__ typedef __int128 wide;  // GNU extension, exact for every int64 sum or product
  const wide hi = lim::max(), lo = lim::min();
  for (const std::int64_t a : v) {
    for (const std::int64_t b : v) {
      std::int64_t out = 0;
      const wide s = static_cast<wide>(a) + b, d = static_cast<wide>(a) - b,
                 p = static_cast<wide>(a) * b;
      ASSERT_EQ(ropescale::detail::add_overflow(a, b, &out), s > hi || s < lo) << a << " + " << b;
      if (s <= hi && s >= lo) {
        ASSERT_EQ(out, static_cast<std::int64_t>(s));
      }
      ASSERT_EQ(ropescale::detail::sub_overflow(a, b, &out), d > hi || d < lo) << a << " - " << b;
      if (d <= hi && d >= lo) {
        ASSERT_EQ(out, static_cast<std::int64_t>(d));
      }
      ASSERT_EQ(ropescale::detail::mul_overflow(a, b, &out), p > hi || p < lo) << a << " * " << b;
      if (p <= hi && p >= lo) {
        ASSERT_EQ(out, static_cast<std::int64_t>(p));
      }
    }
  }
}

}  // namespace try_forms

#endif  // ROPESCALE_TESTS_SUPPORT_TRY_FORMS_CASES_HPP

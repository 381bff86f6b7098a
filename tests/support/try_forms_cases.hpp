// SPDX-License-Identifier: Apache-2.0
// The non-throwing table build (cos_sin_table::try_from_method), the non-throwing kernel entry
// points (try_apply_rotary, try_apply_rotary_on_the_fly) and the overflow-checked arithmetic, as
// GoogleTest cases that compile with and without exceptions: included by test_errors.cpp
// (exceptions on, compiler builtins) and by no_exceptions/test_no_exceptions.cpp
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
#include "ropescale/isa.hpp"
#include "ropescale/kv_append.hpp"
#include "ropescale/methods/yarn.hpp"
#include "ropescale/on_the_fly.hpp"

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

// Rejected kernel calls come back as values naming the bad argument and write nothing; accepted
// ones return ok() and rotate exactly as the raising forms do (same ISA, so bit for bit).
TEST(TryForms, KernelEntryPointsReportInsteadOfRaising) {
  const auto m = test_method();
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(m, 16);
  const auto rows = table.snapshot();
  const ropescale::frequency_table f = ropescale::frequencies_of(m);
  const auto r0 = ropescale::token_positions::range(0);
  const std::int64_t past_end[kTokens] = {0, 1, 16};
  buffers b;
  const buffers before = b;
  using ropescale::layout;
  expect_error(ropescale::try_apply_rotary(b.qv(), b.kv(), *rows, r0, layout::neox, kHeadDim - 1),
               "rotary_dim", "must be even and >= 2, got 63");
  expect_error(ropescale::try_apply_rotary(b.qv(), b.kv(), *rows,
                                           ropescale::token_positions::list(past_end, kTokens),
                                           layout::neox, kHeadDim),
               "positions[2]", "must have a table row (positions 0 to 15), got 16");
  expect_error(
      ropescale::try_apply_rotary(b.qv(), b.kv(), *rows, r0, static_cast<layout>(9), kHeadDim),
      "layout", "got 9");
  expect_error(ropescale::try_apply_rotary(b.qv(), b.qv(), *rows, r0, layout::neox, kHeadDim), "k",
               "must not share an element with q");
  expect_error(ropescale::try_apply_rotary(b.qv(), *rows, r0, layout::neox, kHeadDim / 2),
               "rotary_dim", "must equal 2 * table.pairs (64)");
  for (const ropescale::isa i : {ropescale::isa::scalar, ropescale::isa::avx2,
                                 ropescale::isa::avx512, ropescale::isa::neon}) {
    if (ropescale::available(i)) continue;
    ropescale::apply_options opt;
    opt.force_isa = i;
    expect_error(
        ropescale::try_apply_rotary(b.qv(), b.kv(), *rows, r0, layout::neox, kHeadDim, opt), "isa",
        std::string("got ") + ropescale::name(i));
    expect_error(
        ropescale::try_apply_rotary_on_the_fly(b.qv(), b.kv(), f, r0, layout::neox, kHeadDim, opt),
        "isa", std::string("got ") + ropescale::name(i));
  }
  expect_error(ropescale::try_apply_rotary_on_the_fly(b.qv(), b.kv(), nullptr, kHeadDim / 2, 1.0,
                                                      r0, layout::neox, kHeadDim),
               "inv_freq", "must not be null");
  expect_error(ropescale::try_apply_rotary_on_the_fly(b.qv(), b.kv(), f.inv_freq.data(), f.pairs(),
                                                      -1.0, r0, layout::neox, kHeadDim),
               "attention_factor", "must be a finite number > 0, got -1");
  const std::int64_t far[kTokens] = {0, (std::int64_t{1} << 31) + 1, 2};
  expect_error(
      ropescale::try_apply_rotary_on_the_fly(
          b.qv(), f, ropescale::token_positions::list(far, kTokens), layout::neox, kHeadDim),
      "positions[1]", "must be in [0, 2^31]");
  ropescale::frequency_table f32 = f;
  f32.mode = ropescale::angle_mode::f32;
  expect_error(
      ropescale::try_apply_rotary_on_the_fly(b.qv(), b.kv(), f32, r0, layout::neox, kHeadDim),
      "mode", "must be angle_mode::accurate");
  EXPECT_TRUE(b.same_as(before)) << "a rejected try_ call wrote Q, K or a guard";

  // Accepted calls: ok(), and the same bits as the raising forms.
  buffers t = before, a = before;
  ASSERT_TRUE(ropescale::try_apply_rotary(t.qv(), t.kv(), *rows, r0, layout::gptj, kHeadDim).ok());
  ropescale::apply_rotary(a.qv(), a.kv(), *rows, r0, layout::gptj, kHeadDim);
  EXPECT_TRUE(t.same_as(a));
  EXPECT_FALSE(t.same_as(before));
  ASSERT_TRUE(
      ropescale::try_apply_rotary_on_the_fly(t.qv(), t.kv(), f, r0, layout::neox, kHeadDim).ok());
  ropescale::apply_rotary_on_the_fly(a.qv(), a.kv(), f, r0, layout::neox, kHeadDim);
  EXPECT_TRUE(t.same_as(a));
}

// The out-of-place and paged-KV-append try_ forms: a rejected call returns the error naming the
// argument and leaves the destination and both caches byte-identical; an accepted one stores the
// same bits as the raising form.
TEST(TryForms, KvAppendEntryPointsReportInsteadOfRaising) {
  const auto m = test_method();
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(m, 16);
  const auto rows = table.snapshot();
  const auto r0 = ropescale::token_positions::range(0);
  using ropescale::layout;
  constexpr std::int64_t kPages = 2, kPageSize = 4;
  buffers b;
  std::vector<float> v = buffers::filled(kTokens * kKHeads * kHeadDim, 0.75f);
  std::vector<ropescale::bf16> kc(kPages * kPageSize * kKHeads * kHeadDim,
                                  ropescale::bf16::from_bits(0x7F7F));
  std::vector<ropescale::bf16> vc = kc;
  std::vector<ropescale::bf16> out(kTokens * kQHeads * kHeadDim,
                                   ropescale::bf16::from_bits(0x1234));
  const auto kc0 = kc, vc0 = vc, out0 = out;
  const buffers before = b;
  const auto vv = ropescale::dense_view(v.data() + buffers::guard, kTokens, kKHeads, kHeadDim);
  const auto kcache = ropescale::paged_cache_view<ropescale::bf16>::token_major(
      kc.data(), kPages, kPageSize, kKHeads, kHeadDim);
  const auto vcache = ropescale::paged_cache_view<ropescale::bf16>::head_major(
      vc.data(), kPages, kPageSize, kKHeads, kHeadDim);
  const std::int64_t bad_slots[kTokens] = {0, 8, 1};  // 8 = pages · page_size: one past the end
  const std::int64_t slots[kTokens] = {5, -1, 2};
  const auto bad_map = ropescale::slot_mapping::list(bad_slots, kTokens);
  const auto map = ropescale::slot_mapping::list(slots, kTokens);
  expect_error(ropescale::try_rope_kv_append(b.qv(), b.kv(), vv, kcache, vcache, bad_map, *rows, r0,
                                             layout::neox, kHeadDim),
               "slot_mapping[1]", "must be -1 (padding) or a slot in [0, 8)");
  expect_error(ropescale::try_kv_append(b.kv(), vv, kcache, vcache, bad_map), "slot_mapping[1]",
               "got 8");
  ropescale::frequency_table f32 = ropescale::frequencies_of(m);
  f32.mode = ropescale::angle_mode::f32;
  expect_error(ropescale::try_rope_kv_append(b.qv(), b.kv(), vv, kcache, vcache, map, f32, r0,
                                             layout::neox, kHeadDim),
               "mode", "must be angle_mode::accurate");
  auto wrong_heads = kcache;
  wrong_heads.heads = 1;
  expect_error(ropescale::try_rope_kv_append(b.qv(), b.kv(), vv, wrong_heads, vcache, map, *rows,
                                             r0, layout::neox, kHeadDim),
               "k_cache.heads", "must equal k.heads (2)");
  const auto short_out = ropescale::dense_view(out.data(), kTokens - 1, kQHeads, kHeadDim);
  expect_error(ropescale::try_apply_rotary_to(b.qv(), short_out, *rows, r0, layout::neox, kHeadDim),
               "dst.tokens", "must equal src.tokens (3)");
  const auto out_view = ropescale::dense_view(out.data(), kTokens, kQHeads, kHeadDim);
  expect_error(
      ropescale::try_apply_rotary_to(b.qv(), out_view, *rows, r0, layout::neox, kHeadDim + 2),
      "src.head_dim", "must be >= rotary_dim (66), got 64");
  EXPECT_TRUE(b.same_as(before));
  EXPECT_EQ(std::memcmp(kc.data(), kc0.data(), kc.size() * 2), 0) << "k_cache written";
  EXPECT_EQ(std::memcmp(vc.data(), vc0.data(), vc.size() * 2), 0) << "v_cache written";
  EXPECT_EQ(std::memcmp(out.data(), out0.data(), out.size() * 2), 0) << "dst written";

  // Accepted: ok() and the raising form's bits.
  ASSERT_TRUE(
      ropescale::try_apply_rotary_to(b.qv(), out_view, *rows, r0, layout::neox, kHeadDim).ok());
  std::vector<ropescale::bf16> out2 = out0;
  ropescale::apply_rotary_to(b.qv(), ropescale::dense_view(out2.data(), kTokens, kQHeads, kHeadDim),
                             *rows, r0, layout::neox, kHeadDim);
  EXPECT_EQ(std::memcmp(out.data(), out2.data(), out.size() * 2), 0);
  buffers a = before;
  std::vector<ropescale::bf16> kc2 = kc0, vc2 = vc0;
  ASSERT_TRUE(ropescale::try_rope_kv_append(b.qv(), b.kv(), vv, kcache, vcache, map, *rows, r0,
                                            layout::neox, kHeadDim)
                  .ok());
  ropescale::rope_kv_append(a.qv(), a.kv(), vv,
                            ropescale::paged_cache_view<ropescale::bf16>::token_major(
                                kc2.data(), kPages, kPageSize, kKHeads, kHeadDim),
                            ropescale::paged_cache_view<ropescale::bf16>::head_major(
                                vc2.data(), kPages, kPageSize, kKHeads, kHeadDim),
                            map, *rows, r0, layout::neox, kHeadDim);
  EXPECT_TRUE(a.same_as(b));
  EXPECT_EQ(std::memcmp(kc.data(), kc2.data(), kc.size() * 2), 0);
  EXPECT_EQ(std::memcmp(vc.data(), vc2.data(), vc.size() * 2), 0);
  EXPECT_NE(std::memcmp(kc.data(), kc0.data(), kc.size() * 2), 0) << "nothing stored";
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

// SPDX-License-Identifier: Apache-2.0
// on_the_fly.hpp (and simd/sincos-inl.hpp through it): the cos/sin values the no-table path uses
// meet docs/reference.md §5.2's bound against the independent long-double reference on every
// available ISA; rotation invariants of docs/reference.md §7 (norms scale by A, scores depend on m
// − n only, inverse recovers the input, pass-through channels and guard elements untouched, GPT-J =
// NeoX under the even/odd permutation); agreement with the table path; the huge-angle fallback;
// validation.
//
// Calls of >= 96 KiB take the streaming sweep (as DRAM-sized calls do by default, 8 MiB) when the
// row does not fit the registers (AVX2 f32 NeoX: n > 32), so both sweeps are exercised here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/method.hpp"
#include "ropescale/on_the_fly.hpp"
#include "support/exact_trig.hpp"
#include "support/isa_types.hpp"

namespace {

// The lowered streaming threshold (see the file comment), set before any test runs.
constexpr std::int64_t kStreamMinBytes = std::int64_t{96} << 10;
[[maybe_unused]] const bool stream_threshold_lowered =
    (ropescale::simd::set_stream_min_bytes(kStreamMinBytes), true);

using ropescale::apply_options;
using ropescale::isa;
using ropescale::layout;
using ropescale::tensor_view;
using ropescale::token_positions;

constexpr double kBound = 2e-7;

apply_options with_isa(isa i, bool inverse = false) {
  apply_options o;
  o.force_isa = i;
  o.inverse = inverse;
  return o;
}

// Extracts the rows the on-the-fly path uses: one head per token with every pair (a, b) = (1, 0)
// comes out as (cs_i, sn_i) exactly (1·cs − 0·sn and 0·cs + 1·sn are exact in float).
std::vector<float> rows_via_rotation(isa which, layout lay, const std::vector<double>& w, double a,
                                     const std::vector<std::int64_t>& positions) {
  const std::int64_t n = static_cast<std::int64_t>(w.size());
  const std::int64_t tokens = static_cast<std::int64_t>(positions.size());
  std::vector<float> x(static_cast<std::size_t>(tokens * 2 * n), 0.0f);
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t i = 0; i < n; ++i) {
      x[static_cast<std::size_t>(t * 2 * n + (lay == layout::neox ? i : 2 * i))] = 1.0f;
    }
  }
  ropescale::apply_rotary_on_the_fly(ropescale::dense_view(x.data(), tokens, 1, 2 * n), w.data(), n,
                                     a, token_positions::list(positions.data(), tokens), lay, 2 * n,
                                     with_isa(which));
  if (lay == layout::gptj) {  // de-interleave into n cos then n sin
    std::vector<float> r(x.size());
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t i = 0; i < n; ++i) {
        r[static_cast<std::size_t>(t * 2 * n + i)] = x[static_cast<std::size_t>(t * 2 * n + 2 * i)];
        r[static_cast<std::size_t>(t * 2 * n + n + i)] =
            x[static_cast<std::size_t>(t * 2 * n + 2 * i + 1)];
      }
    }
    return r;
  }
  return x;
}

// Long-double reference rows (n cos then n sin per position).
std::vector<long double> reference_rows(const std::vector<double>& w, double a,
                                        const std::vector<std::int64_t>& positions) {
  const std::size_t n = w.size();
  std::vector<long double> ref(positions.size() * 2 * n);
  for (std::size_t t = 0; t < positions.size(); ++t) {
    for (std::size_t i = 0; i < n; ++i) {
      const auto cs = ropescale_test::exact_cos_sin(positions[t], w[i], a);
      ref[t * 2 * n + i] = cs.c;
      ref[t * 2 * n + n + i] = cs.s;
    }
  }
  return ref;
}

double worst_row_error(const std::vector<float>& rows, const std::vector<long double>& ref,
                       double a, std::size_t n, const std::vector<std::int64_t>& positions,
                       std::int64_t* at = nullptr) {
  double worst = 0;
  for (std::size_t j = 0; j < rows.size(); ++j) {
    const double e = static_cast<double>(std::fabs(rows[j] - ref[j])) / std::max(1.0, a);
    if (e > worst) {
      worst = e;
      if (at != nullptr) *at = positions[j / (2 * n)];
    }
  }
  return worst;
}

double worst_row_error(const std::vector<float>& rows, const std::vector<double>& w, double a,
                       const std::vector<std::int64_t>& positions) {
  return worst_row_error(rows, reference_rows(w, a, positions), a, w.size(), positions);
}

class OnTheFlyIsa : public ropescale_test::IsaTest {};
ROPESCALE_TEST_EVERY_ISA(OnTheFlyIsa);

TEST_P(OnTheFlyIsa, RowsWithinSpecBound) {
  const isa which = GetParam();
  std::vector<std::int64_t> positions;
  for (std::int64_t p = 0; p < 4096; ++p) positions.push_back(p);
  for (std::int64_t p : ropescale_test::sampled_positions(99, 1000)) positions.push_back(p);
  double overall = 0;  // this ISA's worst over all tables
  for (const auto& t : ropescale_test::representative_tables()) {
    const auto ref = reference_rows(t.inv_freq, t.attention_factor, positions);
    {
      SCOPED_TRACE(std::string(ropescale::name(which)) + " " + t.label);
      std::int64_t at = -1;
      const auto rows =
          rows_via_rotation(which, layout::neox, t.inv_freq, t.attention_factor, positions);
      const double e =
          worst_row_error(rows, ref, t.attention_factor, t.inv_freq.size(), positions, &at);
      std::printf("[ accuracy ] on-the-fly %-6s %-22s worst |err|/max(1,A) = %.3e (p=%lld)\n",
                  ropescale::name(which), t.label.c_str(), e, static_cast<long long>(at));
      EXPECT_LE(e, kBound) << "at p=" << at;
      overall = std::max(overall, e);
    }
  }
  {
    std::printf("[ accuracy ] on-the-fly %-6s worst over all tables = %.3e\n",
                ropescale::name(which), overall);
    this->RecordProperty(std::string("worst_error_") + ropescale::name(which),
                         std::to_string(overall));
  }
}

// The library's own method classes (helper A's) through ropescale::method: ω and A as an engine
// would pass them (method::inv_freq(S) / attention_factor(S)).
TEST_P(OnTheFlyIsa, LibraryMethodsWithinSpecBound) {
  const isa which = GetParam();
  std::vector<std::pair<ropescale::method, std::optional<std::int64_t>>> cases;
  cases.emplace_back(ropescale::default_rope<>(ropescale::default_rope_params{{128, 1e6, 1.0}}),
                     std::nullopt);
  cases.emplace_back(ropescale::ntk<>(ropescale::ntk_params{{64, 1e4, 1.0}, 4.0}), std::nullopt);
  cases.emplace_back(ropescale::dynamic<>(ropescale::dynamic_params{{128, 1e4, 1.0}, 2.0, 8192}),
                     std::int64_t{50000});
  {
    ropescale::yarn_params y;
    y.head_dim = 128;
    y.rope_theta = 1e6;
    y.factor = 8.0;
    y.original_max_position_embeddings = 4096;
    cases.emplace_back(ropescale::yarn<>(y), std::nullopt);
  }
  {
    ropescale::longrope_params l;
    l.head_dim = 96;
    for (int i = 0; i < 48; ++i) {
      l.short_factor.push_back(1.0 + 0.01 * i);
      l.long_factor.push_back(1.0 + 2.0 * i);
    }
    l.original_max_position_embeddings = 4096;
    l.max_position_embeddings = 131072;
    cases.emplace_back(ropescale::longrope<>(l), std::int64_t{131072});
  }
  cases.emplace_back(
      ropescale::llama3<>(ropescale::llama3_params{{128, 5e5, 1.0}, 8.0, 1.0, 4.0, 8192}),
      std::nullopt);
  std::vector<std::int64_t> positions;
  for (std::int64_t p = 0; p < 1024; ++p) positions.push_back(p);
  for (std::int64_t p : ropescale_test::sampled_positions(41, 200)) positions.push_back(p);
  for (const auto& [m, seq_len] : cases) {
    const std::vector<double> w = m.inv_freq(seq_len);
    const double a = m.attention_factor(seq_len);
    const auto ref = reference_rows(w, a, positions);
    {
      const auto rows = rows_via_rotation(which, layout::neox, w, a, positions);
      const double e = worst_row_error(rows, ref, a, w.size(), positions);
      std::printf("[ accuracy ] on-the-fly %-6s method %-9s A=%.4f worst = %.3e\n",
                  ropescale::name(which), std::string(m.rope_type()).c_str(), a, e);
      EXPECT_LE(e, kBound) << m.rope_type() << " " << ropescale::name(which);
    }
  }
}

// Pair counts that are not a multiple of any vector width exercise the scalar tail.
TEST_P(OnTheFlyIsa, OddPairCountsAndGptjLayout) {
  const isa which = GetParam();
  std::vector<std::int64_t> positions{0, 1, 77, 100000, 131071, 9999999, 10000000};
  for (int n : {1, 3, 7, 9, 14, 17, 33}) {
    std::vector<double> w(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      w[static_cast<std::size_t>(i)] = static_cast<double>(std::pow(1e4L, -2.0L * i / (2 * n)));
    }
    {
      for (layout lay : {layout::neox, layout::gptj}) {
        const auto rows = rows_via_rotation(which, lay, w, 1.3, positions);
        EXPECT_LE(worst_row_error(rows, w, 1.3, positions), kBound)
            << "n=" << n << " " << ropescale::name(which) << " " << ropescale::name(lay);
      }
    }
  }
}

// All ISAs compute the same rows up to a couple of float ulps (they share one algorithm; fma
// contraction in the scalar target's polynomial may differ).
TEST_P(OnTheFlyIsa, IsasAgree) {
  const isa which = GetParam();
  const auto t = ropescale_test::yarn_table(1e6L, 128, 4, 32768);
  std::vector<std::int64_t> positions = ropescale_test::sampled_positions(3, 200);
  const auto ref =
      rows_via_rotation(isa::scalar, layout::neox, t.inv_freq, t.attention_factor, positions);
  {
    const auto rows =
        rows_via_rotation(which, layout::neox, t.inv_freq, t.attention_factor, positions);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      ASSERT_NEAR(rows[i], ref[i], 3e-7) << ropescale::name(which) << " at " << i;
    }
  }
}

std::vector<float> random_vector(std::size_t size, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (float& x : v) x = u(rng);
  return v;
}

// Same result as the table path up to the two rows' difference (each within 2e-7 of exact).
TEST_P(OnTheFlyIsa, MatchesTablePath) {
  const isa which = GetParam();
  const auto t = ropescale_test::default_table(1e6L, 128);
  const std::int64_t q_heads = 8, k_heads = 2, head_dim = 160, d = 128;
  ropescale::cos_sin_table table(t.inv_freq, 1.0, 0);
  const std::int64_t start = 100000;
  auto rows = table.ensure(start + 64);
  // 2 tokens (10 KiB: register-resident sweep) and 64 tokens (320 KiB: streaming sweep).
  for (std::int64_t tokens : {2, 64}) {
    {
      for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
        auto q1 = random_vector(static_cast<std::size_t>(tokens * q_heads * head_dim), 1);
        auto k1 = random_vector(static_cast<std::size_t>(tokens * k_heads * head_dim), 2);
        auto q2 = q1, k2 = k1;
        ropescale::apply_rotary(ropescale::dense_view(q1.data(), tokens, q_heads, head_dim),
                                ropescale::dense_view(k1.data(), tokens, k_heads, head_dim), *rows,
                                token_positions::range(start), lay, d, with_isa(which));
        ropescale::apply_rotary_on_the_fly(
            ropescale::dense_view(q2.data(), tokens, q_heads, head_dim),
            ropescale::dense_view(k2.data(), tokens, k_heads, head_dim), t.inv_freq.data(), d / 2,
            1.0, token_positions::range(start), lay, d, with_isa(which));
        for (std::size_t i = 0; i < q1.size(); ++i) ASSERT_NEAR(q1[i], q2[i], 1e-6f) << i;
        for (std::size_t i = 0; i < k1.size(); ++i) ASSERT_NEAR(k1[i], k2[i], 1e-6f) << i;
        // Pass-through channels [d, head_dim) are bit-identical to the input.
        const auto q0 = random_vector(q1.size(), 1);
        for (std::int64_t r = 0; r < tokens * q_heads; ++r) {
          ASSERT_EQ(std::memcmp(q2.data() + r * head_dim + d, q0.data() + r * head_dim + d,
                                static_cast<std::size_t>(head_dim - d) * sizeof(float)),
                    0);
        }
      }
    }
  }
}

double dot(const float* a, const float* b, std::int64_t n) {
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// docs/reference.md §7 invariants at positions up to 1e7.
TEST_P(OnTheFlyIsa, RotationInvariants) {
  const isa which = GetParam();
  const auto t = ropescale_test::default_table(5e5L, 128);
  const std::int64_t d = 128, n = 64;
  {
    SCOPED_TRACE(ropescale::name(which));
    // Norms scale by A.
    {
      const double a = 1.7;
      auto x = random_vector(static_cast<std::size_t>(d), 5);
      const auto x0 = x;
      const std::int64_t p = 9'876'543;
      ropescale::apply_rotary_on_the_fly(ropescale::dense_view(x.data(), 1, 1, d),
                                         t.inv_freq.data(), n, a, token_positions::range(p),
                                         layout::neox, d, with_isa(which));
      for (std::int64_t i = 0; i < n; ++i) {
        const double before =
            std::hypot(x0[static_cast<std::size_t>(i)], x0[static_cast<std::size_t>(i + n)]);
        const double after =
            std::hypot(x[static_cast<std::size_t>(i)], x[static_cast<std::size_t>(i + n)]);
        ASSERT_NEAR(after, a * before, 1e-6 * a) << i;
      }
    }
    // <R(m)q, R(m')k> depends only on m − m'.
    {
      const auto q = random_vector(static_cast<std::size_t>(d), 6);
      const auto k = random_vector(static_cast<std::size_t>(d), 7);
      auto score = [&](std::int64_t m, std::int64_t m2) {
        auto qq = q, kk = k;
        ropescale::apply_rotary_on_the_fly(ropescale::dense_view(qq.data(), 1, 1, d),
                                           t.inv_freq.data(), n, 1.0, token_positions::range(m),
                                           layout::neox, d, with_isa(which));
        ropescale::apply_rotary_on_the_fly(ropescale::dense_view(kk.data(), 1, 1, d),
                                           t.inv_freq.data(), n, 1.0, token_positions::range(m2),
                                           layout::neox, d, with_isa(which));
        return dot(qq.data(), kk.data(), d);
      };
      for (std::int64_t delta : {0, 1, 5, 1000}) {
        const double s0 = score(delta, 0);
        for (std::int64_t m :
             {std::int64_t{12345}, std::int64_t{1'000'000}, std::int64_t{10'000'000} - delta}) {
          ASSERT_NEAR(score(m + delta, m), s0, 2e-5) << "m=" << m << " delta=" << delta;
        }
      }
    }
    // Inverse recovers the input; GPT-J equals NeoX under the even/odd permutation.
    {
      const std::int64_t tokens = 5, heads = 3;
      std::vector<std::int64_t> pos{0, 17, 4096, 1'234'567, 10'000'000};
      auto x = random_vector(static_cast<std::size_t>(tokens * heads * d), 8);
      const auto x0 = x;
      auto v = ropescale::dense_view(x.data(), tokens, heads, d);
      ropescale::apply_rotary_on_the_fly(v, t.inv_freq.data(), n, 1.0,
                                         token_positions::list(pos.data(), tokens), layout::gptj, d,
                                         with_isa(which));
      // Permute the GPT-J input (even channels first) and rotate that with NeoX.
      std::vector<float> y(x0.size());
      for (std::int64_t r = 0; r < tokens * heads; ++r) {
        for (std::int64_t i = 0; i < n; ++i) {
          y[static_cast<std::size_t>(r * d + i)] = x0[static_cast<std::size_t>(r * d + 2 * i)];
          y[static_cast<std::size_t>(r * d + n + i)] =
              x0[static_cast<std::size_t>(r * d + 2 * i + 1)];
        }
      }
      ropescale::apply_rotary_on_the_fly(
          ropescale::dense_view(y.data(), tokens, heads, d), t.inv_freq.data(), n, 1.0,
          token_positions::list(pos.data(), tokens), layout::neox, d, with_isa(which));
      for (std::int64_t r = 0; r < tokens * heads; ++r) {
        for (std::int64_t i = 0; i < n; ++i) {
          ASSERT_NEAR(x[static_cast<std::size_t>(r * d + 2 * i)],
                      y[static_cast<std::size_t>(r * d + i)], 1e-6);
          ASSERT_NEAR(x[static_cast<std::size_t>(r * d + 2 * i + 1)],
                      y[static_cast<std::size_t>(r * d + n + i)], 1e-6);
        }
      }
      ropescale::apply_rotary_on_the_fly(v, t.inv_freq.data(), n, 1.0,
                                         token_positions::list(pos.data(), tokens), layout::gptj, d,
                                         with_isa(which, /*inverse=*/true));
      for (std::size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], x0[i], 2e-6) << i;
    }
  }
}

// A strided view inside a larger buffer: elements outside the rotated channels (the pass-through
// tail of each head and guard elements around the view) stay bit-identical; bf16 and f16 work.
TEST_P(OnTheFlyIsa, StridedViewsGuardsAndStorageTypes) {
  const isa which = GetParam();
  const auto t = ropescale_test::longrope_table(1e4L, 96, 32, 4096);
  const std::int64_t d = 96, n = 48, head_dim = 112, heads = 2, tokens = 3;
  const std::int64_t token_stride = 300, guard = 64;
  const std::size_t total = static_cast<std::size_t>(2 * guard + tokens * token_stride);
  std::vector<ropescale::bf16> buf(total);
  std::mt19937 rng(11);
  for (auto& b : buf) b.bits = static_cast<std::uint16_t>(rng() & 0x3FFFu);  // finite, < 2
  const auto orig = buf;
  tensor_view<ropescale::bf16> v{buf.data() + guard, tokens,       heads,
                                 head_dim,           token_stride, head_dim};
  {
    buf = orig;
    ropescale::apply_rotary_on_the_fly(v, t.inv_freq.data(), n, t.attention_factor,
                                       token_positions::range(50000), layout::neox, d,
                                       with_isa(which));
    for (std::size_t i = 0; i < total; ++i) {
      const std::int64_t off = static_cast<std::int64_t>(i) - guard;
      const bool rotated = off >= 0 && off < tokens * token_stride &&
                           off % token_stride < heads * head_dim &&
                           (off % token_stride) % head_dim < d;
      if (!rotated) {
        ASSERT_EQ(buf[i].bits, orig[i].bits) << i;
      }
    }
    // Rotated values match the float path within bf16 rounding.
    std::vector<float> f(total);
    for (std::size_t i = 0; i < total; ++i) f[i] = ropescale::to_float(orig[i]);
    tensor_view<float> vf{f.data() + guard, tokens, heads, head_dim, token_stride, head_dim};
    ropescale::apply_rotary_on_the_fly(vf, t.inv_freq.data(), n, t.attention_factor,
                                       token_positions::range(50000), layout::neox, d,
                                       with_isa(which));
    for (std::size_t i = 0; i < total; ++i) {
      ASSERT_NEAR(ropescale::to_float(buf[i]), f[i], 1.6e-2) << i;
    }
    std::vector<ropescale::f16> h(16);
    for (std::size_t i = 0; i < h.size(); ++i)
      h[i] = ropescale::to_f16(0.25f * static_cast<float>(i) - 2.0f);
    ropescale::apply_rotary_on_the_fly(ropescale::dense_view(h.data(), 1, 1, 16), t.inv_freq.data(),
                                       8, 1.0, token_positions::range(3), layout::gptj, 16,
                                       with_isa(which));
  }
}

// |p·ω| >= 2^30 rad switches to the double fallback; it still meets the bound.
TEST_P(OnTheFlyIsa, HugeAngleFallback) {
  const isa which = GetParam();
  const std::vector<double> w{0.75, 0.5, 1e-3, 1e-9};
  std::vector<std::int64_t> positions{(std::int64_t{1} << 31) - 5, 1'500'000'000, 3};
  {
    const auto rows = rows_via_rotation(which, layout::neox, w, 1.0, positions);
    EXPECT_LE(worst_row_error(rows, w, 1.0, positions), kBound) << ropescale::name(which);
  }
}

TEST_P(OnTheFlyIsa, LargeRotaryDimUsesHeapRow) {
  const isa which = GetParam();
  const int n = 600;  // > on_the_fly_stack_pairs
  std::vector<double> w(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) w[static_cast<std::size_t>(i)] = std::pow(1e4, -2.0 * i / (2 * n));
  std::vector<std::int64_t> positions{5, 123456};
  {
    const auto rows = rows_via_rotation(which, layout::neox, w, 1.0, positions);
    EXPECT_LE(worst_row_error(rows, w, 1.0, positions), kBound);
  }
}

TEST(OnTheFly, Validation) {
  auto key_of = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const ropescale::invalid_parameter& e) {
      return e.key();
    }
    return "<no throw>";
  };
  std::vector<float> x(64, 0.5f);
  const auto x0 = x;
  const std::vector<double> w(16, 0.5);
  auto v = ropescale::dense_view(x.data(), 2, 1, 32);
  const auto r0 = token_positions::range(0);
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, nullptr, 16, 1.0, r0, layout::neox, 32);
            }),
            "inv_freq");
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, w.data(), 15, 1.0, r0, layout::neox, 32);
            }),
            "rotary_dim");
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, w.data(), 16, 0.0, r0, layout::neox, 32);
            }),
            "attention_factor");
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, w.data(), 16, NAN, r0, layout::neox, 32);
            }),
            "attention_factor");
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, w.data(), 16, 1.0, r0, layout::neox, 31);
            }),
            "rotary_dim");
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, w.data(), 17, 1.0, r0, layout::neox, 34);
            }),
            "q.head_dim");
  std::vector<std::int64_t> bad_pos{3, -1};
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(
                  v, w.data(), 16, 1.0, token_positions::list(bad_pos.data(), 2), layout::neox, 32);
            }),
            "positions[1]");
  // A non-finite ω is not rejected (no O(n) scan on the hot path): its pair comes out NaN and
  // the other pairs are unaffected.
  {
    std::vector<double> w_inf = w;
    w_inf[7] = INFINITY;
    std::vector<float> y(64, 0.5f);
    ropescale::apply_rotary_on_the_fly(ropescale::dense_view(y.data(), 2, 1, 32), w_inf.data(), 16,
                                       1.0, r0, layout::neox, 32);
    for (int t = 0; t < 2; ++t) {
      for (int i = 0; i < 16; ++i) {
        EXPECT_EQ(std::isnan(y[static_cast<std::size_t>(t * 32 + i)]), i == 7) << i;
      }
    }
  }
  ropescale::frequency_table f32{w, std::vector<float>(16, 0.5f), 1.0, ropescale::angle_mode::f32};
  EXPECT_EQ(key_of([&] {
              ropescale::apply_rotary_on_the_fly(v, tensor_view<float>{}, f32, r0, layout::neox,
                                                 32);
            }),
            "mode");
  for (isa which : {isa::scalar, isa::avx2, isa::avx512, isa::neon}) {
    if (ropescale::available(which)) continue;
    EXPECT_THROW(ropescale::apply_rotary_on_the_fly(v, w.data(), 16, 1.0, r0, layout::neox, 32,
                                                    with_isa(which)),
                 std::invalid_argument)
        << ropescale::name(which);
  }
  EXPECT_EQ(x, x0);  // nothing was touched by a rejected call
  // frequency_table overload works in accurate mode.
  ropescale::frequency_table acc{w, {}, 1.0, ropescale::angle_mode::accurate};
  ropescale::apply_rotary_on_the_fly(v, tensor_view<float>{}, acc, r0, layout::neox, 32);
  EXPECT_NE(x, x0);
}

// Concurrent calls on separate buffers share no state (run under ThreadSanitizer in CI).
TEST(OnTheFly, ConcurrentCalls) {
  const auto t = ropescale_test::default_table(1e4L, 64);
  auto work = [&](std::uint32_t seed, std::vector<float>* out) {
    auto x = random_vector(32 * 64, seed);
    for (int step = 0; step < 20; ++step) {
      ropescale::apply_rotary_on_the_fly(ropescale::dense_view(x.data(), 1, 32, 64),
                                         t.inv_freq.data(), 32, 1.0,
                                         token_positions::range(1000 + step), layout::neox, 64);
    }
    *out = x;
  };
  std::vector<float> a, b, c;
  std::thread t1(work, 1u, &a), t2(work, 1u, &b);
  t1.join();
  t2.join();
  work(1u, &c);
  EXPECT_EQ(a, c);
  EXPECT_EQ(b, c);
}

}  // namespace

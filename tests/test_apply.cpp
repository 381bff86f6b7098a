// SPDX-License-Identifier: Apache-2.0
// Tests for apply.hpp and the per-ISA rotation kernels. Every ISA is a type parameter and skips
// visibly on a CPU without it. Each case is compared with the independent double reference in
// support/rotate_reference.hpp using the same float table values; properties (norms, relative
// position, composition, un-rotation, GPT-J/NeoX permutation) are checked against exact long
// double cos/sin. Guard zones and pass-through channels must be bit-identical.
// A small streaming threshold, so the streaming path is exercised with small tensors (the sweep
// below stays under it: at most 7 tokens x 7 heads x 128 pairs x 8 bytes = 50 KiB).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/angle.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/types.hpp"
#include "support/guarded_buffer.hpp"
#include "support/isa_types.hpp"
#include "support/rotate_reference.hpp"

namespace {

// The lowered streaming threshold (see the file comment), set before any test runs.
constexpr std::int64_t kStreamMinBytes = std::int64_t{96} << 10;
[[maybe_unused]] const bool stream_threshold_lowered =
    (ropescale::simd::set_stream_min_bytes(kStreamMinBytes), true);

using ropescale::bf16;
using ropescale::cos_sin_view;
using ropescale::f16;
using ropescale::isa;
using ropescale::layout;
using ropescale::tensor_view;
using ropescale::token_positions;
namespace ref = ropescale_test::reference;

unsigned test_seed() {
  const char* env = std::getenv("ROPESCALE_TEST_SEED");
  return env != nullptr ? static_cast<unsigned>(std::strtoul(env, nullptr, 10)) : 20260611u;
}

// ---- element helpers (decoding is the reference's, independent of the library) ----
double to_double(float v) { return v; }
double to_double(bf16 v) { return ref::bf16_bits_to_double(v.bits); }
double to_double(f16 v) { return ref::half_bits_to_double(v.bits); }

std::uint32_t bits_of(float v) {
  std::uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}
std::uint32_t bits_of(bf16 v) { return v.bits; }
std::uint32_t bits_of(f16 v) { return v.bits; }

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) {
    return "f32";
  } else if constexpr (std::is_same_v<T, bf16>) {
    return "bf16";
  } else {
    return "f16";
  }
}

/// One unit in the last place of T at magnitude |v|.
template <class T>
double ulp_of(double v) {
  const double a = std::fabs(v);
  int e = a > 0 ? std::ilogb(a) : -1000;
  if constexpr (std::is_same_v<T, float>) {
    return std::ldexp(1.0, std::max(e, -126) - 23);
  } else if constexpr (std::is_same_v<T, bf16>) {
    return std::ldexp(1.0, std::max(e, -126) - 7);
  } else {
    return std::ldexp(1.0, std::max(e, -14) - 10);
  }
}

/// Table rows for positions [first, first + rows): n cos then n sin per row (the layout of
/// cos_sin_rows), built with detail::accurate_cos_sin, A = 1.
struct test_table {
  std::vector<float> data;
  std::int64_t n = 0, first = 0, rows = 0;
  cos_sin_view view() const {
    return cos_sin_view{data.data(), data.data() + n, 2 * n, n, first, rows};
  }
  const float* cos_row(std::int64_t p) const { return data.data() + (p - first) * 2 * n; }
  const float* sin_row(std::int64_t p) const { return cos_row(p) + n; }
};

test_table make_table(const std::vector<double>& omega, std::int64_t first, std::int64_t rows) {
  test_table t;
  t.n = static_cast<std::int64_t>(omega.size());
  t.first = first;
  t.rows = rows;
  t.data.resize(static_cast<std::size_t>(2 * t.n * rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < t.n; ++i) {
      float c = 0, s = 0;
      ropescale::detail::accurate_cos_sin(first + r, omega[static_cast<std::size_t>(i)], 1.0, c, s);
      t.data[static_cast<std::size_t>(r * 2 * t.n + i)] = c;
      t.data[static_cast<std::size_t>(r * 2 * t.n + t.n + i)] = s;
    }
  }
  return t;
}

struct sweep_case {
  std::int64_t tokens, q_heads, k_heads, head_dim, rotary_dim;
  bool packed;          // Q and K are views into one packed [q | k | v] row per token
  std::int64_t offset;  // payload starts this many elements past a 64-byte boundary
  layout lay;
  bool inverse;
  std::int64_t start;  // first position
  bool list;           // explicit (shuffled) position list instead of a range
  bool sub_range;      // rotate only tokens [1, tokens − 1)
};

struct sweep_stats {
  double worst_norm_ulps = 0;  // max |out − ref| / (2^-23 · pair norm)
  double worst_t_ulps = 0;     // max |out − ref| / ulp_T(ref) (16-bit types)
  std::int64_t cases = 0;
};

std::string describe(const sweep_case& c) {
  return "tokens=" + std::to_string(c.tokens) + " q_heads=" + std::to_string(c.q_heads) +
         " k_heads=" + std::to_string(c.k_heads) + " head_dim=" + std::to_string(c.head_dim) +
         " rotary_dim=" + std::to_string(c.rotary_dim) + " packed=" + std::to_string(c.packed) +
         " offset=" + std::to_string(c.offset) + " layout=" + ropescale::name(c.lay) +
         " inverse=" + std::to_string(c.inverse) + " start=" + std::to_string(c.start) +
         " list=" + std::to_string(c.list) + " sub_range=" + std::to_string(c.sub_range);
}

template <class T>
void run_case(isa which, const sweep_case& c, std::mt19937& rng, sweep_stats& st) {
  SCOPED_TRACE(describe(c));
  const std::int64_t D = c.head_dim;
  // Memory layout. Packed: one row per token [q heads | k heads | v heads | 3 pad]. Separate:
  // q and k in their own buffers with head_stride = D + 2 (a gap between heads).
  const std::int64_t hs = c.packed ? D : D + 2;
  const std::int64_t q_row = c.packed ? (c.q_heads + 2 * c.k_heads) * D + 3 : c.q_heads * hs;
  const std::int64_t k_row = c.packed ? q_row : c.k_heads * hs;
  ropescale_test::guarded_buffer<T> qbuf(static_cast<std::size_t>(c.tokens * q_row),
                                         static_cast<std::size_t>(c.offset));
  ropescale_test::guarded_buffer<T> kbuf(c.packed ? 0 : static_cast<std::size_t>(c.tokens * k_row),
                                         static_cast<std::size_t>(c.offset));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::size_t i = 0; i < qbuf.size(); ++i) qbuf[i] = ropescale::store_from_float<T>(u(rng));
  for (std::size_t i = 0; i < kbuf.size(); ++i) kbuf[i] = ropescale::store_from_float<T>(u(rng));
  const std::vector<T> q_orig(qbuf.data(), qbuf.data() + qbuf.size());
  const std::vector<T> k_orig(kbuf.data(), kbuf.data() + kbuf.size());

  tensor_view<T> q{qbuf.data(), c.tokens, c.q_heads, D, q_row, hs};
  tensor_view<T> k{
      c.packed ? qbuf.data() + c.q_heads * D : kbuf.data(), c.tokens, c.k_heads, D, k_row, hs};
  if (c.k_heads == 0) k = tensor_view<T>{};

  // Positions and table (rows for a window around the positions).
  const std::int64_t first = std::max<std::int64_t>(0, c.start - 2);
  const std::int64_t rows = c.start - first + c.tokens + 3;
  const auto omega = ref::default_inv_freq(c.rotary_dim, 10000.0);
  const test_table table = make_table(omega, first, rows);
  std::vector<std::int64_t> positions(static_cast<std::size_t>(c.tokens));
  for (std::int64_t t = 0; t < c.tokens; ++t) {
    positions[static_cast<std::size_t>(t)] =
        c.list ? first + static_cast<std::int64_t>(rng() % static_cast<unsigned>(rows))
               : c.start + t;
  }
  const token_positions pos =
      c.list ? token_positions::list(positions.data(), c.tokens) : token_positions::range(c.start);
  ropescale::apply_options opt;
  opt.force_isa = which;
  opt.inverse = c.inverse;
  std::int64_t tb = 0, te = c.tokens;
  if (c.sub_range && c.tokens >= 3) {
    tb = 1;
    te = c.tokens - 1;
  }
  opt.token_begin = tb;
  opt.token_end = te;
  ropescale::apply_rotary(q, k, table.view(), pos, c.lay, c.rotary_dim, opt);

  ASSERT_TRUE(qbuf.guards_intact()) << "guard bytes around Q changed";
  ASSERT_TRUE(kbuf.guards_intact()) << "guard bytes around K changed";

  // Which elements may change: the rotated channels of every head of both views in the range.
  std::vector<char> q_rot(qbuf.size(), 0), k_rot(kbuf.size(), 0);
  const std::int64_t n = c.rotary_dim / 2;
  std::vector<double> x(static_cast<std::size_t>(D)), cd(static_cast<std::size_t>(n)),
      sd(static_cast<std::size_t>(n));
  auto check_head = [&](const T* out, const T* in, std::int64_t p) {
    for (std::int64_t i = 0; i < n; ++i) {
      cd[static_cast<std::size_t>(i)] = table.cos_row(p)[i];
      sd[static_cast<std::size_t>(i)] = table.sin_row(p)[i];
    }
    for (std::int64_t ch = 0; ch < D; ++ch) x[static_cast<std::size_t>(ch)] = to_double(in[ch]);
    const std::vector<double> xin = x;
    // The pair's input channels (ia, ib) and, for the de-interleaved layout (docs/reference.md
    // §1.3), its output channels (oa, ob): forward reads (2i, 2i+1) and writes (i, i+n); the
    // inverse reads (i, i+n) and writes (2i, 2i+1). Reference: a' = a·c − b·s, b' = b·c + a·s (s →
    // −s).
    const bool deint = c.lay == layout::deinterleaved;
    if (!deint) {
      ref::rotate_head(x.data(), n, cd.data(), sd.data(), c.lay == layout::gptj, c.inverse);
    } else {
      for (std::int64_t i = 0; i < n; ++i) {
        std::int64_t ia = 0, ib = 0, oa = 0, ob = 0;
        ref::pair_index(!c.inverse, n, i, ia, ib);
        ref::pair_index(c.inverse, n, i, oa, ob);
        const double a = xin[static_cast<std::size_t>(ia)], b = xin[static_cast<std::size_t>(ib)];
        const double cs = cd[static_cast<std::size_t>(i)];
        const double sn =
            c.inverse ? -sd[static_cast<std::size_t>(i)] : sd[static_cast<std::size_t>(i)];
        x[static_cast<std::size_t>(oa)] = a * cs - b * sn;
        x[static_cast<std::size_t>(ob)] = b * cs + a * sn;
      }
    }
    for (std::int64_t i = 0; i < n; ++i) {
      std::int64_t ia = 0, ib = 0, oa = 0, ob = 0;
      ref::pair_index(deint ? !c.inverse : c.lay == layout::gptj, n, i, ia, ib);
      ref::pair_index(deint ? c.inverse : c.lay == layout::gptj, n, i, oa, ob);
      const double norm =
          std::hypot(xin[static_cast<std::size_t>(ia)], xin[static_cast<std::size_t>(ib)]);
      for (std::int64_t ch : {oa, ob}) {
        const double r = x[static_cast<std::size_t>(ch)];
        const double o = to_double(out[ch]);
        const double err = std::fabs(o - r);
        const double unit = std::ldexp(1.0, -23) * norm;
        if constexpr (std::is_same_v<T, float>) {
          const double ulps = norm > 0 ? err / unit : (err > 0 ? 1e9 : 0.0);
          st.worst_norm_ulps = std::max(st.worst_norm_ulps, ulps);
          ASSERT_LE(err, 2 * unit) << "channel " << ch << " out " << o << " ref " << r;
        } else {
          st.worst_t_ulps = std::max(st.worst_t_ulps, err / ulp_of<T>(r));
          ASSERT_LE(err, ulp_of<T>(r) + 2 * unit)
              << "channel " << ch << " out " << o << " ref " << r;
        }
      }
    }
  };
  for (std::int64_t t = tb; t < te; ++t) {
    const std::int64_t p = positions[static_cast<std::size_t>(t)];
    for (std::int64_t h = 0; h < c.q_heads; ++h) {
      const std::int64_t off = t * q_row + h * hs;
      check_head(qbuf.data() + off, q_orig.data() + off, p);
      std::fill(q_rot.begin() + off, q_rot.begin() + off + c.rotary_dim, 1);
    }
    for (std::int64_t h = 0; h < c.k_heads; ++h) {
      const std::int64_t off = (c.packed ? c.q_heads * D : 0) + t * k_row + h * hs;
      if (c.packed) {
        check_head(qbuf.data() + off, q_orig.data() + off, p);
        std::fill(q_rot.begin() + off, q_rot.begin() + off + c.rotary_dim, 1);
      } else {
        check_head(kbuf.data() + off, k_orig.data() + off, p);
        std::fill(k_rot.begin() + off, k_rot.begin() + off + c.rotary_dim, 1);
      }
    }
  }
  // Everything else (pass-through channels, V, padding, gaps, tokens outside the range) is
  // bit-identical.
  for (std::size_t i = 0; i < qbuf.size(); ++i) {
    if (!q_rot[i]) {
      ASSERT_EQ(bits_of(qbuf[i]), bits_of(q_orig[i])) << "q element " << i;
    }
  }
  for (std::size_t i = 0; i < kbuf.size(); ++i) {
    if (!k_rot[i]) {
      ASSERT_EQ(bits_of(kbuf[i]), bits_of(k_orig[i])) << "k element " << i;
    }
  }
  ++st.cases;
}

template <class T>
void sweep(isa which) {
  std::mt19937 rng(test_seed());
  SCOPED_TRACE("seed " + std::to_string(test_seed()) + " (ROPESCALE_TEST_SEED overrides)");
  sweep_stats st;
  const std::int64_t head_dims[] = {64, 80, 96, 128, 256};
  const std::int64_t partial[] = {36, 50, 24, 34, 6};  // n = 18, 25, 12, 17, 3
  // A second partial dim where engines use one: 32 of 80 (Phi-2), a register-resident row.
  const std::int64_t partial2[] = {0, 32, 0, 0, 0};
  const std::int64_t starts[] = {0, 100000, 10000000};
  int idx = 0;
  for (int hd = 0; hd < 5; ++hd) {
    for (std::int64_t rd : {head_dims[hd], partial[hd], partial2[hd]}) {
      if (rd == 0) continue;
      for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
        for (std::int64_t tokens : {1, 3, 7}) {
          for (std::int64_t start : starts) {
            ++idx;
            sweep_case c{};
            c.tokens = tokens;
            c.q_heads = 1 + idx % 5;                       // 1 … 5
            c.k_heads = (idx % 7 == 3) ? 0 : 1 + idx % 2;  // GQA, sometimes Q only
            c.head_dim = head_dims[hd];
            c.rotary_dim = rd;
            c.packed = idx % 2 == 0;
            c.offset = idx % 3 == 1 ? 1 : 0;
            c.lay = lay;
            c.inverse = idx % 4 == 2;
            c.start = start;
            c.list = idx % 3 == 2;
            c.sub_range = idx % 5 == 4;
            run_case<T>(which, c, rng, st);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
  if constexpr (std::is_same_v<T, float>) {
    std::printf("[ ropescale ] %s %s: %lld cases, worst error %.3f x 2^-23 x pair norm\n",
                ropescale::name(which), dtype_name<T>(), static_cast<long long>(st.cases),
                st.worst_norm_ulps);
  } else {
    std::printf("[ ropescale ] %s %s: %lld cases, worst error %.3f ulp of %s\n",
                ropescale::name(which), dtype_name<T>(), static_cast<long long>(st.cases),
                st.worst_t_ulps, dtype_name<T>());
  }
}

class ApplyTest : public ropescale_test::IsaTest {};
ROPESCALE_TEST_EVERY_ISA(ApplyTest);

TEST_P(ApplyTest, SweepF32) { sweep<float>(GetParam()); }
TEST_P(ApplyTest, SweepBf16) { sweep<bf16>(GetParam()); }
TEST_P(ApplyTest, SweepF16) { sweep<f16>(GetParam()); }

// ---- properties, against exact (long double) cos/sin ----

std::vector<float> random_vector(std::size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& e : v) e = u(rng);
  return v;
}

/// Rotates one head of `x` (float, head_dim D) at `position` with a one-row table.
void rotate_one(isa which, std::vector<float>& x, std::int64_t rotary_dim,
                const std::vector<double>& omega, std::int64_t position, layout lay,
                bool inverse = false) {
  const test_table t = make_table(omega, position, 1);
  ropescale::apply_options opt;
  opt.force_isa = which;
  opt.inverse = inverse;
  const auto D = static_cast<std::int64_t>(x.size());
  ropescale::apply_rotary(ropescale::dense_view(x.data(), 1, 1, D), t.view(),
                          token_positions::range(position), lay, rotary_dim, opt);
}

TEST_P(ApplyTest, NormsPreserved) {
  std::mt19937 rng(test_seed());
  const std::int64_t D = 128;
  const auto omega = ref::default_inv_freq(D, 500000.0);
  double worst = 0;
  for (layout lay : {layout::neox, layout::gptj}) {
    for (std::int64_t p : {0, 1, 100000, 9999999, 10000000}) {
      auto x = random_vector(D, rng);
      const auto x0 = x;
      rotate_one(GetParam(), x, D, omega, p, lay);
      for (std::int64_t i = 0; i < D / 2; ++i) {
        std::int64_t ia = 0, ib = 0;
        ref::pair_index(lay == layout::gptj, D / 2, i, ia, ib);
        const double n0 = std::hypot(static_cast<double>(x0[ia]), static_cast<double>(x0[ib]));
        const double n1 = std::hypot(static_cast<double>(x[ia]), static_cast<double>(x[ib]));
        worst = std::max(worst, std::fabs(n1 - n0) / n0);
        ASSERT_LE(std::fabs(n1 - n0), 6e-7 * n0) << "pair " << i << " position " << p;
      }
    }
  }
  std::printf("[ ropescale ] %s: worst relative pair-norm change %.3g\n",
              ropescale::name(GetParam()), worst);
}

TEST_P(ApplyTest, ScoreDependsOnlyOnRelativePosition) {
  std::mt19937 rng(test_seed());
  const std::int64_t D = 128;
  const auto omega = ref::default_inv_freq(D, 10000.0);
  // De-interleaved = GPT-J then one fixed permutation of q and k alike: GPT-J's exact score.
  for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
    const auto q0 = random_vector(D, rng), k0 = random_vector(D, rng);
    double qn = 0, kn = 0;
    for (std::int64_t c = 0; c < D; ++c) {
      qn += static_cast<double>(q0[c]) * q0[c];
      kn += static_cast<double>(k0[c]) * k0[c];
    }
    const double scale = std::sqrt(qn * kn);
    for (std::int64_t delta : {0, 1, 37, 4096}) {
      // Exact score <R(m)q, R(n)k> at m − n = delta from long double cos/sin.
      std::vector<double> qe(q0.begin(), q0.end()), ke(k0.begin(), k0.end());
      std::vector<double> c(D / 2), s(D / 2);
      for (std::int64_t i = 0; i < D / 2; ++i) {
        long double cl = 0, sl = 0;
        ref::exact_cos_sin(delta, omega[static_cast<std::size_t>(i)], cl, sl);
        c[static_cast<std::size_t>(i)] = static_cast<double>(cl);
        s[static_cast<std::size_t>(i)] = static_cast<double>(sl);
      }
      ref::rotate_head(qe.data(), D / 2, c.data(), s.data(), lay != layout::neox, false);
      double exact = 0;
      for (std::int64_t ch = 0; ch < D; ++ch) exact += qe[ch] * ke[ch];
      for (std::int64_t n_pos : {0, 5, 100000, 9995000}) {
        const std::int64_t m_pos = n_pos + delta;
        auto q = q0, k = k0;
        rotate_one(GetParam(), q, D, omega, m_pos, lay);
        rotate_one(GetParam(), k, D, omega, n_pos, lay);
        double dot = 0;
        for (std::int64_t ch = 0; ch < D; ++ch) dot += static_cast<double>(q[ch]) * k[ch];
        ASSERT_NEAR(dot, exact, 4e-6 * scale)
            << ropescale::name(lay) << " m=" << m_pos << " n=" << n_pos;
      }
    }
  }
}

TEST_P(ApplyTest, RotationsCompose) {
  std::mt19937 rng(test_seed());
  const std::int64_t D = 96;
  const auto omega = ref::default_inv_freq(D, 10000.0);
  const std::int64_t ab[][2] = {{0, 0}, {3, 4}, {100000, 23}, {9990000, 10000}, {5000000, 5000000}};
  for (layout lay : {layout::neox, layout::gptj}) {
    for (const auto& e : ab) {
      auto x = random_vector(D, rng);
      auto y = x;
      rotate_one(GetParam(), x, D, omega, e[0], lay);
      rotate_one(GetParam(), x, D, omega, e[1], lay);
      rotate_one(GetParam(), y, D, omega, e[0] + e[1], lay);
      for (std::int64_t ch = 0; ch < D; ++ch) {
        ASSERT_NEAR(x[ch], y[ch], 1.5e-6) << "a=" << e[0] << " b=" << e[1] << " ch " << ch;
      }
      if (e[0] == 0 && e[1] == 0) {  // R(0) = I exactly (cos 0 = 1, sin 0 = 0)
        auto z = random_vector(D, rng);
        const auto z0 = z;
        rotate_one(GetParam(), z, D, omega, 0, lay);
        ASSERT_EQ(0, std::memcmp(z.data(), z0.data(), z.size() * sizeof(float)));
      }
    }
  }
}

TEST_P(ApplyTest, InverseRecoversInput) {
  std::mt19937 rng(test_seed());
  const std::int64_t D = 128, rd = 80;
  const auto omega = ref::default_inv_freq(rd, 10000.0);
  for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
    for (std::int64_t p : {1, 100000, 10000000}) {
      auto x = random_vector(D, rng);
      const auto x0 = x;
      rotate_one(GetParam(), x, rd, omega, p, lay);
      rotate_one(GetParam(), x, rd, omega, p, lay, /*inverse=*/true);
      for (std::int64_t ch = 0; ch < D; ++ch) ASSERT_NEAR(x[ch], x0[ch], 6e-7) << "ch " << ch;
      ASSERT_EQ(0, std::memcmp(x.data() + rd, x0.data() + rd, (D - rd) * sizeof(float)));
    }
  }
}

/// docs/reference.md §7: the de-interleaved output is the GPT-J output with even channels moved to
/// the first half and odd ones to the second (values within the f32 rotation tolerance: the two
/// layouts round a·c − b·s in a different order on some targets).
TEST_P(ApplyTest, DeinterleavedEqualsPermutedGptj) {
  std::mt19937 rng(test_seed());
  const std::int64_t D = 192;
  for (std::int64_t rd : {std::int64_t{64}, std::int64_t{192}, std::int64_t{38}}) {
    const auto omega = ref::default_inv_freq(rd, 10000.0);
    const std::int64_t n = rd / 2;
    for (std::int64_t p : {0, 7, 100000, 9999999}) {
      const auto x0 = random_vector(D, rng);
      auto g = x0, d = x0;
      rotate_one(GetParam(), g, rd, omega, p, layout::gptj);
      rotate_one(GetParam(), d, rd, omega, p, layout::deinterleaved);
      for (std::int64_t i = 0; i < n; ++i) {
        const double norm =
            std::hypot(static_cast<double>(x0[2 * i]), static_cast<double>(x0[2 * i + 1]));
        ASSERT_NEAR(d[i], g[2 * i], 4 * std::ldexp(norm, -23)) << "rd " << rd << " pair " << i;
        ASSERT_NEAR(d[n + i], g[2 * i + 1], 4 * std::ldexp(norm, -23))
            << "rd " << rd << " pair " << i;
      }
      ASSERT_EQ(0, std::memcmp(d.data() + rd, x0.data() + rd, (D - rd) * sizeof(float)));
    }
  }
}

TEST_P(ApplyTest, GptjEqualsNeoxUnderEvenOddPermutation) {
  std::mt19937 rng(test_seed());
  const std::int64_t D = 128, n = 40, rd = 2 * n;
  const auto omega = ref::default_inv_freq(rd, 10000.0);
  for (std::int64_t p : {7, 100000, 10000000}) {
    const auto g0 = random_vector(D, rng);
    // NeoX input: channel i <- GPT-J channel 2i, channel n+i <- 2i+1; the rest unchanged.
    std::vector<float> x = g0;
    for (std::int64_t i = 0; i < n; ++i) {
      x[i] = g0[2 * i];
      x[n + i] = g0[2 * i + 1];
    }
    auto g = g0;
    rotate_one(GetParam(), g, rd, omega, p, layout::gptj);
    rotate_one(GetParam(), x, rd, omega, p, layout::neox);
    for (std::int64_t i = 0; i < n; ++i) {
      const double norm = std::hypot(g0[2 * i], g0[2 * i + 1]);
      ASSERT_NEAR(x[i], g[2 * i], 2 * std::ldexp(norm, -23)) << "pair " << i;
      ASSERT_NEAR(x[n + i], g[2 * i + 1], 2 * std::ldexp(norm, -23)) << "pair " << i;
    }
  }
}

TEST_P(ApplyTest, TokenRangesSplitTheWork) {
  // Two disjoint ranges give exactly the result of one full call (same kernel, same order).
  std::mt19937 rng(test_seed());
  const std::int64_t T = 9, Hq = 4, Hk = 2, D = 64;
  const auto omega = ref::default_inv_freq(D, 10000.0);
  const test_table table = make_table(omega, 100, 40);
  auto q = random_vector(T * Hq * D, rng), k = random_vector(T * Hk * D, rng);
  auto q2 = q, k2 = k;
  std::vector<std::int64_t> pos(T);
  for (std::int64_t t = 0; t < T; ++t) pos[t] = 100 + (t * 7) % 40;
  ropescale::apply_options opt;
  opt.force_isa = GetParam();
  const auto P = token_positions::list(pos.data(), T);
  ropescale::apply_rotary(ropescale::dense_view(q.data(), T, Hq, D),
                          ropescale::dense_view(k.data(), T, Hk, D), table.view(), P, layout::neox,
                          D, opt);
  opt.token_begin = 0;
  opt.token_end = 4;
  ropescale::apply_rotary(ropescale::dense_view(q2.data(), T, Hq, D),
                          ropescale::dense_view(k2.data(), T, Hk, D), table.view(), P, layout::neox,
                          D, opt);
  opt.token_begin = 4;
  opt.token_end = -1;
  ropescale::apply_rotary(ropescale::dense_view(q2.data(), T, Hq, D),
                          ropescale::dense_view(k2.data(), T, Hk, D), table.view(), P, layout::neox,
                          D, opt);
  EXPECT_EQ(0, std::memcmp(q.data(), q2.data(), q.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(k.data(), k2.data(), k.size() * sizeof(float)));
}

TEST_P(ApplyTest, CosSinTableSnapshot) {
  // The cos_sin_rows overload matches the raw-row view built from the same values.
  std::mt19937 rng(test_seed());
  const std::int64_t T = 5, H = 3, D = 128;
  const auto omega = ref::default_inv_freq(D, 10000.0);
  ropescale::cos_sin_table table(omega, 1.0, 64);
  const auto snap = table.snapshot();
  const test_table mine = make_table(omega, 0, 64);
  ASSERT_EQ(0, std::memcmp(snap->data(), mine.data.data(), mine.data.size() * sizeof(float)));
  auto x = random_vector(T * H * D, rng);
  auto y = x;
  ropescale::apply_options opt;
  opt.force_isa = GetParam();
  ropescale::apply_rotary(ropescale::dense_view(x.data(), T, H, D), *snap,
                          token_positions::range(50), layout::gptj, D, opt);
  ropescale::apply_rotary(ropescale::dense_view(y.data(), T, H, D), mine.view(),
                          token_positions::range(50), layout::gptj, D, opt);
  EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float)));
}

/// With sin = 0 every output is fl32(a·c) ∓ b·0 (one rounding, exact subtraction of a zero, or
/// NaN), on every target, so the stored 16-bit (or float) value must equal the scalar conversion
/// of that float bit for bit: this checks the kernels' narrowing (RNE, subnormals, overflow to
/// inf, NaN) on random bit patterns, including the bf16 even/odd fast path. (Not for float
/// data: GPT-J's fused a·c − b·s can differ from the scalar order in the sign of an underflowed
/// zero, which is within tolerance but not bit-identical.)
template <class T>
void sin_zero_rounding(isa which) {
  std::mt19937 rng(test_seed());
  const std::int64_t H = 3, D = 128;
  for (layout lay : {layout::neox, layout::gptj}) {
    for (std::int64_t rd : {D, std::int64_t{72}}) {
      const std::int64_t n = rd / 2;
      std::vector<float> row(static_cast<std::size_t>(2 * n), 0.0f);
      std::uniform_real_distribution<float> u(-3.0f, 3.0f);
      for (std::int64_t i = 0; i < n; ++i) row[static_cast<std::size_t>(i)] = u(rng);
      row[0] = 1e-30f;  // products underflow to subnormals
      row[1] = 3e30f;   // and overflow
      std::vector<T> x(static_cast<std::size_t>(H * D));
      for (auto& e : x) {
        std::uint32_t b = rng();
        if constexpr (std::is_same_v<T, float>) {
          std::memcpy(&e, &b, sizeof e);
        } else {
          e = T::from_bits(static_cast<std::uint16_t>(b));
        }
      }
      const auto x0 = x;
      ropescale::apply_options opt;
      opt.force_isa = which;
      ropescale::apply_rotary(ropescale::dense_view(x.data(), 1, H, D),
                              cos_sin_view::single_row(row.data(), n, 5), token_positions::range(5),
                              lay, rd, opt);
      for (std::int64_t h = 0; h < H; ++h) {
        const T* in = x0.data() + h * D;
        const T* out = x.data() + h * D;
        for (std::int64_t i = 0; i < n; ++i) {
          std::int64_t ia = 0, ib = 0;
          ref::pair_index(lay == layout::gptj, n, i, ia, ib);
          const float a = ropescale::load_as_float(in[ia]), b = ropescale::load_as_float(in[ib]);
          const float c = row[static_cast<std::size_t>(i)];
          const float wa = a * c - b * 0.0f, wb = b * c + a * 0.0f;
          for (auto [ch, w] : {std::pair<std::int64_t, float>{ia, wa}, {ib, wb}}) {
            const float got = ropescale::load_as_float(out[ch]);
            if (std::isnan(w)) {
              ASSERT_TRUE(std::isnan(got)) << "head " << h << " channel " << ch;
            } else if (w == 0.0f) {
              // The sign of an exact zero depends on whether a·c − b·s is contracted into one
              // fma (g++ does so for this expression on AArch64), not on the narrowing.
              ASSERT_EQ(got, 0.0f) << ropescale::name(lay) << " head " << h << " channel " << ch;
            } else {
              ASSERT_EQ(bits_of(out[ch]), bits_of(ropescale::store_from_float<T>(w)))
                  << ropescale::name(lay) << " head " << h << " channel " << ch << " a=" << a
                  << " b=" << b << " c=" << c;
            }
          }
        }
        for (std::int64_t ch = rd; ch < D; ++ch) ASSERT_EQ(bits_of(out[ch]), bits_of(in[ch]));
      }
    }
  }
}

TEST_P(ApplyTest, NarrowingMatchesScalarConversionBf16) { sin_zero_rounding<bf16>(GetParam()); }
TEST_P(ApplyTest, NarrowingMatchesScalarConversionF16) { sin_zero_rounding<f16>(GetParam()); }

/// cos = −1, sin = 0 negates every bf16 value exactly (x·(−1) − y·0). The values alternate
/// between 1.0 and 2.0 (magnitudes 0x3F80 and 0x4000) per 16, 32 and 64 channels, so in the
/// AVX512_BF16 narrowing the words of a head's converted vectors share no magnitude bit and their
/// AND is zero, although no word is ±0: the subnormal screen takes its exact branch for a head
/// without subnormals, which must still store the rounded words.
TEST_P(ApplyTest, Bf16ScreenWithoutSubnormalsStoresValues) {
  const std::int64_t H = 4, D = 128, n = D / 2;
  std::vector<float> row(static_cast<std::size_t>(2 * n), 0.0f);
  std::fill(row.begin(), row.begin() + n, -1.0f);
  for (layout lay : {layout::neox, layout::gptj}) {
    for (std::int64_t period : {16, 32, 64}) {
      std::vector<bf16> x(static_cast<std::size_t>(H * D));
      for (std::size_t i = 0; i < x.size(); ++i) {
        x[i] = ropescale::to_bf16((static_cast<std::int64_t>(i) / period) % 2 == 0 ? 1.0f : 2.0f);
      }
      const auto x0 = x;
      ropescale::apply_options opt;
      opt.force_isa = GetParam();
      ropescale::apply_rotary(ropescale::dense_view(x.data(), 1, H, D),
                              cos_sin_view::single_row(row.data(), n, 7), token_positions::range(7),
                              lay, D, opt);
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(bits_of(x[i]), static_cast<std::uint16_t>(bits_of(x0[i]) ^ 0x8000u))
            << ropescale::name(lay) << " period " << period << " element " << i;
      }
    }
  }
}

/// Calls of at least simd::stream_min_bytes() whose row does not fit the row registers take the
/// streaming path; it must give bit-for-bit what the register-resident path gives when the same
/// tokens are rotated in small ranges (the resident path is checked against the reference above).
template <class T>
void stream_matches_resident(isa which) {
  std::mt19937 rng(test_seed());
  const std::int64_t T_ = 8, Hq = 20, Hk = 4, D = 300, rd = 300, n = rd / 2;
  static_assert(8 * 24 * 150 * 2 * 2 >= kStreamMinBytes, "must stream");
  static_assert(24 * 150 * 2 * 4 < kStreamMinBytes, "one token must not");
  const auto omega = ref::default_inv_freq(rd, 10000.0);
  const test_table table = make_table(omega, 1000, T_);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (layout lay : {layout::neox, layout::gptj}) {
    std::vector<T> q(static_cast<std::size_t>(T_ * Hq * D)),
        k(static_cast<std::size_t>(T_ * Hk * D));
    for (auto& e : q) e = ropescale::store_from_float<T>(u(rng));
    for (auto& e : k) e = ropescale::store_from_float<T>(u(rng));
    auto q2 = q, k2 = k;
    ropescale::apply_options opt;
    opt.force_isa = which;
    const auto pos = token_positions::range(1000);
    ropescale::apply_rotary(ropescale::dense_view(q.data(), T_, Hq, D),
                            ropescale::dense_view(k.data(), T_, Hk, D), table.view(), pos, lay, rd,
                            opt);
    for (std::int64_t t = 0; t < T_; ++t) {
      opt.token_begin = t;
      opt.token_end = t + 1;
      ropescale::apply_rotary(ropescale::dense_view(q2.data(), T_, Hq, D),
                              ropescale::dense_view(k2.data(), T_, Hk, D), table.view(), pos, lay,
                              rd, opt);
    }
    ASSERT_EQ(0, std::memcmp(q.data(), q2.data(), q.size() * sizeof(T))) << ropescale::name(lay);
    ASSERT_EQ(0, std::memcmp(k.data(), k2.data(), k.size() * sizeof(T))) << ropescale::name(lay);
    (void)n;
  }
}

TEST_P(ApplyTest, StreamingMatchesResidentF32) { stream_matches_resident<float>(GetParam()); }
TEST_P(ApplyTest, StreamingMatchesResidentBf16) { stream_matches_resident<bf16>(GetParam()); }
TEST_P(ApplyTest, StreamingMatchesResidentF16) { stream_matches_resident<f16>(GetParam()); }

// ---- entry validation (ISA-independent) ----

struct ValidationFixture : ::testing::Test {
  std::vector<float> buf = std::vector<float>(4 * 2 * 64, 0.5f);
  std::vector<double> omega = ref::default_inv_freq(64, 10000.0);
  test_table table = make_table(omega, 10, 8);
  tensor_view<float> q = ropescale::dense_view(buf.data(), 4, 2, 64);

  template <class F>
  static std::string error_of(F&& f) {
    try {
      f();
    } catch (const ropescale::invalid_parameter& e) {
      return e.what();
    }
    return "no exception";
  }
};

TEST_F(ValidationFixture, RejectsBadShapesAndKeepsDataUntouched) {
  const auto before = buf;
  const auto P = token_positions::range(10);
  auto call = [&](tensor_view<float> v, std::int64_t rd) {
    return error_of([&] { ropescale::apply_rotary(v, table.view(), P, layout::neox, rd); });
  };
  EXPECT_NE(call(q, 63).find("rotary_dim: must be even"), std::string::npos);
  EXPECT_NE(call(q, 0).find("rotary_dim"), std::string::npos);
  auto v = q;
  v.head_dim = 32;
  v.head_stride = 64;
  EXPECT_NE(call(v, 64).find("q.head_dim: must be >= rotary_dim (64), got 32"), std::string::npos);
  v = q;
  v.tokens = -1;
  EXPECT_NE(call(v, 64).find("q.tokens: must be >= 0, got -1"), std::string::npos);
  v = q;
  v.data = nullptr;
  EXPECT_NE(call(v, 64).find("q.data: must not be null"), std::string::npos);
  v = q;
  v.head_stride = 10;
  EXPECT_NE(call(v, 64).find("q.head_stride"), std::string::npos);
  v = q;
  v.token_stride = std::int64_t{1} << 62;
  EXPECT_NE(call(v, 64).find("q.token_stride"), std::string::npos);
  v = q;
  v.head_stride = -64;
  EXPECT_NE(call(v, 64).find("q.head_stride"), std::string::npos);
  EXPECT_NE(call(q, 32).find("rotary_dim: must equal 2 * table.pairs (64): pass the rotary "
                             "dimension, not the pair count, got 32"),
            std::string::npos);
  EXPECT_EQ(buf, before);
}

TEST_F(ValidationFixture, RejectsPositionsOutsideTheTable) {
  const auto before = buf;
  auto call = [&](token_positions P, ropescale::apply_options o = {}) {
    return error_of([&] { ropescale::apply_rotary(q, table.view(), P, layout::gptj, 64, o); });
  };
  // Table rows cover positions 10 … 17; 4 tokens.
  EXPECT_EQ(call(token_positions::range(14)), "no exception");
  buf = before;
  EXPECT_NE(call(token_positions::range(15))
                .find("positions[3]: must have a table row "
                      "(positions 10 to 17), got 18"),
            std::string::npos);
  EXPECT_NE(call(token_positions::range(9)).find("positions[0]"), std::string::npos);
  EXPECT_NE(call(token_positions::range(std::int64_t{1} << 62)).find("positions"),
            std::string::npos);
  EXPECT_NE(call(token_positions::range(INT64_MAX)).find("positions"), std::string::npos);
  std::vector<std::int64_t> list = {10, 17, 3, 12};
  EXPECT_NE(call(token_positions::list(list.data(), 4))
                .find("positions[2]: must have a table "
                      "row"),
            std::string::npos);
  EXPECT_NE(call(token_positions::list(list.data(), 3)).find("positions.count"), std::string::npos);
  ropescale::apply_options o;
  o.token_begin = 0;
  o.token_end = 2;  // only tokens 0, 1 are read: position 3 is never looked at
  EXPECT_EQ(call(token_positions::list(list.data(), 4), o), "no exception");
  buf = before;
  o.token_end = 5;
  EXPECT_NE(call(token_positions::range(10), o).find("token_end: must be <= tokens (4), got 5"),
            std::string::npos);
  o.token_begin = 3;
  o.token_end = 2;
  EXPECT_NE(call(token_positions::range(10), o).find("token_begin"), std::string::npos);
  EXPECT_EQ(buf, before);
}

TEST_F(ValidationFixture, RejectsMismatchedQkAndUnavailableIsa) {
  std::vector<float> kb(3 * 64, 0.25f);
  auto k = ropescale::dense_view(kb.data(), 3, 1, 64);
  EXPECT_NE(error_of([&] {
              ropescale::apply_rotary(q, k, table.view(), token_positions::range(10), layout::neox,
                                      64);
            }).find("k.tokens: must equal q.tokens (4), got 3"),
            std::string::npos);
  for (isa i : {isa::avx2, isa::avx512, isa::neon}) {
    if (ropescale::available(i)) continue;
    ropescale::apply_options o;
    o.force_isa = i;
    EXPECT_NE(error_of([&] {
                ropescale::apply_rotary(q, table.view(), token_positions::range(10), layout::neox,
                                        64, o);
              }).find("isa"),
              std::string::npos);
  }
  // Empty views are fine with null data.
  EXPECT_EQ(error_of([&] {
              ropescale::apply_rotary(tensor_view<float>{}, table.view(), token_positions::range(0),
                                      layout::neox, 64);
            }),
            "no exception");
}

}  // namespace

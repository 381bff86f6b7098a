// SPDX-License-Identifier: Apache-2.0
// Tensor views (types.hpp) and their contract at the kernel entry points (apply.hpp):
// - the named factories (dense_view, head_major_view, packed_qkv_views, and their std::span
//   forms under C++20) compute the strides and record the buffer size; a buffer too small or a
//   negative count is rejected with the factory's key;
// - a view whose extent is set is checked against it: a view (swapped strides, too many tokens)
//   that would leave its buffer is rejected, nothing written;
// - no two (token, head) rows of one view may share an element, and q and k may not share a
//   rotated element: checked against a brute-force enumeration of the touched elements for
//   thousands of small random geometries (no missed overlap, no false rejection), plus the
//   layouts engines use (packed QKV with GQA, head-major, heads interleaved between q and k);
// - a rejected call leaves the buffer and its guard zones byte-identical.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>
#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_span)
#include <span>
#endif

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/types.hpp"
#include "support/guarded_buffer.hpp"
#include "support/rotate_reference.hpp"

namespace {

namespace rs = ropescale;
namespace ref = ropescale_test::reference;
using ropescale_test::guarded_buffer;
using rs::layout;
using rs::tensor_view;
using rs::token_positions;

// The message of the invalid_parameter `call` throws ("" if it throws nothing).
template <class F>
std::string message_of(F&& call) {
  try {
    call();
  } catch (const rs::invalid_parameter& e) {
    return e.what();
  }
  return "";
}

// A guarded float buffer filled with distinct values, and a snapshot of its bytes.
struct filled {
  explicit filled(std::size_t n) : buf(n) {
    for (std::size_t i = 0; i < n; ++i) buf[i] = 0.25f + static_cast<float>(i % 97) * 0.01f;
    bytes.assign(reinterpret_cast<const unsigned char*>(buf.data()),
                 reinterpret_cast<const unsigned char*>(buf.data() + n));
  }
  bool unchanged() const {
    return buf.guards_intact() &&
           std::memcmp(bytes.data(), buf.data(), bytes.size() * sizeof(unsigned char)) == 0;
  }
  guarded_buffer<float> buf;
  std::vector<unsigned char> bytes;
};

rs::cos_sin_table test_table(std::int64_t rotary_dim, std::int64_t rows) {
  return rs::cos_sin_table(ref::default_inv_freq(rotary_dim, 10000.0), 1.0, rows);
}

// Rotates every (token, head) row of `v` (as offsets into `x`) with the double reference and the
// table's own cos/sin values (NeoX): what apply_rotary must produce, up to float rounding.
void reference_rotate(std::vector<double>& x, const tensor_view<float>& v, const float* base,
                      const rs::cos_sin_rows& rows, std::int64_t start, std::int64_t rotary_dim) {
  const std::int64_t n = rotary_dim / 2;
  for (std::int64_t t = 0; t < v.tokens; ++t) {
    const float* row = rows.data() + (start + t) * 2 * n;
    std::vector<double> c(row, row + n), s(row + n, row + 2 * n);
    for (std::int64_t h = 0; h < v.heads; ++h) {
      const std::int64_t off = (v.data - base) + t * v.token_stride + h * v.head_stride;
      ref::rotate_head(x.data() + off, n, c.data(), s.data(), false, false);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Factories.

TEST(ViewFactories, DenseHeadMajorAndPackedStrides) {
  std::vector<float> buf(2 * 3 * 8);
  const auto d = rs::dense_view(buf.data(), buf.size(), 2, 3, 8);
  EXPECT_EQ(d.token_stride, 24);
  EXPECT_EQ(d.head_stride, 8);
  EXPECT_EQ(d.extent, 48);
  const auto hm = rs::head_major_view(buf.data(), buf.size(), 2, 3, 8);
  EXPECT_EQ(hm.token_stride, 8);
  EXPECT_EQ(hm.head_stride, 16);
  EXPECT_EQ(hm.extent, 48);
  EXPECT_EQ(rs::dense_view(buf.data(), 2, 3, 8).extent, -1) << "no size given: not checked";

  // 3 tokens, 4 query heads, 1 KV head (GQA), head_dim 8: row = (4 + 2)·8 = 48.
  std::vector<float> qkv(3 * 48 + 5);
  const auto [q, k, v] = rs::packed_qkv_views(qkv.data(), qkv.size(), 3, 4, 1, 8);
  EXPECT_EQ(q.data, qkv.data());
  EXPECT_EQ(k.data, qkv.data() + 32);
  EXPECT_EQ(v.data, qkv.data() + 40);
  for (const auto* x : {&q, &k, &v}) {
    EXPECT_EQ(x->token_stride, 48);
    EXPECT_EQ(x->head_stride, 8);
    EXPECT_EQ(x->tokens, 3);
    EXPECT_EQ(x->extent, static_cast<std::int64_t>(qkv.size()) - (x->data - qkv.data()));
  }
  EXPECT_EQ(q.heads, 4);
  EXPECT_EQ(k.heads, 1);
  EXPECT_EQ(v.heads, 1);
}

TEST(ViewFactories, RejectSmallBuffersAndNegativeCounts) {
  std::vector<float> buf(100);
  EXPECT_EQ(message_of([&] { rs::dense_view(buf.data(), buf.size(), 2, 4, 16); }),
            "dense_view.elements: must be >= tokens*heads*head_dim = 2*4*16 = 128, got 100");
  EXPECT_EQ(message_of([&] { rs::head_major_view(buf.data(), buf.size(), 7, 1, 16); }),
            "head_major_view.elements: must be >= heads*tokens*head_dim = 1*7*16 = 112, got 100");
  EXPECT_EQ(message_of([&] { rs::dense_view(buf.data(), buf.size(), -1, 4, 16); }),
            "dense_view.tokens: must be >= 0, got -1");
  EXPECT_EQ(message_of([&] { rs::packed_qkv_views(buf.data(), buf.size(), 1, 4, 1, 16); }), "");
  EXPECT_EQ(message_of([&] { rs::packed_qkv_views(buf.data(), buf.size(), 2, 4, 1, 16); }),
            "packed_qkv_views.elements: must be >= tokens*(q_heads+2*kv_heads)*head_dim = "
            "2*6*16 = 192, got 100");
  EXPECT_EQ(message_of([&] { rs::packed_qkv_views(buf.data(), buf.size(), 2, 4, -1, 16); }),
            "packed_qkv_views.kv_heads: must be >= 0, got -1");
  const std::int64_t big = std::int64_t{1} << 40;
  EXPECT_EQ(
      message_of([&] { rs::dense_view(buf.data(), buf.size(), big, big, 16); }),
      "dense_view.elements: must be >= tokens*heads*head_dim = 1099511627776*1099511627776*16 "
      "(overflows int64), got 100");
  // An empty packed buffer with zero tokens is fine.
  const auto e = rs::packed_qkv_views(static_cast<float*>(nullptr), 0, 0, 4, 1, 16);
  EXPECT_EQ(e.k.data, nullptr);
}

#if defined(__cpp_lib_span)
TEST(ViewFactories, SpanForms) {
  std::vector<float> buf(2 * 48);
  const std::span<float> s(buf);
  EXPECT_EQ(rs::dense_view(s, 2, 6, 8).extent, 96);
  EXPECT_EQ(rs::head_major_view(s, 2, 6, 8).head_stride, 16);
  const auto qkv = rs::packed_qkv_views(s, 2, 4, 1, 8);
  EXPECT_EQ(qkv.v.data, buf.data() + 40);
  EXPECT_NE(message_of([&] { rs::dense_view(s.first(95), 2, 6, 8); }), "");
}
#endif

// ---------------------------------------------------------------------------------------------
// Extent at the entry point.

TEST(ViewExtent, ViewLeavingItsBufferIsRejectedBeforeWriting) {
  // Packed QKV, 2 tokens, 8 query heads, 2 KV heads, head_dim 16: row 192, buffer 384. A caller
  // who swaps the two strides of q describes a view reaching element 1375.
  filled f(384);
  const auto table = test_table(16, 8);
  const auto rows = table.snapshot();
  auto views = rs::packed_qkv_views(f.buf.data(), f.buf.size(), 2, 8, 2, 16);
  const tensor_view<float>& q = views.q;
  tensor_view<float>& k = views.k;
  tensor_view<float> swapped{q.data, 2, 8, 16, q.head_stride, q.token_stride, q.extent};
  EXPECT_EQ(message_of([&] {
              rs::apply_rotary(swapped, k, *rows, token_positions::range(0), layout::neox, 16);
            }),
            "q.extent: must be > the view's last element offset (tokens-1)*token_stride + "
            "(heads-1)*head_stride + head_dim-1 = 1*16 + 7*192 + 15 = 1375, got 384");
  EXPECT_TRUE(f.unchanged());
  // One token too many for the buffer (k's extent is the buffer minus its offset).
  k.tokens = 3;
  EXPECT_EQ(message_of([&] {
              rs::apply_rotary(tensor_view<float>{}, k, *rows, token_positions::range(0),
                               layout::neox, 16);
            }),
            "k.extent: must be > the view's last element offset (tokens-1)*token_stride + "
            "(heads-1)*head_stride + head_dim-1 = 2*192 + 1*16 + 15 = 415, got 256");
  EXPECT_TRUE(f.unchanged());
  // The exact fit passes.
  k.tokens = 2;
  k.extent = 2 * 192 - 128;
  rs::apply_rotary(tensor_view<float>{}, k, *rows, token_positions::range(1), layout::neox, 16);
  EXPECT_FALSE(f.unchanged());
  EXPECT_TRUE(f.buf.guards_intact());
}

// ---------------------------------------------------------------------------------------------
// Overlap within one view, and between q and k: brute force over the touched elements.

// Offsets of every element of channels [0, width) of every (token, head) row; true if two rows
// share one.
bool brute_rows_overlap(std::int64_t T, std::int64_t H, std::int64_t width, std::int64_t ts,
                        std::int64_t hs) {
  std::set<std::int64_t> seen;
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < H; ++h) {
      for (std::int64_t c = 0; c < width; ++c) {
        if (!seen.insert(t * ts + h * hs + c).second) return true;
      }
    }
  }
  return false;
}

std::set<std::int64_t> touched(const tensor_view<float>& v, const float* base,
                               std::int64_t rotary_dim) {
  std::set<std::int64_t> out;
  for (std::int64_t t = 0; t < v.tokens; ++t) {
    for (std::int64_t h = 0; h < v.heads; ++h) {
      for (std::int64_t c = 0; c < rotary_dim; ++c) {
        out.insert((v.data - base) + t * v.token_stride + h * v.head_stride + c);
      }
    }
  }
  return out;
}

TEST(ViewOverlap, RowsOverlapMatchesBruteForce) {
  std::mt19937 rng(11);
  int overlaps = 0, lattice_ok = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const std::int64_t T = 1 + static_cast<std::int64_t>(rng() % 6);
    const std::int64_t H = 1 + static_cast<std::int64_t>(rng() % 6);
    const std::int64_t D = 1 + static_cast<std::int64_t>(rng() % 6);
    // Per-stride checks passed: stride >= D when its count > 1.
    const std::int64_t ts = T > 1 ? D + static_cast<std::int64_t>(rng() % 25) : 0;
    const std::int64_t hs = H > 1 ? D + static_cast<std::int64_t>(rng() % 25) : 0;
    rs::detail::row_overlap w;
    const bool got = rs::detail::rows_overlap(T, H, D, ts, hs, &w);
    const bool want = brute_rows_overlap(T, H, D, ts, hs);
    ASSERT_EQ(got, want) << "T " << T << " H " << H << " D " << D << " ts " << ts << " hs " << hs;
    if (got) {
      ++overlaps;
      const std::int64_t diff = w.t1 * ts - w.h2 * hs;  // the witness really overlaps
      ASSERT_TRUE(w.t1 >= 1 && w.t1 < T && w.h2 >= 1 && w.h2 < H && diff < D && -diff < D);
    } else if (ts - (H - 1) * hs < D && hs - (T - 1) * ts < D) {
      ++lattice_ok;  // not nested, still disjoint: the exact path said so
    }
  }
  EXPECT_GT(overlaps, 1000);
  EXPECT_GT(lattice_ok, 100);
}

TEST(ViewOverlap, QkRelationMatchesBruteForce) {
  std::mt19937 rng(12);
  std::vector<float> buf(4096);
  int overlaps = 0, shared_disjoint = 0, unprovable = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    const std::int64_t T = 1 + static_cast<std::int64_t>(rng() % 4);
    const std::int64_t r = 2 * (1 + static_cast<std::int64_t>(rng() % 3));
    auto make = [&](std::int64_t same_ts) {
      tensor_view<float> v;
      v.tokens = T;
      v.heads = 1 + static_cast<std::int64_t>(rng() % 4);
      v.head_dim = r + static_cast<std::int64_t>(rng() % 3);
      v.head_stride = v.head_dim + static_cast<std::int64_t>(rng() % 12);
      v.token_stride = same_ts > 0 ? same_ts : v.head_dim + static_cast<std::int64_t>(rng() % 40);
      v.data = buf.data() + rng() % 64;
      return v;
    };
    const tensor_view<float> q = make(0);
    const tensor_view<float> k = make(rng() % 4 == 0 ? 0 : q.token_stride);
    if (!rs::detail::view_ok(q, r) || !rs::detail::view_ok(k, r)) continue;
    const auto tq = touched(q, buf.data(), r), tk = touched(k, buf.data(), r);
    bool want = false;
    for (std::int64_t e : tk) want = want || tq.count(e) != 0;
    rs::detail::qk_overlap w;
    const auto got = rs::detail::qk_relation_of(q, k, r, &w);
    if (got == rs::detail::qk_relation::unprovable) {
      ++unprovable;  // only for intersecting ranges with different token strides
      ASSERT_TRUE(T > 1 && q.token_stride != k.token_stride);
      continue;
    }
    ASSERT_EQ(got == rs::detail::qk_relation::overlap, want)
        << "T " << T << " r " << r << " q(" << q.heads << "," << q.head_dim << "," << q.token_stride
        << "," << q.head_stride << ") k(" << k.heads << "," << k.head_dim << "," << k.token_stride
        << "," << k.head_stride << ") d " << (k.data - q.data);
    if (want) {
      ++overlaps;
      const std::int64_t eq = (q.data - buf.data()) + w.tq * q.token_stride + w.hq * q.head_stride;
      const std::int64_t ek = (k.data - buf.data()) + w.tk * k.token_stride + w.hk * k.head_stride;
      ASSERT_TRUE(w.tq >= 0 && w.tq < T && w.tk >= 0 && w.tk < T && w.hq < q.heads &&
                  w.hk < k.heads && eq - ek < r && ek - eq < r);
    } else if (!(tq.empty() || tk.empty()) && *tk.begin() <= *tq.rbegin() &&
               *tq.begin() <= *tk.rbegin()) {
      ++shared_disjoint;  // interleaved in one range, yet no shared element: accepted
    }
  }
  EXPECT_GT(overlaps, 1000);
  EXPECT_GT(shared_disjoint, 100);
  EXPECT_GT(unprovable, 10);
}

// Layouts engines use are accepted and rotated exactly as rotating each row on its own.
TEST(ViewOverlap, EngineLayoutsAreAcceptedAndRotatedCorrectly) {
  const std::int64_t D = 16, T = 5;
  const auto table = test_table(D, 64);
  const auto rows = table.snapshot();
  struct layout_case {
    const char* name;
    std::size_t size;
    tensor_view<float> q, k;
  };
  std::vector<float> storage(4096);
  float* p = storage.data();
  std::vector<layout_case> cases;
  {
    auto [q, k, v] = rs::packed_qkv_views(p, 5 * (8 + 4) * D, T, 8, 2, D);  // GQA 8:2
    cases.push_back({"packed QKV, GQA", 5 * 12 * D, q, k});
  }
  {
    auto [q, k, v] = rs::packed_qkv_views(p, 5 * 3 * 4 * D, T, 4, 4, D);  // MHA
    cases.push_back({"packed QKV, MHA", 5 * 12 * D, q, k});
  }
  // Head-major q then head-major k in one buffer.
  cases.push_back({"head-major q and k in one buffer", 2 * 3 * T * D,
                   rs::head_major_view(p, 3 * T * D, T, 3, D),
                   rs::head_major_view(p + 3 * T * D, 3 * T * D, T, 3, D)});
  // q heads at even head slots, k heads at odd ones (interleaved, disjoint).
  cases.push_back({"q and k heads interleaved", T * 8 * D,
                   tensor_view<float>{p, T, 4, D, 8 * D, 2 * D, T * 8 * D},
                   tensor_view<float>{p + D, T, 4, D, 8 * D, 2 * D, T * 8 * D - D}});
  // A non-nested lattice: token_stride 3·D/2 with head_stride 2·D (rows never meet).
  cases.push_back(
      {"lattice layout", 64 * D, tensor_view<float>{p, 3, 3, D, 3 * D, 4 * D, 64 * D}, {}});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    for (std::size_t i = 0; i < storage.size(); ++i) {
      storage[i] = std::sin(0.37f * static_cast<float>(i)) + 0.5f;
    }
    std::vector<double> want(storage.begin(), storage.end());
    reference_rotate(want, c.q, p, *rows, 7, D);
    if (c.k.heads > 0) reference_rotate(want, c.k, p, *rows, 7, D);
    const std::string msg = message_of(
        [&] { rs::apply_rotary(c.q, c.k, *rows, token_positions::range(7), layout::neox, D); });
    ASSERT_EQ(msg, "");
    for (std::size_t i = 0; i < storage.size(); ++i) {
      ASSERT_NEAR(storage[i], want[i], 4e-7 * (1.0 + std::fabs(want[i]))) << i;
    }
  }
}

TEST(ViewOverlap, OverlappingViewsAreRejectedBeforeWriting) {
  const std::int64_t D = 16;
  const auto table = test_table(D, 16);
  const auto rows = table.snapshot();
  filled f(1024);
  float* p = f.buf.data();
  auto expect = [&](const tensor_view<float>& q, const tensor_view<float>& k,
                    const std::string& message) {
    EXPECT_EQ(message_of([&] {
                rs::apply_rotary(q, k, *rows, token_positions::range(0), layout::neox, D);
              }),
              message);
    EXPECT_TRUE(f.unchanged()) << message;
  };
  // Rows of one view: token 1 head 0 is token 0 head 2 (token_stride 2·D, head_stride D, 4 heads).
  expect(tensor_view<float>{p, 2, 4, D, 2 * D, D, 1024}, {},
         "q: no two (token, head) rows of head_dim elements may share an element, got "
         "token_stride 32, head_stride 16, head_dim 16 (token 1 head 0 overlaps token 0 head 2)");
  // A partial overlap (5 elements) of token 1 head 0 and token 0 head 1.
  expect({}, tensor_view<float>{p, 2, 2, D, 2 * D - 5, D + 6, 1024},
         "k: no two (token, head) rows of head_dim elements may share an element, got "
         "token_stride 27, head_stride 22, head_dim 16 (token 1 head 0 overlaps token 0 head 1)");
  // q and k are the same view.
  const auto dense = rs::dense_view(p, 1024, 4, 2, D);
  expect(dense, dense,
         "k: must not share an element with q in the rotated channels [0, rotary_dim), got k "
         "token 0 head 0 overlapping q token 0 head 0");
  // k starts half a head into q.
  tensor_view<float> shifted = dense;
  shifted.data = p + D / 2;
  shifted.extent -= D / 2;
  expect(dense, shifted,
         "k: must not share an element with q in the rotated channels [0, rotary_dim), got k "
         "token 0 head 0 overlapping q token 0 head 0");
  // k is q's next token (packed views built by hand with the K offset forgotten off by a row).
  tensor_view<float> next = dense;
  next.data = p + 2 * D;
  next.extent -= 2 * D;
  expect(dense, next,
         "k: must not share an element with q in the rotated channels [0, rotary_dim), got k "
         "token 0 head 0 overlapping q token 1 head 0");
  // Intersecting ranges with different token strides: not provable, rejected.
  tensor_view<float> other = rs::dense_view(p + 2 * D + 5 * D, 1024 - 7 * D, 4, 1, D);
  expect(dense, other,
         "k.token_stride: must equal q.token_stride (32) when the address ranges of q and k "
         "intersect, got 16");
  // With one token the token strides do not matter: disjoint heads in one range pass.
  tensor_view<float> q1 = rs::dense_view(p, 1024, 1, 2, D), k1 = q1;
  q1.head_stride = 2 * D;
  k1.data = p + D;
  k1.head_stride = 2 * D;
  k1.token_stride = 7;
  k1.extent = 1000;
  EXPECT_EQ(message_of([&] {
              rs::apply_rotary(q1, k1, *rows, token_positions::range(0), layout::neox, D);
            }),
            "");
}

// A token-range split of a view that passed the checks touches disjoint elements per range
// (what makes the thread split race-free): the union of the ranges equals one full call.
TEST(ViewOverlap, TokenRangeSplitEqualsOneCall) {
  const std::int64_t D = 16, T = 6;
  const auto table = test_table(D, 16);
  const auto rows = table.snapshot();
  std::vector<float> a(T * 12 * D), b;
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::cos(0.11f * static_cast<float>(i));
  b = a;
  auto [qa, ka, va] = rs::packed_qkv_views(a.data(), a.size(), T, 8, 2, D);
  auto [qb, kb, vb] = rs::packed_qkv_views(b.data(), b.size(), T, 8, 2, D);
  rs::apply_rotary(qa, ka, *rows, token_positions::range(3), layout::neox, D);
  for (std::int64_t begin : {0, 2, 5}) {
    rs::apply_options opt;
    opt.token_begin = begin;
    opt.token_end = begin == 0 ? 2 : (begin == 2 ? 5 : T);
    rs::apply_rotary(qb, kb, *rows, token_positions::range(3), layout::neox, D, opt);
  }
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

}  // namespace

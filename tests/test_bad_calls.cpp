// SPDX-License-Identifier: Apache-2.0
// Bad calls at the kernel entry points (apply_rotary, apply_rotary_on_the_fly, cos_sin_rows,
// cos_sin_table, compute_cos_sin_row): sizes whose products overflow, negative strides, odd or
// oversized rotary_dim, null pointers with non-zero sizes, positions negative or past a cache's
// end, invalid enums; each must throw std::invalid_argument before touching any data (the
// buffers, with guard zones, are compared afterwards). Every row that calls a kernel entry point
// (through rot() / otf()) runs a second time through its non-throwing form (try_apply_rotary,
// try_apply_rotary_on_the_fly), which must return the same key and message and write nothing. NaN
// and Inf in the data must propagate to the affected pair only, on every ISA and storage type,
// never crash or spread. Cases that test_apply.cpp / test_on_the_fly.cpp / test_cos_sin_table.cpp
// already assert in detail are only run here for the bad-input table: with
// ROPESCALE_BAD_INPUT_TABLE_DIR set, this test writes the markdown rows (input, behaviour, the
// message the code really prints) to $ROPESCALE_BAD_INPUT_TABLE_DIR/bad_calls.md — documentation,
// not an expectation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/on_the_fly.hpp"
#include "ropescale/types.hpp"
#include "support/bad_input_table.hpp"

namespace {

using ropescale::bf16;
using ropescale::cos_sin_rows;
using ropescale::cos_sin_table;
using ropescale::cos_sin_view;
using ropescale::f16;
using ropescale::isa;
using ropescale::layout;
using ropescale::tensor_view;
using ropescale::token_positions;

constexpr std::int64_t kHeadDim = 64, kRot = 64, kPairs = 32, kTokens = 4, kHeads = 2;
constexpr std::int64_t kRows = 16;
constexpr std::int64_t kBig = std::int64_t{1} << 40;

std::vector<double> test_inv_freq() {
  std::vector<double> w(kPairs);
  for (std::int64_t i = 0; i < kPairs; ++i) w[i] = std::pow(10000.0, -2.0 * i / kRot);
  return w;
}

using support::rows_out;
const auto* const writer_env =
    ::testing::AddGlobalTestEnvironment(new support::table_writer("bad_calls.md", true));

// A Q buffer with guard zones, a K buffer, and a 16-row table, reset for every case.
class BadCalls : public ::testing::Test {
 protected:
  static constexpr std::size_t kGuard = 64;
  static constexpr float kSentinel = -1234.5f;

  BadCalls() : table_(test_inv_freq(), 1.0, kRows) {
    qbuf_.assign(kGuard * 2 + kTokens * kHeads * kHeadDim, kSentinel);
    for (std::size_t i = kGuard; i < qbuf_.size() - kGuard; ++i) {
      qbuf_[i] = static_cast<float>(i % 17) * 0.125f - 1.0f;
    }
    kbuf_ = qbuf_;
    q_ = ropescale::dense_view(qbuf_.data() + kGuard, kTokens, kHeads, kHeadDim);
    k_ = ropescale::dense_view(kbuf_.data() + kGuard, kTokens, kHeads, kHeadDim);
    q0_ = qbuf_;
    k0_ = kbuf_;
    snap_ = table_.snapshot();
  }

  // Runs `call`, which must throw std::invalid_argument whose message contains `key`, and leave
  // Q and K (and their guards) untouched. Records a table row. If `call` reached a kernel entry
  // point through rot() or otf(), runs it again in try mode: the try_ form must return an error
  // with the thrown invalid_parameter's key and message, and write nothing.
  void expect_rejected(const std::string& input, const std::string& key,
                       const std::function<void()>& call,
                       const std::string& behaviour = "throws invalid_parameter") {
    SCOPED_TRACE(input);
    std::string message, thrown_key;
    entry_calls_ = 0;
    try {
      call();
      ADD_FAILURE() << "no exception for: " << input;
    } catch (const std::invalid_argument& e) {
      message = e.what();
      EXPECT_NE(message.find(key), std::string::npos) << message;
      const auto* p = dynamic_cast<const ropescale::invalid_parameter*>(&e);
      ASSERT_NE(p, nullptr) << "not an invalid_parameter: " << message;
      thrown_key = p->key();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "wrong exception type for " << input << ": " << e.what();
    }
    EXPECT_EQ(qbuf_, q0_) << "Q (or its guard zone) was written";
    EXPECT_EQ(kbuf_, k0_) << "K (or its guard zone) was written";
    rows_out().push_back({input, behaviour, message});
    if (entry_calls_ == 0) return;  // not a kernel entry point (table builds, view factories)
    try_mode_ = true;
    try_error_ = ropescale::error{};
    call();  // must not throw: rot() / otf() call the try_ forms now
    try_mode_ = false;
    EXPECT_FALSE(try_error_.ok()) << "the try_ form accepted: " << input;
    EXPECT_EQ(try_error_.key, thrown_key);
    EXPECT_EQ(try_error_.message, message);
    EXPECT_EQ(qbuf_, q0_) << "the try_ form wrote Q (or its guard zone)";
    EXPECT_EQ(kbuf_, k0_) << "the try_ form wrote K (or its guard zone)";
    ++try_checked_;
  }

  // apply_rotary, or try_apply_rotary in expect_rejected's try pass (the error kept).
  template <class... A>
  void rot(A&&... a) {
    ++entry_calls_;
    if (try_mode_) {
      try_error_ = ropescale::try_apply_rotary(std::forward<A>(a)...);
    } else {
      ropescale::apply_rotary(std::forward<A>(a)...);
    }
  }
  // apply_rotary_on_the_fly, or its try_ form in the try pass.
  template <class... A>
  void otf(A&&... a) {
    ++entry_calls_;
    if (try_mode_) {
      try_error_ = ropescale::try_apply_rotary_on_the_fly(std::forward<A>(a)...);
    } else {
      ropescale::apply_rotary_on_the_fly(std::forward<A>(a)...);
    }
  }

  void apply(tensor_view<float> q, tensor_view<float> k, token_positions pos,
             std::int64_t rotary_dim = kRot, layout lay = layout::neox,
             const ropescale::apply_options& opt = {}) {
    rot(q, k, *snap_, pos, lay, rotary_dim, opt);
  }

  // Every test case routes at least one kernel entry point through the try pass.
  void TearDown() override {
    if (!HasFatalFailure()) {
      EXPECT_GT(try_checked_, 0) << "no row exercised a try_ form";
    }
  }

  std::vector<float> qbuf_, kbuf_, q0_, k0_;
  bool try_mode_ = false;
  int entry_calls_ = 0, try_checked_ = 0;
  ropescale::error try_error_;
  tensor_view<float> q_, k_;
  cos_sin_table table_;
  std::shared_ptr<const cos_sin_rows> snap_;
};

// ---------------------------------------------------------------------------------------------
// Sizes and overflow.

TEST_F(BadCalls, SizeProductsThatOverflow) {
  const auto r0 = token_positions::range(0);
  auto v = q_;
  v.tokens = kBig;
  v.token_stride = kBig;
  expect_rejected("q.tokens = 2^40, q.token_stride = 2^40 (tokens × stride overflows)",
                  "q.token_stride", [&] { apply(v, k_, r0); });
  v = q_;
  v.heads = kBig;
  v.head_stride = kBig;
  expect_rejected("q.heads = 2^40, q.head_stride = 2^40", "q.token_stride",
                  [&] { apply(v, {}, r0); });
  // Each product fits, the sum does not.
  v = q_;
  v.tokens = 3;
  v.token_stride = std::numeric_limits<std::int64_t>::max() / 2;
  v.heads = 3;
  v.head_stride = std::numeric_limits<std::int64_t>::max() / 2;
  expect_rejected("(tokens−1)·token_stride + (heads−1)·head_stride overflows int64",
                  "q.token_stride", [&] { apply(v, {}, r0); });
  // The element extent fits int64 but its byte size does not (float: 4 bytes).
  v = q_;
  v.tokens = 2;
  v.token_stride = std::numeric_limits<std::int64_t>::max() / 4;
  expect_rejected("element extent fits int64, its byte size does not", "q.token_stride",
                  [&] { apply(v, {}, r0); });
  auto kv = k_;
  kv.tokens = kTokens;
  kv.heads = kBig;
  kv.head_stride = kBig;
  expect_rejected("k.heads × k.head_stride overflows", "k.token_stride",
                  [&] { apply(q_, kv, r0); });
  // A table view whose rows × row_stride overflows.
  cos_sin_view t = cos_sin_view::from(*snap_);
  t.rows = kBig;
  t.row_stride = kBig;
  expect_rejected("table.rows × table.row_stride overflows", "table",
                  [&] { rot(q_, k_, t, r0, layout::neox, kRot); });
  t = cos_sin_view::from(*snap_);
  t.first_position = std::numeric_limits<std::int64_t>::max() - 2;
  expect_rejected("table.first_position + rows overflows", "table",
                  [&] { rot(q_, k_, t, r0, layout::neox, kRot); });
  expect_rejected(
      "positions.start = INT64_MAX − 1 with 4 tokens (start + t overflows)", "positions",
      [&] { apply(q_, k_, token_positions::range(std::numeric_limits<std::int64_t>::max() - 1)); });
  expect_rejected("cos_sin_table with 2^31 + 1 positions", "positions",
                  [&] { cos_sin_table big(test_inv_freq(), 1.0, ropescale::max_position + 1); });
}

TEST_F(BadCalls, NegativeSizesAndStrides) {
  const auto r0 = token_positions::range(0);
  auto v = q_;
  v.token_stride = -kHeadDim * kHeads;
  expect_rejected("q.token_stride negative", "q.token_stride", [&] { apply(v, {}, r0); });
  v = q_;
  v.head_stride = -kHeadDim;
  expect_rejected("q.head_stride negative", "q.head_stride", [&] { apply(v, {}, r0); });
  v = q_;
  v.heads = -1;
  expect_rejected("q.heads negative", "q.heads", [&] { apply(v, {}, r0); });
  v = q_;
  v.head_dim = -64;
  expect_rejected("q.head_dim negative", "q.head_dim", [&] { apply(v, {}, r0); });
  auto kv = k_;
  kv.tokens = -4;
  expect_rejected("k.tokens negative", "k.tokens", [&] { apply(q_, kv, r0); });
  // Strides smaller than head_dim would alias heads or tokens.
  v = q_;
  v.token_stride = kHeadDim - 1;
  v.heads = 1;
  expect_rejected("q.token_stride < head_dim with tokens > 1 (tokens overlap)", "q.token_stride",
                  [&] { apply(v, {}, r0); });
  cos_sin_view t = cos_sin_view::from(*snap_);
  t.row_stride = -2 * kPairs;
  expect_rejected("table.row_stride negative", "table.row_stride",
                  [&] { rot(q_, k_, t, r0, layout::neox, kRot); });
  t = cos_sin_view::from(*snap_);
  t.rows = -1;
  expect_rejected("table.rows negative", "table.rows",
                  [&] { rot(q_, k_, t, r0, layout::neox, kRot); });
}

// Views that do not fit their buffer or overlap (themselves or each other): rejected before any
// write (test_views.cpp checks the overlap rules against brute force).
TEST_F(BadCalls, ViewsThatLeaveTheirBufferOrOverlap) {
  const auto r0 = token_positions::range(0);
  const std::int64_t elements = kTokens * kHeads * kHeadDim;
  auto v = ropescale::dense_view(qbuf_.data() + kGuard, static_cast<std::size_t>(elements), kTokens,
                                 kHeads, kHeadDim);
  v.extent = elements - 1;
  expect_rejected("q.extent one element short of the view (dense 4×2×64 view, extent 511)",
                  "q.extent", [&] { apply(v, {}, r0); });
  v = q_;
  v.token_stride = kHeadDim;
  v.head_stride = kHeads * kHeadDim;
  expect_rejected("q strides swapped (token_stride 64, head_stride 128 on a 4×2×64 buffer)",
                  "q: ", [&] { apply(v, {}, r0); });
  v = q_;
  v.tokens = 2;
  v.heads = 4;
  v.token_stride = 2 * kHeadDim;
  expect_rejected("q rows overlap: 2 tokens × 4 heads with token_stride 128, head_stride 64",
                  "q: ", [&] { apply(v, {}, r0); });
  expect_rejected("k is the same view as q", "k: ", [&] { apply(q_, q_, r0); });
  auto k = q_;
  k.data += kHeadDim / 2;
  expect_rejected("k starts 32 elements into q (same strides)", "k: ", [&] { apply(q_, k, r0); });
  k = q_;
  k.data += kHeadDim;
  k.heads = 1;
  k.token_stride = kHeadDim;
  expect_rejected("k inside q's address range with another token stride (64 vs 128)",
                  "k.token_stride", [&] { apply(q_, k, r0); });
  expect_rejected(
      "dense_view(data, 511 elements, 4 tokens, 2 heads, 64)", "dense_view.elements", [&] {
        (void)ropescale::dense_view(qbuf_.data() + kGuard, static_cast<std::size_t>(elements - 1),
                                    kTokens, kHeads, kHeadDim);
      });
  expect_rejected("packed_qkv_views(data, 511 elements, 4 tokens, 1 q head, 0 kv heads, 128)",
                  "packed_qkv_views.elements", [&] {
                    (void)ropescale::packed_qkv_views(qbuf_.data() + kGuard,
                                                      static_cast<std::size_t>(elements - 1),
                                                      kTokens, 1, 0, 2 * kHeadDim);
                  });
}

TEST_F(BadCalls, RotaryDim) {
  const auto r0 = token_positions::range(0);
  expect_rejected("rotary_dim odd (63)", "rotary_dim", [&] { apply(q_, k_, r0, 63); });
  expect_rejected("rotary_dim 0", "rotary_dim", [&] { apply(q_, k_, r0, 0); });
  expect_rejected("rotary_dim negative (−64)", "rotary_dim", [&] { apply(q_, k_, r0, -64); });
  expect_rejected("rotary_dim 4096 with layout::deinterleaved (scratch limit 2048)", "rotary_dim",
                  [&] { apply(q_, k_, r0, 4096, layout::deinterleaved); });
  auto v = q_;
  v.head_dim = 32;
  v.head_stride = 32;
  v.token_stride = 64;
  expect_rejected("rotary_dim (64) > head_dim (32)", "q.head_dim", [&] { apply(v, {}, r0); });
  expect_rejected("rotary_dim / 2 != table pairs (rotary_dim 32, table of 32 pairs)",
                  "rotary_dim: must equal 2 * table.pairs (64): pass the rotary dimension, not the "
                  "pair count, got 32",
                  [&] { apply(q_, k_, r0, 32); });
  expect_rejected("rotary_dim / 2 != table pairs (rotary_dim 48, table of 32 pairs)",
                  "rotary_dim: must equal 2 * table.pairs (64), got 48",
                  [&] { apply(q_, k_, r0, 48); });
  const std::vector<double> w = test_inv_freq();
  expect_rejected("on-the-fly: pairs != rotary_dim / 2",
                  "rotary_dim: must equal 2 * pairs (62), got 64",
                  [&] { otf(q_, k_, w.data(), kPairs - 1, 1.0, r0, layout::neox, kRot); });
}

TEST_F(BadCalls, NullPointersWithNonZeroSizes) {
  const auto r0 = token_positions::range(0);
  auto v = q_;
  v.data = nullptr;
  expect_rejected("q.data null, tokens and heads > 0", "q.data", [&] { apply(v, k_, r0); });
  auto kv = k_;
  kv.data = nullptr;
  expect_rejected("k.data null, heads > 0", "k.data", [&] { apply(q_, kv, r0); });
  cos_sin_view t = cos_sin_view::from(*snap_);
  t.sin = nullptr;
  expect_rejected("table.sin null with rows > 0", "table",
                  [&] { rot(q_, k_, t, r0, layout::neox, kRot); });
  expect_rejected("positions: null list with count 4", "positions.count", [&] {
    apply(q_, k_, token_positions{nullptr, kTokens, 0});
  });
  expect_rejected("on-the-fly: inv_freq null", "inv_freq",
                  [&] { otf(q_, k_, nullptr, kPairs, 1.0, r0, layout::neox, kRot); });
  // Null with zero sizes is a no-op, not an error.
  auto empty = q_;
  empty.data = nullptr;
  empty.tokens = 0;
  EXPECT_NO_THROW(apply(empty, {}, r0));
  cos_sin_view none;
  none.pairs = kPairs;
  EXPECT_NO_THROW(rot(empty, none, r0, layout::neox, kRot));
  EXPECT_EQ(qbuf_, q0_);
}

// ---------------------------------------------------------------------------------------------
// Positions.

TEST_F(BadCalls, PositionsNegativeOrPastTheCache) {
  std::vector<std::int64_t> pos = {0, 1, -1, 2};
  expect_rejected("position −1 in a position list", "positions[2]",
                  [&] { apply(q_, k_, token_positions::list(pos.data(), kTokens)); });
  pos = {0, 1, kRows, 2};
  expect_rejected("position = cache length (16 rows) in a list", "positions[2]",
                  [&] { apply(q_, k_, token_positions::list(pos.data(), kTokens)); });
  expect_rejected("range start −1", "positions[0]",
                  [&] { apply(q_, k_, token_positions::range(-1)); });
  expect_rejected("range 13…16 with 16 rows (last token past the end)", "positions[3]",
                  [&] { apply(q_, k_, token_positions::range(kRows - 3)); });
  expect_rejected("cos_sin_table::ensure(−1)", "positions", [&] { table_.ensure(-1); });
  expect_rejected("cos_sin_table::ensure(2^31 + 1)", "positions",
                  [&] { table_.ensure(ropescale::max_position + 1); });
  std::vector<float> row(2 * kPairs);
  const ropescale::frequency_table f{test_inv_freq(), {}, 1.0, ropescale::angle_mode::accurate};
  expect_rejected("compute_cos_sin_row(position −1)", "position",
                  [&] { ropescale::compute_cos_sin_row(f, -1, row.data()); });
  expect_rejected("compute_cos_sin_row(position 2^31 + 1)", "position", [&] {
    ropescale::compute_cos_sin_row(f, ropescale::max_position + 1, row.data());
  });
  const std::vector<double> w = test_inv_freq();
  pos = {0, ropescale::max_position + 1, 1, 2};
  expect_rejected("on-the-fly: position 2^31 + 1", "positions[1]", [&] {
    otf(q_, k_, w.data(), kPairs, 1.0, token_positions::list(pos.data(), kTokens), layout::neox,
        kRot);
  });
  pos = {0, -5, 1, 2};
  expect_rejected("on-the-fly: position −5", "positions[1]", [&] {
    otf(q_, k_, w.data(), kPairs, 1.0, token_positions::list(pos.data(), kTokens), layout::neox,
        kRot);
  });

  // "Grow or clear error": growing the cache makes the same call valid, and the rows it reads
  // are the new snapshot's.
  pos = {0, 1, 40, 2};
  snap_ = table_.ensure(41);
  EXPECT_NO_THROW(apply(q_, {}, token_positions::list(pos.data(), kTokens)));
  EXPECT_GE(snap_->positions(), 41);
  rows_out().push_back({"position past the end after cos_sin_table::ensure(S) grew the cache",
                        "rotates (ensure(S) makes rows 0 … S−1 exist)", ""});
}

TEST_F(BadCalls, BadEnumsTokenRangesAndIsa) {
  const auto r0 = token_positions::range(0);
  expect_rejected("layout not neox/gptj/deinterleaved (static_cast<layout>(7))", "layout",
                  [&] { apply(q_, k_, r0, kRot, static_cast<layout>(7)); });
  ropescale::apply_options o;
  o.token_begin = 3;
  o.token_end = 2;
  expect_rejected("token_begin > token_end", "token_begin",
                  [&] { apply(q_, k_, r0, kRot, layout::neox, o); });
  o.token_begin = 0;
  o.token_end = kTokens + 1;
  expect_rejected("token_end > tokens", "token_end",
                  [&] { apply(q_, k_, r0, kRot, layout::neox, o); });
  auto kv = k_;
  kv.tokens = kTokens - 1;
  expect_rejected("q.tokens != k.tokens", "k.tokens", [&] { apply(q_, kv, r0); });
  for (isa i : {isa::avx2, isa::avx512, isa::neon}) {
    if (ropescale::available(i)) continue;
    ropescale::apply_options f;
    f.force_isa = i;
    expect_rejected(std::string("force_isa = ") + ropescale::name(i) + " on a CPU/build without it",
                    "isa", [&] { apply(q_, k_, r0, kRot, layout::neox, f); });
    expect_rejected(std::string("set_isa(") + ropescale::name(i) + ") on a CPU/build without it",
                    "isa", [&] { ropescale::set_isa(i); });
    // Which ISA is missing, and the best one named in the message, depend on the machine.
    for (std::size_t n = rows_out().size(), j = n - 2; j < n; ++j)
      rows_out()[j].machine_dependent = true;
    break;  // one row is enough for the table
  }
}

TEST_F(BadCalls, BadFrequencyTables) {
  auto make = [](std::vector<double> w, double a) {
    return ropescale::frequency_table{std::move(w), {}, a, ropescale::angle_mode::accurate};
  };
  std::vector<double> w = test_inv_freq();
  w[5] = std::nan("");
  expect_rejected("cos_sin_table from an inv_freq with NaN", "inv_freq[5]",
                  [&] { cos_sin_table t(make(w, 1.0), 4); });
  w[5] = INFINITY;
  expect_rejected("cos_sin_table from an inv_freq with +inf", "inv_freq[5]",
                  [&] { cos_sin_table t(make(w, 1.0), 4); });
  expect_rejected("cos_sin_table with attention_factor NaN", "attention_factor",
                  [&] { cos_sin_table t(make(test_inv_freq(), std::nan("")), 4); });
  expect_rejected("cos_sin_table with attention_factor 0", "attention_factor",
                  [&] { cos_sin_table t(make(test_inv_freq(), 0.0), 4); });
  expect_rejected("cos_sin_table from an empty inv_freq", "inv_freq",
                  [&] { cos_sin_table t(make({}, 1.0), 4); });
  ropescale::frequency_table f32{test_inv_freq(), {}, 1.0, ropescale::angle_mode::f32};
  expect_rejected("angle_mode::f32 without inv_freq_hf_f32", "inv_freq_hf_f32",
                  [&] { cos_sin_table t(f32, 4); });
  const auto r0 = token_positions::range(0);
  expect_rejected("on-the-fly: attention_factor −1", "attention_factor", [&] {
    otf(q_, k_, test_inv_freq().data(), kPairs, -1.0, r0, layout::neox, kRot);
  });
}

// ---------------------------------------------------------------------------------------------
// NaN / Inf in the data: propagate to the affected pair only, never crash.

template <class T>
std::vector<T> from_floats(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = ropescale::store_from_float<T>(v[i]);
  return out;
}

template <class T>
float at(const std::vector<T>& v, std::size_t i) {
  return ropescale::load_as_float(v[i]);
}

// Rotates a 2-token, 1-head, head_dim 40 (rotary 32) tensor whose token 1 has `bad` in channel
// `c`, with every available ISA, by a table and on the fly. Checks: token 0 and every pair of
// token 1 not containing channel c match a clean run bit for bit; the affected pair is not
// finite-and-equal (it carries the NaN/Inf); pass-through channels are bit-identical, including
// a NaN payload placed there.
template <class T>
void check_propagation(float bad, std::int64_t c, layout lay) {
  const std::int64_t h = 40, d = 32, n = 16;
  std::vector<double> w(n);
  for (std::int64_t i = 0; i < n; ++i) w[i] = std::pow(10000.0, -2.0 * i / d);
  const cos_sin_rows rows(ropescale::frequency_table{w, {}, 1.0, ropescale::angle_mode::accurate},
                          8);
  std::vector<float> clean(2 * h);
  for (std::int64_t i = 0; i < 2 * h; ++i) clean[i] = 0.25f + 0.01f * static_cast<float>(i);
  std::vector<float> dirty = clean;
  dirty[h + c] = bad;
  dirty[h + 35] = std::nanf("0x123");  // pass-through channel with a NaN payload
  const std::int64_t partner =
      lay == layout::neox ? (c < n ? c + n : c - n) : (c % 2 == 0 ? c + 1 : c - 1);
  for (isa which : {isa::scalar, isa::avx2, isa::avx512, isa::neon}) {
    if (!ropescale::available(which)) continue;
    ropescale::apply_options opt;
    opt.force_isa = which;
    for (int path = 0; path < 2; ++path) {
      SCOPED_TRACE(std::string(ropescale::name(which)) + (path ? " on-the-fly" : " table") +
                   " bad=" + std::to_string(bad) + " channel " + std::to_string(c));
      std::vector<T> a = from_floats<T>(clean), b = from_floats<T>(dirty);
      const std::vector<T> b_in = b;
      const auto pos = token_positions::range(5);
      for (auto* buf : {&a, &b}) {
        auto view = ropescale::dense_view(buf->data(), 2, 1, h);
        if (path == 0) {
          ropescale::apply_rotary(view, rows, pos, lay, d, opt);
        } else {
          ropescale::apply_rotary_on_the_fly(view, w.data(), n, 1.0, pos, lay, d, opt);
        }
      }
      for (std::int64_t i = 0; i < 2 * h; ++i) {
        const std::int64_t ch = i % h;
        const bool affected = i >= h && (ch == c || ch == partner);
        if (ch >= d) {
          EXPECT_EQ(std::memcmp(&b[i], &b_in[i], sizeof(T)), 0) << "pass-through channel " << ch;
        } else if (affected) {
          if (ch == c) {
            EXPECT_FALSE(std::isfinite(at(b, i))) << "channel " << ch;
          }
        } else {
          EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(T)), 0) << "unaffected channel " << i;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The common-case check of the rotating entry points (detail::lean_rotate_job, no messages, one
// pass) accepts exactly the calls the complete, ordered checks (detail::checked_rotate_job)
// accept, and fills the same job; every call it declines goes through the complete checks. Random
// calls: a valid one with 0-4 fields moved to a value at or across a boundary the checks test.

bool same_job(const ropescale::simd::rotate_job<float>& a,
              const ropescale::simd::rotate_job<float>& b) {
  return a.token_begin == b.token_begin && a.token_end == b.token_end && a.pairs == b.pairs &&
         a.cos == b.cos && a.sin == b.sin && a.row_stride == b.row_stride &&
         a.positions == b.positions && a.row_offset == b.row_offset &&
         a.range_row0 == b.range_row0 && a.lay == b.lay && a.inverse == b.inverse && a.q == b.q &&
         a.q_heads == b.q_heads && a.q_token_stride == b.q_token_stride &&
         a.q_head_stride == b.q_head_stride && a.k == b.k && a.k_heads == b.k_heads &&
         a.k_token_stride == b.k_token_stride && a.k_head_stride == b.k_head_stride;
}

TEST(LeanCheck, AcceptsExactlyTheCallsTheCompleteChecksAccept) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  std::mt19937_64 rng(20261204);
  std::vector<float> buf(4096), rows(256);
  std::vector<std::int64_t> list(8);
  auto pick = [&](std::initializer_list<std::int64_t> v) {
    return *(v.begin() + static_cast<std::ptrdiff_t>(rng() % v.size()));
  };
  int accepted = 0, rejected = 0, nothing_to_do = 0;
  std::set<std::string> keys;  // of the rejections
  for (int trial = 0; trial < 200000; ++trial) {
    // The valid call: Q 3 tokens x 2 heads x 8 and K 3 x 1 x 8 in one buffer, rotary_dim 4, a
    // 16-row table for positions 5..20, positions 5, 6, 7.
    std::int64_t rd = 4;
    layout lay = layout::neox;
    tensor_view<float> q{buf.data(), 3, 2, 8, 16, 8, -1};
    tensor_view<float> k{buf.data() + 48, 3, 1, 8, 16, 8, 1024};
    cos_sin_view t{rows.data(), rows.data() + 2, 4, 2, 5, 16};
    token_positions pos = token_positions::range(5);
    for (std::size_t i = 0; i < list.size(); ++i) list[i] = 5 + static_cast<std::int64_t>(i);
    ropescale::apply_options opt;
    opt.inverse = rng() % 2 == 0;
    const int moves = static_cast<int>(rng() % 5);
    for (int m = 0; m < moves; ++m) {
      tensor_view<float>& v = rng() % 2 == 0 ? q : k;
      switch (rng() % 22) {
        case 0:
          rd = pick({-2, 0, 1, 2, 3, 6, 8, 2050});
          break;
        case 1:
          lay = static_cast<layout>(pick({0, 1, 2, 3, -1}));
          break;
        case 2:
          v.tokens = pick({-1, 0, 1, 2, 4});
          break;
        case 3:
          v.heads = pick({-1, 0, 0, 1, 3});
          break;
        case 4:
          v.head_dim = pick({-1, 0, 2, 3, 4, 7, 16});
          break;
        case 5:
          v.token_stride = pick({-1, 0, 7, 8, 9, 24, kMax / 2, kMax});
          break;
        case 6:
          v.head_stride = pick({-1, 0, 4, 7, 8, 16, kMax / 4});
          break;
        case 7:
          v.extent = pick({-1, 0, 39, 40, 47, 48, 4000});
          break;
        case 8:
          v.data = rng() % 2 == 0 ? nullptr : buf.data() + rng() % 128;
          break;
        case 9:
          t.pairs = pick({0, 1, 2, 3, 4, kMax});
          break;
        case 10:
          t.rows = pick({-1, 0, 1, 2, 3, 17, kMax});
          break;
        case 11:
          t.row_stride = pick({-1, 0, 2, 4, kMax / 8, kMax});
          break;
        case 12:
          t.first_position = pick({kMin, -3, 0, 4, 5, 6, 18, kMax - 1, kMax});
          break;
        case 13:
          (rng() % 2 == 0 ? t.cos : t.sin) = nullptr;
          break;
        case 14:
          pos = token_positions::range(pick({kMin, -1, 0, 4, 5, 18, 19, kMax - 1, kMax}));
          break;
        case 15:
          pos.count = pick({-1, 0, 1, 3, 4});
          break;
        case 16:
          pos = token_positions::list(list.data(), pick({0, 1, 2, 3, 4}));
          break;
        case 17:
          list[rng() % 4] = pick({kMin, -1, 4, 5, 20, 21, kMax});
          break;
        case 18:
          opt.token_begin = pick({-1, 0, 1, 2, 3, 4});
          break;
        case 19:
          opt.token_end = pick({-2, -1, 0, 1, 2, 3, 4});
          break;
        case 20:
          v.data = buf.data() + pick({0, 4, 8, 12, 40, 44, 46, 48, 200});
          break;
        default:
          opt.force_isa = isa::scalar;
          break;  // not read by either check
      }
    }
    ropescale::simd::rotate_job<float> lean_job{}, full_job{};
    const bool lean = ropescale::detail::lean_rotate_job(lean_job, q, k, t, pos, lay, rd, opt);
    ropescale::error e;
    const bool full =
        ropescale::detail::checked_rotate_job(full_job, q, k, t, pos, lay, rd, opt, nullptr, &e);
    ASSERT_EQ(lean, full) << "trial " << trial << ": " << e.message;
    if (full) {
      ASSERT_TRUE(same_job(lean_job, full_job)) << "trial " << trial;
      ++accepted;
    } else if (!e.ok()) {
      keys.insert(e.key);
      ++rejected;
    } else {
      ++nothing_to_do;
    }
  }
  EXPECT_GT(accepted, 30000);
  EXPECT_GT(rejected, 60000);
  EXPECT_GT(nothing_to_do, 800);
  // Every check rejected some call: layout, rotary_dim, the 8 keys of each view, k (overlap),
  // table (3 keys), token range (2), positions.count/start and positions[0..3].
  EXPECT_GE(keys.size(), 29u);
}

TEST(BadData, NanAndInfPropagateToTheirPairOnly) {
  for (layout lay : {layout::neox, layout::gptj}) {
    for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
      for (std::int64_t c : {0, 7, 16, 31}) {
        check_propagation<float>(bad, c, lay);
        check_propagation<bf16>(bad, c, lay);
        check_propagation<f16>(bad, c, lay);
      }
    }
  }
  rows_out().push_back({"NaN or ±Inf in Q/K (float, bf16, f16)",
                        "no error; the NaN/Inf reaches only the two channels of its pair, every "
                        "other value is bit-identical to a clean run; pass-through NaN payloads "
                        "are kept",
                        ""});
}

TEST(BadData, NanInUserTableRowsPropagates) {
  // A caller-built cos/sin view (not from cos_sin_table) with a NaN cos in pair 3.
  const std::int64_t n = 8, d = 16;
  std::vector<float> cs(2 * n, 1.0f);
  for (std::int64_t i = n; i < 2 * n; ++i) cs[i] = 0.0f;
  cs[3] = std::nanf("");
  std::vector<float> x(d, 0.5f);
  const std::int64_t p = 0;
  ropescale::apply_rotary(ropescale::dense_view(x.data(), 1, 1, d),
                          cos_sin_view::single_row(cs.data(), n, p), token_positions::list(&p, 1),
                          layout::neox, d);
  for (std::int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(std::isnan(x[i]), i == 3) << i;
    EXPECT_EQ(std::isnan(x[i + n]), i == 3) << i;
  }
  rows_out().push_back(
      {"NaN in a caller-built cos/sin row", "no error; that pair's outputs are NaN", ""});
}

TEST(BadData, NonFiniteOmegaOnTheFlyGivesNanForItsPairOnly) {
  // The on-the-fly path does not scan ω (documented in on_the_fly.hpp): a NaN or Inf ω_i makes
  // pair i NaN and leaves the other pairs equal to a clean run within the accuracy bound (that
  // token's row is recomputed by the double fallback).
  const std::int64_t n = 16, d = 32;
  std::vector<double> w(n);
  for (std::int64_t i = 0; i < n; ++i) w[i] = std::pow(10000.0, -2.0 * i / d);
  for (double bad : {std::nan(""), static_cast<double>(INFINITY)}) {
    for (isa which : {isa::scalar, isa::avx2, isa::avx512, isa::neon}) {
      if (!ropescale::available(which)) continue;
      SCOPED_TRACE(ropescale::name(which));
      ropescale::apply_options opt;
      opt.force_isa = which;
      std::vector<double> wb = w;
      wb[5] = bad;
      std::vector<float> clean(2 * d, 0.5f), dirty = clean;
      const auto pos = token_positions::range(3);
      ropescale::apply_rotary_on_the_fly(ropescale::dense_view(clean.data(), 2, 1, d), w.data(), n,
                                         1.0, pos, layout::neox, d, opt);
      ropescale::apply_rotary_on_the_fly(ropescale::dense_view(dirty.data(), 2, 1, d), wb.data(), n,
                                         1.0, pos, layout::neox, d, opt);
      for (std::int64_t t = 0; t < 2; ++t) {
        for (std::int64_t i = 0; i < n; ++i) {
          const std::size_t a = static_cast<std::size_t>(t * d + i), b = a + n;
          if (i == 5) {
            EXPECT_TRUE(std::isnan(dirty[a]) && std::isnan(dirty[b])) << "token " << t;
          } else {
            // The row falls back to the double path, so equal within the accuracy bound only.
            EXPECT_NEAR(clean[a], dirty[a], 1e-6);
            EXPECT_NEAR(clean[b], dirty[b], 1e-6);
          }
        }
      }
    }
  }
  rows_out().push_back({"apply_rotary_on_the_fly with a NaN or Inf ω_i",
                        "no error (ω is not scanned on the hot path); pair i comes out NaN, the "
                        "other pairs are correct",
                        ""});
}

TEST(BadData, HugeAttentionFactorOverflowsFloatRows) {
  // A finite A whose product with cos/sin exceeds float: the table accepts it (A only has to be
  // finite and > 0) and the rows overflow to ±inf, as the bad-input table documents. Row 1 holds
  // A·cos(1) ≈ 5.4e38 and A·sin(1) ≈ 8.4e38, both beyond FLT_MAX ≈ 3.4e38.
  const cos_sin_rows rows(
      ropescale::frequency_table{{1.0, 0.5}, {}, 1e39, ropescale::angle_mode::accurate}, 2);
  EXPECT_TRUE(std::isinf(rows.cos(1, 0))) << rows.cos(1, 0);
  EXPECT_TRUE(std::isinf(rows.sin(1, 0))) << rows.sin(1, 0);
  const std::string behaviour = "accepted; rows overflow to ±inf";
  rows_out().push_back({"attention_factor 1e39 (finite, but A·cos exceeds float)", behaviour, ""});
}

}  // namespace

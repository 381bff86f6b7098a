// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the rotation entry points' argument checks (apply_rotary with a cos/sin view,
// apply_rotary_on_the_fly), shared by fuzz_apply_args.cpp and tests/test_fuzz_regressions.cpp.
// The input bytes choose view sizes and strides (sane, random, negative or huge), rotary_dim,
// the table view (rows, first position, row stride, pairs), positions (range or list), layout,
// token range, ISA and path. Every buffer is allocated with exactly the number of elements the
// arguments describe (never more), so under ASan any read or write the library lets through
// beyond them is caught. A call either throws std::invalid_argument (then nothing may have
// changed) or succeeds, and then only channels [0, rotary_dim) of the tokens in the token range
// may have changed. Arguments whose honest extent exceeds 2^20 elements are skipped (a caller
// may legally describe memory the harness will not allocate).
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_APPLY_ARGS_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_APPLY_ARGS_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "ropescale/apply.hpp"
#include "ropescale/on_the_fly.hpp"

namespace ropescale_fuzz {

/// Reads small integers from the fuzz input (zeros once it runs out).
class byte_reader {
 public:
  byte_reader(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  std::uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
  /// A value in [lo, hi] for most bytes; the top codes give -1, a huge value or INT64_MIN.
  std::int64_t pick(std::int64_t lo, std::int64_t hi) {
    const std::uint8_t b = byte();
    if (b == 255) return -1;
    if (b == 254) return std::int64_t{1} << 40;
    if (b == 253) return std::numeric_limits<std::int64_t>::min();
    if (b == 252) return std::numeric_limits<std::int64_t>::max();
    return lo + static_cast<std::int64_t>(b) % (hi - lo + 1);
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_, i_ = 0;
};

/// a·b, saturating at the int64 limits (the harness itself must not overflow).
inline std::int64_t mul_sat(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) {
    return (a < 0) != (b < 0) ? std::numeric_limits<std::int64_t>::min()
                              : std::numeric_limits<std::int64_t>::max();
  }
  return r;
}

inline constexpr std::int64_t apply_args_max_elements = std::int64_t{1} << 20;

/// Elements spanned by a view with these fields, or nullopt if negative/overflowing/too large.
/// 0 for an empty view (no tokens or no heads).
inline std::optional<std::int64_t> view_extent(std::int64_t tokens, std::int64_t heads,
                                               std::int64_t head_dim, std::int64_t ts,
                                               std::int64_t hs) {
  if (tokens < 0 || heads < 0 || head_dim < 0 || ts < 0 || hs < 0) return std::nullopt;
  if (tokens == 0 || heads == 0) return 0;
  std::int64_t a = 0, b = 0, e = 0;
  if (__builtin_mul_overflow(tokens - 1, ts, &a) || __builtin_mul_overflow(heads - 1, hs, &b) ||
      __builtin_add_overflow(a, b, &e) || __builtin_add_overflow(e, head_dim, &e)) {
    return std::nullopt;
  }
  if (e > apply_args_max_elements) return std::nullopt;
  return e;
}

struct fuzz_view {
  std::vector<float> buf;
  ropescale::tensor_view<float> v;
  bool skip = false;
};

inline fuzz_view make_view(byte_reader& r, std::int64_t tokens) {
  fuzz_view f;
  f.v.tokens = tokens;
  f.v.heads = r.pick(0, 4);
  f.v.head_dim = r.pick(0, 70);
  const std::uint8_t mode = r.byte() % 4;
  if (mode == 0) {  // dense
    f.v.head_stride = f.v.head_dim;
    f.v.token_stride = mul_sat(f.v.heads, f.v.head_dim);
  } else {
    f.v.head_stride = r.pick(0, 160);
    f.v.token_stride = r.pick(0, 400);
  }
  const auto extent =
      view_extent(f.v.tokens, f.v.heads, f.v.head_dim, f.v.token_stride, f.v.head_stride);
  const bool negative = f.v.tokens < 0 || f.v.heads < 0 || f.v.head_dim < 0 ||
                        f.v.token_stride < 0 || f.v.head_stride < 0;
  if (!extent && !negative) {
    f.skip = true;  // legal but larger than the harness allocates
    return f;
  }
  f.buf.assign(static_cast<std::size_t>(extent.value_or(1)), 0.0f);
  for (std::size_t i = 0; i < f.buf.size(); ++i)
    f.buf[i] = 0.25f + 0.001f * static_cast<float>(i % 1000);
  f.v.data = (r.byte() == 7) ? nullptr : f.buf.data();
  if (extent && *extent == 0 && r.byte() % 2) f.v.data = nullptr;
  return f;
}

/// Sometimes declares the view's buffer size, or one element less (must then be rejected). Read
/// after every other field, so inputs written before this existed decode as they did.
inline void declare_extent(byte_reader& r, fuzz_view& f) {
  const std::uint8_t declare = r.byte() % 4;
  if (declare != 0) f.v.extent = static_cast<std::int64_t>(f.buf.size()) - (declare == 3 ? 1 : 0);
}

/// An accepted view keeps its contract: it fits its declared extent and no element belongs to
/// two (token, head) rows of head_dim channels.
inline void check_view_contract(const fuzz_view& f) {
  const ropescale::tensor_view<float>& v = f.v;
  if (v.tokens <= 0 || v.heads <= 0) return;
  const auto span = view_extent(v.tokens, v.heads, v.head_dim, v.token_stride, v.head_stride);
  ROPESCALE_FUZZ_CHECK(span.has_value());
  if (!span) return;
  ROPESCALE_FUZZ_CHECK(v.extent < 0 || *span <= v.extent);
  std::vector<char> owner(f.buf.size(), 0);
  for (std::int64_t t = 0; t < v.tokens; ++t) {
    for (std::int64_t h = 0; h < v.heads; ++h) {
      for (std::int64_t c = 0; c < v.head_dim; ++c) {
        char& o = owner[static_cast<std::size_t>(t * v.token_stride + h * v.head_stride + c)];
        ROPESCALE_FUZZ_CHECK(o == 0);
        o = 1;
      }
    }
  }
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

/// Checks that only channels [0, rd) of tokens [tb, te) changed.
inline void check_untouched(const fuzz_view& f, const std::vector<float>& before, std::int64_t rd,
                            std::int64_t tb, std::int64_t te) {
  std::vector<char> may_change(f.buf.size(), 0);
  for (std::int64_t t = tb; t < te; ++t) {
    for (std::int64_t h = 0; h < f.v.heads; ++h) {
      for (std::int64_t c = 0; c < rd; ++c) {
        may_change[static_cast<std::size_t>(t * f.v.token_stride + h * f.v.head_stride + c)] = 1;
      }
    }
  }
  for (std::size_t i = 0; i < f.buf.size(); ++i) {
    if (!may_change[i])
      ROPESCALE_FUZZ_CHECK(std::memcmp(&f.buf[i], &before[i], sizeof(float)) == 0);
  }
}

/// Fuzz entry: returns 0; aborts on a broken invariant.
inline int run_apply_args(const std::uint8_t* data, std::size_t size) {
  namespace rs = ropescale;
  byte_reader r(data, size);
  const std::int64_t tokens = r.pick(0, 8);
  fuzz_view q = make_view(r, tokens);
  fuzz_view k = r.byte() % 2 ? make_view(r, r.byte() % 8 ? tokens : r.pick(0, 8)) : fuzz_view{};
  if (q.skip || k.skip) return 0;
  std::int64_t rd = r.pick(0, 72);
  if (r.byte() % 2) rd &= ~std::int64_t{1};  // even (INT64_MIN stays INT64_MIN)

  // Table view: rows for positions [first, first + rows), exact-size cos and sin arrays.
  rs::cos_sin_view table;
  table.rows = r.pick(0, 24);
  table.first_position = r.pick(-4, 20);
  table.pairs = r.byte() % 4 ? rd / 2 : r.pick(0, 40);
  table.row_stride = r.byte() % 3 ? mul_sat(2, table.pairs) : r.pick(0, 90);
  std::vector<float> cos_buf, sin_buf;
  if (table.rows > 0) {
    // Exactly (rows − 1)·row_stride + pairs floats each. Negative or overflowing sizes get one
    // float (the call must throw before reading); legal sizes beyond 2^20 are skipped, since a
    // caller may describe a table larger than the harness allocates.
    std::int64_t n = 1;
    if (table.pairs >= 0 && table.row_stride >= 0 &&
        !__builtin_mul_overflow(table.rows - 1, table.row_stride, &n) &&
        !__builtin_add_overflow(n, table.pairs, &n)) {
      if (n > apply_args_max_elements) return 0;
    } else {
      n = 1;
    }
    cos_buf.assign(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)), 0.6f);
    sin_buf.assign(cos_buf.size(), 0.8f);
    table.cos = cos_buf.data();
    table.sin = sin_buf.data();
  }
  if (r.byte() == 9) table.sin = nullptr;

  // Positions: a list of exactly `count` values, or a start position.
  std::vector<std::int64_t> list;
  rs::token_positions pos;
  if (r.byte() % 2) {
    const std::int64_t count = r.byte() % 5 ? tokens : r.pick(0, 9);
    if (count >= 0 && count <= 16) {
      list.resize(static_cast<std::size_t>(count));
      for (auto& p : list) p = r.pick(-3, 27);
      pos = rs::token_positions::list(list.empty() ? nullptr : list.data(), count);
    }
  } else {
    pos = rs::token_positions::range(r.pick(-3, 27));
  }
  const rs::layout lay = static_cast<rs::layout>(r.byte() % 5 == 4 ? 7 : r.byte() % 3);
  rs::apply_options opt;
  opt.inverse = r.byte() % 2;
  if (r.byte() % 3 == 0) {
    opt.token_begin = r.pick(0, 9);
    opt.token_end = r.pick(0, 9);
  }
  const rs::isa isas[] = {rs::isa::scalar, rs::isa::avx2, rs::isa::avx512, rs::isa::neon};
  opt.force_isa = isas[r.byte() % 4];
  if (!rs::available(*opt.force_isa)) opt.force_isa = rs::isa::scalar;
  const bool on_the_fly = r.byte() % 3 == 0;
  declare_extent(r, q);
  declare_extent(r, k);
  // ω for the on-the-fly path: pairs entries when that is small (the library reads rotary_dim/2
  // <= 35 of them when it does any work, since head_dim <= 70); a huge `pairs` gets one entry.
  const std::int64_t w_len = table.pairs >= 0 && table.pairs <= 64 ? table.pairs + 1 : 1;
  std::vector<double> w(static_cast<std::size_t>(w_len), 0.01);

  const std::vector<float> q0 = q.buf, k0 = k.buf;
  bool ok = true;
  try {
    if (on_the_fly) {
      rs::apply_rotary_on_the_fly(q.v, k.v, w.data(), table.pairs, 1.0, pos, lay, rd, opt);
    } else {
      rs::apply_rotary(q.v, k.v, table, pos, lay, rd, opt);
    }
  } catch (const std::invalid_argument&) {
    ok = false;
  }
  if (!ok) {
    ROPESCALE_FUZZ_CHECK(same_bits(q.buf, q0));
    ROPESCALE_FUZZ_CHECK(same_bits(k.buf, k0));
    return 0;
  }
  // Accepted: everything the call was not allowed to touch is bit-identical.
  const std::int64_t n_tok = q.v.heads > 0 ? q.v.tokens : k.v.tokens;
  const std::int64_t tb = opt.token_begin, te = opt.token_end < 0 ? n_tok : opt.token_end;
  check_view_contract(q);
  check_view_contract(k);
  if (q.v.heads > 0 && q.v.tokens > 0) check_untouched(q, q0, rd, tb, te);
  if (k.v.heads > 0 && k.v.tokens > 0) check_untouched(k, k0, rd, tb, te);
  return 0;
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_APPLY_ARGS_HPP

// SPDX-License-Identifier: Apache-2.0
// Public in-place rotation entry points (docs/reference.md §1.3): rotate the first rotary_dim
// channels of every head of Q and (optionally) K, in place, by the angles of a cos/sin table row
// chosen by each token's position. Q and K are rotated in one call (their head counts may differ,
// as with GQA), so each token's table row is located once and reused, from L1, by all of their
// heads. Channels [rotary_dim, head_dim) are never touched (bit-identical). Every argument is
// checked here, in O(1) (O(tokens) for an explicit position list), before one dispatch switch hands
// a validated job to a noexcept, allocation-free kernel (simd/dispatch.hpp). Engines split work
// across threads with apply_options::token_begin/token_end; the library starts no threads.
#ifndef ROPESCALE_APPLY_HPP
#define ROPESCALE_APPLY_HPP

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/overflow.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/simd/dispatch.hpp"
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/target.hpp"
#include "ropescale/types.hpp"

namespace ropescale {

/// Where the cos/sin values come from: rows for the positions [first_position,
/// first_position + rows). The row of position p starts at r = p − first_position and holds
/// cos[r·row_stride + i] and sin[r·row_stride + i] for the pairs i < pairs, attention factor
/// already folded in (cs = A·cos(p·ω_i), sn = A·sin(p·ω_i), docs/reference.md §1.2).
///
/// Lifetime: a cos_sin_view is raw pointers and owns nothing. One made by from(rows) is valid
/// only while some std::shared_ptr to that cos_sin_rows snapshot is alive, so hold the pointer
/// returned by cos_sin_table::snapshot()/ensure() for as long as the view is used. A view taken
/// from a temporary (`auto v = cos_sin_view::from(*table.snapshot());`) lives on the table's own
/// reference and dangles as soon as ensure() grows or rebuild() replaces the rows, possibly on
/// another thread. Passing the snapshot itself (`apply_rotary(q, k, *rows, ...)`) needs no view.
/// A caller-built view points into the caller's buffer, which must outlive every call using it.
struct cos_sin_view {
  const float* cos = nullptr;
  const float* sin = nullptr;
  std::int64_t row_stride = 0;      ///< floats between consecutive rows
  std::int64_t pairs = 0;           ///< n = rotary_dim / 2
  std::int64_t first_position = 0;  ///< position of row 0
  std::int64_t rows = 0;            ///< number of rows

  /// The rows of a cos_sin_rows snapshot (row p: n cos then n sin, stride 2n, positions [0, N)).
  static cos_sin_view from(const cos_sin_rows& r) noexcept {
    cos_sin_view v;
    v.pairs = r.pairs();
    v.row_stride = 2 * v.pairs;
    v.rows = r.positions();
    if (r.data() != nullptr) {
      v.cos = r.data();
      v.sin = r.data() + v.pairs;
    }
    return v;
  }

  /// One packed row (n cos values, then n sin values) valid for `position` only: what the
  /// no-table decode path computes per token.
  static constexpr cos_sin_view single_row(const float* row, std::int64_t n,
                                           std::int64_t position) noexcept {
    return cos_sin_view{row, row == nullptr ? nullptr : row + n, 2 * n, n, position, 1};
  }
};

/// Options of apply_rotary.
struct apply_options {
  /// Rotate by −angle (sn → −sn): undoes a forward rotation (with A = 1).
  bool inverse = false;
  /// Run with this ISA instead of active_isa() (checked: an unavailable ISA throws). Tests use it
  /// to exercise every kernel without touching global state.
  std::optional<isa> force_isa;
  /// Rotate only tokens [token_begin, token_end) of the views (token_end < 0: up to the end).
  /// Positions keep indexing the full token axis, so disjoint ranges may run on different threads.
  std::int64_t token_begin = 0;
  std::int64_t token_end = -1;
};

namespace detail {

inline std::string view_key(const char* view, const char* field) {
  return std::string(view) + "." + field;
}

/// Two (token, head) rows of one view that share an element: token t1 head 0 and token 0 head h2.
struct row_overlap {
  std::int64_t t1 = 0, h2 = 0;
};

/// True when two different (token, head) rows of a view, each head_dim elements long, share an
/// element: some dt in [1, T−1] and dh in [1, H−1] with |dt·ts − dh·hs| < D (the other sign
/// combinations are >= ts or >= hs, which are >= D once the per-stride checks passed). Exact, no
/// false alarms: O(1) when one stride spans the whole other axis (dense, packed QKV, GQA,
/// head-major, padded rows), else O(min(T, H)) nearest-lattice-point tests. Requires the
/// per-stride checks and (T−1)·ts, (H−1)·hs to fit in int64 (validate_view's order).
inline bool rows_overlap(std::int64_t tokens, std::int64_t heads, std::int64_t head_dim,
                         std::int64_t ts, std::int64_t hs, row_overlap* where) noexcept {
  if (tokens < 2 || heads < 2 || head_dim == 0) return false;
  if (ts - (heads - 1) * hs >= head_dim || hs - (tokens - 1) * ts >= head_dim) return false;
  // |dt·ts − dh·hs| is convex in either index: the nearest lattice point is at the floor or the
  // ceiling of the quotient, clamped to the index range. Loop over the shorter axis.
  const bool by_head = heads <= tokens;
  const std::int64_t outer = by_head ? heads : tokens, inner = by_head ? tokens : heads;
  const std::int64_t s_out = by_head ? hs : ts, s_in = by_head ? ts : hs;
  for (std::int64_t i = 1; i < outer; ++i) {
    const std::int64_t x = i * s_out;
    const std::int64_t q = x / s_in;
    for (std::int64_t j : {q, q + 1}) {
      j = j < 1 ? 1 : (j > inner - 1 ? inner - 1 : j);
      const std::int64_t diff = j * s_in - x;
      if (diff < head_dim && -diff < head_dim) {
        if (where != nullptr) *where = by_head ? row_overlap{j, i} : row_overlap{i, j};
        return true;
      }
    }
  }
  return false;
}

/// The number of elements a view spans from data: (T−1)·token_stride + (heads−1)·head_stride +
/// head_dim; false when that (or its byte size) does not fit in int64. Counts must be >= 1.
template <class T>
inline bool view_span(const tensor_view<T>& x, std::int64_t& span) noexcept {
  std::int64_t a = 0, b = 0;
  return !(mul_overflow(x.tokens - 1, x.token_stride, &a) ||
           mul_overflow(x.heads - 1, x.head_stride, &b) || add_overflow(a, b, &span) ||
           add_overflow(span, x.head_dim, &span) ||
           span > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(sizeof(T)));
}

/// The first problem of one tensor view, or no error (a view with heads == 0 or tokens == 0 is
/// not rotated and only its sizes are checked).
template <class T>
inline error view_error(const char* v, const tensor_view<T>& x, std::int64_t rotary_dim) {
  if (x.tokens < 0) return make_invalid_value(view_key(v, "tokens"), "must be >= 0", x.tokens);
  if (x.heads < 0) return make_invalid_value(view_key(v, "heads"), "must be >= 0", x.heads);
  if (x.head_dim < 0) {
    return make_invalid_value(view_key(v, "head_dim"), "must be >= 0", x.head_dim);
  }
  if (x.heads == 0 || x.tokens == 0) return {};
  if (x.head_dim < rotary_dim) {
    return make_invalid_value(view_key(v, "head_dim"),
                              "must be >= rotary_dim (" + std::to_string(rotary_dim) + ")",
                              x.head_dim);
  }
  if (x.data == nullptr) {
    return make_invalid(view_key(v, "data"), "must not be null for a non-empty view", "null");
  }
  if (x.token_stride < 0 || (x.tokens > 1 && x.token_stride < x.head_dim)) {
    return make_invalid_value(
        view_key(v, "token_stride"),
        "must be >= head_dim (" + std::to_string(x.head_dim) + ") when tokens > 1, and >= 0",
        x.token_stride);
  }
  if (x.head_stride < 0 || (x.heads > 1 && x.head_stride < x.head_dim)) {
    return make_invalid_value(
        view_key(v, "head_stride"),
        "must be >= head_dim (" + std::to_string(x.head_dim) + ") when heads > 1, and >= 0",
        x.head_stride);
  }
  // The last element's offset and its byte offset must be representable.
  std::int64_t span = 0;
  if (!view_span(x, span)) {
    return make_message(view_key(v, "token_stride"),
                        "tokens, heads, head_dim and strides span more elements than an address "
                        "offset can hold");
  }
  if (x.extent >= 0 && span > x.extent) {
    return make_invalid_value(
        view_key(v, "extent"),
        "must be > the view's last element offset (tokens-1)*token_stride + "
        "(heads-1)*head_stride + head_dim-1 = " +
            std::to_string(x.tokens - 1) + "*" + std::to_string(x.token_stride) + " + " +
            std::to_string(x.heads - 1) + "*" + std::to_string(x.head_stride) + " + " +
            std::to_string(x.head_dim - 1) + " = " + std::to_string(span - 1),
        x.extent);
  }
  row_overlap w;
  if (rows_overlap(x.tokens, x.heads, x.head_dim, x.token_stride, x.head_stride, &w)) {
    return make_invalid(v, "no two (token, head) rows of head_dim elements may share an element",
                        "token_stride " + std::to_string(x.token_stride) + ", head_stride " +
                            std::to_string(x.head_stride) + ", head_dim " +
                            std::to_string(x.head_dim) + " (token " + std::to_string(w.t1) +
                            " head 0 overlaps token 0 head " + std::to_string(w.h2) + ")");
  }
  return {};
}

/// Raises view_error's error, if any.
template <class T>
inline void validate_view(const char* v, const tensor_view<T>& x, std::int64_t rotary_dim) {
  if (error e = view_error(v, x, rotary_dim)) raise(std::move(e));
}

/// view_ok for a view with tokens >= 1 and heads >= 1 (one that is rotated).
template <class T>
inline bool rotated_view_ok(const tensor_view<T>& x, std::int64_t rotary_dim) noexcept {
  if (x.head_dim < rotary_dim || x.data == nullptr || x.token_stride < 0 || x.head_stride < 0) {
    return false;
  }
  if ((x.tokens > 1 && x.token_stride < x.head_dim) ||
      (x.heads > 1 && x.head_stride < x.head_dim)) {
    return false;
  }
  std::int64_t span = 0;
  if (!view_span(x, span) || (x.extent >= 0 && span > x.extent)) return false;
  return x.tokens < 2 ||
         !rows_overlap(x.tokens, x.heads, x.head_dim, x.token_stride, x.head_stride, nullptr);
}

/// The conditions of validate_view as one branch-light predicate without any message building,
/// so the common (valid) case is checked inline; validate_view runs only to report a failure.
template <class T>
inline bool view_ok(const tensor_view<T>& x, std::int64_t rotary_dim) noexcept {
  if ((x.tokens | x.heads | x.head_dim) < 0) return false;
  return x.heads == 0 || x.tokens == 0 || rotated_view_ok(x, rotary_dim);
}

/// Where q and k share a rotated element: q token tq head hq and k token tk head hk.
struct qk_overlap {
  std::int64_t tq = 0, hq = 0, tk = 0, hk = 0;
};

/// floor(a / b) for b > 0.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept {
  return a / b - ((a % b != 0 && a < 0) ? 1 : 0);
}

/// The smallest m in [−(tokens−1), tokens−1] with lo < x + m·period < hi (period > 0 when
/// tokens > 1; only m = 0 when tokens == 1), or false. Callers keep |x|, |lo|, |hi| and
/// (tokens−1)·period below 2^61, so nothing overflows.
inline bool shift_hits(std::int64_t x, std::int64_t period, std::int64_t tokens, std::int64_t lo,
                       std::int64_t hi, std::int64_t& m) noexcept {
  if (tokens <= 1 || period == 0) {
    m = 0;
    return lo < x && x < hi;
  }
  m = floor_div(lo - x, period) + 1;  // the smallest m with x + m·period > lo
  if (m < -(tokens - 1)) m = -(tokens - 1);
  return m <= tokens - 1 && x + m * period < hi;
}

enum class qk_relation { disjoint, overlap, unprovable };

/// Whether q and k (both non-empty, validated, equal token counts) share an element that both
/// rotate (channels [0, rotary_dim) of each head). Exact for the cases engines use:
/// - address ranges of the rotated elements that do not intersect (separate buffers, or
///   separate regions of one buffer): disjoint, O(1);
/// - intersecting ranges with the same token stride (packed QKV, heads of one tensor split
///   between q and k, or tokens == 1): the per-token footprints [first rotated element of head
///   0, last rotated element of the last head] are tested for every token shift in O(1); only when
///   they meet are the head rows compared pairwise (O(q.heads·k.heads)), exactly.
/// Intersecting ranges with different token strides (tokens > 1), or views spanning more than
/// 2^60 bytes that intersect, are `unprovable`: apply_rotary rejects them.
template <class T>
inline qk_relation qk_relation_of(const tensor_view<T>& q, const tensor_view<T>& k,
                                  std::int64_t rotary_dim, qk_overlap* where) noexcept {
  constexpr std::int64_t S = static_cast<std::int64_t>(sizeof(T));
  constexpr std::int64_t limit = std::int64_t{1} << 60;
  // Spans fit in int64 bytes (validate_view); the rotated part is <= the span.
  const std::int64_t wq = ((q.heads - 1) * q.head_stride + rotary_dim) * S;
  const std::int64_t wk = ((k.heads - 1) * k.head_stride + rotary_dim) * S;
  const std::int64_t q_len = (q.tokens - 1) * q.token_stride * S + wq;
  const std::int64_t k_len = (k.tokens - 1) * k.token_stride * S + wk;
  const auto qa = reinterpret_cast<std::uintptr_t>(q.data);
  const auto ka = reinterpret_cast<std::uintptr_t>(k.data);
  const std::uintptr_t gap = ka >= qa ? ka - qa : qa - ka;
  if (gap >= static_cast<std::uintptr_t>(ka >= qa ? q_len : k_len)) return qk_relation::disjoint;
  if (q_len > limit || k_len > limit) return qk_relation::unprovable;
  if (q.tokens > 1 && q.token_stride != k.token_stride) return qk_relation::unprovable;
  const std::int64_t d =
      ka >= qa ? static_cast<std::int64_t>(gap) : -static_cast<std::int64_t>(gap);
  const std::int64_t period = q.token_stride * S;
  std::int64_t m = 0;
  // Footprints [0, wq) of a q token and [d + m·period, … + wk) of k token t + m meet iff
  // −wk < d + m·period < wq.
  if (!shift_hits(d, period, q.tokens, -wk, wq, m)) return qk_relation::disjoint;
  const std::int64_t r = rotary_dim * S;
  for (std::int64_t hq = 0; hq < q.heads; ++hq) {
    for (std::int64_t hk = 0; hk < k.heads; ++hk) {
      const std::int64_t x = d + hk * k.head_stride * S - hq * q.head_stride * S;
      if (shift_hits(x, period, q.tokens, -r, r, m)) {
        if (where != nullptr) {
          const std::int64_t tq = m < 0 ? -m : 0;
          *where = qk_overlap{tq, hq, tq + m, hk};
        }
        return qk_relation::overlap;
      }
    }
  }
  return qk_relation::disjoint;
}

/// The error for q and k views that share rotated elements (or cannot be proven not to).
template <class T>
inline error qk_overlap_error(const tensor_view<T>& q, const tensor_view<T>& k,
                              std::int64_t rotary_dim) {
  qk_overlap w;
  if (qk_relation_of(q, k, rotary_dim, &w) == qk_relation::overlap) {
    return make_invalid(
        "k", "must not share an element with q in the rotated channels [0, rotary_dim)",
        "k token " + std::to_string(w.tk) + " head " + std::to_string(w.hk) +
            " overlapping q token " + std::to_string(w.tq) + " head " + std::to_string(w.hq));
  }
  if (q.tokens > 1 && q.token_stride != k.token_stride) {
    return make_invalid_value("k.token_stride",
                              "must equal q.token_stride (" + std::to_string(q.token_stride) +
                                  ") when the address ranges of q and k intersect",
                              k.token_stride);
  }
  return make_message("k", "q and k views spanning more than 2^60 bytes must not intersect");
}

/// rotary_dim disagrees with the pair count of the angle source (`source`: "table.pairs", or
/// "pairs" for an inv_freq array). The caller's rotary_dim is what is wrong in practice (the table
/// comes from the method), and passing the pair count is the common slip: say so.
inline error rotary_dim_mismatch_error(std::int64_t rotary_dim, std::int64_t pairs,
                                       const char* source) {
  std::string expectation = std::string("must equal 2 * ") + source + " (";
  const bool fits = pairs <= std::numeric_limits<std::int64_t>::max() / 2 &&
                    pairs >= std::numeric_limits<std::int64_t>::min() / 2;
  expectation += fits ? std::to_string(2 * pairs) : std::string("overflows int64");
  expectation += ")";
  if (rotary_dim == pairs) expectation += ": pass the rotary dimension, not the pair count";
  return make_invalid_value("rotary_dim", expectation, rotary_dim);
}

[[noreturn]] inline void throw_rotary_dim_mismatch(std::int64_t rotary_dim, std::int64_t pairs,
                                                   const char* source) {
  raise(rotary_dim_mismatch_error(rotary_dim, pairs, source));
}

/// rule: the expectation to print instead of the table's range (the no-table path has none).
inline error position_error(std::int64_t t, std::int64_t p, const cos_sin_view& table,
                            const char* rule) {
  if (rule != nullptr) return make_invalid_value("positions[" + std::to_string(t) + "]", rule, p);
  // The last covered position is only printed; compute it without overflowing int64 (the table
  // may sit anywhere on the int64 axis, e.g. first_position = INT64_MIN with rows = 0).
  std::int64_t last = 0;
  const bool overflow = add_overflow(table.first_position, table.rows - 1, &last);
  return make_invalid_value(
      "positions[" + std::to_string(t) + "]",
      "must have a table row (positions " + std::to_string(table.first_position) + " to " +
          (overflow ? std::string("beyond int64") : std::to_string(last)) + ")",
      p);
}

/// The failure exit of make_rotate_job: raises e (out == nullptr) or stores it in *out.
inline bool fail(error* out, error e) {
  if (out == nullptr) raise(std::move(e));
  *out = std::move(e);
  return false;
}

/// Fills every field of the kernel job except the row lookup (positions, row_offset,
/// range_row0) from checked arguments; a view with heads == 0 is absent. (Every field is
/// assigned, no `job = {}`: g++ zeroes that with `rep stos`, whose start-up cost alone was ~40%
/// of a 1-token call.)
template <class T>
inline void fill_rotate_job(simd::rotate_job<T>& job, const tensor_view<T>& q,
                            const tensor_view<T>& k, const cos_sin_view& table, layout lay,
                            std::int64_t rotary_dim, const apply_options& opt,
                            std::int64_t end) noexcept {
  const bool has_q = q.heads > 0;
  const bool has_k = k.heads > 0;
  job.q = has_q ? q.data : nullptr;
  job.q_heads = has_q ? q.heads : 0;
  job.q_token_stride = has_q ? q.token_stride : 0;
  job.q_head_stride = has_q ? q.head_stride : 0;
  job.k = has_k ? k.data : nullptr;
  job.k_heads = has_k ? k.heads : 0;
  job.k_token_stride = has_k ? k.token_stride : 0;
  job.k_head_stride = has_k ? k.head_stride : 0;
  job.token_begin = opt.token_begin;
  job.token_end = end;
  job.pairs = rotary_dim / 2;
  job.cos = table.cos;
  job.sin = table.sin;
  job.row_stride = table.row_stride;
  job.lay = lay;
  job.inverse = opt.inverse;
}

/// make_rotate_job's complete form: every check in the documented order, each failure with its
/// message. Kept out of line: the common call passes lean_rotate_job and never comes here.
template <class T>
ROPESCALE_NOINLINE bool checked_rotate_job(simd::rotate_job<T>& job, const tensor_view<T>& q,
                                           const tensor_view<T>& k, const cos_sin_view& table,
                                           const token_positions& pos, layout lay,
                                           std::int64_t rotary_dim, const apply_options& opt,
                                           const char* position_rule, error* out) {
  if (lay != layout::neox && lay != layout::gptj && lay != layout::deinterleaved) {
    return fail(out, make_invalid_value(
                         "layout", "must be layout::neox, layout::gptj or layout::deinterleaved",
                         static_cast<int>(lay)));
  }
  if (rotary_dim < 2 || rotary_dim % 2 != 0) {
    return fail(out, make_invalid_value("rotary_dim", "must be even and >= 2", rotary_dim));
  }
  if (lay == layout::deinterleaved && rotary_dim > simd::max_deinterleaved_rotary_dim) {
    return fail(
        out, make_invalid_value("rotary_dim",
                                "must be <= " + std::to_string(simd::max_deinterleaved_rotary_dim) +
                                    " with layout::deinterleaved",
                                rotary_dim));
  }
  if (!view_ok(q, rotary_dim)) return fail(out, view_error("q", q, rotary_dim));
  if (!view_ok(k, rotary_dim)) return fail(out, view_error("k", k, rotary_dim));
  const bool has_q = q.heads > 0;
  const bool has_k = k.heads > 0;
  if (has_q && has_k && q.tokens != k.tokens) {
    return fail(
        out, make_invalid_value(
                 "k.tokens", "must equal q.tokens (" + std::to_string(q.tokens) + ")", k.tokens));
  }
  if (has_q && has_k && q.tokens > 0 &&
      qk_relation_of(q, k, rotary_dim, nullptr) != qk_relation::disjoint) {
    return fail(out, qk_overlap_error(q, k, rotary_dim));
  }
  const std::int64_t tokens = has_q ? q.tokens : (has_k ? k.tokens : 0);
  const std::int64_t end = opt.token_end < 0 ? tokens : opt.token_end;
  if (opt.token_begin < 0 || opt.token_begin > end) {
    return fail(out, make_invalid_value("token_begin",
                                        "must be in [0, token_end] (" + std::to_string(end) + ")",
                                        opt.token_begin));
  }
  if (end > tokens) {
    return fail(out, make_invalid_value("token_end",
                                        "must be <= tokens (" + std::to_string(tokens) + ")", end));
  }
  // Table.
  if (table.pairs != rotary_dim / 2)
    return fail(out, rotary_dim_mismatch_error(rotary_dim, table.pairs, "table.pairs"));
  if (table.rows < 0)
    return fail(out, make_invalid_value("table.rows", "must be >= 0", table.rows));
  if (table.row_stride < 0) {
    return fail(out, make_invalid_value("table.row_stride", "must be >= 0", table.row_stride));
  }
  if (table.rows > 0) {
    if (table.cos == nullptr || table.sin == nullptr) {
      return fail(out, make_invalid("table", "cos and sin must not be null when rows > 0", "null"));
    }
    std::int64_t last = 0;
    if (mul_overflow(table.rows - 1, table.row_stride, &last) ||
        add_overflow(last, table.pairs, &last) ||
        last >
            std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(sizeof(float)) ||
        add_overflow(table.first_position, table.rows - 1, &last)) {
      return fail(out,
                  make_message("table", "rows, row_stride and first_position overflow an offset"));
    }
  }
  // Positions (only those of the tokens that will be rotated are read).
  if (pos.values == nullptr && pos.count != 0) {
    return fail(out, make_invalid_value("positions.count", "must be 0 for a start-position range",
                                        pos.count));
  }
  if (pos.values != nullptr && pos.count != tokens) {
    return fail(out, make_invalid_value(
                         "positions.count",
                         "must equal the token count (" + std::to_string(tokens) + ")", pos.count));
  }
  if (opt.token_begin == end || (!has_q && !has_k)) return false;
  job.positions = nullptr;
  job.row_offset = 0;
  job.range_row0 = 0;
  if (pos.values != nullptr) {
    for (std::int64_t t = opt.token_begin; t < end; ++t) {
      const std::int64_t p = pos.values[t];
      std::int64_t r = 0;
      if (sub_overflow(p, table.first_position, &r) || r < 0 || r >= table.rows) {
        return fail(out, position_error(t, p, table, position_rule));
      }
    }
    job.positions = pos.values;
    job.row_offset = table.first_position;
  } else {
    std::int64_t r0 = 0, p_first = 0, p_last = 0, r_first = 0, r_last = 0;
    if (add_overflow(pos.start, opt.token_begin, &p_first) ||
        add_overflow(pos.start, end - 1, &p_last)) {
      return fail(
          out, make_invalid_value("positions.start", "overflows with the token range", pos.start));
    }
    if (sub_overflow(p_first, table.first_position, &r_first) || r_first < 0 ||
        r_first >= table.rows) {
      return fail(out, position_error(opt.token_begin, p_first, table, position_rule));
    }
    if (sub_overflow(p_last, table.first_position, &r_last) || r_last >= table.rows) {
      return fail(out, position_error(end - 1, p_last, table, position_rule));
    }
    // Row of token t is r0 + t; r0 itself may lie outside the table when token_begin > 0.
    if (sub_overflow(pos.start, table.first_position, &r0)) {
      return fail(out, position_error(opt.token_begin, p_first, table, position_rule));
    }
    job.range_row0 = r0;
  }
  fill_rotate_job(job, q, k, table, lay, rotary_dim, opt, end);
  return true;
}

#if defined(ROPESCALE_SEPARATE_KERNELS)
// Separately compiled mode: the complete checks and their messages are compiled once, in the
// kernels TU, like the kernels; user TUs keep only lean_rotate_job inline.
#if defined(ROPESCALE_KERNELS_TU)
#define ROPESCALE_CHECKED_JOB_INSTANCE template
#else
#define ROPESCALE_CHECKED_JOB_INSTANCE extern template
#endif
#define ROPESCALE_CHECKED_JOB(T)                                                               \
  ROPESCALE_CHECKED_JOB_INSTANCE bool checked_rotate_job<T>(                                   \
      simd::rotate_job<T>&, const tensor_view<T>&, const tensor_view<T>&, const cos_sin_view&, \
      const token_positions&, layout, std::int64_t, const apply_options&, const char*, error*);
ROPESCALE_CHECKED_JOB(float)
ROPESCALE_CHECKED_JOB(bf16)
ROPESCALE_CHECKED_JOB(f16)
#undef ROPESCALE_CHECKED_JOB
#undef ROPESCALE_CHECKED_JOB_INSTANCE
#endif

/// The message-free checks below share these two. A valid layout, and a rotary_dim that is even,
/// >= 2, within the deinterleaved bound, and equal to twice the table's pairs (checked first:
/// the view predicates assume a sane rotary_dim).
inline bool lean_rotary_ok(layout lay, std::int64_t rotary_dim,
                           const cos_sin_view& table) noexcept {
  return static_cast<unsigned>(lay) <= static_cast<unsigned>(layout::deinterleaved) &&
         rotary_dim >= 2 && rotary_dim % 2 == 0 && table.pairs == rotary_dim / 2 &&
         !(lay == layout::deinterleaved && rotary_dim > simd::max_deinterleaved_rotary_dim);
}

/// A table with rows whose offsets fit, and a row for each token of [begin, end) (0 <= begin <
/// end <= tokens, checked by the caller); fills the row lookup of `rows` (cos, sin, row_stride,
/// positions, row_offset, range_row0) as checked_rotate_job computes it.
inline bool lean_rows(simd::row_args& rows, const cos_sin_view& table, const token_positions& pos,
                      std::int64_t tokens, std::int64_t begin, std::int64_t end) noexcept {
  std::int64_t last = 0;
  if (table.rows < 1 || table.row_stride < 0 || table.cos == nullptr || table.sin == nullptr ||
      mul_overflow(table.rows - 1, table.row_stride, &last) ||
      add_overflow(last, table.pairs, &last) ||
      last > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(sizeof(float)) ||
      add_overflow(table.first_position, table.rows - 1, &last)) {
    return false;
  }
  std::int64_t r0 = 0;
  if (pos.values != nullptr) {
    if (pos.count != tokens) return false;
    for (std::int64_t t = begin; t < end; ++t) {
      std::int64_t r = 0;
      if (sub_overflow(pos.values[t], table.first_position, &r) || r < 0 || r >= table.rows) {
        return false;
      }
    }
  } else {
    // Rows of the first and last tokens in the table (then every row between is), r0 = the row
    // of token 0, as checked_rotate_job computes them.
    std::int64_t p = 0, r = 0;
    if (pos.count != 0 || sub_overflow(pos.start, table.first_position, &r0) ||
        add_overflow(pos.start, begin, &p) || sub_overflow(p, table.first_position, &r) || r < 0 ||
        r >= table.rows || add_overflow(pos.start, end - 1, &p) ||
        sub_overflow(p, table.first_position, &r) || r >= table.rows) {
      return false;
    }
  }
  rows.cos = table.cos;
  rows.sin = table.sin;
  rows.row_stride = table.row_stride;
  rows.positions = pos.values;
  rows.row_offset = pos.values != nullptr ? table.first_position : 0;
  rows.range_row0 = pos.values != nullptr ? 0 : r0;
  return true;
}

/// make_rotate_job's common case in one pass, without building any message: true when the call
/// is valid and rotates something (Q and K each either absent with heads == 0 or with tokens and
/// heads >= 1, a table with rows), with the job filled. Everything else, valid or not, returns
/// false and goes through checked_rotate_job. It accepts only calls checked_rotate_job accepts
/// and fills the same job, so results, errors and their order are checked_rotate_job's.
template <class T>
inline bool lean_rotate_job(simd::rotate_job<T>& job, const tensor_view<T>& q,
                            const tensor_view<T>& k, const cos_sin_view& table,
                            const token_positions& pos, layout lay, std::int64_t rotary_dim,
                            const apply_options& opt) noexcept {
  if (!lean_rotary_ok(lay, rotary_dim, table)) return false;
  // Each view absent (heads == 0, sizes >= 0) or rotated (tokens, heads >= 1); at least one
  // rotated; both rotated: equal token counts and no shared rotated element.
  const bool has_q = q.heads > 0;
  const bool has_k = k.heads > 0;
  if (has_q ? (q.tokens < 1 || q.head_dim < 0 || !rotated_view_ok(q, rotary_dim))
            : ((q.tokens | q.heads | q.head_dim) < 0 || !has_k)) {
    return false;
  }
  if (has_k ? (k.tokens < 1 || k.head_dim < 0 || !rotated_view_ok(k, rotary_dim))
            : (k.tokens | k.heads | k.head_dim) < 0) {
    return false;
  }
  if (has_q && has_k &&
      (q.tokens != k.tokens ||
       qk_relation_of(q, k, rotary_dim, nullptr) != qk_relation::disjoint)) {
    return false;
  }
  const std::int64_t tokens = has_q ? q.tokens : k.tokens;
  const std::int64_t end = opt.token_end < 0 ? tokens : opt.token_end;
  if (opt.token_begin < 0 || opt.token_begin >= end || end > tokens ||
      !lean_rows(job, table, pos, tokens, opt.token_begin, end)) {
    return false;
  }
  fill_rotate_job(job, q, k, table, lay, rotary_dim, opt, end);
  return true;
}

/// Validates everything and fills the kernel job; returns false when there is nothing to do.
/// A rejected call raises its error, or, when `out` is given, stores it there and returns false
/// (the non-throwing entry points); nothing has been written either way. position_rule, when
/// given, replaces "must have a table row (...)" in position errors.
template <class T>
inline bool make_rotate_job(simd::rotate_job<T>& job, const tensor_view<T>& q,
                            const tensor_view<T>& k, const cos_sin_view& table,
                            const token_positions& pos, layout lay, std::int64_t rotary_dim,
                            const apply_options& opt, const char* position_rule = nullptr,
                            error* out = nullptr) {
  static_assert(is_element_type_v<T>, "ropescale: element type must be float, bf16 or f16");
  return lean_rotate_job(job, q, k, table, pos, lay, rotary_dim, opt) ||
         checked_rotate_job(job, q, k, table, pos, lay, rotary_dim, opt, position_rule, out);
}

/// The ISA a call runs with (`forced` if given, else active_isa()), or false with the error
/// raised or stored as fail() does when the forced ISA is unavailable.
inline bool resolve_call_isa(const std::optional<isa>& forced, isa& which, error* out) {
  if (!forced) {
    which = active_isa();
    return true;
  }
  if (!available(*forced)) return fail(out, unavailable_isa_error("isa", *forced));
  which = *forced;
  return true;
}

/// apply_rotary's body: with out == nullptr a rejected call raises, else its error goes to *out.
template <class T>
inline void rotate_call(const tensor_view<T>& q, const tensor_view<T>& k, const cos_sin_view& table,
                        const token_positions& pos, layout lay, std::int64_t rotary_dim,
                        const apply_options& opt, error* out) {
  isa which = isa::scalar;
  if (!resolve_call_isa(opt.force_isa, which, out)) return;
  simd::rotate_job<T> job;
  if (make_rotate_job(job, q, k, table, pos, lay, rotary_dim, opt, nullptr, out)) {
    simd::rotate(which, job);
  }
}

}  // namespace detail

/// Rotates Q and K in place (docs/reference.md §1.3). For each token t in the range, with p =
/// pos[t] and the table's row for p (cs_i = A·cos(p·ω_i), sn_i = A·sin(p·ω_i), i < n =
/// rotary_dim/2), every head of q and of k gets, for each pair (a, b) of `lay`:
///     a ← a·cs_i − b·sn_i,   b ← b·cs_i + a·sn_i      (inverse: sn → −sn)
/// computed in float and rounded once to T. layout::deinterleaved (HF DeepSeek-V3) reads pair i
/// from (x_{2i}, x_{2i+1}) and writes it to (x_i, x_{i+n}); its inverse reads (x_i, x_{i+n}) and
/// writes (x_{2i}, x_{2i+1}), and its rotary_dim is at most simd::max_deinterleaved_rotary_dim
/// (2048). Channels [rotary_dim, head_dim) are not touched.
/// A view with heads == 0 is skipped (pass `{}` as k to rotate Q only); q and k may have
/// different head counts (GQA) and head_dims but need the same token count.
/// Types: float, bf16, f16. Error vs a double reference with the same table values: <= 1.5·2^-23
/// of the pair norm before the final rounding to T (float: <= 2 ulp of the pair norm).
/// Throws invalid_parameter (before touching any data) on: odd or < 2 rotary_dim, head_dim <
/// rotary_dim, negative sizes or strides, null data with nonzero sizes, extents overflowing an
/// offset, a view larger than its `extent` (when set), a view whose (token, head) rows share an
/// element, q and k sharing a rotated element (detail::qk_relation_of states exactly what is
/// proven; q and k in one buffer with different token strides are rejected), a table whose
/// pairs != rotary_dim/2, a position without a table row, a bad token range or an unavailable
/// forced ISA.
/// Views that pass these checks touch disjoint elements, so calls on disjoint token ranges
/// (apply_options::token_begin/token_end) of the same views may run on different threads.
template <class T>
inline void apply_rotary(tensor_view<T> q, tensor_view<T> k, const cos_sin_view& table,
                         token_positions pos, layout lay, std::int64_t rotary_dim,
                         const apply_options& opt = {}) {
  detail::rotate_call(q, k, table, pos, lay, rotary_dim, opt, nullptr);
}

/// As above with a cos_sin_rows snapshot (cos_sin_table::snapshot() / ensure()).
template <class T>
inline void apply_rotary(tensor_view<T> q, tensor_view<T> k, const cos_sin_rows& rows,
                         token_positions pos, layout lay, std::int64_t rotary_dim,
                         const apply_options& opt = {}) {
  apply_rotary(q, k, cos_sin_view::from(rows), pos, lay, rotary_dim, opt);
}

/// Rotates one tensor in place (same contract as the fused Q+K form).
template <class T>
inline void apply_rotary(tensor_view<T> x, const cos_sin_view& table, token_positions pos,
                         layout lay, std::int64_t rotary_dim, const apply_options& opt = {}) {
  apply_rotary(x, tensor_view<T>{}, table, pos, lay, rotary_dim, opt);
}

/// Rotates one tensor in place with a cos_sin_rows snapshot.
template <class T>
inline void apply_rotary(tensor_view<T> x, const cos_sin_rows& rows, token_positions pos,
                         layout lay, std::int64_t rotary_dim, const apply_options& opt = {}) {
  apply_rotary(x, tensor_view<T>{}, cos_sin_view::from(rows), pos, lay, rotary_dim, opt);
}

/// Non-throwing apply_rotary, for engines that must not throw or abort: the same checks, in the
/// same order, and the same rotation, but a rejected call returns its error (the key and the
/// message apply_rotary would raise) instead of throwing invalid_parameter or calling the error
/// handler, with or without exceptions; nothing has been written then. Returns an empty error
/// (`ok()`) on success:
///     if (const ropescale::error e = ropescale::try_apply_rotary(q, k, *rows, pos, lay, d))
///       log(e.message);
/// The checks allocate only to build a message; memory exhaustion is not reported here.
template <class T>
inline error try_apply_rotary(tensor_view<T> q, tensor_view<T> k, const cos_sin_view& table,
                              token_positions pos, layout lay, std::int64_t rotary_dim,
                              const apply_options& opt = {}) {
  error e;
  detail::rotate_call(q, k, table, pos, lay, rotary_dim, opt, &e);
  return e;
}

/// try_apply_rotary with a cos_sin_rows snapshot.
template <class T>
inline error try_apply_rotary(tensor_view<T> q, tensor_view<T> k, const cos_sin_rows& rows,
                              token_positions pos, layout lay, std::int64_t rotary_dim,
                              const apply_options& opt = {}) {
  return try_apply_rotary(q, k, cos_sin_view::from(rows), pos, lay, rotary_dim, opt);
}

/// try_apply_rotary for one tensor.
template <class T>
inline error try_apply_rotary(tensor_view<T> x, const cos_sin_view& table, token_positions pos,
                              layout lay, std::int64_t rotary_dim, const apply_options& opt = {}) {
  return try_apply_rotary(x, tensor_view<T>{}, table, pos, lay, rotary_dim, opt);
}

/// try_apply_rotary for one tensor with a cos_sin_rows snapshot.
template <class T>
inline error try_apply_rotary(tensor_view<T> x, const cos_sin_rows& rows, token_positions pos,
                              layout lay, std::int64_t rotary_dim, const apply_options& opt = {}) {
  return try_apply_rotary(x, tensor_view<T>{}, cos_sin_view::from(rows), pos, lay, rotary_dim, opt);
}

}  // namespace ropescale

#endif  // ROPESCALE_APPLY_HPP

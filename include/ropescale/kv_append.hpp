// SPDX-License-Identifier: Apache-2.0
// Rotate straight into the KV cache (docs/kv_append.md). An engine's step after the QKV
// projection is: rotate Q and K, then append K and V to a paged KV cache, usually converting
// f32 activations to bf16/f16 on the way. Done as two passes (rotate in place, then append, as
// vLLM's rotary_embedding + reshape_and_cache), K crosses memory twice. This header does it in
// one pass:
//
//   apply_rotary_to   out-of-place rotation with storage conversion (source view → destination
//                     view, any strides), channels beyond rotary_dim copied;
//   rope_kv_append    for T tokens: Q rotated in place or into q_out, K rotated and V copied into
//                     K and V caches at slot_mapping[t] (−1 = padding, skipped), converted on
//                     store;
//   kv_append         the same append without rotation (V-only layers, NoPE layers, the floor).
//
// Each token's cos/sin row comes from a table (cos_sin_view / cos_sin_rows) or is computed in the
// call (a frequency_table: the on-the-fly path of on_the_fly.hpp). The stored values equal
// "rotate in place with the same ISA, then convert with round-to-nearest-even" bit for bit.
// Every argument is checked before any byte is written (O(1) plus O(tokens) for the slot and
// position lists), so a rejected call leaves the caches untouched; then one dispatch switch runs
// the noexcept per-ISA body of simd/append-inl.hpp. Engines split a call across threads with
// apply_options::token_begin/token_end, as for apply_rotary; the library starts no threads.
#ifndef ROPESCALE_KV_APPEND_HPP
#define ROPESCALE_KV_APPEND_HPP

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/overflow.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/on_the_fly.hpp"
#include "ropescale/simd/dispatch.hpp"
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/simd/kernels.hpp"  // the append kernels are header-only in every build mode
#include "ropescale/types.hpp"

namespace ropescale {

/// A paged KV cache of `pages` pages of `page_size` token slots, each slot holding `heads` heads
/// of `head_dim` channels. Slot s lives on page s / page_size at offset o = s % page_size, and
/// element (s, h, c) at data[page·page_stride + o·slot_stride + h·head_stride + c] (strides in
/// elements, channel stride 1), so both common layouts are views:
///   token-major [page][slot][head][dim] (vLLM's value cache, FlashInfer NHD): token_major();
///   head-major  [page][head][slot][dim] (FlashInfer HND): head_major().
/// One page of a layer that interleaves K and V per page is a view with a larger page_stride.
template <class T>
struct paged_cache_view {
  T* data = nullptr;
  std::int64_t pages = 0;
  std::int64_t page_size = 0;
  std::int64_t heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t page_stride = 0;
  std::int64_t slot_stride = 0;
  std::int64_t head_stride = 0;

  /// [pages][page_size][heads][head_dim], dense. A stride that overflows int64 becomes −1 (the
  /// entry points then reject it).
  static constexpr paged_cache_view token_major(T* data, std::int64_t pages, std::int64_t page_size,
                                                std::int64_t heads,
                                                std::int64_t head_dim) noexcept {
    const std::int64_t slot = checked_product(heads, head_dim);
    return paged_cache_view{
        data, pages, page_size, heads, head_dim, checked_product(slot, page_size), slot, head_dim};
  }
  /// [pages][heads][page_size][head_dim], dense.
  static constexpr paged_cache_view head_major(T* data, std::int64_t pages, std::int64_t page_size,
                                               std::int64_t heads, std::int64_t head_dim) noexcept {
    const std::int64_t head = checked_product(page_size, head_dim);
    return paged_cache_view{
        data, pages, page_size, heads, head_dim, checked_product(head, heads), head_dim, head};
  }
  /// Number of slots (pages·page_size; −1 when that overflows).
  constexpr std::int64_t slots() const noexcept { return checked_product(pages, page_size); }

 private:
  /// a·b for a, b >= 0; −1 when either is negative or the product overflows.
  /// (The builtin where there is one: the portable test divides, and a 64-bit division costs
  /// more than the rest of a view's construction.)
  static constexpr std::int64_t checked_product(std::int64_t a, std::int64_t b) noexcept {
    if (a < 0 || b < 0) return -1;
#if ROPESCALE_HAS_BUILTIN(__builtin_mul_overflow)
    std::int64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? -1 : r;
#else
    if (b != 0 && a > std::numeric_limits<std::int64_t>::max() / b) return -1;
    return a * b;
#endif
  }
};

/// The cache slot of each token of a call: values[t] for token t (count must equal the token
/// count); −1 marks a padding token whose K and V are not stored (as vLLM's slot_mapping).
struct slot_mapping {
  const std::int64_t* values = nullptr;
  std::int64_t count = 0;

  static constexpr slot_mapping list(const std::int64_t* v, std::int64_t n) noexcept {
    return slot_mapping{v, n};
  }
};

namespace detail {

/// Where each token's cos/sin row comes from: a table, or (inv_freq set) computed in the call.
struct row_source {
  cos_sin_view table;
  const double* inv_freq = nullptr;
  std::int64_t pairs = 0;
  double attention = 1.0;
};

inline row_source to_row_source(const cos_sin_view& v) { return row_source{v, nullptr, 0, 1.0}; }
inline row_source to_row_source(const cos_sin_rows& r) {
  return row_source{cos_sin_view::from(r), nullptr, 0, 1.0};
}
inline row_source to_row_source(const frequency_table& f) {
  return row_source{cos_sin_view{}, f.inv_freq.data(), f.pairs(), f.attention_factor};
}

/// The problem of a frequency_table row source, if any: it must be a valid accurate-mode table
/// (a table row source is checked with the call's other arguments).
inline error row_source_error(const frequency_table& f) {
  if (f.mode != angle_mode::accurate) {
    return make_invalid("mode", "must be angle_mode::accurate for the on-the-fly path", "f32");
  }
  return frequency_table_error(f);
}

/// a + b and a·b for a, b >= 0 without overflow; false when the result exceeds int64.
inline bool add_fits(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
  return !add_overflow(a, b, &out);
}
inline bool mul_fits(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
  return !mul_overflow(a, b, &out);
}

template <class T>
inline tensor_view<std::remove_const_t<T>> mutable_view(const tensor_view<T>& v) noexcept {
  return tensor_view<std::remove_const_t<T>>{const_cast<std::remove_const_t<T>*>(v.data),
                                             v.tokens,
                                             v.heads,
                                             v.head_dim,
                                             v.token_stride,
                                             v.head_stride,
                                             v.extent};
}

/// view_ok on a possibly-const view (the cheap predicate of every call).
template <class T>
inline bool append_view_ok(const tensor_view<T>& x, std::int64_t rotary_dim) noexcept {
  return view_ok(mutable_view(x), rotary_dim);
}

/// view_error of a possibly-const view (built only once the predicate failed).
template <class T>
inline error append_view_error(const char* name, const tensor_view<T>& x, std::int64_t rotary_dim) {
  return view_error(name, mutable_view(x), rotary_dim);
}

/// The destination of an out-of-place tensor must match its source's shape.
template <class S, class D>
inline error check_same_shape(const char* dst, const tensor_view<D>& d, const char* src,
                              const tensor_view<S>& s) {
  const auto same = [&](const char* field, std::int64_t got, std::int64_t want) {
    return got == want
               ? error{}
               : make_invalid_value(
                     view_key(dst, field),
                     "must equal " + view_key(src, field) + " (" + std::to_string(want) + ")", got);
  };
  if (error e = same("tokens", d.tokens, s.tokens)) return e;
  if (error e = same("heads", d.heads, s.heads)) return e;
  return same("head_dim", d.head_dim, s.head_dim);
}

/// The first problem find_cache_fault finds in a cache view: which check failed, the stride
/// (0 page, 1 slot, 2 head) it concerns and, for `overlap`, the extent the stride must reach.
enum class cache_fault : unsigned char {
  none,
  pages,
  page_size,
  heads,
  head_dim,
  negative_stride,
  slots_overflow,
  null_data,
  overlap,
  too_large
};
struct cache_finding {
  cache_fault fault;
  int dim;
  std::int64_t extent;
};

/// Checks a cache view for a tensor of `heads` × `head_dim` without building any text (the
/// per-call path; cache_error words a finding): sizes, strides, that the strides do not overlap,
/// and that the last element's byte offset fits int64, in that order.
template <class C>
inline cache_finding find_cache_fault(const paged_cache_view<C>& c, std::int64_t heads,
                                      std::int64_t head_dim) noexcept {
  if (c.pages < 0) return {cache_fault::pages, 0, 0};
  if (c.page_size < 1) return {cache_fault::page_size, 0, 0};
  if (c.heads != heads) return {cache_fault::heads, 0, 0};
  if (c.head_dim != head_dim) return {cache_fault::head_dim, 0, 0};
  const std::int64_t counts[3] = {c.pages, c.page_size, c.heads};
  const std::int64_t strides[3] = {c.page_stride, c.slot_stride, c.head_stride};
  for (int d = 0; d < 3; ++d) {
    if (strides[d] < 0) return {cache_fault::negative_stride, d, 0};
  }
  std::int64_t slots = 0;
  if (!mul_fits(c.pages, c.page_size, slots)) return {cache_fault::slots_overflow, 0, 0};
  if (c.pages == 0 || heads == 0) return {cache_fault::none, 0, 0};
  if (c.data == nullptr) return {cache_fault::null_data, 0, 0};
  // Innermost first (dimensions ordered by stride): every stride must step over the whole extent
  // of the dimensions inside it (so no two elements share an address), and the total extent
  // must fit a byte offset.
  int order[3] = {0, 1, 2};
  if (strides[order[1]] < strides[order[0]]) std::swap(order[0], order[1]);
  if (strides[order[2]] < strides[order[1]]) std::swap(order[1], order[2]);
  if (strides[order[1]] < strides[order[0]]) std::swap(order[0], order[1]);
  std::int64_t extent = head_dim;  // elements spanned by the dimensions inside the current one
  for (const int d : order) {
    if (counts[d] <= 1) continue;
    if (strides[d] < extent) return {cache_fault::overlap, d, extent};
    std::int64_t step = 0;
    if (!mul_fits(counts[d] - 1, strides[d], step) || !add_fits(step, extent, extent)) {
      return {cache_fault::too_large, 0, 0};
    }
  }
  if (extent > std::numeric_limits<std::int64_t>::max() / static_cast<std::int64_t>(sizeof(C))) {
    return {cache_fault::too_large, 0, 0};
  }
  return {cache_fault::none, 0, 0};
}

/// Whether two cache views have the same sizes and strides (their data may differ).
template <class C>
inline bool same_geometry(const paged_cache_view<C>& a, const paged_cache_view<C>& b) noexcept {
  return a.pages == b.pages && a.page_size == b.page_size && a.heads == b.heads &&
         a.head_dim == b.head_dim && a.page_stride == b.page_stride &&
         a.slot_stride == b.slot_stride && a.head_stride == b.head_stride;
}

/// The error of a find_cache_fault finding for the cache `name` of the tensor `of`.
template <class C>
inline error cache_error(const char* name, const paged_cache_view<C>& c, const char* of,
                         std::int64_t heads, std::int64_t head_dim, const cache_finding& f) {
  static const char* const keys[3] = {"page_stride", "slot_stride", "head_stride"};
  const std::int64_t strides[3] = {c.page_stride, c.slot_stride, c.head_stride};
  switch (f.fault) {
    case cache_fault::none:
      return {};
    case cache_fault::pages:
      return make_invalid_value(view_key(name, "pages"), "must be >= 0", c.pages);
    case cache_fault::page_size:
      return make_invalid_value(view_key(name, "page_size"), "must be >= 1", c.page_size);
    case cache_fault::heads:
      return make_invalid_value(
          view_key(name, "heads"),
          std::string("must equal ") + of + ".heads (" + std::to_string(heads) + ")", c.heads);
    case cache_fault::head_dim:
      return make_invalid_value(
          view_key(name, "head_dim"),
          std::string("must equal ") + of + ".head_dim (" + std::to_string(head_dim) + ")",
          c.head_dim);
    case cache_fault::negative_stride:
      return make_invalid_value(view_key(name, keys[f.dim]), "must be >= 0", strides[f.dim]);
    case cache_fault::slots_overflow:
      return make_message(view_key(name, "pages"), "pages · page_size (" + std::to_string(c.pages) +
                                                       " · " + std::to_string(c.page_size) +
                                                       ") overflows int64");
    case cache_fault::null_data:
      return make_invalid(view_key(name, "data"), "must not be null for a non-empty cache", "null");
    case cache_fault::overlap:
      return make_invalid_value(view_key(name, keys[f.dim]),
                                "must be >= " + std::to_string(f.extent) +
                                    " (the extent of the dimensions inside it: strides must not "
                                    "overlap)",
                                strides[f.dim]);
    case cache_fault::too_large:
      break;
  }
  return make_message(view_key(name, "page_stride"),
                      "pages, page_size, heads, head_dim and strides span more elements than an "
                      "address offset can hold");
}

/// The error of a token count that differs from the first present tensor's.
inline error token_count_error(const char* name, std::int64_t got, const char* first,
                               std::int64_t tokens) {
  return make_invalid_value(
      view_key(name, "tokens"),
      "must equal " + view_key(first, "tokens") + " (" + std::to_string(tokens) + ")", got);
}

/// Whether every slot of [begin, end) is in [-1, capacity): s + 1 in [0, capacity], compared
/// unsigned (no branch per token, and no overflow at INT64_MAX).
inline bool slots_in_range(const std::int64_t* values, std::int64_t begin, std::int64_t end,
                           std::int64_t capacity) noexcept {
  bool bad = false;
  for (std::int64_t t = begin; t < end; ++t) {
    bad |= static_cast<std::uint64_t>(values[t]) + 1 > static_cast<std::uint64_t>(capacity);
  }
  return !bad;
}

/// The error of the first slot of [begin, end) outside [-1, capacity).
inline error slot_error(const std::int64_t* values, std::int64_t begin, std::int64_t end,
                        std::int64_t capacity) {
  std::int64_t t = begin;
  while (t < end && values[t] >= -1 && values[t] < capacity) ++t;
  return make_invalid_value(
      "slot_mapping[" + std::to_string(t) + "]",
      "must be -1 (padding) or a slot in [0, " + std::to_string(capacity) + ") (pages · page_size)",
      values[t]);
}

/// A job's row lookup (where token t's row is: table, stride, positions or range start), set
/// to none, and copied from the rotation checks' job. Field by field: g++ compiled the whole
/// row_args assignments to `rep stos` / `rep movs`, whose start-up cost showed in every decode.
inline void clear_row_lookup(simd::row_args& r) noexcept {
  r.cos = nullptr;
  r.sin = nullptr;
  r.row_stride = 0;
  r.positions = nullptr;
  r.row_offset = 0;
  r.range_row0 = 0;
}
inline void copy_row_lookup(simd::row_args& to, const simd::row_args& from) noexcept {
  to.cos = from.cos;
  to.sin = from.sin;
  to.row_stride = from.row_stride;
  to.positions = from.positions;
  to.row_offset = from.row_offset;
  to.range_row0 = from.range_row0;
}

/// Fills the append job from checked arguments (both check passes end here): the tensors, the
/// caches' strides, the slots, and the row lookup `rows_of` (as the rotation checks filled it).
template <class S, class QD, class C>
inline void fill_append_job(simd::append_job<std::remove_const_t<S>, QD, C>& job,
                            const tensor_view<S>& q, const tensor_view<QD>* q_out,
                            const tensor_view<S>& k, const tensor_view<S>& v,
                            const paged_cache_view<C>* k_cache, const paged_cache_view<C>* v_cache,
                            const slot_mapping* slots, const row_source* rows,
                            const simd::row_args& rows_of, std::int64_t page_size, layout lay,
                            std::int64_t rotary_dim, const apply_options& opt,
                            std::int64_t end) noexcept {
  using E = std::remove_const_t<S>;
  const bool rotating = rows != nullptr;
  const bool has_q = q.heads > 0;
  const bool has_k = k.heads > 0;
  const bool has_v = v.heads > 0;
  const auto fill = [](auto& a, const auto& src, auto* dst, std::int64_t dst_ts,
                       std::int64_t dst_hs, bool present) {
    a.src = present ? src.data : nullptr;
    a.src_token_stride = src.token_stride;
    a.src_head_stride = src.head_stride;
    a.dst = present ? dst : nullptr;
    a.dst_token_stride = dst_ts;
    a.dst_page_stride = 0;
    a.dst_slot_stride = 0;
    a.dst_head_stride = dst_hs;
    a.heads = present ? src.heads : 0;
    a.head_dim = src.head_dim;
  };
  if (q_out != nullptr) {
    fill(job.q, q, q_out->data, q_out->token_stride, q_out->head_stride, has_q);
  } else {
    if constexpr (std::is_same_v<E, QD>) {
      fill(job.q, q, const_cast<E*>(q.data), q.token_stride, q.head_stride, has_q);
    } else {
      fill(job.q, q, static_cast<QD*>(nullptr), 0, 0, false);
    }
  }
  if (slots != nullptr) {
    fill(job.k, k, has_k ? k_cache->data : nullptr, 0, has_k ? k_cache->head_stride : 0, has_k);
    fill(job.v, v, has_v ? v_cache->data : nullptr, 0, has_v ? v_cache->head_stride : 0, has_v);
    if (has_k) {
      job.k.dst_page_stride = k_cache->page_stride;
      job.k.dst_slot_stride = k_cache->slot_stride;
    }
    if (has_v) {
      job.v.dst_page_stride = v_cache->page_stride;
      job.v.dst_slot_stride = v_cache->slot_stride;
    }
    job.slots = slots->values;
  } else {
    fill(job.k, k, static_cast<C*>(nullptr), 0, 0, false);
    fill(job.v, v, static_cast<C*>(nullptr), 0, 0, false);
    job.slots = nullptr;
  }
  job.page_size = page_size;
  copy_row_lookup(job, rows_of);
  job.inv_freq = rotating ? rows->inv_freq : nullptr;
  job.attention = rotating ? rows->attention : 1.0;
  job.row = nullptr;
  job.pairs = rotating ? rotary_dim / 2 : 0;
  job.token_begin = opt.token_begin;
  job.token_end = end;
  job.lay = lay;
  job.inverse = opt.inverse;
}

/// make_append_job's complete form: every check in the documented order, each failure with its
/// message (raised, or stored in *out when `out` is given: detail::fail). Returns false when
/// there is nothing to do or the call is rejected. Out of line: the common call passes
/// lean_append_job and never comes here. q_dst is q itself (in place) or q_out.
template <class S, class QD, class C>
ROPESCALE_NOINLINE bool checked_append_job(
    simd::append_job<std::remove_const_t<S>, QD, C>& job, const tensor_view<S>& q,
    const tensor_view<QD>* q_out, const tensor_view<S>& k, const tensor_view<S>& v,
    const paged_cache_view<C>* k_cache, const paged_cache_view<C>* v_cache,
    const slot_mapping* slots, const row_source* rows, const token_positions& pos, layout lay,
    std::int64_t rotary_dim, const apply_options& opt, error* out) {
  using E = std::remove_const_t<S>;
  // apply_rotary_to calls its tensors src and dst.
  const bool standalone = slots == nullptr;
  const char* const q_name = standalone ? "src" : "q";
  const char* const q_out_name = standalone ? "dst" : "q_out";
  static_assert(is_element_type_v<E> && is_element_type_v<QD> && is_element_type_v<C>,
                "ropescale: element types must be float, bf16 or f16");
  static_assert(std::is_same_v<E, float> || (std::is_same_v<E, QD> && std::is_same_v<E, C>),
                "ropescale: a bf16 or f16 source is stored in its own type (f32 sources may be "
                "stored as f32, bf16 or f16)");
  const bool rotating = rows != nullptr;
  // k is read (and a rotated k's head_dim must hold rotary_dim) whether or not it is rotated.
  const std::int64_t k_rotary_dim = rotating ? rotary_dim : 0;
  if (rotating && !append_view_ok(q, rotary_dim)) {
    return fail(out, append_view_error(q_name, q, rotary_dim));
  }
  if (!append_view_ok(k, k_rotary_dim)) return fail(out, append_view_error("k", k, k_rotary_dim));
  if (!append_view_ok(v, 0)) return fail(out, append_view_error("v", v, 0));
  const bool has_q = q.heads > 0;
  const bool has_k = k.heads > 0;
  const bool has_v = v.heads > 0;
  // One token count for every present tensor, the slot list and the positions.
  // The first present tensor sets the count; the others are compared with it in q, k, v order.
  const std::int64_t tokens = has_q ? q.tokens : has_k ? k.tokens : has_v ? v.tokens : 0;
  const char* const first = has_q ? q_name : has_k ? "k" : "v";
  if (has_k && k.tokens != tokens)
    return fail(out, token_count_error("k", k.tokens, first, tokens));
  if (has_v && v.tokens != tokens)
    return fail(out, token_count_error("v", v.tokens, first, tokens));
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
  if (q_out != nullptr && has_q) {
    if (!append_view_ok(*q_out, rotary_dim)) {
      return fail(out, append_view_error(q_out_name, *q_out, rotary_dim));
    }
    if (error e = check_same_shape(q_out_name, *q_out, q_name, q)) {
      return fail(out, std::move(e));
    }
  }
  // Caches and slots (an absent tensor's cache is not looked at).
  std::int64_t page_size = 1;
  if (slots != nullptr && (has_k || has_v)) {
    if (has_k) {
      const cache_finding f = find_cache_fault(*k_cache, k.heads, k.head_dim);
      if (f.fault != cache_fault::none) {
        return fail(out, cache_error("k_cache", *k_cache, "k", k.heads, k.head_dim, f));
      }
    }
    // (A V cache laid out as the K cache, the usual case, has K's finding but for its data.)
    if (has_v && !(has_k && same_geometry(*k_cache, *v_cache) && v.heads == k.heads &&
                   v.head_dim == k.head_dim && v_cache->data != nullptr)) {
      const cache_finding f = find_cache_fault(*v_cache, v.heads, v.head_dim);
      if (f.fault != cache_fault::none) {
        return fail(out, cache_error("v_cache", *v_cache, "v", v.heads, v.head_dim, f));
      }
    }
    const paged_cache_view<C>& c0 = has_k ? *k_cache : *v_cache;
    if (has_k && has_v) {
      if (v_cache->pages != k_cache->pages) {
        return fail(out, make_invalid_value(
                             "v_cache.pages",
                             "must equal k_cache.pages (" + std::to_string(k_cache->pages) + ")",
                             v_cache->pages));
      }
      if (v_cache->page_size != k_cache->page_size) {
        return fail(out, make_invalid_value("v_cache.page_size",
                                            "must equal k_cache.page_size (" +
                                                std::to_string(k_cache->page_size) + ")",
                                            v_cache->page_size));
      }
    }
    const std::int64_t capacity = c0.pages * c0.page_size;  // checked by find_cache_fault
    page_size = c0.page_size;
    if (slots->count != tokens) {
      return fail(out,
                  make_invalid_value("slot_mapping.count",
                                     "must equal the token count (" + std::to_string(tokens) + ")",
                                     slots->count));
    }
    if (slots->values == nullptr && tokens > 0) {
      return fail(out, make_invalid("slot_mapping.values", "must not be null when there are tokens",
                                    "null"));
    }
    // (The first bad slot is looked for only once one was seen.)
    if (!slots_in_range(slots->values, opt.token_begin, end, capacity)) {
      return fail(out, slot_error(slots->values, opt.token_begin, end, capacity));
    }
  }
  // Layout, rotary_dim, table or frequencies, positions: apply_rotary's own checks.
  simd::rotate_job<E> rj;
  clear_row_lookup(rj);
  if (rotating && (has_q || has_k)) {
    const tensor_view<E> qv = has_q ? mutable_view(q) : tensor_view<E>{};
    const tensor_view<E> kv = has_k ? mutable_view(k) : tensor_view<E>{};
    if (rows->inv_freq != nullptr) {
      if (rotary_dim >= 2 && rotary_dim % 2 == 0 && rows->pairs != rotary_dim / 2) {
        return fail(out, rotary_dim_mismatch_error(rotary_dim, rows->pairs, "pairs"));
      }
      // Every position in [0, max_position] "has a row"; the pointers are never read.
      static const float no_rows[2] = {0.0f, 0.0f};
      const cos_sin_view all{no_rows, no_rows + 1, 0, rotary_dim / 2, 0, max_position + 1};
      make_rotate_job(rj, qv, kv, all, pos, lay, rotary_dim, opt, "must be in [0, 2^31]", out);
    } else {
      make_rotate_job(rj, qv, kv, rows->table, pos, lay, rotary_dim, opt, nullptr, out);
    }
    if (out != nullptr && *out) return false;
  }
  if (opt.token_begin == end || (!has_q && !has_k && !has_v)) return false;
  fill_append_job(job, q, q_out, k, v, k_cache, v_cache, slots, rows, rj, page_size, lay,
                  rotary_dim, opt, end);
  return true;
}

/// make_append_job's common case in one pass, without building any message: a paged KV append
/// (slots given, no q_out) with a table row source or none, K and V present with the same heads,
/// head_dim and cache geometry, at least one token to do, every check passing. Everything else,
/// valid or not, returns false and goes through checked_append_job. It accepts only calls
/// checked_append_job accepts and fills the same job, so results and errors are its.
template <class S, class QD, class C>
inline bool lean_append_job(simd::append_job<std::remove_const_t<S>, QD, C>& job,
                            const tensor_view<S>& q, const tensor_view<QD>* q_out,
                            const tensor_view<S>& k, const tensor_view<S>& v,
                            const paged_cache_view<C>* k_cache, const paged_cache_view<C>* v_cache,
                            const slot_mapping* slots, const row_source* rows,
                            const token_positions& pos, layout lay, std::int64_t rotary_dim,
                            const apply_options& opt) noexcept {
  const bool rotating = rows != nullptr;
  if (q_out != nullptr || slots == nullptr || (rotating && rows->inv_freq != nullptr)) {
    return false;
  }
  const bool has_q = q.heads > 0;
  const std::int64_t tokens = k.tokens;
  // Q absent (all sizes >= 0) or rotated with K; K and V present, alike, with tokens. A rotated
  // Q's and K's views are checked once, with rotary_dim, below.
  if (has_q ? (!rotating || q.tokens != tokens) : (q.tokens | q.heads | q.head_dim) < 0) {
    return false;
  }
  // K's view once, with the rotary_dim it is rotated with; V's only when its strides or extent
  // differ from K's (V of a packed QKV row has K's: then its view is K's but for data).
  if (k.heads < 1 || tokens < 1 || v.heads != k.heads || v.tokens != tokens ||
      v.head_dim != k.head_dim || !append_view_ok(k, rotating ? rotary_dim : 0)) {
    return false;
  }
  const bool v_like_k = v.token_stride == k.token_stride && v.head_stride == k.head_stride &&
                        (v.extent < 0 || v.extent == k.extent) && v.data != nullptr;
  if (!v_like_k && !append_view_ok(v, 0)) return false;
  const std::int64_t end = opt.token_end < 0 ? tokens : opt.token_end;
  if (opt.token_begin < 0 || opt.token_begin >= end || end > tokens) return false;
  // One cache check serves both: same geometry, both with data.
  const paged_cache_view<C>& kc = *k_cache;
  if (kc.pages < 1 || kc.data == nullptr || v_cache->data == nullptr ||
      !same_geometry(kc, *v_cache) ||
      find_cache_fault(kc, k.heads, k.head_dim).fault != cache_fault::none) {
    return false;
  }
  const std::int64_t capacity = kc.pages * kc.page_size;  // fits (find_cache_fault)
  if (slots->count != tokens || slots->values == nullptr ||
      !slots_in_range(slots->values, opt.token_begin, end, capacity)) {
    return false;
  }
  // Rotated Q (if present) and K: lean_rotate_job's checks for views known to have tokens and
  // heads, without building its rotation job.
  simd::row_args rows_of;
  clear_row_lookup(rows_of);
  if (rotating && (!lean_rotary_ok(lay, rotary_dim, rows->table) ||
                   (has_q && (!append_view_ok(q, rotary_dim) ||
                              qk_relation_of(mutable_view(q), mutable_view(k), rotary_dim,
                                             nullptr) != qk_relation::disjoint)) ||
                   !lean_rows(rows_of, rows->table, pos, tokens, opt.token_begin, end))) {
    return false;
  }
  fill_append_job(job, q, q_out, k, v, k_cache, v_cache, slots, rows, rows_of, kc.page_size, lay,
                  rotary_dim, opt, end);
  return true;
}

/// Everything of an append call but the types' own pointers, checked; fills the job. Returns
/// false when there is nothing to do, or when the call is rejected: its error is then raised, or
/// stored in *out when `out` is given (detail::fail). The common call is checked inline by
/// lean_append_job (predicates only); anything else by checked_append_job, which builds a
/// message only for the check that failed.
template <class S, class QD, class C>
inline bool make_append_job(simd::append_job<std::remove_const_t<S>, QD, C>& job,
                            const tensor_view<S>& q, const tensor_view<QD>* q_out,
                            const tensor_view<S>& k, const tensor_view<S>& v,
                            const paged_cache_view<C>* k_cache, const paged_cache_view<C>* v_cache,
                            const slot_mapping* slots, const row_source* rows,
                            const token_positions& pos, layout lay, std::int64_t rotary_dim,
                            const apply_options& opt, error* out = nullptr) {
  return lean_append_job(job, q, q_out, k, v, k_cache, v_cache, slots, rows, pos, lay, rotary_dim,
                         opt) ||
         checked_append_job(job, q, q_out, k, v, k_cache, v_cache, slots, rows, pos, lay,
                            rotary_dim, opt, out);
}

/// run_append of a job that computes its rows (job.inv_freq set): with a row buffer on the stack,
/// or on the heap for rows longer than on_the_fly_stack_pairs.
template <class S, class QD, class C>
ROPESCALE_NOINLINE void run_append_on_the_fly(isa which, simd::append_job<S, QD, C>& job) {
  alignas(64) float stack_row[2 * on_the_fly_stack_pairs];
  std::vector<float> heap_row;
  job.row = stack_row;
  if (job.pairs > on_the_fly_stack_pairs) {
    heap_row.resize(2 * static_cast<std::size_t>(job.pairs));
    job.row = heap_row.data();
  }
  simd::dispatch(which, [&](auto k) { decltype(k)::append(job); });
}

/// Runs a checked job with the ISA `which`. (The row buffer of the on-the-fly path lives in its
/// own frame: a table call, every decode step, does not set up a 4 KiB aligned stack frame.)
template <class S, class QD, class C>
inline void run_append(isa which, simd::append_job<S, QD, C>& job) {
  if (job.inv_freq != nullptr) {
    run_append_on_the_fly(which, job);
    return;
  }
  simd::dispatch(which, [&](auto k) { decltype(k)::append(job); });
}

/// The body of every entry point below, raising (out == nullptr) and non-throwing alike (as
/// apply.hpp's rotate_call): the row source's own check (rows: a cos_sin_view, cos_sin_rows or
/// frequency_table; null for kv_append, which does not rotate), the ISA, then make_append_job.
/// Inlined into each entry point's caller: the lean checks then fold the call's constant
/// arguments (an absent Q, no q_out, no rows) and read the views where the caller holds them.
template <class S, class QD, class C, class Rows>
ROPESCALE_INLINE void append_call(const tensor_view<S>& q, const tensor_view<QD>* q_out,
                                  const tensor_view<S>& k, const tensor_view<S>& v,
                                  const paged_cache_view<C>* k_cache,
                                  const paged_cache_view<C>* v_cache, const slot_mapping* slots,
                                  const Rows* rows, const token_positions& pos, layout lay,
                                  std::int64_t rotary_dim, const apply_options& opt, error* out) {
  row_source r;
  if (rows != nullptr) {
    if constexpr (std::is_same_v<Rows, frequency_table>) {
      if (error e = row_source_error(*rows)) {
        fail(out, std::move(e));
        return;
      }
    }
    r = to_row_source(*rows);
  }
  isa which = isa::scalar;
  if (!resolve_call_isa(opt.force_isa, which, out)) return;
  simd::append_job<std::remove_const_t<S>, QD, C> job;
  job.inv_freq = nullptr;  // (make_append_job assigns both again; g++ 12 -Wmaybe-uninitialized
  job.pairs = 0;           // cannot see that through the inlined checks)
  if (make_append_job(job, q, q_out, k, v, k_cache, v_cache, slots, rows != nullptr ? &r : nullptr,
                      pos, lay, rotary_dim, opt, out)) {
    run_append(which, job);
  }
}

/// append_call for the out-of-place rotation (no caches): src rotated into dst.
template <class S, class D, class Rows>
inline void rotate_to_call(const tensor_view<S>& src, const tensor_view<D>& dst, const Rows& rows,
                           const token_positions& pos, layout lay, std::int64_t rotary_dim,
                           const apply_options& opt, error* out) {
  append_call<S, D, D>(src, &dst, tensor_view<S>{}, tensor_view<S>{}, nullptr, nullptr, nullptr,
                       &rows, pos, lay, rotary_dim, opt, out);
}

/// append_call for kv_append (no rotation, no Q).
template <class S, class C>
inline void kv_append_call(const tensor_view<S>& k, const tensor_view<S>& v,
                           const paged_cache_view<C>& k_cache, const paged_cache_view<C>& v_cache,
                           const slot_mapping& slots, const apply_options& opt, error* out) {
  append_call<S, std::remove_const_t<S>, C>(tensor_view<S>{}, nullptr, k, v, &k_cache, &v_cache,
                                            &slots, static_cast<const cos_sin_view*>(nullptr),
                                            token_positions{}, layout::neox, 0, opt, out);
}

}  // namespace detail

/// Out-of-place rotation with storage conversion (docs/kv_append.md): for every token t in the
/// range and head h, the first rotary_dim channels of src are rotated as apply_rotary would
/// rotate them in place (same layouts, formula and inverse flag) and stored to dst converted to
/// D; channels [rotary_dim, head_dim) are copied, converted. The stored bits equal those of
/// apply_rotary on a copy of src, with the same ISA, followed by round-to-nearest-even
/// conversion (bit copies when S == D). `rows` is a cos_sin_view, a cos_sin_rows snapshot, or a
/// frequency_table (cos/sin computed in the call, as apply_rotary_on_the_fly).
/// Types: S = float with D in {float, bf16, f16}, or S == D (bf16, f16); S may be const.
/// dst must have src's tokens, heads and head_dim (any strides); dst may be src itself
/// (in place), otherwise the two must not overlap (not checked).
/// Throws invalid_parameter, before writing anything, on everything apply_rotary rejects and on
/// a dst view that is malformed or of another shape.
template <class S, class D, class Rows>
inline void apply_rotary_to(tensor_view<S> src, tensor_view<D> dst, const Rows& rows,
                            token_positions pos, layout lay, std::int64_t rotary_dim,
                            const apply_options& opt = {}) {
  detail::rotate_to_call(src, dst, rows, pos, lay, rotary_dim, opt, nullptr);
}

/// Fused RoPE + paged KV append (docs/kv_append.md). For every token t in the range:
///   - every head of q is rotated in place (or, in the overload with q_out, into q_out, converted);
///   - if slots[t] >= 0: every head of k is rotated and stored to k_cache at slot slots[t], and
///     every head of v copied to v_cache at that slot, both converted to C with
///     round-to-nearest-even (bit copies when S == C); slots[t] == −1 (padding) stores nothing.
/// Rotation exactly as apply_rotary_to (same bits as apply_rotary then conversion), with one row
/// lookup per token shared by Q and K. q, k or v may be absent (heads == 0; its cache is then
/// not looked at); q and k may have different head counts (GQA); present tensors need the same
/// token count, and each cache the heads and head_dim of its tensor; both caches share pages and
/// page_size. Types: S = float with C (and q_out's type) in {float, bf16, f16}, or all equal.
/// Two tokens of one call naming the same slot: the later token's K and V are the ones stored
/// (tokens are written in order); token ranges run on different threads must not share a slot.
/// Throws invalid_parameter before writing any byte on: everything apply_rotary rejects; a
/// slot below −1 or at or beyond pages · page_size; a slot_mapping whose count differs from the
/// token count; tensors with different token counts; a cache whose heads or head_dim differ from
/// its tensor's, with negative sizes or strides, overlapping strides, null data, or an extent
/// that overflows an offset; caches with different pages or page_size.
template <class S, class C, class Rows>
inline void rope_kv_append(tensor_view<S> q, tensor_view<S> k, tensor_view<S> v,
                           paged_cache_view<C> k_cache, paged_cache_view<C> v_cache,
                           slot_mapping slots, const Rows& rows, token_positions pos, layout lay,
                           std::int64_t rotary_dim, const apply_options& opt = {}) {
  static_assert(!std::is_const_v<S>,
                "ropescale: q is rotated in place; pass non-const views or use the q_out overload");
  detail::append_call<S, S, C>(q, nullptr, k, v, &k_cache, &v_cache, &slots, &rows, pos, lay,
                               rotary_dim, opt, nullptr);
}

/// As above, with Q rotated out of place into q_out (converted to QD; same shape as q).
template <class S, class QD, class C, class Rows>
inline void rope_kv_append(tensor_view<S> q, tensor_view<QD> q_out, tensor_view<S> k,
                           tensor_view<S> v, paged_cache_view<C> k_cache,
                           paged_cache_view<C> v_cache, slot_mapping slots, const Rows& rows,
                           token_positions pos, layout lay, std::int64_t rotary_dim,
                           const apply_options& opt = {}) {
  detail::append_call<S, QD, C>(q, &q_out, k, v, &k_cache, &v_cache, &slots, &rows, pos, lay,
                                rotary_dim, opt, nullptr);
}

/// Paged KV append without rotation: k and v (either may be absent) copied, converted, into
/// their caches at slots[t] (−1 skipped). The same checks and conversions as rope_kv_append;
/// opt.inverse is ignored.
template <class S, class C>
inline void kv_append(tensor_view<S> k, tensor_view<S> v, paged_cache_view<C> k_cache,
                      paged_cache_view<C> v_cache, slot_mapping slots,
                      const apply_options& opt = {}) {
  detail::kv_append_call(k, v, k_cache, v_cache, slots, opt, nullptr);
}

/// Non-throwing apply_rotary_to (as try_apply_rotary): the same checks, in the same order, and
/// the same stores; a rejected call returns its error (the key and message apply_rotary_to would
/// raise) and writes nothing, with or without exceptions; an empty error (`ok()`) on success.
template <class S, class D, class Rows>
inline error try_apply_rotary_to(tensor_view<S> src, tensor_view<D> dst, const Rows& rows,
                                 token_positions pos, layout lay, std::int64_t rotary_dim,
                                 const apply_options& opt = {}) {
  error e;
  detail::rotate_to_call(src, dst, rows, pos, lay, rotary_dim, opt, &e);
  return e;
}

/// Non-throwing rope_kv_append: a rejected call returns its error and leaves Q and both caches
/// untouched; an empty error on success.
template <class S, class C, class Rows>
inline error try_rope_kv_append(tensor_view<S> q, tensor_view<S> k, tensor_view<S> v,
                                paged_cache_view<C> k_cache, paged_cache_view<C> v_cache,
                                slot_mapping slots, const Rows& rows, token_positions pos,
                                layout lay, std::int64_t rotary_dim,
                                const apply_options& opt = {}) {
  static_assert(!std::is_const_v<S>,
                "ropescale: q is rotated in place; pass non-const views or use the q_out overload");
  error e;
  detail::append_call<S, S, C>(q, nullptr, k, v, &k_cache, &v_cache, &slots, &rows, pos, lay,
                               rotary_dim, opt, &e);
  return e;
}

/// Non-throwing rope_kv_append with Q rotated into q_out.
template <class S, class QD, class C, class Rows>
inline error try_rope_kv_append(tensor_view<S> q, tensor_view<QD> q_out, tensor_view<S> k,
                                tensor_view<S> v, paged_cache_view<C> k_cache,
                                paged_cache_view<C> v_cache, slot_mapping slots, const Rows& rows,
                                token_positions pos, layout lay, std::int64_t rotary_dim,
                                const apply_options& opt = {}) {
  error e;
  detail::append_call<S, QD, C>(q, &q_out, k, v, &k_cache, &v_cache, &slots, &rows, pos, lay,
                                rotary_dim, opt, &e);
  return e;
}

/// Non-throwing kv_append.
template <class S, class C>
inline error try_kv_append(tensor_view<S> k, tensor_view<S> v, paged_cache_view<C> k_cache,
                           paged_cache_view<C> v_cache, slot_mapping slots,
                           const apply_options& opt = {}) {
  error e;
  detail::kv_append_call(k, v, k_cache, v_cache, slots, opt, &e);
  return e;
}

}  // namespace ropescale

#endif  // ROPESCALE_KV_APPEND_HPP

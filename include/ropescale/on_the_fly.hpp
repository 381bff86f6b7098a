// SPDX-License-Identifier: Apache-2.0
// The no-table decode path (docs/reference.md §5.2 "no-table decode path", docs/benchmarks.md §4,
// §6): rotate Q and K in place with cos/sin computed inside the call from the method's double table
// ω, with no cached rows. Per token, the row of n cos then n sin floats (A folded in, the same
// layout as cos_sin_table.hpp) is computed into a stack buffer by the vectorised sincos of
// simd/sincos-inl.hpp (double angle p·ω with its exact rounding error, reduced mod π/2 in double,
// float Taylor polynomials on |r| <= π/4 with quadrant selection), then every head of Q and K is
// rotated by the same per-ISA body as apply_rotary (simd/rotate-inl.hpp rotate_token, the row
// held in registers across heads). Speed (BM_DecodeOnTheFly_f32 vs BM_InPlaceFloor bytes/s,
// 1×32×128, 2-vCPU EPYC guest): 0.67-0.71 with AVX2, 0.56-0.57 with AVX-512 (target >= 0.5).
// Argument checks are apply.hpp's own (O(1), O(tokens) for a position list); ω is not scanned (a
// non-finite ω gives NaN values for its pair); one dispatch switch per call; nothing is allocated
// unless rotary_dim > 1024.
//
// ACCURACY (measured by tests/test_on_the_fly.cpp against an independent long-double reference,
// every closed-form family, all p < 4096 and sampled p up to 1e7, scalar, AVX2 and AVX-512):
// worst |ĉ − A·cos φ| = 1.04e-7·max(1, A), inside the spec's 2e-7 bound. A token whose largest
// |p·ω| reaches 2^30 rad (far beyond any real context) gets its row from double std::cos/sin.
#ifndef ROPESCALE_ON_THE_FLY_HPP
#define ROPESCALE_ON_THE_FLY_HPP

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/simd/dispatch.hpp"
#include "ropescale/simd/kernel_args.hpp"
#include "ropescale/types.hpp"

namespace ropescale {

/// Pair counts up to this use a stack row buffer; larger rotary dims allocate one per call.
inline constexpr std::int64_t on_the_fly_stack_pairs = 512;

namespace detail {

/// apply_rotary_on_the_fly's body: with out == nullptr a rejected call raises, else its error
/// goes to *out (detail::fail).
template <class T>
inline void on_the_fly_call(const tensor_view<T>& q, const tensor_view<T>& k,
                            const double* inv_freq, std::int64_t pairs, double attention_factor,
                            const token_positions& pos, layout lay, std::int64_t rotary_dim,
                            const apply_options& opt, error* out) {
  isa which = isa::scalar;
  if (!resolve_call_isa(opt.force_isa, which, out)) return;
  if (inv_freq == nullptr) {
    fail(out, make_invalid("inv_freq", "must not be null", "null"));
    return;
  }
  if (rotary_dim >= 2 && rotary_dim % 2 == 0 && pairs != rotary_dim / 2) {
    fail(out, rotary_dim_mismatch_error(rotary_dim, pairs, "pairs"));
    return;
  }
  if (!std::isfinite(attention_factor) || !(attention_factor > 0.0)) {
    fail(out,
         make_invalid_value("attention_factor", "must be a finite number > 0", attention_factor));
    return;
  }
  // Every position in [0, max_position] "has a row": apply.hpp's checks then cover the views,
  // layout, rotary_dim, token range and positions. The pointers are never read.
  static const float no_rows[2] = {0.0f, 0.0f};
  const cos_sin_view all_positions{no_rows, no_rows + 1, 0, rotary_dim / 2, 0, max_position + 1};
  simd::rotate_job<T> job;
  if (!make_rotate_job(job, q, k, all_positions, pos, lay, rotary_dim, opt, "must be in [0, 2^31]",
                       out)) {
    return;
  }

  alignas(64) float stack_row[2 * on_the_fly_stack_pairs];
  std::vector<float> heap_row;
  float* row = stack_row;
  if (pairs > on_the_fly_stack_pairs) {
    heap_row.resize(2 * static_cast<std::size_t>(pairs));
    row = heap_row.data();
  }
  simd::rotate_on_the_fly(which, job, inv_freq, attention_factor, row);
}

/// on_the_fly_call with a frequency_table (accurate mode only).
template <class T>
inline void on_the_fly_call(const tensor_view<T>& q, const tensor_view<T>& k,
                            const frequency_table& f, const token_positions& pos, layout lay,
                            std::int64_t rotary_dim, const apply_options& opt, error* out) {
  if (f.mode != angle_mode::accurate) {
    fail(out, make_invalid("mode", "must be angle_mode::accurate for the on-the-fly path", "f32"));
    return;
  }
  on_the_fly_call(q, k, f.inv_freq.data(), f.pairs(), f.attention_factor, pos, lay, rotary_dim, opt,
                  out);
}

}  // namespace detail

/// Argument order (the same as apply_rotary's): the views, the source of the angles (here ω,
/// its pair count and A, or a frequency_table), the positions, the layout, rotary_dim, options.
///
/// Rotates Q and K in place like apply_rotary (docs/reference.md §1.3), computing each token's
/// cos/sin inside the call instead of reading a table: for token t at position p = pos[t],
///     cs_i = A·cos(p·ω_i),  sn_i = A·sin(p·ω_i),  i < n = rotary_dim / 2,
///     a ← a·cs_i − b·sn_i,  b ← b·cs_i + a·sn_i     (inverse: sn → −sn)
/// for every pair (a, b) of `lay` in every head of q and k. ω = inv_freq[0 … n) is the method's
/// double table (method::inv_freq), A its attention factor.
/// Accuracy: |cs_i − A·cos(p·ω_i)| <= 2e-7·max(1, A) (likewise sn) for 0 <= p <= 1e7, the same
/// bound as an accurate-mode cos_sin_table (docs/reference.md §5.2); the rotation itself as
/// apply_rotary. Use it for decode without a cache (one token, many heads: Q and K fused share one
/// row); for prefill or repeated layers a cos_sin_table is cheaper. Types: float, bf16, f16. Throws
/// invalid_parameter before touching data on everything apply_rotary rejects, and on: null
/// inv_freq, pairs != rotary_dim / 2, A not finite or <= 0, a position outside [0, 2^31]. ω must be
/// finite (not checked: a non-finite ω_i gives NaN for pair i).
template <class T>
inline void apply_rotary_on_the_fly(tensor_view<T> q, tensor_view<T> k, const double* inv_freq,
                                    std::int64_t pairs, double attention_factor,
                                    token_positions pos, layout lay, std::int64_t rotary_dim,
                                    const apply_options& opt = {}) {
  detail::on_the_fly_call(q, k, inv_freq, pairs, attention_factor, pos, lay, rotary_dim, opt,
                          nullptr);
}

/// Rotates one tensor in place with on-the-fly cos/sin (same contract as the fused form).
template <class T>
inline void apply_rotary_on_the_fly(tensor_view<T> x, const double* inv_freq, std::int64_t pairs,
                                    double attention_factor, token_positions pos, layout lay,
                                    std::int64_t rotary_dim, const apply_options& opt = {}) {
  apply_rotary_on_the_fly(x, tensor_view<T>{}, inv_freq, pairs, attention_factor, pos, lay,
                          rotary_dim, opt);
}

/// Fused Q+K form taking a frequency_table (angle_mode::accurate only: the f32 mode exists to
/// reproduce HF's cached tables and has no on-the-fly form; it throws invalid_parameter "mode").
template <class T>
inline void apply_rotary_on_the_fly(tensor_view<T> q, tensor_view<T> k, const frequency_table& f,
                                    token_positions pos, layout lay, std::int64_t rotary_dim,
                                    const apply_options& opt = {}) {
  detail::on_the_fly_call(q, k, f, pos, lay, rotary_dim, opt, nullptr);
}

/// Rotates one tensor in place with on-the-fly cos/sin from a frequency_table.
template <class T>
inline void apply_rotary_on_the_fly(tensor_view<T> x, const frequency_table& f, token_positions pos,
                                    layout lay, std::int64_t rotary_dim,
                                    const apply_options& opt = {}) {
  apply_rotary_on_the_fly(x, tensor_view<T>{}, f, pos, lay, rotary_dim, opt);
}

/// Non-throwing apply_rotary_on_the_fly (as try_apply_rotary): the same checks and rotation; a
/// rejected call returns its error (key and message as apply_rotary_on_the_fly would raise) and
/// writes nothing, with or without exceptions; an empty error (`ok()`) on success.
template <class T>
inline error try_apply_rotary_on_the_fly(tensor_view<T> q, tensor_view<T> k, const double* inv_freq,
                                         std::int64_t pairs, double attention_factor,
                                         token_positions pos, layout lay, std::int64_t rotary_dim,
                                         const apply_options& opt = {}) {
  error e;
  detail::on_the_fly_call(q, k, inv_freq, pairs, attention_factor, pos, lay, rotary_dim, opt, &e);
  return e;
}

/// try_apply_rotary_on_the_fly for one tensor.
template <class T>
inline error try_apply_rotary_on_the_fly(tensor_view<T> x, const double* inv_freq,
                                         std::int64_t pairs, double attention_factor,
                                         token_positions pos, layout lay, std::int64_t rotary_dim,
                                         const apply_options& opt = {}) {
  return try_apply_rotary_on_the_fly(x, tensor_view<T>{}, inv_freq, pairs, attention_factor, pos,
                                     lay, rotary_dim, opt);
}

/// try_apply_rotary_on_the_fly with a frequency_table.
template <class T>
inline error try_apply_rotary_on_the_fly(tensor_view<T> q, tensor_view<T> k,
                                         const frequency_table& f, token_positions pos, layout lay,
                                         std::int64_t rotary_dim, const apply_options& opt = {}) {
  error e;
  detail::on_the_fly_call(q, k, f, pos, lay, rotary_dim, opt, &e);
  return e;
}

/// try_apply_rotary_on_the_fly for one tensor with a frequency_table.
template <class T>
inline error try_apply_rotary_on_the_fly(tensor_view<T> x, const frequency_table& f,
                                         token_positions pos, layout lay, std::int64_t rotary_dim,
                                         const apply_options& opt = {}) {
  return try_apply_rotary_on_the_fly(x, tensor_view<T>{}, f, pos, lay, rotary_dim, opt);
}

}  // namespace ropescale

#endif  // ROPESCALE_ON_THE_FLY_HPP

// SPDX-License-Identifier: Apache-2.0
// Proportional RoPE (docs/reference.md §3.8, HF v5 rope_type "proportional", Gemma-4 global
// layers): the table covers the FULL head, H/2 pairs (i, i + H/2); the first n_rot = ⌊(prf·H)/2⌋
// pairs get ω_i = θ^(−2i/H)/s (denominator H, not d) and the rest have frequency 0 (identity
// rotation). This is not ordinary partial rotary (pairs (i, i + d/2), exponent 2i/d).
#ifndef ROPESCALE_METHODS_PROPORTIONAL_HPP
#define ROPESCALE_METHODS_PROPORTIONAL_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of proportional RoPE (HF keys). head_dim must be even; prf only sets
/// n_rot = ⌊(prf·H)/2⌋, the number of rotated pairs (the table always has H/2 entries).
struct proportional_params : rope_base_params {
  double factor = 1.0;  ///< s >= 1 (default 1)
};

/// Proportional RoPE (docs/reference.md §3.8). Real = float, double or long double. Const members
/// thread-safe.
template <class Real = double>
class proportional : public detail::method_base<proportional_params>,
                     public detail::unit_attention_factor<Real> {
 public:
  using params_type = proportional_params;
  using real_type = Real;
  static constexpr const char* type_name = "proportional";
  static constexpr bool depends_on_seq_len = false;

  /// Validates head_dim in [1, 65536] and even, θ > 1, 0 < prf <= 1, factor >= 1.
  /// Throws invalid_parameter.
  explicit proportional(const proportional_params& p)
      : detail::method_base<proportional_params>(p, checked_head_dim(p)) {
    detail::check_factor("factor", p_.factor);
    // Python: int(prf * H // 2), a double product floored after halving (exact in double).
    n_rot_ = static_cast<std::int64_t>(
        std::floor(static_cast<double>(p_.head_dim) * p_.partial_rotary_factor / 2.0));
    detail::check_table(inv_freq(), static_cast<std::size_t>(n_rot_), "factor", p_.factor);
  }

  // params(), head_dim() come from detail::method_base; rotary_dim() is H (rotation spans the
  // full head) and pairs() = H/2, the table length.
  /// n_rot = ⌊(prf·H)/2⌋ (double product): pairs with a non-zero frequency.
  std::int64_t rotated_pairs() const noexcept { return n_rot_; }

  /// ω_i = θ^(−2i/H)/s for i < n_rot, exactly 0 for n_rot <= i < H/2. θ^(−2i/H) in long double,
  /// division in double (long double for Real = long double), rounded once. S ignored (>= 1).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    using W = detail::work_t<Real>;
    std::vector<Real> out(static_cast<std::size_t>(pairs()), Real(0));
    const W s = static_cast<W>(p_.factor);
    for (std::int64_t i = 0; i < n_rot_; ++i) {
      const W w0 = detail::base_inv_freq<W>(p_.rope_theta, i, p_.head_dim);
      out[static_cast<std::size_t>(i)] = static_cast<Real>(w0 / s);
    }
    return out;
  }

  /// HF's binary32 table (docs/reference.md §5.3 "proportional"): the base table with denominator H
  /// for i < n_rot, then fl32(·/fl32(s)); zeros beyond.
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<float> out(static_cast<std::size_t>(pairs()), 0.0f);
    const std::vector<float> base = detail::hf_f32_base_table(p_.rope_theta, p_.head_dim, n_rot_);
    const float s32 = static_cast<float>(p_.factor);
    for (std::size_t i = 0; i < base.size(); ++i) out[i] = base[i] / s32;
    return out;
  }

  /// Non-fatal notes: a note when n_rot = 0 (every pair is the identity).
  std::vector<std::string> diagnostics() const {
    if (n_rot_ == 0) {
      return {
          "proportional: n_rot = floor(partial_rotary_factor * head_dim / 2) = 0, no pair "
          "rotates"};
    }
    return {};
  }

 private:
  /// head_dim in [1, 65536] and even, θ > 1, 0 < prf <= 1, in that order; returns H, which
  /// method_base keeps as the rotary dim.
  static std::int64_t checked_head_dim(const proportional_params& p) {
    detail::check_head_dim(p.head_dim);
    detail::check_theta(p.rope_theta);
    detail::check_partial_rotary_factor(p.partial_rotary_factor);
    if (p.head_dim % 2 != 0) {
      detail::throw_invalid_value("head_dim", "must be even for proportional RoPE", p.head_dim);
    }
    return p.head_dim;
  }

  std::int64_t n_rot_ = 0;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_PROPORTIONAL_HPP

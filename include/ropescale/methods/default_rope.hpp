// SPDX-License-Identifier: Apache-2.0
// The unscaled RoPE table (docs/reference.md §3.1, HF rope_type "default"): ω_i = θ^(−2i/d) for
// i = 0 … d/2 − 1 with d = int(head_dim × partial_rotary_factor), attention factor A = 1.
// Named default_rope because `default` is a C++ keyword.
#ifndef ROPESCALE_METHODS_DEFAULT_ROPE_HPP
#define ROPESCALE_METHODS_DEFAULT_ROPE_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of the default method (fields named after the HF config keys).
struct default_rope_params : rope_base_params {};

/// Unscaled RoPE: ω_i = θ^(−2i/d), A = 1 (docs/reference.md §3.1).
/// Real = float, double or long double; computed in double (long double for long double) and
/// rounded once. Const members are thread-safe.
template <class Real = double>
class default_rope : public detail::method_base<default_rope_params>,
                     public detail::unit_attention_factor<Real> {
 public:
  using params_type = default_rope_params;
  using real_type = Real;
  static constexpr const char* type_name = "default";
  static constexpr bool depends_on_seq_len = false;

  /// Validates θ > 1, 0 < prf <= 1, head_dim in [1, 65536], d even with 2 <= d <= H
  /// (docs/reference.md §2.5). Throws invalid_parameter naming the key and value.
  explicit default_rope(const default_rope_params& p)
      : detail::method_base<default_rope_params>(p, detail::checked_rotary_dim(p)) {
    detail::check_table(inv_freq(), static_cast<std::size_t>(pairs()), "rope_theta", p_.rope_theta);
  }

  /// ω_i = θ^(−2i/d), i = 0 … n−1. seq_len is ignored but must be >= 1 when given.
  /// Error: <= 1 ulp of Real (long-double pow, one rounding to the working type and to Real).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      out[static_cast<std::size_t>(i)] =
          static_cast<Real>(detail::base_inv_freq<detail::work_t<Real>>(p_.rope_theta, i, d_));
    }
    return out;
  }

  /// HF's binary32 table (docs/reference.md §5.3 "base"): fl32(1/fl32(pow(fl32(θ), fl32(2i/d)))).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return detail::hf_f32_base_table(p_.rope_theta, d_, pairs());
  }
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_DEFAULT_ROPE_HPP

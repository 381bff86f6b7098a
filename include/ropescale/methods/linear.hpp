// SPDX-License-Identifier: Apache-2.0
// Linear scaling / Position Interpolation (docs/reference.md §3.2, HF rope_type "linear"): ω_i =
// ω⁰_i / s with ω⁰_i = θ^(−2i/d) and s = factor; A = 1. Equivalent to feeding positions p/s.
#ifndef ROPESCALE_METHODS_LINEAR_HPP
#define ROPESCALE_METHODS_LINEAR_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of linear scaling (HF keys).
struct linear_params : rope_base_params {
  double factor = 1.0;  ///< s >= 1
};

/// Position Interpolation: ω_i = θ^(−2i/d) / s, A = 1 (docs/reference.md §3.2; Chen et al. 2023).
/// Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class linear : public detail::method_base<linear_params>,
               public detail::unit_attention_factor<Real> {
 public:
  using params_type = linear_params;
  using real_type = Real;
  static constexpr const char* type_name = "linear";
  static constexpr bool depends_on_seq_len = false;

  /// Validates the common keys (docs/reference.md §2.5) and factor >= 1. Throws invalid_parameter.
  explicit linear(const linear_params& p)
      : detail::method_base<linear_params>(p, detail::checked_rotary_dim(p)) {
    detail::check_factor("factor", p_.factor);
    detail::check_table(inv_freq(), static_cast<std::size_t>(pairs()),
                        p_.factor == 1.0 ? "rope_theta" : "factor",
                        p_.factor == 1.0 ? p_.rope_theta : p_.factor);
  }

  /// ω_i = ω⁰_i / s: the working-precision default value divided by s (so for Real = double the
  /// table is bit-identical to default_rope<double>'s divided by s). seq_len ignored (>= 1).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    using W = detail::work_t<Real>;
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      const W w0 = detail::base_inv_freq<W>(p_.rope_theta, i, d_);
      out[static_cast<std::size_t>(i)] = static_cast<Real>(w0 / static_cast<W>(p_.factor));
    }
    return out;
  }

  /// HF's binary32 table (docs/reference.md §5.3): fl32(ω⁰32 / fl32(s)).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<float> out = detail::hf_f32_base_table(p_.rope_theta, d_, pairs());
    const float s32 = static_cast<float>(p_.factor);
    for (float& w : out) w = w / s32;
    return out;
  }
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_LINEAR_HPP

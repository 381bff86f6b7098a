// SPDX-License-Identifier: Apache-2.0
// Linear scaling / Position Interpolation (spec.md §3.2, HF rope_type "linear"): ω_i = ω⁰_i / s
// with ω⁰_i = θ^(−2i/d) and s = factor; A = 1. Equivalent to feeding positions p/s.
#ifndef ROPESCALE_METHODS_LINEAR_HPP
#define ROPESCALE_METHODS_LINEAR_HPP

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of linear scaling (HF keys).
struct linear_params {
  std::int64_t head_dim = 0;           ///< H
  double rope_theta = 10000.0;         ///< θ
  double partial_rotary_factor = 1.0;  ///< prf; d = int(H × prf)
  double factor = 1.0;                 ///< s >= 1
};

/// Position Interpolation: ω_i = θ^(−2i/d) / s, A = 1 (spec §3.2; Chen et al. 2023).
/// Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class linear {
 public:
  using params_type = linear_params;
  using real_type = Real;
  static constexpr const char* type_name = "linear";
  static constexpr bool depends_on_seq_len = false;

  /// Validates the common keys (spec §2.5) and factor >= 1. Throws invalid_parameter.
  explicit linear(const linear_params& p)
      : p_(p), d_(detail::checked_rotary_dim(p.head_dim, p.rope_theta, p.partial_rotary_factor)) {
    detail::check_factor("factor", p_.factor);
  }

  /// The validated parameters.
  const linear_params& params() const noexcept { return p_; }
  /// H.
  std::int64_t head_dim() const noexcept { return p_.head_dim; }
  /// d = int(H × prf).
  std::int64_t rotary_dim() const noexcept { return d_; }
  /// n = d/2.
  std::int64_t pairs() const noexcept { return d_ / 2; }

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

  /// A = 1.
  Real attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return Real(1);
  }

  /// HF's binary32 table (spec §5.3): fl32(ω⁰32 / fl32(s)).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<float> out = detail::hf_f32_base_table(p_.rope_theta, d_, pairs());
    const float s32 = static_cast<float>(p_.factor);
    for (float& w : out) w = w / s32;
    return out;
  }

  /// 1.
  double softmax_scale_multiplier() const noexcept { return 1.0; }
  /// 1. Throws if seq_len < 1.
  double query_scale(std::int64_t seq_len) const {
    detail::check_seq_len(seq_len);
    return 1.0;
  }
  /// Non-fatal notes; none for this method.
  std::vector<std::string> diagnostics() const { return {}; }

 private:
  linear_params p_;
  std::int64_t d_;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_LINEAR_HPP

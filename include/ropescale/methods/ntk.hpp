// SPDX-License-Identifier: Apache-2.0
// Static NTK-aware scaling (spec.md §3.3, ropescale's own rope_type "ntk"; HF only has the dynamic
// variant): the base becomes θ' = θ·s^(d/(d−2)), so ω_i = θ'^(−2i/d) = ω⁰_i·s^(−2i/(d−2)); A = 1.
// ω_0 = 1 is kept and ω_{n−1} = ω⁰_{n−1}/s. vLLM's "ntk" is a different formula and is not this.
#ifndef ROPESCALE_METHODS_NTK_HPP
#define ROPESCALE_METHODS_NTK_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of static NTK-aware scaling.
struct ntk_params {
  std::int64_t head_dim = 0;           ///< H
  double rope_theta = 10000.0;         ///< θ
  double partial_rotary_factor = 1.0;  ///< prf; d = int(H × prf) must be >= 4
  double factor = 1.0;                 ///< s >= 1
};

/// Static NTK-aware scaling: ω_i = (θ·s^(d/(d−2)))^(−2i/d), A = 1 (spec §3.3; bloc97 2023).
/// Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class ntk {
 public:
  using params_type = ntk_params;
  using real_type = Real;
  static constexpr const char* type_name = "ntk";
  static constexpr bool depends_on_seq_len = false;

  /// Validates the common keys, d >= 4 and factor >= 1 (spec §2.5). Throws invalid_parameter.
  explicit ntk(const ntk_params& p)
      : p_(p),
        d_(detail::checked_rotary_dim(p.head_dim, p.rope_theta, p.partial_rotary_factor, 4)) {
    detail::check_factor("factor", p_.factor);
  }

  /// The validated parameters.
  const ntk_params& params() const noexcept { return p_; }
  /// H.
  std::int64_t head_dim() const noexcept { return p_.head_dim; }
  /// d = int(H × prf).
  std::int64_t rotary_dim() const noexcept { return d_; }
  /// n = d/2.
  std::int64_t pairs() const noexcept { return d_ / 2; }

  /// The scaled base θ' = θ·s^(d/(d−2)) in double (HF-style Python-float evaluation).
  double scaled_theta() const {
    return p_.rope_theta *
           std::pow(p_.factor, static_cast<double>(d_) / static_cast<double>(d_ - 2));
  }

  /// ω_i = θ^(−2i/d)·s^(−2i/(d−2)) evaluated in long double, rounded once.
  /// seq_len ignored (>= 1 when given).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    const long double k = static_cast<long double>(p_.factor);
    for (std::int64_t i = 0; i < pairs(); ++i) {
      out[static_cast<std::size_t>(i)] =
          static_cast<Real>(detail::ntk_inv_freq<detail::work_t<Real>>(p_.rope_theta, k, i, d_));
    }
    return out;
  }

  /// A = 1.
  Real attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return Real(1);
  }

  /// HF-style binary32 table (spec §5.3 "ntk"): the base table with θ' = scaled_theta() computed
  /// in double, then fl32(θ').
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return detail::hf_f32_base_table(scaled_theta(), d_, pairs());
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
  ntk_params p_;
  std::int64_t d_;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_NTK_HPP

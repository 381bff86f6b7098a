// SPDX-License-Identifier: Apache-2.0
// Static NTK-aware scaling (docs/reference.md §3.3, ropescale's own rope_type "ntk"; HF only has
// the dynamic variant): the base becomes θ' = θ·s^(d/(d−2)), so ω_i = θ'^(−2i/d) =
// ω⁰_i·s^(−2i/(d−2)); A = 1. ω_0 = 1 is kept and ω_{n−1} = ω⁰_{n−1}/s. vLLM's "ntk" is a different
// formula and is not this.
#ifndef ROPESCALE_METHODS_NTK_HPP
#define ROPESCALE_METHODS_NTK_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of static NTK-aware scaling. The rotary dim d = int(H × prf) must be >= 4.
struct ntk_params : rope_base_params {
  double factor = 1.0;  ///< s >= 1
};

/// Static NTK-aware scaling: ω_i = (θ·s^(d/(d−2)))^(−2i/d), A = 1 (docs/reference.md §3.3; bloc97
/// 2023). Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class ntk : public detail::method_base<ntk_params>, public detail::unit_attention_factor<Real> {
 public:
  using params_type = ntk_params;
  using real_type = Real;
  static constexpr const char* type_name = "ntk";
  static constexpr bool depends_on_seq_len = false;

  /// Validates the common keys, d >= 4 and factor >= 1 (docs/reference.md §2.5). Throws
  /// invalid_parameter.
  explicit ntk(const ntk_params& p)
      : detail::method_base<ntk_params>(p, detail::checked_rotary_dim(p, 4)) {
    detail::check_factor("factor", p_.factor);
    detail::check_table(inv_freq(), static_cast<std::size_t>(pairs()), "factor", p_.factor);
  }

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

  /// HF-style binary32 table (docs/reference.md §5.3 "ntk"): the base table with θ' =
  /// scaled_theta() computed in double, then fl32(θ').
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return detail::hf_f32_base_table(scaled_theta(), d_, pairs());
  }
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_NTK_HPP

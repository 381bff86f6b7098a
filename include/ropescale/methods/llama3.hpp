// SPDX-License-Identifier: Apache-2.0
// Llama-3.1 frequency scaling (docs/reference.md §3.7, HF rope_type "llama3"): by wavelength λ_i =
// 2π/ω⁰_i, high-frequency pairs (λ < L0/b) keep ω⁰, low-frequency pairs (λ > L0/a) get ω⁰/s, and
// the band in between blends the two with g = (L0/λ − a)/(b − a). A = 1. The map is continuous at
// both edges; a == b is accepted and uses g = 0 (as vLLM) where HF would compute 0/0.
#ifndef ROPESCALE_METHODS_LLAMA3_HPP
#define ROPESCALE_METHODS_LLAMA3_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of llama3 scaling (HF keys; all required in the config, no invented defaults).
struct llama3_params : rope_base_params {
  double factor = 1.0;                                ///< s >= 1
  double low_freq_factor = 0;                         ///< a > 0
  double high_freq_factor = 0;                        ///< b >= a
  std::int64_t original_max_position_embeddings = 0;  ///< L0, required
};

/// Llama-3 scaling (docs/reference.md §3.7). Real = float, double or long double. Const members
/// thread-safe.
template <class Real = double>
class llama3 : public detail::method_base<llama3_params>,
               public detail::unit_attention_factor<Real> {
 public:
  using params_type = llama3_params;
  using real_type = Real;
  static constexpr const char* type_name = "llama3";
  static constexpr bool depends_on_seq_len = false;

  /// Validates (docs/reference.md §2.5): common keys; factor >= 1; 0 < low_freq_factor <=
  /// high_freq_factor; L0 in [1, 2^53]. (L0 >= L is the loader's diagnostic: L is not a parameter
  /// here.) Throws invalid_parameter.
  explicit llama3(const llama3_params& p)
      : detail::method_base<llama3_params>(p, detail::checked_rotary_dim(p)) {
    detail::check_factor("factor", p_.factor);
    detail::check_positive("low_freq_factor", p_.low_freq_factor);
    if (!std::isfinite(p_.high_freq_factor) || !(p_.high_freq_factor >= p_.low_freq_factor)) {
      detail::throw_invalid_value("high_freq_factor",
                                  "must be a finite number >= low_freq_factor (" +
                                      detail::format_value(p_.low_freq_factor) + ")",
                                  p_.high_freq_factor);
    }
    detail::check_integer_key("original_max_position_embeddings",
                              p_.original_max_position_embeddings);
    detail::check_table(inv_freq(), static_cast<std::size_t>(pairs()), "factor", p_.factor);
  }

  /// With λ = 2π/ω⁰: λ < L0/b → ω⁰; λ > L0/a → ω⁰/s; otherwise
  /// g = (L0/λ − a)/(b − a) (0 if a == b) and ω = (1 − g)·ω⁰/s + g·ω⁰. λ, the band tests and the
  /// blend are evaluated in long double; the outer bands return the default table's value and
  /// ω⁰/s in the working type (as linear). Error: <= 1 ulp of Real. S ignored (>= 1 if given).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    using W = detail::work_t<Real>;
    using LD = long double;
    const LD L0 = static_cast<LD>(p_.original_max_position_embeddings);
    const LD a = static_cast<LD>(p_.low_freq_factor);
    const LD b = static_cast<LD>(p_.high_freq_factor);
    const LD s = static_cast<LD>(p_.factor);
    const LD low_freq_wavelen = L0 / a;
    const LD high_freq_wavelen = L0 / b;
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      const LD w0 = detail::base_inv_freq<LD>(p_.rope_theta, i, d_);
      const LD lambda = detail::two_pi_ld / w0;
      Real w;
      if (lambda < high_freq_wavelen) {
        w = static_cast<Real>(detail::base_inv_freq<W>(p_.rope_theta, i, d_));
      } else if (lambda > low_freq_wavelen) {
        w = static_cast<Real>(detail::base_inv_freq<W>(p_.rope_theta, i, d_) /
                              static_cast<W>(p_.factor));
      } else {
        const LD g = (a == b) ? LD(0) : (L0 / lambda - a) / (b - a);
        w = static_cast<Real>((LD(1) - g) * w0 / s + g * w0);
      }
      out[static_cast<std::size_t>(i)] = w;
    }
    return out;
  }

  /// HF's binary32 table (docs/reference.md §5.3 "llama3"): ω⁰ = base table, λ = fl32(fl32(2π)/ω⁰);
  /// band tests against fl32(L0/a), fl32(L0/b); g = fl32(fl32(fl32(L0)/λ) − fl32(a)) / fl32(b − a)
  /// (0 if a == b); ω = fl32(fl32(fl32(fl32(1 − g)·ω⁰)/fl32(s)) + fl32(g·ω⁰)).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<float> out = detail::hf_f32_base_table(p_.rope_theta, d_, pairs());
    const double L0 = static_cast<double>(p_.original_max_position_embeddings);
    const float two_pi32 = static_cast<float>(detail::two_pi_ld);
    const float L0_32 = static_cast<float>(L0);
    const float low_wl32 = static_cast<float>(L0 / p_.low_freq_factor);
    const float high_wl32 = static_cast<float>(L0 / p_.high_freq_factor);
    const float a32 = static_cast<float>(p_.low_freq_factor);
    const float ba32 = static_cast<float>(p_.high_freq_factor - p_.low_freq_factor);
    const float s32 = static_cast<float>(p_.factor);
    const bool equal_factors = p_.high_freq_factor == p_.low_freq_factor;
    for (float& w : out) {
      const float lambda = two_pi32 / w;
      if (lambda > low_wl32) {
        w = w / s32;
      } else if (!(lambda < high_wl32)) {
        const float g = equal_factors ? 0.0f : (L0_32 / lambda - a32) / ba32;
        const float t = detail::fp_barrier((1.0f - g) * w) / s32;
        w = t + detail::fp_barrier(g * w);
      }
    }
    return out;
  }
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_LLAMA3_HPP

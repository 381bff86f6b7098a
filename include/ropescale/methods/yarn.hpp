// SPDX-License-Identifier: Apache-2.0
// YaRN (docs/reference.md §3.5, HF rope_type "yarn"; Peng et al. 2023): a ramp in the pair index
// between the correction bounds blends the unscaled frequency (high-frequency pairs) with the
// interpolated one ω⁰/s (low-frequency pairs), plus an attention factor A on cos/sin and, for
// DeepSeek-style configs, a separate softmax-scale multiplier. Static: S is ignored.
#ifndef ROPESCALE_METHODS_YARN_HPP
#define ROPESCALE_METHODS_YARN_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of YaRN (HF keys; the loader has already resolved factor = null → L/L0 and
/// L0 → L per docs/reference.md §2.3).
struct yarn_params : rope_base_params {
  double factor = 1.0;                                ///< s >= 1
  std::int64_t original_max_position_embeddings = 0;  ///< L0, required
  std::optional<double> attention_factor;             ///< > 0; replaces the computed A
  std::optional<double> mscale;                       ///< >= 0; 0 or nullopt = unset
  std::optional<double> mscale_all_dim;               ///< >= 0; 0 or nullopt = unset
  double beta_fast = 32.0;                            ///< β_f >= 0; 0 = default 32
  double beta_slow = 1.0;                             ///< β_s >= 0; 0 = default 1
  bool truncate = true;                               ///< floor/ceil the correction bounds
};

/// YaRN's magnitude function m(s, a) = 1 if s <= 1, else 0.1·a·ln s + 1 (HF get_mscale).
inline double yarn_get_mscale(double scale, double mscale = 1.0) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

/// YaRN: ω_i = (ω⁰_i/s)·r_i + ω⁰_i·(1 − r_i), r_i = clamp((i − lo)/(hi − lo), 0, 1)
/// (docs/reference.md §3.5). Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class yarn : public detail::method_base<yarn_params> {
 public:
  using params_type = yarn_params;
  using real_type = Real;
  static constexpr const char* type_name = "yarn";
  static constexpr bool depends_on_seq_len = false;

  /// Validates (docs/reference.md §2.5): common keys; factor >= 1; L0 in [1, 2^53];
  /// attention_factor > 0; mscale, mscale_all_dim >= 0; betas >= 0 with 0 meaning the default, then
  /// beta_fast >= beta_slow. Computes the correction range and A. Throws invalid_parameter.
  explicit yarn(const yarn_params& p)
      : detail::method_base<yarn_params>(p, detail::checked_rotary_dim(p)) {
    detail::check_factor("factor", p_.factor);
    detail::check_integer_key("original_max_position_embeddings",
                              p_.original_max_position_embeddings);
    if (p_.attention_factor) detail::check_positive("attention_factor", *p_.attention_factor);
    if (p_.mscale) detail::check_non_negative("mscale", *p_.mscale);
    if (p_.mscale_all_dim) detail::check_non_negative("mscale_all_dim", *p_.mscale_all_dim);
    detail::check_non_negative("beta_fast", p_.beta_fast);
    detail::check_non_negative("beta_slow", p_.beta_slow);
    beta_fast_ = p_.beta_fast == 0.0 ? 32.0 : p_.beta_fast;  // HF: get("beta_fast") or 32
    beta_slow_ = p_.beta_slow == 0.0 ? 1.0 : p_.beta_slow;
    if (beta_fast_ < beta_slow_) {
      detail::throw_invalid_value("beta_fast",
                                  "must be >= beta_slow (" + detail::format_value(beta_slow_) + ")",
                                  beta_fast_);
    }
    // §3.5.2, in double with HF's Python operation order.
    double lo = correction_dim(beta_fast_);
    double hi = correction_dim(beta_slow_);
    if (p_.truncate) {
      lo = std::floor(lo);
      hi = std::ceil(hi);
    }
    lo = std::max(lo, 0.0);
    hi = std::min(hi, static_cast<double>(d_ - 1));
    if (lo == hi) hi += 0.001;
    low_ = lo;
    high_ = hi;
    // §3.5.4: the first rule that applies.
    if (p_.attention_factor) {
      attention_factor_ = *p_.attention_factor;
    } else if (is_set(p_.mscale) && is_set(p_.mscale_all_dim)) {
      attention_factor_ =
          yarn_get_mscale(p_.factor, *p_.mscale) / yarn_get_mscale(p_.factor, *p_.mscale_all_dim);
    } else {
      attention_factor_ = yarn_get_mscale(p_.factor);
    }
    softmax_multiplier_ = 1.0;
    if (is_set(p_.mscale_all_dim)) {
      const double m = yarn_get_mscale(p_.factor, *p_.mscale_all_dim);
      softmax_multiplier_ = m * m;
    }
    detail::check_table(inv_freq(), static_cast<std::size_t>(pairs()), "factor", p_.factor);
  }

  // params() is as given: a beta of 0 stays 0 there; beta_fast()/beta_slow() apply the defaults.

  /// β_f after defaults (0 → 32).
  double beta_fast() const noexcept { return beta_fast_; }
  /// β_s after defaults (0 → 1).
  double beta_slow() const noexcept { return beta_slow_; }
  /// corr(r) = d·ln(L0/(2π·r)) / (2 ln θ): the fractional pair index whose wavelength
  /// 2π·θ^(2i/d) fits r turns into L0 tokens (docs/reference.md §3.5.2), in double.
  double correction_dim(double num_rotations) const {
    const double pi = 3.141592653589793;
    return (static_cast<double>(d_) *
            std::log(static_cast<double>(p_.original_max_position_embeddings) /
                     (num_rotations * 2.0 * pi))) /
           (2.0 * std::log(p_.rope_theta));
  }
  /// lo after truncation (if truncate) and clamping to >= 0.
  double correction_low() const noexcept { return low_; }
  /// hi after truncation (if truncate), clamping to <= d − 1 and the +0.001 when lo == hi.
  double correction_high() const noexcept { return high_; }

  /// ω_i = (ω⁰_i/s)·r_i + ω⁰_i·(1 − r_i) with r_i = clamp((i − lo)/(hi − lo), 0, 1) and lo, hi
  /// from double (docs/reference.md §3.5.2). r = 0 (and s = 1) gives the default table's value
  /// exactly, r = 1 the linear table's (ω⁰/s in the working type); ramp pairs are blended in long
  /// double from the long-double ω⁰ and rounded once (the blend amplifies an error in r by up to s,
  /// so double would cost ~s ulps). Error: <= 1 ulp of Real. S is ignored (>= 1 if given).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    using W = detail::work_t<Real>;
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      const long double r = ramp(i);
      Real w;
      if (r <= 0.0L || p_.factor == 1.0) {
        w = static_cast<Real>(detail::base_inv_freq<W>(p_.rope_theta, i, d_));
      } else if (r >= 1.0L) {
        w = static_cast<Real>(detail::base_inv_freq<W>(p_.rope_theta, i, d_) /
                              static_cast<W>(p_.factor));
      } else {
        const long double w0 = detail::base_inv_freq<long double>(p_.rope_theta, i, d_);
        w = static_cast<Real>((w0 / static_cast<long double>(p_.factor)) * r + w0 * (1.0L - r));
      }
      out[static_cast<std::size_t>(i)] = w;
    }
    return out;
  }

  /// r_i = clamp((i − lo)/(hi − lo), 0, 1) in long double (0: ω⁰ kept, 1: divided by s).
  long double ramp(std::int64_t i) const noexcept {
    const long double lo = static_cast<long double>(low_);
    const long double r =
        (static_cast<long double>(i) - lo) / (static_cast<long double>(high_) - lo);
    return std::min(std::max(r, 0.0L), 1.0L);
  }

  /// A per §3.5.4: attention_factor if given; else m(s, mscale)/m(s, mscale_all_dim) if both are
  /// set (non-null, non-zero); else m(s, 1) = 0.1·ln s + 1 (1 for s = 1). mscale alone is
  /// ignored. Multiplies both cos and sin. S is ignored (>= 1 if given).
  Real attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return static_cast<Real>(attention_factor_);
  }

  /// HF's binary32 table (docs/reference.md §5.3 "yarn"): ω_ext = fl32(1/P), ω_int =
  /// fl32(1/fl32(fl32(s)·P)), r = clamp(fl32(fl32(i − fl32(lo)) / fl32(hi − lo)), 0, 1), w = fl32(1
  /// − r), ω = fl32(fl32(ω_int·fl32(1 − w)) + fl32(ω_ext·w)).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    std::vector<float> out(static_cast<std::size_t>(pairs()));
    const float s32 = static_cast<float>(p_.factor);
    const float lo32 = static_cast<float>(low_);
    const float span32 = static_cast<float>(high_ - low_);
    for (std::int64_t i = 0; i < pairs(); ++i) {
      const float P = detail::hf_f32_pow(p_.rope_theta, i, d_);
      const float w_ext = 1.0f / P;
      const float w_int = 1.0f / (s32 * P);
      float r = (static_cast<float>(i) - lo32) / span32;
      r = std::min(std::max(r, 0.0f), 1.0f);
      const float w = 1.0f - r;
      const float a = detail::fp_barrier(w_int * (1.0f - w));
      const float b = detail::fp_barrier(w_ext * w);
      out[static_cast<std::size_t>(i)] = a + b;
    }
    return out;
  }

  /// DeepSeek softmax term (docs/reference.md §3.5.5): m(s, mscale_all_dim)² when mscale_all_dim is
  /// set (non-null, non-zero), else 1. Never folded into cos/sin; engines whose attention applies
  /// it multiply the softmax scale 1/√qk_head_dim by it.
  double softmax_scale_multiplier() const noexcept { return softmax_multiplier_; }
  /// Non-fatal notes: "mscale is ignored" when mscale is set without mscale_all_dim (and no
  /// explicit attention_factor), as HF does.
  std::vector<std::string> diagnostics() const {
    std::vector<std::string> out;
    if (!p_.attention_factor && is_set(p_.mscale) && !is_set(p_.mscale_all_dim)) {
      out.push_back("mscale = " + detail::format_value(*p_.mscale) +
                    " is ignored without mscale_all_dim (HF computes A = 0.1 ln(factor) + 1)");
    }
    return out;
  }

 private:
  static bool is_set(const std::optional<double>& v) noexcept { return v && *v != 0.0; }

  double beta_fast_ = 32.0;
  double beta_slow_ = 1.0;
  double low_ = 0.0;
  double high_ = 0.0;
  double attention_factor_ = 1.0;
  double softmax_multiplier_ = 1.0;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_YARN_HPP

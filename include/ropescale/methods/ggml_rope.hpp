// SPDX-License-Identifier: Apache-2.0
// llama.cpp / ggml's RoPE frequency formula on explicit parameters (docs/gguf.md §2), the method a
// GGUF file describes: per-pair divisors ("freq factors": Llama-3's baked rope_freqs, or LongRoPE's
// long/short factors chosen by S against L0), then either linear scaling by freq_scale = 1/s, or
// YaRN's index ramp between ggml's floored/ceiled correction bounds. The attention factor is
// given (the loader nets it the way llama.cpp does); the HF rope_type name it reports is given
// too, since one formula covers several HF types. Closed form, no dependencies.
#ifndef ROPESCALE_METHODS_GGML_ROPE_HPP
#define ROPESCALE_METHODS_GGML_ROPE_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of ggml_rope. rope_base_params::partial_rotary_factor is informational
/// (rotary_dim / head_dim); rotary_dim rules.
struct ggml_rope_params : rope_base_params {
  std::int64_t rotary_dim = 0;            ///< n_rot: even, 2 <= n_rot <= head_dim
  double factor = 1.0;                    ///< s > 0 (freq_scale = 1/s); 1 = no scaling
  bool yarn = false;                      ///< YaRN ramp (ext_factor 1) instead of linear scaling
  std::int64_t original_context = 0;      ///< L0 (n_ctx_orig): YaRN bounds, LongRoPE switch
  std::vector<double> freq_factors;       ///< rope_freqs: n_rot/2 divisors > 0 (empty: none)
  std::vector<double> long_factors;       ///< LongRoPE (both or neither): n_rot/2 values > 0
  std::vector<double> short_factors;      ///< LongRoPE short factors
  double attention_factor = 1.0;          ///< A > 0 (net, as llama.cpp applies it)
  double softmax_scale_multiplier = 1.0;  ///< > 0 (DeepSeek2: mscale², docs/reference.md §3.5.5)
  std::string rope_type = "default";      ///< the HF name reported by rope_type_name()
};

/// YaRN attention factor as llama.cpp nets it (docs/gguf.md §2, "attention factor"), before the
/// file's rope.scaling.attn_factor: with m(s, x) = 1 + 0.1·x·ln s (1 if s <= 1), m(s, 1) when
/// log_mul == 0, else m(s, mscale)/m(s, log_mul) with mscale = log_mul for deepseek2 when
/// log_mul != 1, else 1.
inline double ggml_yarn_attention_factor(double s, double log_mul, bool deepseek2) {
  const auto m = [s](double x) { return s <= 1.0 ? 1.0 : 1.0 + 0.1 * x * std::log(s); };
  if (log_mul == 0.0) return m(1.0);
  const double mscale = (deepseek2 && log_mul != 1.0) ? log_mul : 1.0;
  return m(mscale) / m(log_mul);
}

/// ggml's RoPE (docs/gguf.md §2). Real = float, double or long double. Const members are
/// thread-safe.
template <class Real = double>
class ggml_rope : public detail::method_base<ggml_rope_params> {
 public:
  using params_type = ggml_rope_params;
  using real_type = Real;
  static constexpr const char* type_name = "ggml";
  /// True as a type: LongRoPE parameters make the table depend on S; seq_len_dependent() says
  /// whether this object's does.
  static constexpr bool depends_on_seq_len = true;

  /// Validates: head_dim in [1, 2^53]; rope_theta finite > 1; rotary_dim even in [2, min(head_dim,
  /// 65536)]; factor finite > 0; factor tables of exactly rotary_dim/2 finite values > 0 (long and
  /// short together); original_context in [1, 2^53] when YaRN or LongRoPE needs it; attention
  /// factor and softmax multiplier finite > 0; every table entry in (0, 2^32] (docs/limits.md).
  /// Throws invalid_parameter.
  explicit ggml_rope(const ggml_rope_params& p)
      : detail::method_base<ggml_rope_params>(p, checked_dim(p)) {
    detail::check_positive("factor", p_.factor);
    check_table("freq_factors", p_.freq_factors, true);
    check_table("long_factors", p_.long_factors, true);
    check_table("short_factors", p_.short_factors, !p_.long_factors.empty());
    if (p_.short_factors.empty() != p_.long_factors.empty()) {
      detail::throw_invalid("long_factors", "must be given together with short_factors",
                            p_.long_factors.empty() ? "short only" : "long only");
    }
    if (p_.yarn || !p_.long_factors.empty()) {
      detail::check_integer_key("original_max_position_embeddings", p_.original_context);
    }
    detail::check_positive("attention_factor", p_.attention_factor);
    detail::check_positive("softmax_scale_multiplier", p_.softmax_scale_multiplier);
    if (p_.yarn) {
      // ggml_rope_yarn_corr_dims: floor/ceil, clamped to [0, n_rot - 1]; evaluated in double.
      const double n = static_cast<double>(d_);
      low_ = std::max(0.0, std::floor(corr_dim(32.0)));
      high_ = std::min(n - 1.0, std::ceil(corr_dim(1.0)));
    }
    check_inv_freq(std::nullopt);
    if (seq_len_dependent()) check_inv_freq(p_.original_context + 1);
  }

  /// The HF rope_type this table corresponds to ("default", "linear", "yarn", "llama3",
  /// "longrope").
  const std::string& rope_type_name() const noexcept { return p_.rope_type; }
  /// True iff LongRoPE factors are present (the table then depends on S).
  bool seq_len_dependent() const noexcept { return !p_.long_factors.empty(); }
  /// YaRN correction bounds after floor/ceil and clamping (0 when not YaRN).
  double correction_low() const noexcept { return low_; }
  double correction_high() const noexcept { return high_; }

  /// True iff the long factors apply: LongRoPE, S given and S > L0 (llama.cpp: n_ctx_seq >
  /// n_ctx_orig_yarn). Throws if seq_len < 1.
  bool uses_long_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return seq_len_dependent() && seq_len && *seq_len > p_.original_context;
  }

  /// ω_i = θ^(−2i/n_rot) / ff_i, then × (freq_scale (1 − ramp_i) + ramp_i) for YaRN
  /// (ramp_i = 1 − clamp((i − lo)/max(0.001, hi − lo), 0, 1)) or × freq_scale otherwise, in long
  /// double, rounded once. S chooses LongRoPE's factors (absent: short, HF's initial table).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    using LD = long double;
    const std::vector<double>* ff = divisors(seq_len);
    const LD freq_scale = 1.0L / static_cast<LD>(p_.factor);
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      LD w = detail::base_inv_freq<LD>(p_.rope_theta, i, d_);
      if (ff != nullptr) w /= static_cast<LD>((*ff)[static_cast<std::size_t>(i)]);
      if (p_.yarn) {
        const LD ramp = 1.0L - yarn_ramp(i);
        w *= freq_scale * (1.0L - ramp) + ramp;
      } else if (p_.factor != 1.0) {
        w *= freq_scale;
      }
      out[static_cast<std::size_t>(i)] = static_cast<Real>(static_cast<detail::work_t<Real>>(w));
    }
    return out;
  }

  /// clamp((i − lo)/max(0.001, hi − lo), 0, 1): 0 keeps ω, 1 applies freq_scale fully.
  long double yarn_ramp(std::int64_t i) const noexcept {
    const long double y = (static_cast<long double>(i) - static_cast<long double>(low_)) /
                          std::max(0.001L, static_cast<long double>(high_ - low_));
    return std::min(1.0L, std::max(0.0L, y));
  }

  /// A as given (the same for every S). Throws if seq_len < 1.
  Real attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return static_cast<Real>(p_.attention_factor);
  }

  /// ggml forms angles by an f32 recurrence and has no separate f32 table; this is fl32 of the
  /// accurate table (what an f32 engine holding exact frequencies uses).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    const std::vector<Real> t = inv_freq(seq_len);
    std::vector<float> out(t.size());
    for (std::size_t i = 0; i < t.size(); ++i) out[i] = static_cast<float>(t[i]);
    return out;
  }

  /// As given (DeepSeek2 YaRN: m(s, log_mul)², else 1).
  double softmax_scale_multiplier() const noexcept { return p_.softmax_scale_multiplier; }

 private:
  static std::int64_t checked_dim(const ggml_rope_params& p) {
    detail::check_integer_key("head_dim", p.head_dim);
    detail::check_theta(p.rope_theta);
    if (p.rotary_dim < 2 || p.rotary_dim % 2 != 0 || p.rotary_dim > p.head_dim ||
        p.rotary_dim > detail::max_head_dim) {
      detail::throw_invalid_value("rotary_dim",
                                  "must be even with 2 <= rotary_dim <= min(head_dim (" +
                                      std::to_string(p.head_dim) + "), 65536)",
                                  p.rotary_dim);
    }
    return p.rotary_dim;
  }

  /// The per-pair divisors S selects: rope_freqs, else LongRoPE's long or short factors, else
  /// none (nullptr). Throws if seq_len < 1.
  const std::vector<double>* divisors(std::optional<std::int64_t> seq_len) const {
    detail::check_seq_len(seq_len);
    if (!p_.freq_factors.empty()) return &p_.freq_factors;
    if (seq_len_dependent()) {
      return uses_long_factor(seq_len) ? &p_.long_factors : &p_.short_factors;
    }
    return nullptr;
  }

  /// Every entry of the table S selects in (0, 2^32] after rounding to Real (docs/limits.md), as
  /// for every other method. The key names what put an entry out of range: the divisor when
  /// θ^(−2i/n_rot)/divisor already is, else factor (freq_scale = 1/factor too large or small).
  void check_inv_freq(std::optional<std::int64_t> seq_len) const {
    const std::vector<Real> w = inv_freq(seq_len);
    const std::vector<double>* ff = divisors(seq_len);
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (detail::inv_freq_in_range(w[i])) continue;
      std::string key = "factor";
      double value = p_.factor;
      if (ff != nullptr) {
        const double divisor = (*ff)[i];
        const long double unscaled =
            detail::base_inv_freq<long double>(p_.rope_theta, static_cast<std::int64_t>(i), d_) /
            static_cast<long double>(divisor);
        if (!detail::inv_freq_in_range(
                static_cast<Real>(static_cast<detail::work_t<Real>>(unscaled)))) {
          key = std::string(ff == &p_.freq_factors   ? "freq_factors"
                            : ff == &p_.long_factors ? "long_factors"
                                                     : "short_factors") +
                "[" + std::to_string(i) + "]";
          value = divisor;
        }
      }
      detail::throw_invalid(key, detail::inv_freq_range_rule,
                            detail::format_value(value) + " (inv_freq[" + std::to_string(i) +
                                "] = " + detail::format_value(w[i]) + ")");
    }
  }

  void check_table(const char* key, const std::vector<double>& v, bool check) const {
    if (!check || v.empty()) return;
    const std::size_t n = static_cast<std::size_t>(pairs());
    if (v.size() != n) {
      detail::throw_invalid(key,
                            "must hold exactly rotary_dim/2 = " + std::to_string(n) + " values",
                            std::to_string(v.size()) + " values");
    }
    for (std::size_t i = 0; i < n; ++i) {
      detail::check_positive(std::string(key) + "[" + std::to_string(i) + "]", v[i]);
    }
  }

  double corr_dim(double beta) const {
    const double pi = 3.141592653589793;
    return static_cast<double>(d_) *
           std::log(static_cast<double>(p_.original_context) / (beta * 2.0 * pi)) /
           (2.0 * std::log(p_.rope_theta));
  }

  double low_ = 0.0;
  double high_ = 0.0;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_GGML_ROPE_HPP

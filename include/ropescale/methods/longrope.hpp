// SPDX-License-Identifier: Apache-2.0
// LongRoPE (docs/reference.md §3.6, HF rope_type "longrope"; Phi-3's legacy "su" is renamed by the
// loader): per-pair rescale factors ω_i = 1/(ext_i·θ^(2i/d)) with ext = long_factor when S > L0,
// else short_factor, and A = √(1 + ln s / ln L0) for s > 1 (s = factor, or L/L0), the same A for
// both tables. Switching tables changes the rotation at every position: an engine that caches
// rotated keys must re-rotate (or drop the cache) when S first crosses L0, or choose once with
// inv_freq_fixed(max_context) as vLLM (max_model_len > L0) and llama.cpp (context size) do.
#ifndef ROPESCALE_METHODS_LONGROPE_HPP
#define ROPESCALE_METHODS_LONGROPE_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of LongRoPE (HF keys; L0 already resolved by the loader per docs/reference.md §2.3).
struct longrope_params : rope_base_params {
  std::vector<double> short_factor;                   ///< exactly d/2 finite numbers > 0
  std::vector<double> long_factor;                    ///< exactly d/2 finite numbers > 0
  std::optional<double> factor;                       ///< s >= 1; nullopt → L/L0
  std::optional<double> attention_factor;             ///< > 0; nullopt → computed
  std::int64_t original_max_position_embeddings = 0;  ///< L0, required
  std::int64_t max_position_embeddings = 0;           ///< L; required when factor is nullopt
};

/// LongRoPE: ω_i = 1/(ext_i·θ^(2i/d)), ext chosen by S (docs/reference.md §3.6).
/// Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class longrope : public detail::method_base<longrope_params> {
 public:
  using params_type = longrope_params;
  using real_type = Real;
  static constexpr const char* type_name = "longrope";
  static constexpr bool depends_on_seq_len = true;

  /// Validates (docs/reference.md §2.5): common keys; short_factor and long_factor of exactly d/2
  /// finite numbers > 0; factor >= 1 if given; attention_factor > 0 if given; L0 in [1, 2^53]; L in
  /// [1, 2^53] when given or needed (factor absent). When A must be computed with s > 1, L0 must
  /// be >= 2 (ln L0 is a denominator). Throws invalid_parameter.
  explicit longrope(const longrope_params& p)
      : detail::method_base<longrope_params>(p, detail::checked_rotary_dim(p)) {
    check_factors("short_factor", p_.short_factor);
    check_factors("long_factor", p_.long_factor);
    detail::check_integer_key("original_max_position_embeddings",
                              p_.original_max_position_embeddings);
    if (p_.max_position_embeddings != 0 || !p_.factor) {
      detail::check_integer_key("max_position_embeddings", p_.max_position_embeddings);
    }
    if (p_.factor) {
      detail::check_factor("factor", *p_.factor);
      factor_ = *p_.factor;
    } else {
      factor_ = static_cast<double>(p_.max_position_embeddings) /
                static_cast<double>(p_.original_max_position_embeddings);
    }
    if (p_.attention_factor) {
      detail::check_positive("attention_factor", *p_.attention_factor);
      attention_factor_ = *p_.attention_factor;
    } else if (factor_ <= 1.0) {
      attention_factor_ = 1.0;
    } else {
      if (p_.original_max_position_embeddings < 2) {
        detail::throw_invalid_value(
            "original_max_position_embeddings",
            "must be >= 2 when the attention factor is computed (ln L0 is a denominator)",
            p_.original_max_position_embeddings);
      }
      attention_factor_ =
          std::sqrt(1.0 + std::log(factor_) /
                              std::log(static_cast<double>(p_.original_max_position_embeddings)));
    }
    const auto n = static_cast<std::size_t>(pairs());
    detail::check_table(inv_freq(), n, "short_factor",
                        *std::min_element(p_.short_factor.begin(), p_.short_factor.end()));
    detail::check_table(inv_freq(p_.original_max_position_embeddings + 1), n, "long_factor",
                        *std::min_element(p_.long_factor.begin(), p_.long_factor.end()));
  }

  /// s: factor if given, else L/L0 (double division).
  double factor() const noexcept { return factor_; }

  /// True iff the long factors apply: S given and S > L0 (L0, not L). Throws if seq_len < 1.
  bool uses_long_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return seq_len && *seq_len > p_.original_max_position_embeddings;
  }

  /// Per-S choice (HF's forward): ω_i = 1/(ext_i·θ^(2i/d)), ext = long_factor iff S > L0, else
  /// short_factor (also for S absent: HF's initial table). Evaluated in long double, rounded once.
  /// Throws if seq_len < 1.
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    const std::vector<double>& ext = uses_long_factor(seq_len) ? p_.long_factor : p_.short_factor;
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      const long double w0 = detail::base_inv_freq<long double>(p_.rope_theta, i, d_);
      const long double e = static_cast<long double>(ext[static_cast<std::size_t>(i)]);
      out[static_cast<std::size_t>(i)] =
          static_cast<Real>(static_cast<detail::work_t<Real>>(w0 / e));
    }
    return out;
  }

  /// Fixed-once choice: the table for an engine whose maximum context is max_context (long iff
  /// max_context > L0), to be used for every S. Same as inv_freq(max_context); it exists to make
  /// the policy explicit. Throws invalid_parameter("seq_len", …) if max_context < 1.
  std::vector<Real> inv_freq_fixed(std::int64_t max_context) const { return inv_freq(max_context); }

  /// A = attention_factor if given, else 1 if s <= 1, else √(1 + ln s / ln L0); the same for both
  /// tables and every S. Throws if seq_len < 1.
  Real attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    return static_cast<Real>(attention_factor_);
  }

  /// HF's binary32 table (docs/reference.md §5.3 "longrope"): fl32(1/fl32(fl32(ext_i)·P_i)).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    const std::vector<double>& ext = uses_long_factor(seq_len) ? p_.long_factor : p_.short_factor;
    std::vector<float> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t i = 0; i < pairs(); ++i) {
      const float e32 = static_cast<float>(ext[static_cast<std::size_t>(i)]);
      out[static_cast<std::size_t>(i)] = 1.0f / (e32 * detail::hf_f32_pow(p_.rope_theta, i, d_));
    }
    return out;
  }

 private:
  void check_factors(const char* key, const std::vector<double>& v) const {
    const std::size_t n = static_cast<std::size_t>(pairs());
    if (v.size() != n) {
      detail::throw_invalid(
          key, "must be an array of exactly d/2 = " + std::to_string(n) + " finite numbers > 0",
          std::to_string(v.size()) + " entries");
    }
    for (std::size_t i = 0; i < n; ++i) {
      detail::check_positive(std::string(key) + "[" + std::to_string(i) + "]", v[i]);
    }
  }

  double factor_ = 1.0;
  double attention_factor_ = 1.0;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_LONGROPE_HPP

// SPDX-License-Identifier: Apache-2.0
// Dynamic NTK scaling (docs/reference.md §3.4, HF rope_type "dynamic"). Three named policies, none
// chosen implicitly: the stateless per-length table dynamic::inv_freq(S) (θ' = θ·(s·max(S, L)/L −
// (s − 1))^(d/(d−2)), the default table for S <= L); HF's stateful cache, a separate explicit
// object dynamic_hf_cache (the table depends on the call history); and vLLM's static table,
// dynamic::inv_freq_vllm_static() (the base fixed once at S = s·L: θ·(s² − s + 1)^(d/(d−2))).
// It uses L = max_position_embeddings, never original_max_position_embeddings.
#ifndef ROPESCALE_METHODS_DYNAMIC_HPP
#define ROPESCALE_METHODS_DYNAMIC_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/methods/common.hpp"

namespace ropescale {

/// Parameters of dynamic NTK scaling. The rotary dim d = int(H × prf) must be >= 4.
struct dynamic_params : rope_base_params {
  double factor = 1.0;                       ///< s >= 1
  std::int64_t max_position_embeddings = 0;  ///< L (top-level key), required
};

/// The three ways engines pick a dynamic-NTK table (docs/reference.md §3.4). Never chosen
/// implicitly.
enum class dynamic_policy {
  hf_cache,    ///< HF's cache: table of the longest S seen, reset below L (dynamic_hf_cache)
  per_length,  ///< stateless: the table of the current S (dynamic::inv_freq(S))
  vllm_static  ///< vLLM: fixed at S = s·L (dynamic::inv_freq_vllm_static())
};

/// Dynamic NTK: stateless per-length tables, A = 1 (docs/reference.md §3.4).
/// Real = float, double or long double. Const members are thread-safe.
template <class Real = double>
class dynamic : public detail::method_base<dynamic_params>,
                public detail::unit_attention_factor<Real> {
 public:
  using params_type = dynamic_params;
  using real_type = Real;
  static constexpr const char* type_name = "dynamic";
  static constexpr bool depends_on_seq_len = true;

  /// Validates the common keys, d >= 4, factor >= 1 and max_position_embeddings in [1, 2^53]
  /// (docs/reference.md §2.5). Throws invalid_parameter.
  explicit dynamic(const dynamic_params& p)
      : detail::method_base<dynamic_params>(p, detail::checked_rotary_dim(p, 4)) {
    detail::check_factor("factor", p_.factor);
    detail::check_integer_key("max_position_embeddings", p_.max_position_embeddings);
    detail::check_table(inv_freq(), static_cast<std::size_t>(pairs()), "rope_theta", p_.rope_theta);
  }

  /// Stateless table (policy per_length): S absent or S <= L → the default table exactly;
  /// otherwise ω_i = θ'^(−2i/d), θ' = θ·k^(d/(d−2)), k = s·S/L − (s − 1), evaluated as
  /// θ^(−2i/d)·k^(−2i/(d−2)) in long double and rounded once. Throws if seq_len < 1.
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    using W = detail::work_t<Real>;
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    if (!seq_len || *seq_len <= p_.max_position_embeddings) {
      for (std::int64_t i = 0; i < pairs(); ++i) {
        out[static_cast<std::size_t>(i)] =
            static_cast<Real>(detail::base_inv_freq<W>(p_.rope_theta, i, d_));
      }
      return out;
    }
    const long double s = static_cast<long double>(p_.factor);
    const long double k = s * static_cast<long double>(*seq_len) /
                              static_cast<long double>(p_.max_position_embeddings) -
                          (s - 1.0L);
    fill_ntk(out, k);
    detail::check_table(out, out.size(), "seq_len", static_cast<double>(*seq_len));
    return out;
  }

  /// vLLM's static table (policy vllm_static): the base fixed at S = s·L, i.e. NTK with
  /// k = s² − s + 1, evaluated in long double. Never returned by inv_freq().
  std::vector<Real> inv_freq_vllm_static() const {
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    const long double s = static_cast<long double>(p_.factor);
    fill_ntk(out, s * s - s + 1.0L);
    return out;
  }

  /// The table of a stateless policy: per_length → inv_freq(seq_len), vllm_static →
  /// inv_freq_vllm_static() (seq_len ignored). hf_cache is stateful: use dynamic_hf_cache;
  /// asking for it here throws invalid_parameter (key "policy").
  std::vector<Real> inv_freq_for(dynamic_policy policy,
                                 std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    switch (policy) {
      case dynamic_policy::per_length:
        return inv_freq(seq_len);
      case dynamic_policy::vllm_static:
        return inv_freq_vllm_static();
      case dynamic_policy::hf_cache:
        break;
    }
    detail::throw_message("policy",
                          "hf_cache depends on the call history; use ropescale::dynamic_hf_cache");
  }

  /// The scaled base θ' of the stateless table at S, in double with HF's Python operation order
  /// θ·((s·S/L) − (s − 1))^(d/(d−2)); θ itself for S absent or S <= L.
  double scaled_theta(std::optional<std::int64_t> seq_len = std::nullopt) const {
    detail::check_seq_len(seq_len);
    if (!seq_len || *seq_len <= p_.max_position_embeddings) return p_.rope_theta;
    const double s = p_.factor;
    const double k =
        s * static_cast<double>(*seq_len) / static_cast<double>(p_.max_position_embeddings) -
        (s - 1.0);
    return p_.rope_theta * std::pow(k, static_cast<double>(d_) / static_cast<double>(d_ - 2));
  }

  /// HF's binary32 table (docs/reference.md §5.3 "dynamic"): the base table with
  /// fl32(scaled_theta(S)). (HF's forward evaluates the base in f32 from an int64 tensor; ≤ 1.3e-7
  /// relative, not reproduced.)
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return detail::hf_f32_base_table(scaled_theta(seq_len), d_, pairs());
  }

 private:
  void fill_ntk(std::vector<Real>& out, long double k) const {
    for (std::int64_t i = 0; i < pairs(); ++i) {
      out[static_cast<std::size_t>(i)] =
          static_cast<Real>(detail::ntk_inv_freq<detail::work_t<Real>>(p_.rope_theta, k, i, d_));
    }
  }
};

/// HF's dynamic-NTK cache semantics (docs/reference.md §3.4), an explicit stateful object owned by
/// the user. State: cached_max (initially L) and the current table (initially the default table).
/// Each forward calls update(S) with S = max(position) + 1:
///   1. if S > cached_max: table ← dynamic::inv_freq(S), cached_max ← S;
///   2. if S < L and cached_max > L: table ← default, cached_max ← L.
/// So for L <= S <= cached_max the longest S's table is kept, and the reset happens only strictly
/// below L. The table always equals dynamic::inv_freq(cached_max()). HF never re-rotates keys
/// already in a KV cache: keys rotated before a growth keep their old frequencies.
/// Not thread-safe (update mutates); const members are.
template <class Real = double>
class dynamic_hf_cache {
 public:
  /// Starts from the method's initial state: cached_max = L, default table.
  explicit dynamic_hf_cache(const dynamic<Real>& method)
      : method_(method),
        cached_max_(method.params().max_position_embeddings),
        table_(method.inv_freq()) {}
  /// Same, constructing (and validating) the method from its parameters.
  explicit dynamic_hf_cache(const dynamic_params& p) : dynamic_hf_cache(dynamic<Real>(p)) {}

  /// Applies one forward's sequence length S (>= 1, else invalid_parameter "seq_len") and
  /// returns the table to use for it. The reference stays valid until the next update/reset.
  const std::vector<Real>& update(std::int64_t seq_len) {
    detail::check_seq_len(seq_len);
    const std::int64_t L = method_.params().max_position_embeddings;
    if (seq_len > cached_max_) {
      table_ = method_.inv_freq(seq_len);
      cached_max_ = seq_len;
      ++version_;
    }
    if (seq_len < L && cached_max_ > L) {
      table_ = method_.inv_freq();
      cached_max_ = L;
      ++version_;
    }
    return table_;
  }

  /// Back to the initial state (cached_max = L, default table).
  void reset() {
    if (cached_max_ != method_.params().max_position_embeddings) ++version_;
    cached_max_ = method_.params().max_position_embeddings;
    table_ = method_.inv_freq();
  }

  /// The S whose table is current (L initially).
  std::int64_t cached_max() const noexcept { return cached_max_; }
  /// The current table (= method().inv_freq(cached_max())).
  const std::vector<Real>& table() const noexcept { return table_; }
  /// HF's binary32 version of the current table (= method().inv_freq_hf_f32(cached_max())).
  std::vector<float> table_hf_f32() const { return method_.inv_freq_hf_f32(cached_max_); }
  /// Incremented whenever the table changes (growth or reset), so engines can see that keys
  /// rotated earlier no longer match the current table.
  std::uint64_t version() const noexcept { return version_; }
  /// The stateless method underneath.
  const dynamic<Real>& method() const noexcept { return method_; }

 private:
  dynamic<Real> method_;
  std::int64_t cached_max_;
  std::vector<Real> table_;
  std::uint64_t version_ = 0;
};

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_DYNAMIC_HPP

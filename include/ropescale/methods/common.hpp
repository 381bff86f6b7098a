// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the closed-form frequency methods (docs/reference.md §1, §2.5, §5.3): the
// rotary dimension rule d = int(H × prf) as a double product truncated toward zero, the value
// checks of the §2.5 table (all errors through detail::throw_invalid, "<key>: <expectation>, got
// <value>"), the unscaled inverse frequency θ^(−2i/d) evaluated in long double and rounded once,
// and the Hugging Face binary32 base table (e = fl32(2i/d), P = fl32(pow(fl32(θ), e)), ω⁰ =
// fl32(1/P)). Also the parts every method shares: the public base of every `<name>_params`
// (ropescale::rope_base_params: head_dim, rope_theta, partial_rotary_factor) and the base class
// detail::method_base with the common accessors. Everything else here lives in ropescale::detail
// and carries no API promise.
#ifndef ROPESCALE_METHODS_COMMON_HPP
#define ROPESCALE_METHODS_COMMON_HPP

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ropescale/detail/angle.hpp"
#include "ropescale/detail/throw.hpp"

namespace ropescale {

/// The keys every method shares (HF names verbatim); every `<name>_params` derives from it.
/// Aggregate initialisation therefore nests them, e.g. `linear_params{{128, 1e4, 1.0}, 4.0}`;
/// assigning by field name (`p.head_dim = 128;`) reads better and does not depend on the order.
struct rope_base_params {
  /// H (the loader resolves head_dim, hidden_size / num_attention_heads or qk_rope_head_dim).
  std::int64_t head_dim = 0;
  double rope_theta = 10000.0;         ///< θ, the base (top-level key), a finite number > 1
  double partial_rotary_factor = 1.0;  ///< prf in (0, 1]; the rotary dim is d = int(H × prf)
};

namespace detail {

/// Working precision of a method's table arithmetic: double for float and double tables, long
/// double for long double tables. The result is rounded once to Real at the end.
template <class Real>
using work_t = std::conditional_t<std::is_same_v<Real, long double>, long double, double>;

/// Largest head_dim (docs/limits.md): a table row of 32768 pairs; real models use <= 576.
inline constexpr std::int64_t max_head_dim = std::int64_t{1} << 16;

/// 2^53: the upper bound of every integer key (docs/reference.md §2.5).
inline constexpr std::int64_t max_integer_key = std::int64_t{1} << 53;

/// 2π in long double (rounded from a 40-digit literal).
inline constexpr long double two_pi_ld = 6.283185307179586476925286766559005768394L;

/// d = int(H × prf): the IEEE double product truncated toward zero (Python semantics,
/// docs/reference.md §1.1). 100 × 0.29 = 28.999999999999996, so d = 28. No long double, no
/// rounding.
inline std::int64_t rotary_dim_of(std::int64_t head_dim, double partial_rotary_factor) noexcept {
  const double product = static_cast<double>(head_dim) * partial_rotary_factor;
  return static_cast<std::int64_t>(product);  // conversion truncates toward zero
}

/// Integer key in [1, 2^53] (head_dim, max_position_embeddings, original_max_position_embeddings).
inline void check_integer_key(std::string_view key, std::int64_t value) {
  if (value < 1 || value > max_integer_key) {
    throw_invalid_value(key, "must be an integer in [1, 2^53]", value);
  }
}

/// rope_theta: a finite number > 1.
inline void check_theta(double theta) {
  if (!std::isfinite(theta) || !(theta > 1.0)) {
    throw_invalid_value("rope_theta", "must be a finite number > 1", theta);
  }
}

/// partial_rotary_factor: 0 < prf <= 1.
inline void check_partial_rotary_factor(double prf) {
  if (!std::isfinite(prf) || !(prf > 0.0) || !(prf <= 1.0)) {
    throw_invalid_value("partial_rotary_factor", "must be a finite number in (0, 1]", prf);
  }
}

/// factor (every type that uses it): a finite number >= 1.
inline void check_factor(std::string_view key, double factor) {
  if (!std::isfinite(factor) || !(factor >= 1.0)) {
    throw_invalid_value(key, "must be a finite number >= 1", factor);
  }
}

/// A finite number > 0 (attention_factor, longrope factors, llama3 low_freq_factor).
inline void check_positive(std::string_view key, double value) {
  if (!std::isfinite(value) || !(value > 0.0)) {
    throw_invalid_value(key, "must be a finite number > 0", value);
  }
}

/// A finite number >= 0 (beta_fast, beta_slow, mscale, mscale_all_dim).
inline void check_non_negative(std::string_view key, double value) {
  if (!std::isfinite(value) || !(value >= 0.0)) {
    throw_invalid_value(key, "must be a finite number >= 0", value);
  }
}

/// S (API seq_len): an integer >= 1 when given.
/// (By reference: copying a disengaged optional makes g++ 12 -O2 warn maybe-uninitialized.)
inline void check_seq_len(const std::optional<std::int64_t>& seq_len) {
  if (seq_len && *seq_len < 1) throw_invalid_value("seq_len", "must be an integer >= 1", *seq_len);
}

/// head_dim: an integer in [1, max_head_dim], the bound every method shares (docs/limits.md).
inline void check_head_dim(std::int64_t head_dim) {
  check_integer_key("head_dim", head_dim);
  if (head_dim > max_head_dim) {
    throw_invalid_value("head_dim", "must be <= 65536 (docs/limits.md)", head_dim);
  }
}

/// Checks head_dim, rope_theta and partial_rotary_factor, then d = int(H × prf): even,
/// 2 <= d <= H, and d >= min_d (4 for ntk, dynamic, clex: d − 2 is a denominator). The key of a
/// bad d is "partial_rotary_factor" when prf != 1 (it chose d), else "head_dim". Returns d.
inline std::int64_t checked_rotary_dim(std::int64_t head_dim, double rope_theta,
                                       double partial_rotary_factor, std::int64_t min_d = 2) {
  check_head_dim(head_dim);
  check_theta(rope_theta);
  check_partial_rotary_factor(partial_rotary_factor);
  const std::int64_t d = rotary_dim_of(head_dim, partial_rotary_factor);
  if (d % 2 != 0 || d < min_d || d > head_dim) {
    std::string expectation =
        "rotary dim d = int(head_dim * partial_rotary_factor) must be even with ";
    expectation += std::to_string(min_d) + " <= d <= head_dim";
    std::string got = std::to_string(d) + " (head_dim " + std::to_string(head_dim) +
                      ", partial_rotary_factor " + format_value(partial_rotary_factor) + ")";
    throw_invalid(partial_rotary_factor == 1.0 ? "head_dim" : "partial_rotary_factor", expectation,
                  got);
  }
  return d;
}

/// The rule every table entry obeys (docs/limits.md), as error messages state it.
inline constexpr const char* inv_freq_range_rule =
    "must give every inv_freq entry in (0, 2^32] after rounding to the table's type "
    "(docs/limits.md)";

/// Whether a table entry, already rounded to Real, is in (0, max_inv_freq] (NaN is not).
template <class Real>
inline bool inv_freq_in_range(Real w) {
  return w > Real(0) && static_cast<long double>(w) <= static_cast<long double>(max_inv_freq);
}

/// Every entry of w[0, count) in (0, max_inv_freq] after rounding to Real, so the table can be
/// represented: no zero (underflow), no NaN, no entry whose rows overflow or lose the angle.
/// Throws "<key>: must give every inv_freq entry in (0, 2^32] ..., got <value> (inv_freq[i] = x)".
template <class Real>
inline void check_table(const std::vector<Real>& w, std::size_t count, std::string_view key,
                        double value) {
  for (std::size_t i = 0; i < count && i < w.size(); ++i) {
    if (!inv_freq_in_range(w[i])) {
      throw_invalid(key, inv_freq_range_rule,
                    format_value(value) + " (inv_freq[" + std::to_string(i) +
                        "] = " + format_value(w[i]) + ")");
    }
  }
}

/// checked_rotary_dim on the common keys of a `<name>_params`.
inline std::int64_t checked_rotary_dim(const rope_base_params& p, std::int64_t min_d = 2) {
  return checked_rotary_dim(p.head_dim, p.rope_theta, p.partial_rotary_factor, min_d);
}

/// The members every method class shares (docs/reference.md §1.4 contract): the validated
/// parameters, H, the rotary dim d and the table length d/2, and the neutral values of
/// softmax_scale_multiplier(), query_scale() and diagnostics(). A method passes its validated
/// parameters and its d (checked by the method; proportional passes H) and defines a member of the
/// same name to differ (yarn's softmax multiplier, clex's query temperature, notes). Not
/// polymorphic: nothing is virtual, and the classes are used by value (ropescale::method holds them
/// in a variant).
template <class Params>
class method_base {
 public:
  /// The validated parameters, as given.
  const Params& params() const noexcept { return p_; }
  /// H.
  std::int64_t head_dim() const noexcept { return p_.head_dim; }
  /// d = int(H × prf), the double product truncated toward zero (proportional: H).
  std::int64_t rotary_dim() const noexcept { return d_; }
  /// n = d/2, the table length.
  std::int64_t pairs() const noexcept { return d_ / 2; }
  /// 1 (only yarn with mscale_all_dim differs, §3.5.5).
  double softmax_scale_multiplier() const noexcept { return 1.0; }
  /// 1 (only clex with log_scale differs, §4.6). Throws invalid_parameter if seq_len < 1.
  double query_scale(std::int64_t seq_len) const {
    check_seq_len(seq_len);
    return 1.0;
  }
  /// Non-fatal notes; none unless the method says otherwise.
  std::vector<std::string> diagnostics() const { return {}; }

 protected:
  /// p already validated by the derived constructor's initialiser; d its rotary dim.
  method_base(const Params& p, std::int64_t d) : p_(p), d_(d) {}

  Params p_;
  std::int64_t d_;
};

/// attention_factor() of the methods whose cos/sin carry no magnitude (A = 1: every method but
/// yarn and longrope), a second base next to method_base. Separate because it depends on Real.
template <class Real>
class unit_attention_factor {
 public:
  /// A = 1 for every S. Throws invalid_parameter if seq_len < 1.
  Real attention_factor(std::optional<std::int64_t> seq_len = std::nullopt) const {
    check_seq_len(seq_len);
    return Real(1);
  }
};

/// ω⁰_i = θ^(−2i/denom) evaluated in long double (exponent and pow), rounded once to W.
/// denom is d for every method except proportional (H).
template <class W>
inline W base_inv_freq(double theta, std::int64_t i, std::int64_t denom) {
  const long double e = -(2.0L * static_cast<long double>(i)) / static_cast<long double>(denom);
  return static_cast<W>(std::pow(static_cast<long double>(theta), e));
}

/// θ^(−2i/d)·k^(−2i/(d−2)) in long double, rounded once to W: NTK-aware base θ' = θ·k^(d/(d−2))
/// (docs/reference.md §3.3, §3.4) without forming θ'. For i = n − 1 the second exponent is exactly
/// −1.
template <class W>
inline W ntk_inv_freq(double theta, long double k, std::int64_t i, std::int64_t d) {
  const long double two_i = 2.0L * static_cast<long double>(i);
  const long double e0 = -two_i / static_cast<long double>(d);
  const long double e1 = -two_i / static_cast<long double>(d - 2);
  return static_cast<W>(std::pow(static_cast<long double>(theta), e0) * std::pow(k, e1));
}

/// Returns x unchanged but opaque to the optimiser, so a product stored here is rounded to
/// binary32 before it is added (GCC's default -ffp-contract=fast could otherwise fuse the HF
/// binary32 sequences into an FMA on targets that have one, e.g. AArch64).
inline float fp_barrier(float x) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+m"(x));
#endif
  return x;
}

/// Rounds a working-precision table to Real (one final rounding).
template <class Real, class W>
inline std::vector<Real> round_table(const std::vector<W>& w) {
  if constexpr (std::is_same_v<Real, W>) {
    return w;
  } else {
    std::vector<Real> out(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) out[i] = static_cast<Real>(w[i]);
    return out;
  }
}

/// HF's binary32 P_i = fl32(pow(fl32(θ), fl32(2i/denom))) (docs/reference.md §5.3): the exponent is
/// a binary32 division of exact values, the pow is evaluated in long double and rounded once.
inline float hf_f32_pow(double theta, std::int64_t i, std::int64_t denom) {
  const float theta32 = static_cast<float>(theta);
  const float e = static_cast<float>(2 * i) / static_cast<float>(denom);
  return static_cast<float>(
      std::pow(static_cast<long double>(theta32), static_cast<long double>(e)));
}

/// HF's binary32 base table ω⁰_i = fl32(1/P_i), i = 0 … count−1 (docs/reference.md §5.3 "base").
inline std::vector<float> hf_f32_base_table(double theta, std::int64_t denom, std::int64_t count) {
  std::vector<float> out(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    out[static_cast<std::size_t>(i)] = 1.0f / hf_f32_pow(theta, i, denom);
  }
  return out;
}

}  // namespace detail
}  // namespace ropescale

#endif  // ROPESCALE_METHODS_COMMON_HPP

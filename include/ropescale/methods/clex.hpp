// SPDX-License-Identifier: Apache-2.0
// CLEX, continuous length extrapolation (Chen et al., ICLR 2024; docs/reference.md §4): a neural
// ODE, whose weights ship in the checkpoint, moves each log-frequency z = ln ω with a scale t ≥ 1:
//   dz/dt = σ((z + e(t))·W_up)·W_down + g(t),  z(1) = ln θ,
//   e_k(t) = −(2k/d)·ln 10000 − (2k/(d−2))·ln(2t − 1),  g_k(t) = −4k/((d−2)(2t − 1)),
// solved with the fixed-step 3/8 rule from t = 1 (detail/ode.hpp). The table for every integer
// t in [1, T] comes from one solve, built on first need and published with std::call_once; the
// table for a sequence length S is row t(S) = min(T, ⌈S/L⌉). Also offered: fractional t, the
// query temperature ln S / ln L (log_scale), and load_clex_weights() for safetensors checkpoints.
#ifndef ROPESCALE_METHODS_CLEX_HPP
#define ROPESCALE_METHODS_CLEX_HPP

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ropescale/detail/ode.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/method.hpp"
#include "ropescale/methods/common.hpp"
#include "ropescale/safetensors.hpp"

namespace ropescale {

/// Checkpoint tensor names of the CLEX module (docs/reference.md §4.2).
inline constexpr const char* clex_up_proj_name = "model.clex_layer.proj_func.ode_up_proj";
inline constexpr const char* clex_down_proj_name = "model.clex_layer.proj_func.ode_down_proj";
inline constexpr const char* clex_inv_freq_name = "model.clex_layer.inv_freq";

/// Resource caps of CLEX (docs/limits.md), checked before any weight is read or any step taken.
/// Largest ODE network n·p·d (each of W_up and W_down holds this many values; the 7B models
/// have 64·128 = 8192).
inline constexpr std::int64_t clex_max_network = std::int64_t{1} << 22;
/// Largest solver work, steps × max(n·p·d, 512) with steps = (T − 1)/Δ (the floor stands for the
/// fixed cost of a step): a few seconds on one core for the largest table, row or fractional
/// solve (a 7B model at Δ = 0.01 needs 1500 steps × 8192).
inline constexpr double clex_max_work = 1073741824.0;  // 2^30
/// Largest table T·n built at once; a larger T computes each requested row on its own.
inline constexpr std::int64_t clex_max_table_values = std::int64_t{1} << 20;

/// Parameters of CLEX (config keys verbatim, docs/reference.md §4.1) plus the checkpoint's ODE
/// weights. rope_theta is b (θ_k = b^(−2k/d)); e(t) uses 10000 regardless. d = int(H × prf) must be
/// >= 4.
struct clex_params : rope_base_params {
  std::int64_t max_position_embeddings = 0;  ///< L, the base model's window (top-level key)
  std::int64_t max_factor = 0;               ///< T, largest scale; trained context L·T
  std::int64_t param_factor = 1;             ///< p, hidden width p·d of the ODE network
  std::string act = "silu";                  ///< σ: "tanh" or "silu" (absent in old configs: silu)
  double time_dt = 0.01;                     ///< Δ, the solver step
  bool log_scale = true;                     ///< top-level key: queries × ln S / ln L
  /// W_up, `model.clex_layer.proj_func.ode_up_proj`, shape [n, p·d], row-major.
  std::vector<double> ode_up_proj;
  /// W_down, `model.clex_layer.proj_func.ode_down_proj`, shape [p·d, n], row-major.
  std::vector<double> ode_down_proj;
  /// Optional checkpoint θ, `model.clex_layer.inv_freq`, shape [n]; replaces b^(−2k/d).
  std::optional<std::vector<double>> inv_freq;
};

namespace detail {

enum class clex_activation { tanh, silu };

/// Right-hand side f(t, z) = σ((z + e(t))·W_up)·W_down + g(t) of the CLEX ODE (docs/reference.md
/// §4.3). Holds per-solve scratch, so one instance per solve (the matrices are shared, read-only).
template <class Scalar>
class clex_field {
 public:
  using vec = ode_vector<Scalar>;
  using mat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  clex_field(const mat& up_t, const mat& down_t, const vec& a, const vec& c, clex_activation act)
      : up_t_(up_t), down_t_(down_t), a_(a), c_(c), act_(act), u_(a.size()), hidden_(up_t.rows()) {}

  /// dz = f(t, z). up_t = W_upᵀ ([p·d, n]), down_t = W_downᵀ ([n, p·d]).
  void operator()(Scalar t, const vec& z, vec& dz) {
    const Scalar alpha = Scalar(2) * t - Scalar(1);
    const Scalar log_alpha = std::log(alpha);
    u_ = z - a_ - log_alpha * c_;  // z + e(t)
    hidden_.noalias() = up_t_ * u_;
    if (act_ == clex_activation::tanh) {
      for (Eigen::Index j = 0; j < hidden_.size(); ++j) hidden_[j] = std::tanh(hidden_[j]);
    } else {
      for (Eigen::Index j = 0; j < hidden_.size(); ++j)
        hidden_[j] = hidden_[j] / (Scalar(1) + std::exp(-hidden_[j]));
    }
    dz.noalias() = down_t_ * hidden_;
    dz -= (Scalar(2) / alpha) * c_;  // g(t) = −2c/(2t − 1)
  }

 private:
  const mat& up_t_;
  const mat& down_t_;
  const vec& a_;
  const vec& c_;
  clex_activation act_;
  vec u_, hidden_;
};

/// a·b for non-negative int64 values, saturating at INT64_MAX.
inline std::int64_t clex_saturating_mul(std::int64_t a, std::int64_t b) noexcept {
  if (a != 0 && b > std::numeric_limits<std::int64_t>::max() / a)
    return std::numeric_limits<std::int64_t>::max();
  return a * b;
}

/// n·p·d of the ODE network for rotary dim d and param_factor p, checked against
/// clex_max_network without overflow (H and p may each be up to 2^53). Throws invalid_parameter.
inline std::int64_t clex_checked_network(std::int64_t d, std::int64_t param_factor) {
  if (d > (std::int64_t{1} << 31))
    throw_invalid_value("head_dim", "gives a rotary dim too large for a CLEX network", d);
  const std::int64_t nd = (d / 2) * d;
  if (param_factor > clex_max_network / nd)
    throw_invalid("param_factor", "must keep the ODE network n*p*d <= 2^22 values (docs/limits.md)",
                  format_value(param_factor) + " (rotary dim " + std::to_string(d) + ")");
  return nd * param_factor;
}

}  // namespace detail

/// CLEX (docs/reference.md §4): ω(t) = exp(z(t)) from the checkpoint's neural ODE; A = 1.
/// Real = float, double or long double: the ODE is solved in double (long double for long
/// double) and each table rounded once to Real. Copies share the lazily built table. Const
/// members are thread-safe (the table is published with std::call_once).
template <class Real = double>
class clex : public detail::method_base<clex_params>, public detail::unit_attention_factor<Real> {
  using work = detail::work_t<Real>;
  using vec = detail::ode_vector<work>;
  using mat = Eigen::Matrix<work, Eigen::Dynamic, Eigen::Dynamic>;

 public:
  using params_type = clex_params;
  using real_type = Real;
  static constexpr const char* type_name = "clex";
  static constexpr bool depends_on_seq_len = true;

  /// Validates per docs/reference.md §2.5 and §4.2: common keys, d >= 4; max_position_embeddings,
  /// max_factor, param_factor integers in [1, 2^53]; act "tanh"/"silu"; 0 < time_dt <= 1;
  /// (T − 1)/Δ <= 1e7 steps; max_position_embeddings >= 2 when log_scale (ln L divides);
  /// ode_up_proj/ode_down_proj sizes n·p·d, finite; inv_freq (if present) n finite values > 0
  /// within 2^-7 relative of b^(−2k/d). Throws invalid_parameter naming the key or tensor.
  explicit clex(const clex_params& p) : detail::method_base<clex_params>(p, validate_config(p)) {
    const std::int64_t n = pairs();
    const std::int64_t nd = n * d_;
    const std::int64_t hidden = p_.param_factor * d_;
    const std::int64_t weights = nd * p_.param_factor;
    check_weights(clex_up_proj_name, p_.ode_up_proj, weights,
                  "[n, p*d] = [" + std::to_string(n) + ", " + std::to_string(hidden) + "]");
    check_weights(clex_down_proj_name, p_.ode_down_proj, weights,
                  "[p*d, n] = [" + std::to_string(hidden) + ", " + std::to_string(n) + "]");

    auto s = std::make_shared<state>();
    s->theta.resize(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k)
      s->theta[static_cast<std::size_t>(k)] = detail::base_inv_freq<work>(p_.rope_theta, k, d_);
    if (p_.inv_freq) check_inv_freq(*p_.inv_freq, s->theta);
    if (p_.inv_freq) {
      for (std::int64_t k = 0; k < n; ++k)
        s->theta[static_cast<std::size_t>(k)] =
            static_cast<work>((*p_.inv_freq)[static_cast<std::size_t>(k)]);
    }
    s->z0.resize(n);
    s->a.resize(n);
    s->c.resize(n);
    const work ln_b0 = std::log(work(10000));  // b0 hard-wired (docs/reference.md §4.8 #1)
    for (std::int64_t k = 0; k < n; ++k) {
      s->z0[k] = std::log(s->theta[static_cast<std::size_t>(k)]);
      s->a[k] = (work(2 * k) / work(d_)) * ln_b0;
      s->c[k] = work(2 * k) / work(d_ - 2);
    }
    // Row-major W_up [n, p·d] has the memory of column-major W_upᵀ [p·d, n]; same for W_down.
    s->up_t.resize(hidden, n);
    s->down_t.resize(n, hidden);
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t j = 0; j < hidden; ++j) {
        s->up_t(j, r) = static_cast<work>(p_.ode_up_proj[static_cast<std::size_t>(r * hidden + j)]);
        s->down_t(r, j) = static_cast<work>(p_.ode_down_proj[static_cast<std::size_t>(j * n + r)]);
      }
    s->act = p_.act == "tanh" ? detail::clex_activation::tanh : detail::clex_activation::silu;
    state_ = std::move(s);
  }

  /// The constructor's checks that need no weights (everything but the tensors); returns d.
  /// The config loader runs it before it reads a checkpoint. Throws invalid_parameter.
  static std::int64_t validate_config(const clex_params& p) {
    const std::int64_t d = detail::checked_rotary_dim(p, 4);
    detail::check_integer_key("max_position_embeddings", p.max_position_embeddings);
    detail::check_integer_key("max_factor", p.max_factor);
    detail::check_integer_key("param_factor", p.param_factor);
    if (p.act != "tanh" && p.act != "silu")
      detail::throw_invalid("act", "must be \"tanh\" or \"silu\"", "\"" + p.act + "\"");
    if (!std::isfinite(p.time_dt) || !(p.time_dt > 0.0) || !(p.time_dt <= 1.0))
      detail::throw_invalid_value("time_dt", "must be a finite number in (0, 1]", p.time_dt);
    const double steps = static_cast<double>(p.max_factor - 1) / p.time_dt;
    if (!(steps <= 1e7))
      detail::throw_invalid(
          "time_dt", "must keep (max_factor - 1) / time_dt <= 1e7 solver steps",
          detail::format_value(p.time_dt) + " (max_factor " + std::to_string(p.max_factor) + ")");
    const std::int64_t network = detail::clex_checked_network(d, p.param_factor);
    const double work = steps * static_cast<double>(std::max<std::int64_t>(network, 512));
    if (!(work <= clex_max_work))
      detail::throw_invalid(
          "time_dt",
          "must keep the solver work (max_factor - 1) / time_dt * max(n*p*d, 512) <= 2^30 "
          "(docs/limits.md)",
          detail::format_value(p.time_dt) + " (max_factor " + std::to_string(p.max_factor) +
              ", n*p*d " + std::to_string(network) + ")");
    if (p.log_scale && p.max_position_embeddings < 2)
      detail::throw_invalid_value(
          "max_position_embeddings",
          "must be >= 2 when log_scale is true (ln L is the query-scale denominator)",
          p.max_position_embeddings);
    return d;
  }

  // params() (from detail::method_base) includes the ODE weights.

  /// t(S) = min(T, ⌈S/L⌉) in integer arithmetic (docs/reference.md §4.5); S <= L gives 1. S > L·T
  /// keeps T: upstream's cos/sin cache has only L·T rows (later positions fail there); ropescale
  /// serves every position from the t = T frequencies, which lie beyond the trained range. Throws
  /// if seq_len < 1 (upstream's S = 0 wraps to the last row: dropped, §4.8 #8).
  std::int64_t scale_for(std::int64_t seq_len) const {
    detail::check_seq_len(seq_len);
    const std::int64_t L = p_.max_position_embeddings;
    const std::int64_t t = seq_len / L + (seq_len % L != 0 ? 1 : 0);
    return std::min(p_.max_factor, t);
  }

  /// L·T, the longest trained context (saturating at INT64_MAX).
  std::int64_t trained_length() const noexcept {
    return detail::clex_saturating_mul(p_.max_position_embeddings, p_.max_factor);
  }

  /// Whether S exceeds L·T (the table is then the t = T row, outside the trained range).
  bool beyond_trained_range(std::int64_t seq_len) const {
    detail::check_seq_len(seq_len);
    return seq_len > trained_length();
  }

  /// ω for sequence length S: row t(S) of the integer table; S absent = HF's initial table
  /// (t = 1, which is θ itself: b^(−2k/d) bit for bit, or the checkpoint's inv_freq).
  /// S is the total key length (cached + new tokens). KV caches (docs/reference.md §4.5): when S
  /// crosses a multiple of L, t changes and with it every key's frequencies; upstream caches keys
  /// before RoPE and re-rotates them all each step, so an engine that caches rotated keys must
  /// re-rotate (or accept the deviation).
  std::vector<Real> inv_freq(std::optional<std::int64_t> seq_len = std::nullopt) const {
    return inv_freq_for_scale(seq_len ? scale_for(*seq_len) : 1);
  }

  /// Row t (integer, 1 <= t <= T) of the table: θ for t = 1; exp(z(t)) from one solve with
  /// outputs [1, 2, …, T] otherwise (integers between grid points interpolated in z when Δ does
  /// not divide 1, as upstream). The first call for t > 1 builds the whole table (4·(T−1)/Δ
  /// evaluations of two n×p·d mat-vecs); later calls copy a row. When T·n exceeds
  /// clex_max_table_values the table is never built whole: each requested row comes from its own
  /// solve on the same grid (same values, at most (T−1)/Δ steps) and a few recent rows are kept.
  /// Throws if t is outside [1, T].
  std::vector<Real> inv_freq_for_scale(std::int64_t t) const {
    if (t < 1 || t > p_.max_factor)
      detail::throw_invalid_value(
          "t",
          "must be an integer scale in [1, max_factor = " + std::to_string(p_.max_factor) + "]", t);
    if (t == 1) return detail::round_table<Real>(state_->theta);
    if (p_.max_factor <= clex_max_table_values / pairs())
      return detail::round_table<Real>(table()[static_cast<std::size_t>(t - 1)]);
    return detail::round_table<Real>(row_alone(t));
  }

  /// Fractional scale (research API, docs/reference.md §4.4): ω(t) = exp(z(t)) from its own solve
  /// with outputs [1, t] (grid clipped to end exactly at t, no interpolation); t = 1 gives θ. For
  /// an integer t and a Δ dividing 1 it equals the table row. Throws unless 1 <= t <= T (t < 1 has
  /// no α = 2t − 1 >= 1: upstream's α = 1 branch is unreachable, §4.8 #6).
  std::vector<Real> inv_freq_at(double t) const {
    if (!std::isfinite(t) || !(t >= 1.0) || !(t <= static_cast<double>(p_.max_factor)))
      detail::throw_invalid_value(
          "t", "must be a finite scale in [1, max_factor = " + std::to_string(p_.max_factor) + "]",
          t);
    if (t == 1.0) return detail::round_table<Real>(state_->theta);
    const std::vector<vec> z = solve({work(1), static_cast<work>(t)});
    std::vector<Real> out(static_cast<std::size_t>(pairs()));
    for (std::int64_t k = 0; k < pairs(); ++k)
      out[static_cast<std::size_t>(k)] = static_cast<Real>(std::exp(z[1][k]));
    return out;
  }

  // attention_factor() is 1 (detail::unit_attention_factor): CLEX puts no magnitude on cos/sin
  // (docs/reference.md §4.6).

  /// fl32 of the double table (docs/reference.md §5.3: upstream's f32 ODE is not reproduced).
  std::vector<float> inv_freq_hf_f32(std::optional<std::int64_t> seq_len = std::nullopt) const {
    const std::vector<Real> w = inv_freq(seq_len);
    std::vector<float> out(w.size());
    for (std::size_t i = 0; i < w.size(); ++i) out[i] = static_cast<float>(w[i]);
    return out;
  }

  /// Query temperature (docs/reference.md §4.6): ln S / ln L if log_scale, else 1; unclamped (below
  /// 1 for S < L, 0 at S = 1), in double; never folded into cos/sin. Throws if seq_len < 1.
  double query_scale(std::int64_t seq_len) const {
    detail::check_seq_len(seq_len);
    if (!p_.log_scale) return 1.0;
    return std::log(static_cast<double>(seq_len)) /
           std::log(static_cast<double>(p_.max_position_embeddings));
  }

  /// Non-fatal notes: the query temperature when log_scale is on; the checkpoint θ in use.
  std::vector<std::string> diagnostics() const {
    std::vector<std::string> notes;
    if (p_.log_scale)
      notes.push_back("log_scale: multiply queries by query_scale(S) = ln(S)/ln(" +
                      std::to_string(p_.max_position_embeddings) +
                      "); it is not folded into cos/sin");
    if (p_.inv_freq)
      notes.push_back(
          std::string(clex_inv_freq_name) +
          ": the checkpoint's table is used as theta (t = 1 and the ODE's initial value)");
    return notes;
  }

 private:
  struct state {
    std::vector<work> theta;  // θ (t = 1 row)
    vec z0, a, c;             // ln θ; (2k/d)·ln 10000; 2k/(d−2)
    mat up_t, down_t;         // W_upᵀ [p·d, n], W_downᵀ [n, p·d]
    detail::clex_activation act = detail::clex_activation::silu;
    std::once_flag once;
    std::vector<std::vector<work>> rows;  // rows[t−1] for t = 1 … T, immutable once published
    std::mutex recent_mutex;              // guards `recent` (large-T mode, see row_alone)
    std::map<std::int64_t, std::vector<work>> recent;
  };

  /// Row t of the table from its own solve (grid laid out to T as in the whole-table solve, so
  /// the values are the same); the last few rows asked for are kept.
  std::vector<work> row_alone(std::int64_t t) const {
    state& s = *state_;
    std::lock_guard<std::mutex> lock(s.recent_mutex);
    const auto it = s.recent.find(t);
    if (it != s.recent.end()) return it->second;
    detail::clex_field<work> field(s.up_t, s.down_t, s.a, s.c, s.act);
    const std::vector<vec> z =
        detail::rk38_solve<work>(field, s.z0, work(1), static_cast<work>(p_.time_dt),
                                 {static_cast<work>(t)}, static_cast<work>(p_.max_factor));
    std::vector<work> row(s.theta.size());
    for (std::size_t k = 0; k < row.size(); ++k)
      row[k] = std::exp(z[0][static_cast<Eigen::Index>(k)]);
    if (s.recent.size() >= 16) s.recent.clear();
    s.recent.emplace(t, row);
    return row;
  }

  static void check_weights(const char* name, const std::vector<double>& w, std::int64_t expected,
                            const std::string& shape) {
    if (static_cast<std::uint64_t>(w.size()) != static_cast<std::uint64_t>(expected))
      detail::throw_invalid(
          name, "must hold " + std::to_string(expected) + " values (shape " + shape + ")",
          std::to_string(w.size()));
    for (std::size_t i = 0; i < w.size(); ++i)
      if (!std::isfinite(w[i]))
        detail::throw_invalid(name, "must be finite",
                              detail::format_value(w[i]) + " at flat index " + std::to_string(i));
  }

  void check_inv_freq(const std::vector<double>& v, const std::vector<work>& formula) const {
    if (v.size() != formula.size())
      detail::throw_invalid(clex_inv_freq_name,
                            "must have shape [n] = [" + std::to_string(formula.size()) + "]",
                            "[" + std::to_string(v.size()) + "]");
    const double tol = std::ldexp(1.0, -7);
    for (std::size_t k = 0; k < v.size(); ++k) {
      const double f = static_cast<double>(formula[k]);
      if (!std::isfinite(v[k]) || !(v[k] > 0.0) || !(std::fabs(v[k] - f) <= tol * f))
        detail::throw_invalid(
            clex_inv_freq_name,
            "entries must be finite, > 0 and within 2^-7 relative of rope_theta^(-2k/d) "
            "(config and checkpoint disagree; set use_checkpoint_inv_freq = false to ignore the "
            "tensor)",
            detail::format_value(v[k]) + " at k = " + std::to_string(k) + " (formula " +
                detail::format_value(f) + ")");
    }
  }

  std::vector<vec> solve(const std::vector<work>& outs) const {
    const state& s = *state_;
    detail::clex_field<work> field(s.up_t, s.down_t, s.a, s.c, s.act);
    return detail::rk38_solve<work>(field, s.z0, work(1), static_cast<work>(p_.time_dt), outs);
  }

  const std::vector<std::vector<work>>& table() const {
    state& s = *state_;
    std::call_once(s.once, [&] {
      std::vector<work> outs;
      for (std::int64_t t = 1; t <= p_.max_factor; ++t) outs.push_back(static_cast<work>(t));
      const std::vector<vec> z = solve(outs);
      std::vector<std::vector<work>> rows(outs.size());
      rows[0] = s.theta;  // t = 1 is θ itself, not exp(z(1)) (docs/reference.md §4.8 #2)
      for (std::size_t t = 1; t < rows.size(); ++t) {
        rows[t].resize(s.theta.size());
        for (std::size_t k = 0; k < s.theta.size(); ++k)
          rows[t][k] = std::exp(z[t][static_cast<Eigen::Index>(k)]);
      }
      s.rows = std::move(rows);
    });
    return s.rows;
  }

  std::shared_ptr<state> state_;
};

static_assert(is_rope_method_v<clex<float>> && is_rope_method_v<clex<long double>> &&
                  is_erasable_method_v<clex<double>>,
              "clex satisfies the method contract; ropescale::method holds clex<double> as an "
              "erased_method");

/// Reads the CLEX tensors of a checkpoint into `p` (docs/reference.md §4.2): `path` is a
/// .safetensors file, a `model.safetensors.index.json` or a directory holding either. W_up must
/// have shape [n, p·d] and W_down [p·d, n] (n, d from p's head_dim and partial_rotary_factor, p =
/// param_factor, so p must match the checkpoint); F32/F16/BF16/F64, converted exactly; every
/// value finite. The optional `model.clex_layer.inv_freq` ([n]) is taken as θ unless
/// use_checkpoint_inv_freq is false (the 2^-7 consistency check runs when clex is constructed).
/// Throws invalid_parameter naming the file, the tensor and the shapes.
inline void load_clex_weights(clex_params& p, const std::filesystem::path& path,
                              bool use_checkpoint_inv_freq = true) {
  const std::int64_t d = detail::checked_rotary_dim(p, 4);
  detail::check_integer_key("param_factor", p.param_factor);
  const std::int64_t n = d / 2;
  (void)detail::clex_checked_network(d, p.param_factor);  // before the checkpoint is opened
  const std::int64_t pd = p.param_factor * d;
  const safetensors::checkpoint ck = safetensors::checkpoint::open(path);
  auto read = [&](const char* name, const std::vector<std::int64_t>& shape) {
    const safetensors::file f = ck.file_for(name);
    const std::vector<std::int64_t>& stored = f.float_info(name).shape;  // checked before reading
    if (stored != shape)
      safetensors::detail::fail(f.label(), safetensors::detail::tensor_where(name),
                                "shape " + safetensors::shape_string(stored) + " does not match " +
                                    safetensors::shape_string(shape) + " (rotary dim " +
                                    std::to_string(d) + ", param_factor " +
                                    std::to_string(p.param_factor) +
                                    "; param_factor must match the checkpoint)");
    safetensors::tensor<double> t = f.read_double(name);
    safetensors::require_finite(f.label(), name, t.values);
    return std::move(t.values);
  };
  p.ode_up_proj = read(clex_up_proj_name, {n, pd});
  p.ode_down_proj = read(clex_down_proj_name, {pd, n});
  p.inv_freq.reset();
  if (use_checkpoint_inv_freq && ck.contains(clex_inv_freq_name))
    p.inv_freq = read(clex_inv_freq_name, {n});
}

}  // namespace ropescale

#endif  // ROPESCALE_METHODS_CLEX_HPP

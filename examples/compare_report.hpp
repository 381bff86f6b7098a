// SPDX-License-Identifier: Apache-2.0
// The math and rendering behind ropescale-compare: for a model's base RoPE (θ, head_dim,
// partial_rotary_factor, original context L) and a target context C, build every applicable
// scaling method at the factor s = C/L that reaches C, and describe each method's table:
// per-pair scale ω_i/ω⁰_i and wavelength λ_i = 2π/ω_i, how many pairs never complete a turn within
// L or within C, which pairs reach rotation angles at C that the base model never saw in training
// (out-of-distribution angles), how much per-token angle resolution the highest-frequency pairs
// keep, and the attention factor. The report renders as an aligned text table, JSON, or an SVG
// figure (svg_writer.hpp). Kept in examples/ because the report format is tooling, not library
// API: it may change with the tool, and it pulls in the JSON loader and the drawing code.
//
// Definitions (C = target context, L = original training context, ω⁰ = unscaled table,
// ω = method's table evaluated at S = C):
//   scale_i            = ω_i / ω⁰_i                    (= θ'_i/θ_i in the notation)
//   wavelength_i       = 2π / ω_i                      (tokens per full turn; +inf if ω_i = 0)
//   max_angle_i        = (C − 1)·ω_i                   (largest angle reached at C, radians)
//   train_max_angle_i  = (L − 1)·ω⁰_i                  (largest angle the base model trained on)
//   angle_ratio_i      = min(C·ω_i, 2π) / min(L·ω⁰_i, 2π)
//       the angle span covered at C over the span covered in training, each capped at one turn
//       (a pair that completed a turn in training has seen every angle). Spans use S·ω rather
//       than (S − 1)·ω so that PI, which maps C positions onto exactly L, gives ratio 1.
//   ood pair           ⇔ angle_ratio_i > 1 + 1e-9      (reaches angles never seen in training)
//   step0              = ω_0, the angle change per token of the highest-frequency pair
//   hf_kept            = geometric mean of scale_i over the highest-frequency quarter of pairs
//                        (i < max(1, ⌊n/4⌋)): 1 = full local resolution kept, 1/s = all lost
//   short_change       = max_i |ω_i(S = L) / ω⁰_i − 1|: how much the method changes the table for
//                        prompts that fit the original window (0 for dynamic NTK and CLEX)
#ifndef ROPESCALE_EXAMPLES_COMPARE_REPORT_HPP
#define ROPESCALE_EXAMPLES_COMPARE_REPORT_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ropescale/detail/cli_args.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/methods/default_rope.hpp"
#include "ropescale/methods/dynamic.hpp"
#include "ropescale/methods/linear.hpp"
#include "ropescale/methods/llama3.hpp"
#include "ropescale/methods/longrope.hpp"
#include "ropescale/methods/ntk.hpp"
#include "ropescale/methods/yarn.hpp"
#include "svg_writer.hpp"

namespace ropescale::examples::compare {

inline constexpr double two_pi = 6.283185307179586476925286766559;

/// Per-table quantities of the report (see the file comment for the definitions).
struct table_metrics {
  std::vector<double> scale;
  std::vector<double> wavelength;
  std::vector<double> max_angle;
  std::vector<double> train_max_angle;
  std::vector<double> angle_ratio;
  std::int64_t pairs_wavelength_gt_L = 0;
  std::int64_t pairs_wavelength_gt_context = 0;
  std::int64_t ood_pairs = 0;
  double max_angle_ratio = 0.0;  ///< max_i angle_ratio_i (> 1 means out-of-distribution angles)
  double step0 = 0.0;            ///< ω_0, radians per token
  double hf_kept = 1.0;
};

/// Number of highest-frequency pairs averaged by hf_kept: max(1, ⌊n/4⌋).
inline std::size_t high_frequency_pairs(std::size_t n) { return std::max<std::size_t>(1, n / 4); }

/// Computes the metrics of table `omega` against the unscaled table `omega0` (same length n ≥ 1)
/// for original context L ≥ 1 and target context C ≥ 1. Zero entries of omega (proportional
/// padding) get an infinite wavelength and count as never completing a turn.
inline table_metrics analyze(const std::vector<double>& omega, const std::vector<double>& omega0,
                             std::int64_t L, std::int64_t C) {
  table_metrics m;
  const std::size_t n = std::min(omega.size(), omega0.size());
  const double Ld = static_cast<double>(L);
  const double Cd = static_cast<double>(C);
  double log_kept = 0.0;
  const std::size_t hf = high_frequency_pairs(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double w = omega[i];
    const double w0 = omega0[i];
    const double scale = w0 > 0.0 ? w / w0 : 1.0;
    const double lambda = w > 0.0 ? two_pi / w : std::numeric_limits<double>::infinity();
    const double train_span = std::min(Ld * w0, two_pi);
    const double span = std::min(Cd * w, two_pi);
    const double ratio = train_span > 0.0 ? span / train_span : 1.0;
    m.scale.push_back(scale);
    m.wavelength.push_back(lambda);
    m.max_angle.push_back((Cd - 1.0) * w);
    m.train_max_angle.push_back((Ld - 1.0) * w0);
    m.angle_ratio.push_back(ratio);
    if (lambda > Ld) ++m.pairs_wavelength_gt_L;
    if (lambda > Cd) ++m.pairs_wavelength_gt_context;
    if (ratio > 1.0 + 1e-9) ++m.ood_pairs;
    m.max_angle_ratio = std::max(m.max_angle_ratio, ratio);
    if (i < hf) log_kept += std::log(scale > 0.0 ? scale : std::numeric_limits<double>::min());
  }
  if (n > 0) {
    m.step0 = omega[0];
    m.hf_kept = std::exp(log_kept / static_cast<double>(std::min(hf, n)));
  }
  return m;
}

/// max_i |omega_i / omega0_i − 1|.
inline double max_relative_change(const std::vector<double>& omega,
                                  const std::vector<double>& omega0) {
  double worst = 0.0;
  for (std::size_t i = 0; i < std::min(omega.size(), omega0.size()); ++i) {
    if (omega0[i] > 0.0) worst = std::max(worst, std::fabs(omega[i] / omega0[i] - 1.0));
  }
  return worst;
}

// ------------------------------------------------------------------------------------------------
// Report data

/// The model's unscaled RoPE as read from its config.
struct base_rope {
  std::string config;     ///< path or label of the config
  std::string model;      ///< short name for titles (the config's file name without .json)
  std::string rope_type;  ///< the config's own rope type ("default", "llama3", ...)
  double rope_theta = 10000.0;
  std::int64_t head_dim = 0;
  double partial_rotary_factor = 1.0;
  std::int64_t rotary_dim = 0;
  std::int64_t pairs = 0;
  std::int64_t original_context = 0;  ///< L: original_max_position_embeddings if the config's
                                      ///< type uses it, else max_position_embeddings
};

/// One method evaluated at one target context.
struct method_result {
  std::string key;        ///< CLI name: pi, ntk, dynamic, yarn, llama3, longrope, clex
  std::string label;      ///< legend label
  std::string rope_type;  ///< HF rope_type of the built method
  double factor = 1.0;    ///< s (clex: t)
  std::string note;
  double attention_factor = 1.0;
  double query_scale = 1.0;
  double softmax_scale_multiplier = 1.0;
  double short_change = 0.0;
  std::vector<double> inv_freq;
  table_metrics metrics;
};

/// Everything reported for one target context.
struct context_result {
  std::int64_t context = 0;
  double factor = 1.0;            ///< s = C / L
  table_metrics unscaled;         ///< the default table run at C (method-independent summary)
  std::vector<double> inv_freq0;  ///< ω⁰
  std::vector<method_result> methods;
};

struct report {
  base_rope base;
  std::vector<context_result> contexts;
  std::vector<std::string> notes;
};

/// All method keys in report order.
inline const std::vector<std::string>& all_method_keys() {
  static const std::vector<std::string> keys = {"pi",     "ntk",      "dynamic", "yarn",
                                                "llama3", "longrope", "clex"};
  return keys;
}

/// Legend label for a method key.
inline std::string method_label(std::string_view key) {
  if (key == "pi") return "PI (linear)";
  if (key == "ntk") return "NTK-aware";
  if (key == "dynamic") return "Dynamic NTK";
  if (key == "yarn") return "YaRN";
  if (key == "llama3") return "Llama-3";
  if (key == "longrope") return "LongRoPE";
  if (key == "clex") return "CLEX";
  return std::string(key);
}

/// Line style per method: Okabe–Ito colours (colour-blind safe) plus distinct dash patterns so
/// the figure also reads in greyscale.
inline std::pair<std::string, std::string> method_style(std::string_view key) {
  if (key == "pi") return {"#0072B2", ""};
  if (key == "ntk") return {"#E69F00", "8 4"};
  if (key == "dynamic") return {"#009E73", "2 3"};
  if (key == "yarn") return {"#D55E00", "10 3 2 3"};
  if (key == "llama3") return {"#CC79A7", ""};
  if (key == "longrope") return {"#56B4E9", "4 2"};
  if (key == "clex") return {"#000000", "12 4"};
  return {"#777777", ""};
}

/// Compact number: up to `sig` significant digits, no exponent for moderate magnitudes.
inline std::string fmt(double v, int sig = 4) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[48];
  const double a = std::fabs(v);
  if (a != 0.0 && (a >= 1e7 || a < 1e-4)) {
    std::snprintf(buf, sizeof buf, "%.*e", sig - 1, v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*g", sig, v);
  }
  return buf;
}

// ------------------------------------------------------------------------------------------------
// Building the methods

/// A method the caller evaluates itself (CLEX: it needs checkpoint weights and the loader).
/// Every function takes the sequence length S.
struct external_method {
  std::string rope_type;
  std::function<std::vector<double>(std::int64_t)> inv_freq;
  std::function<double(std::int64_t)> attention_factor;
  std::function<double(std::int64_t)> query_scale;
  std::function<double(std::int64_t)> factor;  ///< the value shown in the "s" column
  std::function<std::string(std::int64_t)> note;
};

/// What the config contributes beyond the base RoPE. Absent members mean "not in the config":
/// llama3 then uses Llama-3.1's published bands (a = 1, b = 4), yarn its defaults (β_f = 32,
/// β_s = 1, truncate), and longrope / clex are not applicable.
struct method_sources {
  std::optional<llama3_params> llama3;      ///< low/high_freq_factor taken from here
  std::optional<yarn_params> yarn;          ///< betas, truncate, mscale pair taken from here
  std::optional<longrope_params> longrope;  ///< short/long factors (and attention_factor)
  std::optional<external_method> clex;
  /// Why clex is absent when the config is a CLEX config (e.g. no checkpoint given); replaces
  /// the generic reason in the skip note or the --methods error.
  std::string clex_missing;
};

/// Llama-3.1's published band edges, used when the config has no llama3 section.
inline constexpr double default_low_freq_factor = 1.0;
inline constexpr double default_high_freq_factor = 4.0;

namespace build_detail {

inline std::vector<double> to_double(const std::vector<double>& v) { return v; }

/// Evaluates a library method object at S = C (and at S = L for short_change).
template <class M>
method_result evaluate(const M& m, std::string key, double factor, std::string note,
                       const context_result& c, std::int64_t L) {
  method_result r;
  r.key = std::move(key);
  r.label = method_label(r.key);
  r.rope_type = M::type_name;
  r.factor = factor;
  r.note = std::move(note);
  r.inv_freq = to_double(m.inv_freq(c.context));
  r.attention_factor = static_cast<double>(m.attention_factor(c.context));
  r.query_scale = m.query_scale(c.context);
  r.softmax_scale_multiplier = m.softmax_scale_multiplier();
  r.short_change = max_relative_change(to_double(m.inv_freq(L)), c.inv_freq0);
  r.metrics = analyze(r.inv_freq, c.inv_freq0, L, c.context);
  return r;
}

}  // namespace build_detail

/// Builds the report: for every context C (each >= L, else invalid_parameter "--context") the
/// unscaled summary and every method in `keys` at s = C/L, evaluated at S = C:
///   pi       linear, factor s                        ntk    static NTK-aware, factor s
///   dynamic  Dynamic NTK, factor s, L = base L      yarn   factor s, L0 = base L
///   llama3   factor s, L0 = base L, config's bands   longrope  config's factors, factor s
///   clex     the caller's external method (t = min(T, ⌈C/L⌉))
/// `explicit_selection`: a requested method that the config cannot provide throws
/// invalid_parameter("--methods"); otherwise it is skipped with a note.
inline report build_report(const base_rope& base, const std::vector<std::int64_t>& contexts,
                           const std::vector<std::string>& keys, const method_sources& src,
                           bool explicit_selection) {
  report rep;
  rep.base = base;
  const std::int64_t L = base.original_context;
  if (L < 1) {
    detail::throw_invalid_value("max_position_embeddings",
                                "the report needs the original context length L >= 1", L);
  }
  for (const auto& key : keys) {
    const bool missing = (key == "longrope" && !src.longrope) || (key == "clex" && !src.clex);
    if (!missing) continue;
    const std::string why =
        key == "longrope" ? "longrope needs a config with LongRoPE short_factor/long_factor"
        : src.clex_missing.empty() ? "clex needs a CLEX config and its checkpoint (--weights)"
                                   : src.clex_missing;
    if (explicit_selection) detail::throw_message("--methods", why);
    rep.notes.push_back(key + " skipped: " + why);
  }
  const auto has = [&](std::string_view k) {
    return std::find(keys.begin(), keys.end(), k) != keys.end();
  };

  default_rope_params dp;
  dp.head_dim = base.head_dim;
  dp.rope_theta = base.rope_theta;
  dp.partial_rotary_factor = base.partial_rotary_factor;
  const default_rope<double> unscaled(dp);
  const std::vector<double> w0 = unscaled.inv_freq();

  for (const std::int64_t C : contexts) {
    if (C < L) {
      detail::throw_invalid_value(
          "--context", "every length must be >= the original context L = " + std::to_string(L), C);
    }
    // Constructed in one piece: assigning into the fresh vector trips a g++ 12 -Wnonnull false
    // positive at -O3.
    context_result c{
        C, static_cast<double>(C) / static_cast<double>(L), analyze(w0, w0, L, C), w0, {}};
    const double s = c.factor;
    const double d = static_cast<double>(unscaled.rotary_dim());

    for (const auto& key : all_method_keys()) {  // fixed order, whatever the CLI order
      if (!has(key)) continue;
      if (key == "pi") {
        linear_params p;
        p.head_dim = dp.head_dim, p.rope_theta = dp.rope_theta;
        p.partial_rotary_factor = dp.partial_rotary_factor, p.factor = s;
        c.methods.push_back(build_detail::evaluate(linear<double>(p), key, s, "", c, L));
      } else if (key == "ntk") {
        ntk_params p;
        p.head_dim = dp.head_dim, p.rope_theta = dp.rope_theta;
        p.partial_rotary_factor = dp.partial_rotary_factor, p.factor = s;
        const double theta2 = dp.rope_theta * std::pow(s, d / (d - 2.0));
        c.methods.push_back(
            build_detail::evaluate(ntk<double>(p), key, s, "theta' = " + fmt(theta2, 5), c, L));
      } else if (key == "dynamic") {
        dynamic_params p;
        p.head_dim = dp.head_dim, p.rope_theta = dp.rope_theta;
        p.partial_rotary_factor = dp.partial_rotary_factor, p.factor = s;
        p.max_position_embeddings = L;
        const double k = s * static_cast<double>(C) / static_cast<double>(L) - (s - 1.0);
        c.methods.push_back(build_detail::evaluate(dynamic<double>(p), key, s,
                                                   "at S=C acts as NTK x" + fmt(k, 4), c, L));
      } else if (key == "yarn") {
        yarn_params p = src.yarn ? *src.yarn : yarn_params{};
        p.head_dim = dp.head_dim, p.rope_theta = dp.rope_theta;
        p.partial_rotary_factor = dp.partial_rotary_factor, p.factor = s;
        p.original_max_position_embeddings = L;
        p.attention_factor.reset();  // a checkpoint's explicit A belongs to its own factor
        const double bf = p.beta_fast > 0.0 ? p.beta_fast : 32.0;
        const double bs = p.beta_slow > 0.0 ? p.beta_slow : 1.0;
        std::string note = "beta " + fmt(bf) + "/" + fmt(bs) + (src.yarn ? " (config)" : "");
        if (!p.truncate) note += ", truncate=false";
        c.methods.push_back(build_detail::evaluate(yarn<double>(p), key, s, note, c, L));
      } else if (key == "llama3") {
        llama3_params p;
        p.head_dim = dp.head_dim, p.rope_theta = dp.rope_theta;
        p.partial_rotary_factor = dp.partial_rotary_factor, p.factor = s;
        p.low_freq_factor = src.llama3 ? src.llama3->low_freq_factor : default_low_freq_factor;
        p.high_freq_factor = src.llama3 ? src.llama3->high_freq_factor : default_high_freq_factor;
        p.original_max_position_embeddings = L;
        const std::string note = "bands " + fmt(p.low_freq_factor) + "/" + fmt(p.high_freq_factor) +
                                 (src.llama3 ? " (config)" : " (Llama-3.1 values)");
        c.methods.push_back(build_detail::evaluate(llama3<double>(p), key, s, note, c, L));
      } else if (key == "longrope" && src.longrope) {
        longrope_params p = *src.longrope;
        p.head_dim = dp.head_dim, p.rope_theta = dp.rope_theta;
        p.partial_rotary_factor = dp.partial_rotary_factor, p.factor = s;
        p.original_max_position_embeddings = L;
        p.max_position_embeddings = C;
        const std::string note = std::string(C > L ? "long" : "short") + " factors (checkpoint)" +
                                 (p.attention_factor ? ", A from config" : "");
        c.methods.push_back(build_detail::evaluate(longrope<double>(p), key, s, note, c, L));
      } else if (key == "clex" && src.clex) {
        const external_method& e = *src.clex;
        method_result r;
        r.key = key;
        r.label = method_label(key);
        r.rope_type = e.rope_type;
        r.factor = e.factor ? e.factor(C) : s;
        r.note = e.note ? e.note(C) : std::string();
        r.inv_freq = e.inv_freq(C);
        r.attention_factor = e.attention_factor ? e.attention_factor(C) : 1.0;
        r.query_scale = e.query_scale ? e.query_scale(C) : 1.0;
        r.short_change = max_relative_change(e.inv_freq(L), w0);
        if (r.inv_freq.size() != w0.size()) {
          detail::throw_message("clex", "table length " + std::to_string(r.inv_freq.size()) +
                                            " differs from the config's " +
                                            std::to_string(w0.size()) + " pairs");
        }
        r.metrics = analyze(r.inv_freq, w0, L, C);
        c.methods.push_back(std::move(r));
      }
    }
    rep.contexts.push_back(std::move(c));
  }
  if (!has("llama3") || src.llama3) return rep;
  rep.notes.push_back(
      "llama3 uses Llama-3.1's bands low_freq_factor = 1, high_freq_factor = 4 "
      "(the config has no llama3 section)");
  return rep;
}

// ------------------------------------------------------------------------------------------------
// Command line

inline constexpr std::string_view usage =
    "usage: ropescale-compare CONFIG.json --context N1,N2,... "
    "[--methods all|pi,ntk,dynamic,yarn,llama3,longrope,clex] [--weights F] [--svg OUT.svg] "
    "[--json | --markdown] [--all-pairs]";

/// Parsed command line of ropescale-compare.
struct cli_args {
  std::string config;
  std::vector<std::int64_t> contexts;
  std::vector<std::string> methods;  ///< report order; all keys for "all"
  bool methods_explicit = false;     ///< a list (not "all") was given
  std::optional<std::string> weights;
  std::optional<std::string> svg;
  bool json = false;
  bool markdown = false;  ///< GitHub-markdown tables (header, summary lines, method tables)
  bool all_pairs = false;
  bool help = false;
};

/// Result of parse_args: error empty on success, else one line (printed as "error: ...").
struct cli_parse_result {
  cli_args args;
  std::string error;
};

/// Largest accepted context length (2^40 tokens; positions stay exact in double).
inline constexpr std::int64_t max_context = std::int64_t{1} << 40;
/// Most --context values, and most contexts × pairs in one report (docs/limits.md: the output
/// stays below a few tens of MB for any config).
inline constexpr std::size_t max_contexts = 64;
inline constexpr std::int64_t max_report_pair_rows = std::int64_t{1} << 13;

/// Parses the arguments after the program name. "--flag value" and "--flag=value"; each flag at
/// most once; --context required: comma-separated decimal integers in [1, 2^40], no duplicates;
/// --methods "all" or a comma list of distinct method keys. Never throws except bad_alloc.
inline cli_parse_result parse_args(const std::vector<std::string>& argv) {
  cli_parse_result r;
  cli_args& a = r.args;
  const auto fail = [&r](std::string msg) {
    r.error = std::move(msg);
    return r;
  };
  const auto quote = [](std::string_view v) { return ropescale::detail::quote_text(v); };
  const auto split = [](std::string_view v) {
    std::vector<std::string_view> items;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = v.find(',', start);
      items.push_back(v.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return items;
  };
  bool have_config = false, have_context = false, have_methods = false;
  for (std::size_t k = 0; k < argv.size(); ++k) {
    const std::string_view arg = argv[k];
    if (arg.empty() || arg[0] != '-' || arg == "-") {
      if (have_config) return fail("unexpected extra argument " + quote(arg));
      if (arg.empty()) return fail("CONFIG path is empty");
      a.config = std::string(arg);
      have_config = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      a.help = true;
      continue;
    }
    ropescale::detail::cli_impl::option_token opt = ropescale::detail::cli_impl::split_option(arg);
    const std::string_view name = opt.name;
    if (name == "--json" || name == "--markdown" || name == "--all-pairs") {
      if (opt.has_value) return fail(std::string(name) + " takes no value");
      bool& flag = name == "--json" ? a.json : name == "--markdown" ? a.markdown : a.all_pairs;
      if (flag) return fail(std::string(name) + " given twice");
      flag = true;
      continue;
    }
    if (name != "--context" && name != "--methods" && name != "--weights" && name != "--svg") {
      return fail("unknown option " + quote(name) + "; " + std::string(usage));
    }
    if (!ropescale::detail::cli_impl::take_value(argv, k, opt)) {
      return fail(std::string(name) + " needs a value");
    }
    const std::string_view value = opt.value;
    if (name == "--context") {
      if (have_context) return fail("--context given twice");
      have_context = true;
      for (const std::string_view item : split(value)) {
        std::int64_t v = 0;
        bool ok = !item.empty() && item.size() <= 16;
        for (const char ch : item) {
          if (ch < '0' || ch > '9') ok = false;
          if (ok) v = v * 10 + (ch - '0');
        }
        if (!ok || v < 1 || v > max_context) {
          return fail("--context: must be a comma-separated list of integers in [1, 2^40], got " +
                      quote(item) + " in " + quote(value));
        }
        if (a.contexts.size() >= max_contexts) {
          return fail("--context: at most " + std::to_string(max_contexts) +
                      " contexts (docs/limits.md), got more");
        }
        if (std::find(a.contexts.begin(), a.contexts.end(), v) != a.contexts.end()) {
          return fail("--context: " + std::to_string(v) + " listed twice");
        }
        a.contexts.push_back(v);
      }
    } else if (name == "--methods") {
      if (have_methods) return fail("--methods given twice");
      have_methods = true;
      if (value == "all") continue;
      a.methods_explicit = true;
      for (const std::string_view item : split(value)) {
        const auto& keys = all_method_keys();
        if (std::find(keys.begin(), keys.end(), item) == keys.end()) {
          return fail(
              "--methods: must be all or a comma-separated list of "
              "pi, ntk, dynamic, yarn, llama3, longrope, clex, got " +
              quote(item));
        }
        if (std::find(a.methods.begin(), a.methods.end(), item) != a.methods.end()) {
          return fail("--methods: " + std::string(item) + " listed twice");
        }
        a.methods.emplace_back(item);
      }
    } else {
      std::optional<std::string>& slot = name == "--weights" ? a.weights : a.svg;
      if (slot) return fail(std::string(name) + " given twice");
      if (value.empty()) return fail(std::string(name) + ": must be a file path, got ''");
      slot = std::string(value);
    }
  }
  if (a.help) return r;
  if (a.json && a.markdown) return fail("--json and --markdown are exclusive");
  if (!have_config) return fail("missing CONFIG.json; " + std::string(usage));
  if (!have_context) return fail("missing --context; " + std::string(usage));
  if (!a.methods_explicit) a.methods = all_method_keys();
  return r;
}

// ------------------------------------------------------------------------------------------------
// Text output

/// Left-aligned table with two spaces between columns; row 0 is the header, underlined.
inline std::string align_table(const std::vector<std::vector<std::string>>& rows,
                               const std::vector<bool>& right_aligned) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  std::string out;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    std::string line;
    for (std::size_t c = 0; c < rows[k].size(); ++c) {
      const bool right = c < right_aligned.size() && right_aligned[c];
      const std::string& cell = rows[k][c];
      const std::string pad(width[c] - cell.size(), ' ');
      if (c > 0) line += "  ";
      line += right ? pad + cell : cell + (c + 1 < rows[k].size() ? pad : std::string());
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
    if (k == 0) {
      std::size_t total = 0;
      for (std::size_t c = 0; c < width.size(); ++c) total += width[c] + (c > 0 ? 2 : 0);
      out += std::string(total, '-') + "\n";
    }
  }
  return out;
}

/// The method-independent summary line of one context.
inline std::string summary_line(const report& r, const context_result& c) {
  std::ostringstream os;
  os << "context " << c.context << " (s = C/L = " << fmt(c.factor) << "): unscaled RoPE has "
     << c.unscaled.pairs_wavelength_gt_L << "/" << r.base.pairs
     << " pairs with wavelength > L (never a full turn in training), "
     << c.unscaled.pairs_wavelength_gt_context << " with wavelength > C; " << c.unscaled.ood_pairs
     << " pairs would reach unseen angles (up to " << fmt(c.unscaled.max_angle_ratio, 3)
     << "x the trained span)";
  return os.str();
}

/// Header lines describing the base RoPE.
inline std::string header_text(const report& r) {
  std::ostringstream os;
  os << "config " << r.base.config << ": rope_type " << r.base.rope_type << ", theta "
     << fmt(r.base.rope_theta, 8) << ", head_dim " << r.base.head_dim << ", rotary_dim "
     << r.base.rotary_dim << " (" << r.base.pairs
     << " pairs), original context L = " << r.base.original_context << "\n";
  return os.str();
}

/// The per-method table of one context (the README table).
/// The per-method table of one context as rows (row 0 = header).
inline std::vector<std::vector<std::string>> method_rows(const report& r, const context_result& c) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"method", "s", "attn", "scale[0]", "scale[n-1]", "wl>L", "wl>C", "ood", "ood_max",
                  "step0", "hf_kept", "short_chg", "note"});
  const std::string n = std::to_string(r.base.pairs);
  for (const auto& m : c.methods) {
    rows.push_back(
        {m.key, fmt(m.factor), fmt(m.attention_factor, 5), fmt(m.metrics.scale.front()),
         fmt(m.metrics.scale.back()), std::to_string(m.metrics.pairs_wavelength_gt_L) + "/" + n,
         std::to_string(m.metrics.pairs_wavelength_gt_context) + "/" + n,
         std::to_string(m.metrics.ood_pairs) + "/" + n, fmt(m.metrics.max_angle_ratio, 3),
         fmt(m.metrics.step0), fmt(m.metrics.hf_kept, 3), fmt(m.short_change, 3), m.note});
  }
  return rows;
}

/// The per-method table of one context, aligned text.
inline std::string method_table(const report& r, const context_result& c) {
  return align_table(method_rows(r, c), {false, true, true, true, true, true, true, true, true,
                                         true, true, true, false});
}

/// The report as GitHub markdown: the header line, then per context its summary line and the
/// method table ('|' in cells escaped). No per-pair tables (use the text or JSON output).
inline std::string to_markdown(const report& r) {
  const auto cell = [](const std::string& v) {
    std::string out;
    for (const char ch : v) out += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return out;
  };
  std::string out = header_text(r);
  for (const auto& c : r.contexts) {
    out += "\n" + summary_line(r, c) + "\n\n";
    const auto rows = method_rows(r, c);
    for (std::size_t k = 0; k < rows.size(); ++k) {
      std::string line = "|";
      for (std::size_t col = 0; col < rows[k].size(); ++col) {
        line += " " + cell(rows[k][col]) + " |";
      }
      out += line + "\n";
      if (k == 0) {
        std::string rule = "|";
        for (std::size_t col = 0; col < rows[k].size(); ++col) {
          rule += (col == 0 || col + 1 == rows[k].size()) ? " --- |" : " ---: |";
        }
        out += rule + "\n";
      }
    }
  }
  for (const auto& note : r.notes) out += "\nnote: " + note + "\n";
  return out;
}

/// Per-pair matrix (rows = pairs, columns = methods) of scale or wavelength at a few pairs.
inline std::string pair_matrix(const report& r, const context_result& c, bool wavelength,
                               bool every_pair) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"pair", wavelength ? "default" : ""};
  if (!wavelength) head.pop_back();
  for (const auto& m : c.methods) head.push_back(m.key);
  rows.push_back(head);
  std::vector<std::int64_t> pick;
  const std::int64_t n = r.base.pairs;
  const std::int64_t stride = every_pair ? 1 : std::max<std::int64_t>(1, n / 8);
  for (std::int64_t i = 0; i < n; i += stride) pick.push_back(i);
  if (pick.back() != n - 1) pick.push_back(n - 1);
  for (const std::int64_t i : pick) {
    const auto k = static_cast<std::size_t>(i);
    std::vector<std::string> row = {std::to_string(i)};
    if (wavelength) row.push_back(fmt(c.unscaled.wavelength[k]));
    for (const auto& m : c.methods) {
      row.push_back(fmt(wavelength ? m.metrics.wavelength[k] : m.metrics.scale[k]));
    }
    rows.push_back(row);
  }
  return align_table(rows, std::vector<bool>(head.size(), true));
}

/// Column legend printed under the text report.
inline std::string column_legend() {
  return "columns: s = factor C/L (clex: t); attn = attention factor A on cos/sin; scale[i] = "
         "theta'_i/theta_i; wl>L, wl>C = pairs whose wavelength 2*pi/theta'_i exceeds L or C;\n"
         "  ood = pairs reaching angles at C beyond the span seen in training, ood_max = largest "
         "(span at C)/(span in training), spans capped at one turn; step0 = angle per token of "
         "pair 0 (rad);\n"
         "  hf_kept = mean scale of the highest-frequency quarter of pairs (1 = local resolution "
         "kept); short_chg = max change of the table for prompts <= L\n";
}

/// The full text report.
inline std::string to_text(const report& r, bool every_pair = false) {
  std::string out = header_text(r);
  for (const auto& c : r.contexts) {
    out += "\n" + summary_line(r, c) + "\n";
    out += method_table(r, c);
    out += "per-pair scale theta'_i/theta_i:\n" + pair_matrix(r, c, false, every_pair);
    out += "per-pair wavelength 2*pi/theta'_i (tokens):\n" + pair_matrix(r, c, true, every_pair);
  }
  out += "\n" + column_legend();
  for (const auto& note : r.notes) out += "note: " + note + "\n";
  return out;
}

// ------------------------------------------------------------------------------------------------
// JSON output

/// A number as JSON; non-finite values (infinite wavelengths) become null.
inline nlohmann::ordered_json jnum(double v) {
  if (!std::isfinite(v)) return nullptr;
  return v;
}

inline nlohmann::ordered_json jarray(const std::vector<double>& v) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const double x : v) a.push_back(jnum(x));
  return a;
}

inline nlohmann::ordered_json to_json(const table_metrics& m) {
  nlohmann::ordered_json j;
  j["pairs_wavelength_gt_L"] = m.pairs_wavelength_gt_L;
  j["pairs_wavelength_gt_context"] = m.pairs_wavelength_gt_context;
  j["ood_pairs"] = m.ood_pairs;
  j["max_angle_ratio"] = jnum(m.max_angle_ratio);
  j["step0"] = jnum(m.step0);
  j["hf_kept"] = jnum(m.hf_kept);
  j["scale"] = jarray(m.scale);
  j["wavelength"] = jarray(m.wavelength);
  j["max_angle"] = jarray(m.max_angle);
  j["train_max_angle"] = jarray(m.train_max_angle);
  j["angle_ratio"] = jarray(m.angle_ratio);
  return j;
}

/// The full report as JSON (ordered keys, one object per context and method).
inline nlohmann::ordered_json to_json(const report& r) {
  nlohmann::ordered_json j;
  j["config"] = r.base.config;
  j["model"] = r.base.model;
  j["rope_type"] = r.base.rope_type;
  j["rope_theta"] = r.base.rope_theta;
  j["head_dim"] = r.base.head_dim;
  j["partial_rotary_factor"] = r.base.partial_rotary_factor;
  j["rotary_dim"] = r.base.rotary_dim;
  j["pairs"] = r.base.pairs;
  j["original_context"] = r.base.original_context;
  j["contexts"] = nlohmann::ordered_json::array();
  for (const auto& c : r.contexts) {
    nlohmann::ordered_json jc;
    jc["context"] = c.context;
    jc["factor"] = c.factor;
    jc["summary"] = to_json(c.unscaled);
    jc["inv_freq_default"] = jarray(c.inv_freq0);
    jc["methods"] = nlohmann::ordered_json::array();
    for (const auto& m : c.methods) {
      nlohmann::ordered_json jm;
      jm["method"] = m.key;
      jm["rope_type"] = m.rope_type;
      jm["factor"] = m.factor;
      jm["note"] = m.note;
      jm["attention_factor"] = jnum(m.attention_factor);
      jm["query_scale"] = jnum(m.query_scale);
      jm["softmax_scale_multiplier"] = jnum(m.softmax_scale_multiplier);
      jm["short_context_change"] = jnum(m.short_change);
      jm["inv_freq"] = jarray(m.inv_freq);
      const nlohmann::ordered_json metrics = to_json(m.metrics);
      for (const auto& item : metrics.items()) jm[item.key()] = item.value();
      jc["methods"].push_back(jm);
    }
    j["contexts"].push_back(jc);
  }
  j["notes"] = r.notes;
  return j;
}

// ------------------------------------------------------------------------------------------------
// SVG figure

/// Two side-by-side panels for one context: per-pair scale θ'_i/θ_i (log y) and wavelength
/// 2π/θ'_i (log y, with the unscaled table in grey and L and C marked), one <path> per method in
/// each panel (data-panel "scale" / "wavelength", data-method = method key), a shared legend.
inline std::string to_svg(const report& r, const context_result& c) {
  namespace s = svg;
  constexpr double W = 1100.0;
  constexpr double panel_w = 420.0;
  constexpr double panel_h = 300.0;
  constexpr double top = 92.0;
  constexpr double H = 480.0;
  constexpr double left1 = 90.0;
  constexpr double left2 = left1 + panel_w + 130.0;

  std::vector<double> xs(static_cast<std::size_t>(r.base.pairs));
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(i);
  const double xmax = std::max(1.0, static_cast<double>(r.base.pairs - 1));

  s::panel scale_panel;
  scale_panel.id = "scale";
  scale_panel.title = "(a) Per-pair frequency scale";
  scale_panel.x = {"pair index i (0 = highest frequency)", 0.0, xmax, false};
  s::panel wl_panel;
  wl_panel.id = "wavelength";
  wl_panel.title = "(b) Wavelength per pair";
  wl_panel.x = scale_panel.x;

  double smin = 1.0, smax = 1.0, wmin = two_pi, wmax = static_cast<double>(c.context);
  std::vector<s::series> legend;
  {
    const s::series base{"default", "unscaled", xs, c.unscaled.wavelength, "#999999", "", 3.0};
    wl_panel.lines.push_back(base);
    legend.push_back(base);
    for (const double v : base.y) {
      if (std::isfinite(v)) wmax = std::max(wmax, v), wmin = std::min(wmin, v);
    }
  }
  for (const auto& m : c.methods) {
    const auto [color, dash] = method_style(m.key);
    const s::series line{m.key, method_label(m.key), xs, m.metrics.scale, color, dash, 2.0};
    for (const double v : line.y) {
      if (v > 0.0 && std::isfinite(v)) smin = std::min(smin, v), smax = std::max(smax, v);
    }
    scale_panel.lines.push_back(line);
    const s::series wl_line{m.key, method_label(m.key), xs, m.metrics.wavelength, color, dash, 2.0};
    for (const double v : wl_line.y) {
      if (std::isfinite(v)) wmax = std::max(wmax, v), wmin = std::min(wmin, v);
    }
    wl_panel.lines.push_back(wl_line);
    legend.push_back(line);
  }
  const auto [slo, shi] = s::log_range(smin, smax);
  scale_panel.y = {"frequency scale  \u03b8\u2032 / \u03b8  (log)", slo, shi, true};
  const auto [wlo, whi] = s::log_range(wmin, wmax);
  wl_panel.y = {"wavelength  2\u03c0 / \u03b8\u2032  (tokens, log)", wlo, whi, true};
  wl_panel.markers.push_back({static_cast<double>(r.base.original_context),
                              "L = " + std::to_string(r.base.original_context) + " (training)",
                              "#444444", "6 4"});
  wl_panel.markers.push_back({static_cast<double>(c.context),
                              "C = " + std::to_string(c.context) + " (target)", "#B00020", "2 3"});

  s::writer w(W, H);
  std::ostringstream title;
  title << "RoPE scaling methods for " << (r.base.model.empty() ? r.base.config : r.base.model)
        << " at " << c.context << " tokens";
  w.simple("title", title.str());
  w.comment("generated by ropescale-compare; one path per method and panel (data-method)");
  w.rect(0, 0, W, H, {{"fill", "#ffffff"}});
  std::ostringstream sub;
  sub << "\u03b8 = " << fmt(r.base.rope_theta, 8) << ", d = " << r.base.rotary_dim
      << ", L = " << r.base.original_context << ", C = " << c.context
      << ", s = C/L = " << fmt(c.factor);
  w.text(left1, 28, title.str(),
         {{"font-family", s::detail::font}, {"font-size", "16"}, {"font-weight", "bold"}});
  w.text(left1, 48, sub.str(),
         {{"font-family", s::detail::font}, {"font-size", "13"}, {"fill", "#444444"}});
  s::draw_panel(w, scale_panel, {left1, top, panel_w, panel_h});
  s::draw_panel(w, wl_panel, {left2, top, panel_w, panel_h});
  s::draw_legend(w, legend, left1, top + panel_h + 70.0, W - left1 - 40.0);
  return w.finish();
}

}  // namespace ropescale::examples::compare

#endif  // ROPESCALE_EXAMPLES_COMPARE_REPORT_HPP

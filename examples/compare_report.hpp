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
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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
  std::string config;       ///< path or label of the config
  std::string rope_type;    ///< the config's own rope type ("default", "llama3", ...)
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
  double factor = 1.0;           ///< s = C / L
  table_metrics unscaled;        ///< the default table run at C (method-independent summary)
  std::vector<double> inv_freq0; ///< ω⁰
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

// ------------------------------------------------------------------------------------------------
// Text output

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
     << c.unscaled.pairs_wavelength_gt_context << " with wavelength > C; "
     << c.unscaled.ood_pairs << " pairs would reach unseen angles (up to "
     << fmt(c.unscaled.max_angle_ratio, 3) << "x the trained span)";
  return os.str();
}

/// Header lines describing the base RoPE.
inline std::string header_text(const report& r) {
  std::ostringstream os;
  os << "config " << r.base.config << ": rope_type " << r.base.rope_type << ", theta "
     << fmt(r.base.rope_theta, 8) << ", head_dim " << r.base.head_dim << ", rotary_dim "
     << r.base.rotary_dim << " (" << r.base.pairs << " pairs), original context L = "
     << r.base.original_context << "\n";
  return os.str();
}

/// The per-method table of one context (the README table).
inline std::string method_table(const report& r, const context_result& c) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"method", "s", "attn", "scale[0]", "scale[n-1]", "wl>L", "wl>C", "ood",
                  "ood_max", "step0", "hf_kept", "short_chg", "note"});
  const std::string n = std::to_string(r.base.pairs);
  for (const auto& m : c.methods) {
    rows.push_back({m.key, fmt(m.factor), fmt(m.attention_factor, 5), fmt(m.metrics.scale.front()),
                    fmt(m.metrics.scale.back()),
                    std::to_string(m.metrics.pairs_wavelength_gt_L) + "/" + n,
                    std::to_string(m.metrics.pairs_wavelength_gt_context) + "/" + n,
                    std::to_string(m.metrics.ood_pairs) + "/" + n, fmt(m.metrics.max_angle_ratio, 3),
                    fmt(m.metrics.step0), fmt(m.metrics.hf_kept, 3), fmt(m.short_change, 3), m.note});
  }
  return align_table(rows, {false, true, true, true, true, true, true, true, true, true, true,
                            true, false});
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
      for (auto& [k, v] : to_json(m.metrics).items()) jm[k] = v;
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
  constexpr double top = 78.0;
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
    s::series base;
    base.id = "default";
    base.label = "unscaled";
    base.x = xs;
    base.y = c.unscaled.wavelength;
    base.color = "#999999";
    base.width = 3.0;
    base.dash = "";
    wl_panel.lines.push_back(base);
    legend.push_back(base);
    for (const double v : base.y) {
      if (std::isfinite(v)) wmax = std::max(wmax, v), wmin = std::min(wmin, v);
    }
  }
  for (const auto& m : c.methods) {
    s::series line;
    line.id = m.key;
    line.label = method_label(m.key);
    const auto [color, dash] = method_style(m.key);
    line.color = color;
    line.dash = dash;
    line.x = xs;
    line.y = m.metrics.scale;
    for (const double v : line.y) {
      if (v > 0.0 && std::isfinite(v)) smin = std::min(smin, v), smax = std::max(smax, v);
    }
    scale_panel.lines.push_back(line);
    line.y = m.metrics.wavelength;
    for (const double v : line.y) {
      if (std::isfinite(v)) wmax = std::max(wmax, v), wmin = std::min(wmin, v);
    }
    wl_panel.lines.push_back(line);
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
                              "C = " + std::to_string(c.context) + " (target)", "#B00020",
                              "2 3"});

  s::writer w(W, 520.0);
  std::ostringstream title;
  title << "RoPE scaling methods for " << r.base.config << " at " << c.context << " tokens";
  w.simple("title", title.str());
  w.comment("generated by ropescale-compare; one path per method and panel (data-method)");
  w.rect(0, 0, W, 520.0, {{"fill", "#ffffff"}});
  std::ostringstream sub;
  sub << "\u03b8 = " << fmt(r.base.rope_theta, 8) << ", d = " << r.base.rotary_dim
      << ", L = " << r.base.original_context << ", C = " << c.context
      << ", s = C/L = " << fmt(c.factor);
  w.text(left1, 28, title.str(),
         {{"font-family", s::detail::font}, {"font-size", "16"}, {"font-weight", "bold"}});
  w.text(left1, 48, sub.str(), {{"font-family", s::detail::font}, {"font-size", "13"},
                                {"fill", "#444444"}});
  s::draw_panel(w, scale_panel, {left1, top, panel_w, panel_h});
  s::draw_panel(w, wl_panel, {left2, top, panel_w, panel_h});
  s::draw_legend(w, legend, left1, top + panel_h + 72.0, W - left1 - 40.0);
  return w.finish();
}

}  // namespace ropescale::examples::compare

#endif  // ROPESCALE_EXAMPLES_COMPARE_REPORT_HPP

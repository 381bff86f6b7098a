// SPDX-License-Identifier: Apache-2.0
// A small, dependency-free SVG writer and line-chart renderer for ropescale's example tools
// (ropescale-compare's figures). It emits self-contained SVG 1.1 text: every attribute value and
// text node is XML-escaped, numbers are written in fixed notation with at most a few decimals, and
// nothing references external files or fonts. Charts are drawn panel by panel: axes with ticks
// (linear or log10), axis labels, a title, one <path> per data series (tagged with data-panel and
// data-method attributes so tests can count them), optional horizontal reference lines and a
// shared legend. This lives in examples/ rather than include/ropescale/ because drawing has nothing
// to do with RoPE: it is tooling, carries no API promise and should not grow the library's
// surface. Everything is inline so any number of translation units may include it.
#ifndef ROPESCALE_EXAMPLES_SVG_WRITER_HPP
#define ROPESCALE_EXAMPLES_SVG_WRITER_HPP

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ropescale::examples::svg {

/// XML-escapes text for use in an attribute value or a text node (& < > " ').
inline std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// Fixed-notation number with at most `decimals` digits after the point, trailing zeros and a
/// trailing point removed, and no "-0". Non-finite values become "0" (SVG has no NaN).
inline std::string num(double v, int decimals = 2) {
  if (!std::isfinite(v)) return "0";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

/// One attribute: name and unescaped value (the writer escapes it).
using attribute = std::pair<std::string_view, std::string>;
using attributes = std::initializer_list<attribute>;

/// Streaming SVG document builder. Elements are appended in order; open_group/close_group nest.
/// finish() closes every open group and the root element and returns the document.
class writer {
 public:
  /// Starts a document of the given size in user units (also used as the viewBox).
  writer(double width, double height) {
    out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + num(width) +
            "\" height=\"" + num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
            "\">\n";
  }

  /// Any element without children, e.g. element("circle", {{"cx","1"},...}).
  void element(std::string_view name, attributes attrs) {
    indent();
    out_ += "<";
    out_ += name;
    append_attributes(attrs);
    out_ += "/>\n";
  }

  /// A text node with attributes; `content` is escaped.
  void text(double x, double y, std::string_view content, attributes attrs = {}) {
    indent();
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\"";
    append_attributes(attrs);
    out_ += ">" + escape(content) + "</text>\n";
  }

  void rect(double x, double y, double w, double h, attributes attrs = {}) {
    indent();
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" +
            num(h) + "\"";
    append_attributes(attrs);
    out_ += "/>\n";
  }

  void line(double x1, double y1, double x2, double y2, attributes attrs = {}) {
    indent();
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
            num(y2) + "\"";
    append_attributes(attrs);
    out_ += "/>\n";
  }

  /// A polyline as a <path> ("M x y L x y ..."); points are (x, y) in user units.
  void path(const std::vector<std::pair<double, double>>& points, attributes attrs = {}) {
    std::string d;
    for (std::size_t k = 0; k < points.size(); ++k) {
      d += (k == 0 ? "M" : " L");
      d += num(points[k].first) + " " + num(points[k].second);
    }
    indent();
    out_ += "<path d=\"" + d + "\"";
    append_attributes(attrs);
    out_ += "/>\n";
  }

  /// An XML comment; "--" inside is replaced so the comment stays well-formed.
  void comment(std::string_view content) {
    std::string c(content);
    for (std::size_t p = c.find("--"); p != std::string::npos; p = c.find("--", p))
      c.replace(p, 2, "- ");
    indent();
    out_ += "<!-- " + c + " -->\n";
  }

  /// Raw text inside an element such as <title>; `content` is escaped.
  void simple(std::string_view name, std::string_view content) {
    indent();
    out_ += "<";
    out_ += name;
    out_ += ">" + escape(content) + "</";
    out_ += name;
    out_ += ">\n";
  }

  void open(std::string_view name, attributes attrs = {}) {
    indent();
    out_ += "<";
    out_ += name;
    append_attributes(attrs);
    out_ += ">\n";
    open_.emplace_back(name);
  }
  void open_group(attributes attrs = {}) { open("g", attrs); }

  /// Closes the innermost open element (no-op if none is open).
  void close() {
    if (open_.empty()) return;
    const std::string name = open_.back();
    open_.pop_back();
    indent();
    out_ += "</" + name + ">\n";
  }
  void close_group() { close(); }

  /// Closes everything and returns the document. The writer is left empty.
  std::string finish() {
    while (!open_.empty()) close();
    out_ += "</svg>\n";
    return std::move(out_);
  }

 private:
  void indent() { out_.append(2 * (open_.size() + 1), ' '); }
  void append_attributes(attributes attrs) {
    for (const auto& a : attrs) {
      out_ += ' ';
      out_ += a.first;
      out_ += "=\"" + escape(a.second) + "\"";
    }
  }
  std::string out_;
  std::vector<std::string> open_;
};

// ------------------------------------------------------------------------------------------------
// Axes and ticks

/// One axis of a panel: data range [lo, hi] and scale. For a log axis lo must be > 0.
struct axis {
  std::string label;
  double lo = 0.0;
  double hi = 1.0;
  bool log = false;
};

/// Tick positions for a linear axis: multiples of a "nice" step (1, 2 or 5 × 10^k) inside
/// [lo, hi], aiming at about `target` ticks.
inline std::vector<double> linear_ticks(double lo, double hi, int target = 6) {
  std::vector<double> ticks;
  if (!(hi > lo) || target < 1) return ticks;
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  double best = std::numeric_limits<double>::infinity();
  for (const double m : {1.0, 2.0, 5.0, 10.0}) {  // the step whose tick count is nearest target
    const double cand = m * mag;
    const double count = std::floor(hi / cand + 1e-9) - std::ceil(lo / cand - 1e-9) + 1.0;
    const double miss = std::fabs(count - target);
    if (miss < best) best = miss, step = cand;
  }
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (double t = first; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

/// Major ticks of a log10 axis: every power of ten in [lo, hi]; if that gives fewer than three,
/// also 2× and 5× each decade. lo must be > 0.
inline std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0.0) || !(hi > lo)) return ticks;
  const int e0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  const int e1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  const auto inside = [&](double t) { return t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9); };
  for (int e = e0; e <= e1; ++e) {
    const double t = std::pow(10.0, e);
    if (inside(t)) ticks.push_back(t);
  }
  if (ticks.size() < 3) {
    ticks.clear();
    for (int e = e0; e <= e1; ++e) {
      for (const double m : {1.0, 2.0, 5.0}) {
        const double t = m * std::pow(10.0, e);
        if (inside(t)) ticks.push_back(t);
      }
    }
  }
  return ticks;
}

/// Compact tick label: 1k, 10k, 1M for large values; plain decimals (up to 4 significant digits)
/// otherwise, e.g. 0.01, 0.5, 64.
inline std::string tick_label(double v) {
  const double a = std::fabs(v);
  const auto trimmed = [](double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", x);
    return std::string(buf);
  };
  if (a >= 1e9) return trimmed(v / 1e9) + "G";
  if (a >= 1e6) return trimmed(v / 1e6) + "M";
  if (a >= 1e3) return trimmed(v / 1e3) + "k";
  return trimmed(v);
}

/// Range [lo, hi] of a log axis covering [min_v, max_v], widened to whole decades.
inline std::pair<double, double> log_range(double min_v, double max_v) {
  if (!(min_v > 0.0)) min_v = 1e-3;
  if (!(max_v >= min_v)) max_v = min_v;
  double lo = std::pow(10.0, std::floor(std::log10(min_v) + 1e-12));
  double hi = std::pow(10.0, std::ceil(std::log10(max_v) - 1e-12));
  if (!(hi > lo)) hi = lo * 10.0;
  return {lo, hi};
}

// ------------------------------------------------------------------------------------------------
// Panels

/// One data line. `id` goes into data-method (machine-readable), `label` into the legend.
struct series {
  std::string id;
  std::string label;
  std::vector<double> x, y;
  std::string color = "#000000";
  std::string dash;  ///< stroke-dasharray, empty = solid
  double width = 2.0;
};

/// A horizontal reference line across the plot area, labelled at its right end.
struct marker {
  double y = 0.0;
  std::string label;
  std::string color = "#555555";
  std::string dash = "6 4";
};

/// One chart panel: title, axes, data and reference lines.
struct panel {
  std::string id;  ///< data-panel attribute of its series paths; also the clip-path id
  std::string title;
  axis x, y;
  std::vector<series> lines;
  std::vector<marker> markers;
};

/// Screen rectangle of a panel's plot area (excluding tick labels and titles).
struct frame {
  double x = 0, y = 0, w = 0, h = 0;
};

namespace detail {
inline double to_unit(const axis& a, double v) {
  if (a.log) {
    const double lv = std::log10(std::max(v, std::numeric_limits<double>::min()));
    return (lv - std::log10(a.lo)) / (std::log10(a.hi) - std::log10(a.lo));
  }
  return (v - a.lo) / (a.hi - a.lo);
}
inline constexpr const char* font = "Helvetica, Arial, DejaVu Sans, sans-serif";
}  // namespace detail

/// Draws `p` into the plot rectangle `f`: light grid, axes box, ticks and tick labels, axis
/// labels, title, reference lines (clipped) and one <path> per series (clipped), in that order.
inline void draw_panel(writer& w, const panel& p, const frame& f) {
  const auto sx = [&](double v) { return f.x + detail::to_unit(p.x, v) * f.w; };
  const auto sy = [&](double v) { return f.y + f.h - detail::to_unit(p.y, v) * f.h; };
  const std::string clip = "clip-" + p.id;

  w.open("defs");
  w.open("clipPath", {{"id", clip}});
  w.rect(f.x, f.y, f.w, f.h);
  w.close();
  w.close();

  w.open_group({{"font-family", detail::font}, {"font-size", "12"}, {"fill", "#222222"}});
  w.rect(f.x, f.y, f.w, f.h, {{"fill", "#ffffff"}, {"stroke", "none"}});

  // Grid and ticks.
  const auto xt = p.x.log ? log_ticks(p.x.lo, p.x.hi) : linear_ticks(p.x.lo, p.x.hi);
  const auto yt = p.y.log ? log_ticks(p.y.lo, p.y.hi) : linear_ticks(p.y.lo, p.y.hi, 5);
  for (const double t : xt) {
    const double X = sx(t);
    w.line(X, f.y, X, f.y + f.h, {{"stroke", "#e6e6e6"}, {"stroke-width", "1"}});
    w.line(X, f.y + f.h, X, f.y + f.h + 5, {{"stroke", "#222222"}, {"stroke-width", "1"}});
    w.text(X, f.y + f.h + 19, tick_label(t), {{"text-anchor", "middle"}});
  }
  for (const double t : yt) {
    const double Y = sy(t);
    w.line(f.x, Y, f.x + f.w, Y, {{"stroke", "#e6e6e6"}, {"stroke-width", "1"}});
    w.line(f.x - 5, Y, f.x, Y, {{"stroke", "#222222"}, {"stroke-width", "1"}});
    w.text(f.x - 8, Y + 4, tick_label(t), {{"text-anchor", "end"}});
  }
  if (p.y.log) {  // minor ticks at 2..9 × 10^k
    const int e0 = static_cast<int>(std::floor(std::log10(p.y.lo)));
    const int e1 = static_cast<int>(std::ceil(std::log10(p.y.hi)));
    for (int e = e0; e < e1; ++e) {
      for (int m = 2; m <= 9; ++m) {
        const double t = m * std::pow(10.0, e);
        if (t <= p.y.lo || t >= p.y.hi) continue;
        const double Y = sy(t);
        w.line(f.x - 3, Y, f.x, Y, {{"stroke", "#222222"}, {"stroke-width", "0.8"}});
      }
    }
  }

  // Reference lines, then data, both clipped to the plot area.
  w.open_group({{"clip-path", "url(#" + clip + ")"}});
  for (const auto& m : p.markers) {
    const double Y = sy(m.y);
    w.line(f.x, Y, f.x + f.w, Y,
           {{"stroke", m.color}, {"stroke-width", "1.2"}, {"stroke-dasharray", m.dash}});
  }
  for (const auto& s : p.lines) {
    std::vector<std::pair<double, double>> pts;
    pts.reserve(s.x.size());
    for (std::size_t k = 0; k < s.x.size() && k < s.y.size(); ++k)
      pts.emplace_back(sx(s.x[k]), sy(s.y[k]));
    w.path(pts, {{"class", "series"},
                 {"data-panel", p.id},
                 {"data-method", s.id},
                 {"fill", "none"},
                 {"stroke", s.color},
                 {"stroke-width", num(s.width)},
                 {"stroke-linejoin", "round"},
                 {"stroke-linecap", "round"},
                 {"stroke-dasharray", s.dash.empty() ? std::string("none") : s.dash}});
  }
  w.close_group();
  for (const auto& m : p.markers) {  // labels outside the clip so they are never cut
    const double Y = sy(m.y);
    if (Y < f.y || Y > f.y + f.h) continue;
    w.text(f.x + 6, Y - 4, m.label, {{"fill", m.color}, {"font-size", "11"}});
  }

  // Frame, labels, title.
  w.rect(f.x, f.y, f.w, f.h, {{"fill", "none"}, {"stroke", "#222222"}, {"stroke-width", "1"}});
  w.text(f.x + f.w / 2, f.y + f.h + 40, p.x.label,
         {{"text-anchor", "middle"}, {"font-size", "13"}});
  const double ly = f.x - 52;
  const double lyy = f.y + f.h / 2;
  w.text(ly, lyy, p.y.label,
         {{"text-anchor", "middle"},
          {"font-size", "13"},
          {"transform", "rotate(-90 " + num(ly) + " " + num(lyy) + ")"}});
  w.text(f.x, f.y - 10, p.title, {{"font-size", "14"}, {"font-weight", "bold"}});
  w.close_group();
}

/// A horizontal legend row: one swatch (line in the series' colour and dash) and label per
/// entry, wrapping to a new row when `max_width` is exceeded. Returns the height used.
inline double draw_legend(writer& w, const std::vector<series>& entries, double x, double y,
                          double max_width) {
  w.open_group({{"font-family", detail::font},
                {"font-size", "12"},
                {"fill", "#222222"},
                {"class", "legend"}});
  double cx = x;
  double cy = y;
  constexpr double row = 20.0;
  for (const auto& s : entries) {
    const double width = 34.0 + 7.0 * static_cast<double>(s.label.size()) + 18.0;
    if (cx > x && cx + width > x + max_width) {
      cx = x;
      cy += row;
    }
    w.line(cx, cy, cx + 28, cy,
           {{"stroke", s.color},
            {"stroke-width", num(s.width)},
            {"stroke-dasharray", s.dash.empty() ? std::string("none") : s.dash}});
    w.text(cx + 34, cy + 4, s.label);
    cx += width;
  }
  w.close_group();
  return cy - y + row;
}

}  // namespace ropescale::examples::svg

#endif  // ROPESCALE_EXAMPLES_SVG_WRITER_HPP

// SPDX-License-Identifier: Apache-2.0
// Tests of the examples' SVG writer (examples/svg_writer.hpp) and of ropescale-compare's figure
// (compare::to_svg): escaping, number formatting, tick placement against closed forms, and that
// generated documents are well-formed XML according to xmllint (libxml2-utils) with exactly one
// <path> per method and panel. The xmllint checks skip visibly when the tool is missing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "../examples/compare_report.hpp"
#include "../examples/svg_writer.hpp"

namespace {

namespace svg = ropescale::examples::svg;
namespace cmp = ropescale::examples::compare;

std::string tmp_dir() {
  if (const char* env = std::getenv("ROPESCALE_TEST_TMPDIR"); env != nullptr && *env != '\0') {
    return env;
  }
  return ROPESCALE_TEST_TMPDIR;
}

bool have_xmllint() { return std::system("command -v xmllint >/dev/null 2>&1") == 0; }

/// Writes `text` to $ROPESCALE_TEST_TMPDIR/name and runs `xmllint --noout` on it; returns the exit
/// status (0 = well-formed).
int xmllint_status(const std::string& name, const std::string& text) {
  const std::string path = tmp_dir() + "/" + name;
  {
    std::ofstream f(path, std::ios::binary);
    f << text;
  }
  const std::string cmd = "xmllint --noout '" + path + "'";
  return std::system(cmd.c_str());
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = haystack.find(needle); p != std::string::npos;
       p = haystack.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

TEST(SvgWriter, EscapesAllFiveXmlSpecials) {
  EXPECT_EQ(svg::escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
  EXPECT_EQ(svg::escape("plain"), "plain");
}

TEST(SvgWriter, NumbersAreFixedAndTrimmed) {
  EXPECT_EQ(svg::num(1.5), "1.5");
  EXPECT_EQ(svg::num(2.0), "2");
  EXPECT_EQ(svg::num(-0.0001), "0");
  EXPECT_EQ(svg::num(1234567.891, 1), "1234567.9");
  EXPECT_EQ(svg::num(std::nan("")), "0");
  EXPECT_EQ(svg::num(1e300 * 1e300), "0");
}

TEST(SvgWriter, LogTicksArePowersOfTenInsideTheRange) {
  const auto t = svg::log_ticks(1e-2, 1e3);
  ASSERT_EQ(t.size(), 6u);
  for (std::size_t k = 0; k < t.size(); ++k) {
    EXPECT_NEAR(std::log10(t[k]), -2.0 + static_cast<double>(k), 1e-12);
  }
  // Less than two decades: 1-2-5 ticks.
  const auto u = svg::log_ticks(0.1, 1.0);
  ASSERT_EQ(u.size(), 4u);  // 0.1 0.2 0.5 1
  EXPECT_NEAR(u[1], 0.2, 1e-15);
  EXPECT_NEAR(u[2], 0.5, 1e-15);
  EXPECT_TRUE(svg::log_ticks(0.0, 1.0).empty());
}

TEST(SvgWriter, LinearTicksUseNiceSteps) {
  const auto t = svg::linear_ticks(0.0, 63.0, 6);
  ASSERT_FALSE(t.empty());
  EXPECT_EQ(t.front(), 0.0);
  const double step = t[1] - t[0];
  EXPECT_DOUBLE_EQ(step, 10.0);
  for (const double v : t) EXPECT_LE(v, 63.0);
  EXPECT_EQ(t.size(), 7u);  // 0 10 ... 60
}

TEST(SvgWriter, LogRangeCoversWholeDecades) {
  const auto [lo, hi] = svg::log_range(0.03, 1.0);
  EXPECT_DOUBLE_EQ(lo, 0.01);
  EXPECT_DOUBLE_EQ(hi, 1.0);
  const auto [lo2, hi2] = svg::log_range(6.28, 5.4e5);
  EXPECT_DOUBLE_EQ(lo2, 1.0);
  EXPECT_DOUBLE_EQ(hi2, 1e6);
}

TEST(SvgWriter, TickLabelsAreCompact) {
  EXPECT_EQ(svg::tick_label(1e4), "10k");
  EXPECT_EQ(svg::tick_label(1e3), "1k");
  EXPECT_EQ(svg::tick_label(1e6), "1M");
  EXPECT_EQ(svg::tick_label(0.01), "0.01");
  EXPECT_EQ(svg::tick_label(100), "100");
}

TEST(SvgWriter, HostileTextStaysWellFormed) {
  if (!have_xmllint()) GTEST_SKIP() << "xmllint not found (install libxml2-utils)";
  svg::writer w(200, 100);
  w.simple("title", "a <title> & \"quotes\" 'x'");
  w.comment("double -- dash --> inside");
  w.open_group({{"class", "a&b"}});
  w.text(10, 20, "<&>\"'");
  w.path({{0, 0}, {10, 10}}, {{"data-method", "x\"y"}});
  const std::string doc = w.finish();  // closes the open group
  EXPECT_EQ(xmllint_status("hostile.svg", doc), 0) << doc;
}

TEST(SvgWriter, PanelHasOnePathPerSeriesAndIsWellFormed) {
  svg::panel p;
  p.id = "demo";
  p.title = "Demo <panel>";
  p.x = {"x", 0.0, 9.0, false};
  p.y = {"y & log", 1e-2, 1e2, true};
  for (const char* id : {"a", "b", "c"}) {
    svg::series s;
    s.id = id;
    s.label = id;
    for (int i = 0; i < 10; ++i) {
      s.x.push_back(i);
      s.y.push_back(std::pow(10.0, -2.0 + 0.4 * i));
    }
    p.lines.push_back(s);
  }
  p.markers.push_back({10.0, "L = 10", "#444444", "6 4"});
  svg::writer w(600, 400);
  svg::draw_panel(w, p, {80, 40, 400, 250});
  svg::draw_legend(w, p.lines, 80, 350, 500);
  const std::string doc = w.finish();
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_EQ(count(doc, std::string("data-method=\"") + id + "\""), 1u) << id;
  }
  EXPECT_EQ(count(doc, "<path "), 3u);
  if (!have_xmllint()) GTEST_SKIP() << "xmllint not found (install libxml2-utils)";
  EXPECT_EQ(xmllint_status("panel.svg", doc), 0);
}

/// A synthetic report built from closed-form tables: default θ^(−2i/d), PI ω⁰/s and NTK
/// ω⁰·s^(−2i/(d−2)), written here independently of the library's methods.
cmp::report synthetic_report() {
  const std::int64_t d = 64;
  const std::int64_t n = d / 2;
  const double theta = 10000.0;
  const std::int64_t L = 4096;
  const std::int64_t C = 32768;
  const double s = static_cast<double>(C) / static_cast<double>(L);
  std::vector<double> w0, pi, ntk;
  for (std::int64_t i = 0; i < n; ++i) {
    const long double base =
        std::pow(static_cast<long double>(theta),
                 -2.0L * static_cast<long double>(i) / static_cast<long double>(d));
    w0.push_back(static_cast<double>(base));
    pi.push_back(static_cast<double>(base / static_cast<long double>(s)));
    ntk.push_back(static_cast<double>(
        base * std::pow(static_cast<long double>(s),
                        -2.0L * static_cast<long double>(i) / static_cast<long double>(d - 2))));
  }
  cmp::report r;
  r.base.config = "synthetic <&> config";
  r.base.rope_type = "default";
  r.base.rope_theta = theta;
  r.base.head_dim = d;
  r.base.rotary_dim = d;
  r.base.pairs = n;
  r.base.original_context = L;
  cmp::context_result c;
  c.context = C;
  c.factor = s;
  c.inv_freq0 = w0;
  c.unscaled = cmp::analyze(w0, w0, L, C);
  for (const auto& [key, table] : {std::pair<std::string, std::vector<double>>{"pi", pi},
                                   std::pair<std::string, std::vector<double>>{"ntk", ntk}}) {
    cmp::method_result m;
    m.key = key;
    m.rope_type = key == "pi" ? "linear" : "ntk";
    m.factor = s;
    m.inv_freq = table;
    m.metrics = cmp::analyze(table, w0, L, C);
    c.methods.push_back(m);
  }
  r.contexts.push_back(c);
  return r;
}

TEST(CompareFigure, OnePathPerMethodPerPanelAndWellFormed) {
  const cmp::report r = synthetic_report();
  const std::string doc = cmp::to_svg(r, r.contexts.front());
  for (const char* panel : {"scale", "wavelength"}) {
    for (const char* m : {"pi", "ntk"}) {
      const std::regex re(std::string("<path [^>]*data-panel=\"") + panel + "\" data-method=\"" +
                          m + "\"");
      const auto begin = std::sregex_iterator(doc.begin(), doc.end(), re);
      EXPECT_EQ(std::distance(begin, std::sregex_iterator()), 1) << panel << " " << m;
    }
  }
  // The unscaled reference appears in the wavelength panel only; nothing else is a <path>.
  EXPECT_EQ(count(doc, "data-method=\"default\""), 1u);
  EXPECT_EQ(count(doc, "<path "), 5u);
  EXPECT_NE(doc.find("L = 4096 (training)"), std::string::npos);
  EXPECT_NE(doc.find("C = 32768 (target)"), std::string::npos);
  EXPECT_NE(doc.find("synthetic &lt;&amp;&gt; config"), std::string::npos);
  if (!have_xmllint()) GTEST_SKIP() << "xmllint not found (install libxml2-utils)";
  EXPECT_EQ(xmllint_status("compare_synthetic.svg", doc), 0);
}

}  // namespace

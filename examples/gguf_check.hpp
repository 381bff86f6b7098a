// SPDX-License-Identifier: Apache-2.0
// The GGUF-vs-config.json cross-check behind `ropescale-compare --check MODEL.gguf CONFIG.json
// [--seq-len N]`: compares the RoPE a GGUF file encodes (llama.cpp's semantics, docs/gguf.md §2)
// with the one the model's config.json encodes (HF v5 semantics): rotary dim, head dim, layout,
// the per-pair inv_freq (relative difference, with a tolerance for the f32 storage of GGUF
// values), the attention factor and the softmax multiplier; for LongRoPE both tables and the
// switch point. Every difference gets the docs/gguf.md rule that explains it. Kept in examples/
// because the report format is tooling, not library API.
#ifndef ROPESCALE_EXAMPLES_GGUF_CHECK_HPP
#define ROPESCALE_EXAMPLES_GGUF_CHECK_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "ropescale/detail/cli_args.hpp"
#include "ropescale/gguf.hpp"
#include "ropescale/hf_config.hpp"

namespace ropescale::examples::gguf_check {

/// Largest relative difference of inv_freq or attention factor still counted as agreement. GGUF
/// stores θ, factors and factor tables as f32 (relative rounding <= 2^-24 ≈ 6e-8 each); an ω is a
/// product of a few such values and powers with exponents <= 1, so honest conversions differ by
/// a few 1e-7 at most, while every real divergence measured is >= 1e-4.
inline constexpr double tolerance = 1e-6;

/// Exit status when the two files disagree.
inline constexpr int exit_differ = 3;

enum class verdict { agree, expected, differ };

inline const char* verdict_name(verdict v) {
  return v == verdict::agree ? "agree" : v == verdict::expected ? "expected" : "DIFFER";
}

struct row {
  std::string quantity;
  std::string gguf;
  std::string config;
  verdict v = verdict::agree;
  std::string why;
};

struct report {
  std::vector<row> rows;
  bool differ() const {
    return std::any_of(rows.begin(), rows.end(),
                       [](const row& r) { return r.v == verdict::differ; });
  }
};

/// Architectures whose converter permutes Q/K weights so llama.cpp's GPT-J pairs reproduce HF's
/// NeoX rotation (docs/gguf.md §6).
inline constexpr const char* permuting_archs[] = {"llama",      "llama4",    "deci",    "baichuan",
                                                  "internlm2",  "minicpm",   "xverse",  "granite",
                                                  "granitemoe", "chameleon", "mistral3"};

inline std::string num(double v, int digits = 9) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

/// max_i |a_i/b_i − 1| and its index (a and b the same length).
inline std::pair<double, std::size_t> max_rel_diff(const std::vector<double>& a,
                                                   const std::vector<double>& b) {
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const double d = b[i] == 0 ? std::fabs(a[i]) : std::fabs(a[i] / b[i] - 1.0);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  return {worst, at};
}

/// What the two sides are, for the explanations.
struct sides {
  const loaded_config& g;
  const loaded_config& c;
  std::string arch;
  const ggml_rope<double>* gm = nullptr;
  double config_theta = 0;
};

/// Why two tables differ, by what the config is (docs/gguf.md §3).
inline std::string table_reason(const sides& s) {
  const method& m = s.c.method;
  if (const auto* l3 = m.get_if<llama3<double>>()) {
    return "llama3 is baked into rope_freqs with L0 from the top-level "
           "original_max_position_embeddings (default 8192) and factor/low/high defaults 8/1/4; "
           "this config's L0 is " +
           std::to_string(l3->params().original_max_position_embeddings) +
           " (docs/gguf.md §3 rule 1)";
  }
  if (s.arch == "gptneox" && s.gm != nullptr && s.gm->params().rope_theta != s.config_theta) {
    return "GPT-NeoX files never carry rope.freq_base, so llama.cpp uses 10000; the config's "
           "rotary_emb_base is " +
           num(s.config_theta) + " (docs/gguf.md §3 rule 5)";
  }
  if (const auto* y = m.get_if<yarn<double>>(); y != nullptr && !y->params().truncate) {
    return "YaRN truncate: false has no GGUF key; llama.cpp always floors/ceils the correction "
           "range (docs/gguf.md §3 rule 6)";
  }
  if (m.rope_type() == "dynamic") {
    return "dynamic NTK has no GGUF form; llama.cpp applies plain RoPE (docs/gguf.md §3 rule 7)";
  }
  if (s.gm != nullptr && s.gm->params().rope_theta != s.config_theta) {
    return "rope.freq_base " + num(s.gm->params().rope_theta) + " vs rope_theta " +
           num(s.config_theta) + " (docs/gguf.md §2)";
  }
  return "the file's scaling is not the config's (docs/gguf.md §2)";
}

inline std::string attention_reason(const sides& s) {
  const method& m = s.c.method;
  if (const auto* y = m.get_if<yarn<double>>()) {
    const auto& p = y->params();
    if (p.attention_factor) {
      return "an explicit YaRN attention_factor is ignored by llama.cpp (docs/gguf.md §3 rule 6)";
    }
    if (p.mscale && p.mscale_all_dim && *p.mscale != *p.mscale_all_dim) {
      return "mscale (" + num(*p.mscale) + ") != mscale_all_dim (" + num(*p.mscale_all_dim) +
             "): GGUF stores only mscale_all_dim and llama.cpp assumes they are equal "
             "(docs/gguf.md §3 rule 4)";
    }
    return "YaRN attention factor as llama.cpp nets it (docs/gguf.md §2)";
  }
  if (m.get_if<longrope<double>>() != nullptr) {
    return "the converter precomputes LongRoPE's factor as sqrt(1 + ln(L/L0)/ln L0); an explicit "
           "attention_factor or factor is not stored (docs/gguf.md §3 rule 2)";
  }
  return "rope.scaling.attn_factor (docs/gguf.md §2)";
}

/// The layout rule: equal, or GPT-J pairs in the GGUF against NeoX in a config whose converter
/// permutes Q/K, or against DeepSeek's de-interleaved rotation (the same scores).
inline row layout_row(const sides& s) {
  row r{"layout", name(s.g.layout), name(s.c.layout), verdict::agree, ""};
  if (s.g.layout == s.c.layout) return r;
  const bool permuted = s.g.layout == layout::gptj && s.c.layout == layout::neox &&
                        std::any_of(std::begin(permuting_archs), std::end(permuting_archs),
                                    [&](const char* a) { return s.arch == a; });
  if (permuted) {
    r.v = verdict::expected;
    r.why =
        "the converter permutes Q/K weights so GPT-J pairs give HF's NeoX rotation "
        "(docs/gguf.md §6)";
  } else if (s.g.layout == layout::gptj && s.c.layout == layout::deinterleaved) {
    r.v = verdict::expected;
    r.why =
        "de-interleaved = GPT-J rotation plus a permutation of q and k: same scores "
        "(docs/gguf.md §6)";
  } else {
    r.v = verdict::differ;
    r.why = "llama.cpp pairs channels differently from the model (docs/gguf.md §6)";
  }
  return r;
}

inline row table_row(const sides& s, const std::string& what, std::optional<std::int64_t> S) {
  const std::vector<double> a = s.g.method.inv_freq(S);
  const std::vector<double> b = s.c.method.inv_freq(S);
  row r{what, "", "", verdict::agree, ""};
  if (a.size() != b.size()) {
    r.gguf = std::to_string(a.size()) + " pairs";
    r.config = std::to_string(b.size()) + " pairs";
    r.v = verdict::differ;
    r.why = "different rotary dims";
    return r;
  }
  const auto [d, at] = max_rel_diff(a, b);
  r.gguf = "pair " + std::to_string(at) + ": " + num(a[at]);
  r.config = num(b[at]) + " (max rel diff " + num(d, 2) + ")";
  if (d > tolerance) {
    r.v = verdict::differ;
    r.why = table_reason(s);
  }
  return r;
}

inline row scalar_row(const std::string& what, double a, double b, const std::string& why) {
  row r{what, num(a), num(b), verdict::agree, ""};
  if (!(std::fabs(a / b - 1.0) <= tolerance)) {
    r.v = verdict::differ;
    r.why = why;
  }
  return r;
}

/// The cross-check (see the file comment). `arch` is the GGUF's general.architecture.
inline report check(const loaded_config& g, const std::string& arch, const loaded_config& c,
                    std::optional<std::int64_t> seq_len) {
  sides s{g, c, arch, g.method.get_if<ggml_rope<double>>(), 0};
  std::visit([&](const auto& m) { s.config_theta = m.params().rope_theta; }, c.method.variant());
  report rep;
  rep.rows.push_back({"rope_type", std::string(g.method.rope_type()),
                      std::string(c.method.rope_type()), verdict::agree, ""});
  const auto int_row = [](const char* what, std::int64_t a, std::int64_t b, const char* why) {
    return row{what, std::to_string(a), std::to_string(b),
               a == b ? verdict::agree : verdict::differ, a == b ? "" : why};
  };
  rep.rows.push_back(int_row("rotary_dim", g.method.rotary_dim(), c.method.rotary_dim(),
                             "rope.dimension_count replaces int(head_dim * partial_rotary_factor) "
                             "(docs/gguf.md §2)"));
  rep.rows.push_back(int_row("head_dim", g.method.head_dim(), c.method.head_dim(),
                             "attention.key_length / embedding_length / head_count rule "
                             "(docs/gguf.md §2)"));
  rep.rows.push_back(layout_row(s));
  if (g.method.rotary_dim() != c.method.rotary_dim()) return rep;

  const bool longrope_like = g.method.depends_on_seq_len() || c.method.rope_type() == "longrope";
  if (longrope_like) {
    std::int64_t l0g = s.gm != nullptr ? s.gm->params().original_context : 0;
    std::int64_t l0c = 0;
    if (const auto* lr = c.method.get_if<longrope<double>>()) {
      l0c = lr->params().original_max_position_embeddings;
    }
    rep.rows.push_back(int_row("long factors from S >", l0g, l0c,
                               "original_context_length vs original_max_position_embeddings "
                               "(docs/gguf.md §3 rule 3)"));
    const std::int64_t short_s = std::max<std::int64_t>(1, std::min(l0g, l0c));
    const std::int64_t long_s = std::max(l0g, l0c) + 1;
    rep.rows.push_back(
        table_row(s, "inv_freq (short, S = " + std::to_string(short_s) + ")", short_s));
    rep.rows.push_back(table_row(s, "inv_freq (long, S = " + std::to_string(long_s) + ")", long_s));
  }
  if (!longrope_like || seq_len) {
    rep.rows.push_back(table_row(
        s, seq_len ? "inv_freq (S = " + std::to_string(*seq_len) + ")" : std::string("inv_freq"),
        seq_len));
  }
  rep.rows.push_back(scalar_row("attention_factor", g.method.attention_factor(seq_len),
                                c.method.attention_factor(seq_len), attention_reason(s)));
  rep.rows.push_back(scalar_row("softmax_scale_multiplier", g.method.softmax_scale_multiplier(),
                                c.method.softmax_scale_multiplier(),
                                "DeepSeek mscale_all_dim (docs/gguf.md §3 rule 4)"));
  if (c.method.rope_type() == "dynamic" || c.method.rope_type() == "ntk" ||
      c.method.rope_type() == "proportional") {
    rep.rows.push_back(
        {"scaling type", std::string(g.method.rope_type()), std::string(c.method.rope_type()),
         verdict::differ,
         "no GGUF form; llama.cpp applies the file's table (docs/gguf.md §3 rule 7)"});
  }
  return rep;
}

/// Aligned text table plus a one-line summary.
inline std::string to_text(const report& rep, const std::string& gguf_path,
                           const std::string& config_path) {
  std::size_t w0 = 8, w1 = 4, w2 = 6;
  for (const row& r : rep.rows) {
    w0 = std::max(w0, r.quantity.size());
    w1 = std::max(w1, r.gguf.size());
    w2 = std::max(w2, r.config.size());
  }
  const auto pad = [](std::string t, std::size_t w) {
    t.resize(std::max(t.size(), w), ' ');
    return t;
  };
  std::string out = "gguf:   " + gguf_path + "\nconfig: " + config_path + "\n\n";
  out +=
      pad("quantity", w0) + "  " + pad("gguf", w1) + "  " + pad("config", w2) + "  verdict   why\n";
  for (const row& r : rep.rows) {
    out += pad(r.quantity, w0) + "  " + pad(r.gguf, w1) + "  " + pad(r.config, w2) + "  " +
           pad(verdict_name(r.v), 8) + "  " + r.why;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  }
  out += rep.differ() ? "\nresult: the GGUF file and the config DIFFER (exit 3)\n"
                      : "\nresult: the GGUF file encodes the config's RoPE (exit 0)\n";
  return out;
}

/// Parsed `--check MODEL.gguf CONFIG.json [--seq-len N]`.
struct check_args {
  std::string first, second;
  std::optional<std::int64_t> seq_len;
};

inline constexpr std::string_view check_usage =
    "usage: ropescale-compare --check MODEL.gguf CONFIG.json [--seq-len N]";

/// Parses the arguments of check mode (argv without the program name, "--check" included).
/// Returns the error text (empty on success).
inline std::string parse_check_args(const std::vector<std::string>& argv, check_args& out) {
  using ropescale::detail::quote_text;
  std::vector<std::string> files;
  bool have_check = false;
  for (std::size_t k = 0; k < argv.size(); ++k) {
    const std::string& a = argv[k];
    if (a == "--check") {
      if (have_check) return "--check given twice";
      have_check = true;
      continue;
    }
    auto opt = ropescale::detail::cli_impl::split_option(a);
    if (opt.name == "--seq-len") {
      if (out.seq_len) return "--seq-len given twice";
      if (!ropescale::detail::cli_impl::take_value(argv, k, opt)) return "--seq-len needs a value";
      out.seq_len = ropescale::detail::cli_impl::parse_decimal(
          opt.value, 1, ropescale::detail::inspect_max_seq_len);
      if (!out.seq_len)
        return "--seq-len: must be an integer in [1, 2^53], got " + quote_text(opt.value);
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      return "unknown option " + quote_text(a) + " with --check; " + std::string(check_usage);
    }
    if (a.empty()) return "empty file path; " + std::string(check_usage);
    files.push_back(a);
  }
  if (files.size() != 2) {
    return "--check needs exactly two files, got " + std::to_string(files.size()) + "; " +
           std::string(check_usage);
  }
  out.first = files[0];
  out.second = files[1];
  return {};
}

}  // namespace ropescale::examples::gguf_check

#endif  // ROPESCALE_EXAMPLES_GGUF_CHECK_HPP

// SPDX-License-Identifier: Apache-2.0
// GGUF → method (load_gguf) on files written by the tests' own writer for the architectures of
// docs/gguf.md, checked against a long-double re-derivation of llama.cpp's formulas written here
// (docs/gguf.md §2: base table, freq factors, linear or YaRN ramp, netted attention factor), plus
// the rope_type / head_dim / layout rules and the bad-value table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ropescale/gguf.hpp"
#include "support/bad_input_table.hpp"
#include "support/gguf_writer.hpp"

namespace {

using ropescale_test::gguf_writer;
using LD = long double;

/// A writer holding the keys every model file has.
gguf_writer model(const std::string& arch, std::uint32_t embd, std::uint32_t heads,
                  std::uint32_t ctx) {
  gguf_writer w;
  w.kv_str("general.architecture", arch);
  w.kv_u32(arch + ".context_length", ctx);
  w.kv_u32(arch + ".embedding_length", embd);
  w.kv_u32(arch + ".attention.head_count", heads);
  return w;
}

ropescale::loaded_config load(const gguf_writer& w) {
  const std::vector<unsigned char> b = w.bytes();
  return ropescale::load_gguf(ropescale::gguf::file::from_buffer(b.data(), b.size(), "m.gguf"));
}

/// docs/gguf.md §2 in long double, written independently of the library.
struct reference {
  LD base = 10000;
  int n_rot = 0;
  std::vector<LD> ff;  // divisors (empty: none)
  LD factor = 1;       // s (freq_scale = 1/s)
  bool yarn = false;
  LD n_ctx_orig = 0;

  std::vector<LD> table() const {
    const LD pi = 3.14159265358979323846264338327950288L;
    const auto corr = [&](LD beta) {
      return n_rot * std::log(n_ctx_orig / (2 * pi * beta)) / (2 * std::log(base));
    };
    const LD lo = std::max(LD(0), std::floor(corr(32)));
    const LD hi = std::min(LD(n_rot - 1), std::ceil(corr(1)));
    std::vector<LD> out;
    for (int i = 0; i < n_rot / 2; ++i) {
      LD w = std::pow(base, -LD(2 * i) / LD(n_rot));
      if (!ff.empty()) w /= ff[static_cast<std::size_t>(i)];
      const LD fs = 1 / factor;
      if (yarn) {
        const LD y = (LD(i) - lo) / std::max(LD(0.001), hi - lo);
        const LD ramp = 1 - std::min(LD(1), std::max(LD(0), y));
        w *= fs * (1 - ramp) + ramp;
      } else {
        w *= fs;
      }
      out.push_back(w);
    }
    return out;
  }
};

/// m(s, x) = 1 + 0.1 x ln s (1 for s <= 1), in long double.
LD mscale(LD s, LD x) { return s <= 1 ? LD(1) : 1 + LD(0.1) * x * std::log(s); }

void expect_table(const ropescale::method& m, const reference& r,
                  std::optional<std::int64_t> S = std::nullopt, double tol = 4e-16) {
  const std::vector<double> got = m.inv_freq(S);
  const std::vector<LD> want = r.table();
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs((LD(got[i]) - want[i]) / want[i])));
  }
  EXPECT_LE(worst, tol);
}

TEST(GgufLoader, Llama2) {
  gguf_writer w = model("llama", 4096, 32, 4096);
  w.kv_u32("llama.rope.dimension_count", 128);
  w.kv_f32("llama.rope.freq_base", 10000.0f);
  const auto c = load(w);
  EXPECT_EQ(c.method.rope_type(), "default");
  EXPECT_EQ(c.method.head_dim(), 128);
  EXPECT_EQ(c.method.rotary_dim(), 128);
  EXPECT_EQ(c.layout, ropescale::layout::gptj);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_EQ(c.method.attention_factor(), 1.0);
  EXPECT_FALSE(c.method.depends_on_seq_len());
  reference r;
  r.n_rot = 128;
  expect_table(c.method, r);
}

/// Llama-3 freq factors as the converter computes them (float64, then stored as f32).
std::vector<float> llama3_freqs(double base, int dim, double factor, double low, double high,
                                double l0) {
  std::vector<float> out;
  for (int i = 0; i < dim; i += 2) {
    const double freq = 1.0 / std::pow(base, static_cast<double>(i) / dim);
    const double wl = 2 * M_PI / freq;
    double f;
    if (wl < l0 / high) {
      f = 1.0;
    } else if (wl > l0 / low) {
      f = factor;
    } else {
      const double smooth = (l0 / wl - low) / (high - low);
      f = 1.0 / ((1 - smooth) / factor + smooth);
    }
    out.push_back(static_cast<float>(f));
  }
  return out;
}

void llama3_case(std::uint32_t embd, std::uint32_t heads, int dim, double factor) {
  gguf_writer w = model("llama", embd, heads, 131072);
  w.kv_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(dim));
  w.kv_f32("llama.rope.freq_base", 500000.0f);
  const std::vector<float> ff = llama3_freqs(500000.0, dim, factor, 1.0, 4.0, 8192.0);
  w.tensor_f32("rope_freqs.weight", ff);
  const auto c = load(w);
  EXPECT_EQ(c.method.rope_type(), "llama3");
  EXPECT_EQ(c.method.rotary_dim(), dim);
  EXPECT_EQ(c.layout, ropescale::layout::gptj);
  reference r;
  r.base = 500000;
  r.n_rot = dim;
  for (float f : ff) r.ff.push_back(static_cast<LD>(f));
  expect_table(c.method, r);
  // And within f32 storage of HF's llama3 table (docs/gguf.md §3.1: <= 2e-7).
  ropescale::llama3_params p;
  p.head_dim = dim;
  p.rope_theta = 500000.0;
  p.factor = factor;
  p.low_freq_factor = 1.0;
  p.high_freq_factor = 4.0;
  p.original_max_position_embeddings = 8192;
  const std::vector<double> hf = ropescale::llama3<double>(p).inv_freq();
  const std::vector<double> got = c.method.inv_freq();
  for (std::size_t i = 0; i < hf.size(); ++i) EXPECT_NEAR(got[i] / hf[i], 1.0, 2e-7) << i;
}

TEST(GgufLoader, Llama31RopeFreqs) { llama3_case(4096, 32, 128, 8.0); }
TEST(GgufLoader, Llama32RopeFreqs) { llama3_case(2048, 32, 64, 32.0); }

TEST(GgufLoader, Qwen25Yarn) {
  gguf_writer w = model("qwen2", 3584, 28, 131072);
  w.kv_f32("qwen2.rope.freq_base", 1000000.0f);
  w.kv_str("qwen2.rope.scaling.type", "yarn");
  w.kv_f32("qwen2.rope.scaling.factor", 4.0f);
  w.kv_u32("qwen2.rope.scaling.original_context_length", 32768);
  const auto c = load(w);
  EXPECT_EQ(c.method.rope_type(), "yarn");
  EXPECT_EQ(c.method.head_dim(), 128);
  EXPECT_EQ(c.layout, ropescale::layout::neox);
  reference r;
  r.base = 1e6;
  r.n_rot = 128;
  r.factor = 4;
  r.yarn = true;
  r.n_ctx_orig = 32768;
  expect_table(c.method, r);
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(mscale(4, 1)), 1e-15);
  EXPECT_EQ(c.method.softmax_scale_multiplier(), 1.0);
}

TEST(GgufLoader, Qwen3KeyLength) {
  gguf_writer w = model("qwen3", 1024, 16, 40960);
  w.kv_u32("qwen3.attention.key_length", 128);
  w.kv_u32("qwen3.attention.value_length", 128);
  w.kv_f32("qwen3.rope.freq_base", 1000000.0f);
  const auto c = load(w);
  EXPECT_EQ(c.method.head_dim(), 128);  // not 1024 / 16 = 64
  EXPECT_EQ(c.method.rotary_dim(), 128);
  reference r;
  r.base = 1e6;
  r.n_rot = 128;
  expect_table(c.method, r);
}

TEST(GgufLoader, Phi3LongRope) {
  gguf_writer w = model("phi3", 3072, 32, 131072);
  w.kv_u32("phi3.rope.dimension_count", 96);
  w.kv_u32("phi3.rope.scaling.original_context_length", 4096);
  const float a = static_cast<float>(std::sqrt(1 + std::log(32.0) / std::log(4096.0)));
  w.kv_f32("phi3.rope.scaling.attn_factor", a);
  std::vector<float> lf, sf;
  for (int i = 0; i < 48; ++i) {
    lf.push_back(1.0f + 0.5f * static_cast<float>(i));
    sf.push_back(1.0f + 0.01f * static_cast<float>(i));
  }
  w.tensor_f32("rope_factors_long.weight", lf);
  w.tensor_f32("rope_factors_short.weight", sf);
  const auto c = load(w);
  EXPECT_EQ(c.method.rope_type(), "longrope");
  EXPECT_TRUE(c.method.depends_on_seq_len());
  EXPECT_EQ(c.method.head_dim(), 96);
  EXPECT_EQ(c.layout, ropescale::layout::neox);
  EXPECT_EQ(c.method.attention_factor(), static_cast<double>(a));
  reference shortr, longr;
  shortr.n_rot = longr.n_rot = 96;
  for (int i = 0; i < 48; ++i) {
    shortr.ff.push_back(static_cast<LD>(sf[static_cast<std::size_t>(i)]));
    longr.ff.push_back(static_cast<LD>(lf[static_cast<std::size_t>(i)]));
  }
  expect_table(c.method, shortr);        // no S: HF's load-time (short) table
  expect_table(c.method, shortr, 4096);  // S = L0 → short
  expect_table(c.method, longr, 4097);   // S > L0 → long
  EXPECT_FALSE(c.diagnostics.empty());
}

void deepseek_case(std::uint32_t key_length, float log_mul_stored, LD mscale_all_dim) {
  gguf_writer w = model("deepseek2", 7168, 128, 163840);
  w.kv_u32("deepseek2.attention.key_length", key_length);
  w.kv_u32("deepseek2.rope.dimension_count", 64);
  w.kv_f32("deepseek2.rope.freq_base", 10000.0f);
  w.kv_str("deepseek2.rope.scaling.type", "yarn");
  w.kv_f32("deepseek2.rope.scaling.factor", 40.0f);
  w.kv_u32("deepseek2.rope.scaling.original_context_length", 4096);
  w.kv_f32("deepseek2.rope.scaling.yarn_log_multiplier", log_mul_stored);
  const auto c = load(w);
  EXPECT_EQ(c.method.rope_type(), "yarn");
  EXPECT_EQ(c.method.head_dim(), 64);  // never the 576 of the absorbed key
  EXPECT_EQ(c.method.rotary_dim(), 64);
  EXPECT_EQ(c.layout, ropescale::layout::gptj);
  reference r;
  r.n_rot = 64;
  r.factor = 40;
  r.yarn = true;
  r.n_ctx_orig = 4096;
  expect_table(c.method, r);
  // mscale = log_mul = mscale_all_dim: the ratio is 1 (llama.cpp's deepseek2 rule).
  EXPECT_NEAR(c.method.attention_factor(), 1.0, 1e-15);
  const LD log_mul = static_cast<LD>(log_mul_stored) / LD(0.1);
  EXPECT_NEAR(static_cast<double>(log_mul), static_cast<double>(mscale_all_dim), 1e-6);
  const LD m = mscale(40, log_mul);
  EXPECT_NEAR(c.method.softmax_scale_multiplier(), static_cast<double>(m * m), 1e-12);
}

TEST(GgufLoader, DeepSeekV3) { deepseek_case(576, 0.1f, 1.0L); }
TEST(GgufLoader, DeepSeekV2LiteOldKeyLength) { deepseek_case(192, 0.0707f, 0.707L); }

TEST(GgufLoader, YarnLogMultiplierOtherArch) {
  // Not deepseek2: mscale = 1, A = m(s, 1) / m(s, log_mul) × attn_factor.
  gguf_writer w = model("mistral3", 5120, 32, 262144);
  w.kv_u32("mistral3.attention.key_length", 128);
  w.kv_f32("mistral3.rope.freq_base", 1000000.0f);
  w.kv_str("mistral3.rope.scaling.type", "yarn");
  w.kv_f32("mistral3.rope.scaling.factor", 16.0f);
  w.kv_u32("mistral3.rope.scaling.original_context_length", 16384);
  w.kv_f32("mistral3.rope.scaling.yarn_log_multiplier", 0.5f);
  w.kv_f32("mistral3.rope.scaling.attn_factor", 1.25f);
  const auto c = load(w);
  const LD want = mscale(16, 1) / mscale(16, LD(0.5f)) * LD(1.25);
  EXPECT_NEAR(c.method.attention_factor(), static_cast<double>(want), 1e-15);
  EXPECT_EQ(c.method.softmax_scale_multiplier(), 1.0);
}

TEST(GgufLoader, GptNeoxPartialRotary) {
  gguf_writer w = model("gptneox", 6144, 64, 2048);
  w.kv_u32("gptneox.rope.dimension_count", 24);  // rotary_pct 0.25 of 96
  const auto c = load(w);
  EXPECT_EQ(c.method.head_dim(), 96);
  EXPECT_EQ(c.method.rotary_dim(), 24);
  EXPECT_EQ(c.layout, ropescale::layout::neox);
  reference r;
  r.n_rot = 24;
  expect_table(c.method, r);
  bool noted = false;
  for (const auto& d : c.diagnostics)
    noted = noted || d.find("freq_base absent") != std::string::npos;
  EXPECT_TRUE(noted);
}

// llama.cpp's llama_model_rope_type, row by row for a sample of each group (NORM → gptj,
// NEOX → neox, M-RoPE → neox with a note, unknown → neox with a note), plus glm4's
// sections-dependent rule.
TEST(GgufLoader, PairingByArchitecture) {
  struct row {
    const char* arch;
    bool sections;
    ropescale::layout want;
    const char* note;  // a diagnostic containing this, or nullptr for none about pairing
  };
  const row rows[] = {
      {"llama", false, ropescale::layout::gptj, nullptr},
      {"llada", false, ropescale::layout::gptj, nullptr},
      {"granitehybrid", false, ropescale::layout::gptj, nullptr},
      {"smollm3", false, ropescale::layout::gptj, nullptr},
      {"ernie4_5-moe", false, ropescale::layout::gptj, nullptr},
      {"glm4", false, ropescale::layout::gptj, nullptr},
      {"glm4", true, ropescale::layout::neox, "M-RoPE"},
      {"glm4moe", false, ropescale::layout::neox, nullptr},
      {"qwen3next", false, ropescale::layout::neox, nullptr},
      {"gemma3n", false, ropescale::layout::neox, nullptr},
      {"plamo", false, ropescale::layout::neox, nullptr},
      {"orion", false, ropescale::layout::neox, nullptr},
      {"qwen2vl", false, ropescale::layout::neox, "M-RoPE"},
      {"qwen35moe", false, ropescale::layout::neox, "M-RoPE"},
      {"no-such-arch", false, ropescale::layout::neox, "pairing table"},
  };
  for (const row& r : rows) {
    SCOPED_TRACE(std::string(r.arch) + (r.sections ? " with sections" : ""));
    gguf_writer w = model(r.arch, 4096, 32, 4096);
    w.kv_u32(std::string(r.arch) + ".rope.dimension_count", 128);
    w.kv_f32(std::string(r.arch) + ".rope.freq_base", 10000.0f);
    if (r.sections)
      w.kv_u32_array(std::string(r.arch) + ".rope.dimension_sections", {8, 12, 12, 0});
    const auto c = load(w);
    EXPECT_EQ(c.layout, r.want);
    int pairing_notes = 0, matching = 0;
    for (const auto& d : c.diagnostics) {
      const bool about_pairing =
          d.find("M-RoPE") != std::string::npos || d.find("pairing table") != std::string::npos;
      pairing_notes += about_pairing;
      matching += r.note != nullptr && d.find(r.note) != std::string::npos;
    }
    EXPECT_EQ(pairing_notes, r.note != nullptr ? 1 : 0);
    EXPECT_EQ(matching, r.note != nullptr ? 1 : 0);
  }
}

TEST(GgufLoader, LinearAbsentTypeLegacyNoneAndZero) {
  struct row {
    std::function<void(gguf_writer&)> keys;
    const char* type;
    LD s;
  };
  const std::vector<row> rows = {
      {[](gguf_writer& w) {
         w.kv_str("llama.rope.scaling.type", "linear");
         w.kv_f32("llama.rope.scaling.factor", 4.0f);
       },
       "linear", 4},
      {[](gguf_writer& w) { w.kv_f32("llama.rope.scaling.factor", 2.0f); }, "linear",
       2},  // absent type
      {[](gguf_writer& w) { w.kv_f32("llama.rope.scale_linear", 8.0f); }, "linear", 8},
      {[](gguf_writer& w) {
         w.kv_str("llama.rope.scaling.type", "none");
         w.kv_f32("llama.rope.scaling.factor", 4.0f);
       },
       "default", 1},
      {[](gguf_writer& w) { w.kv_f32("llama.rope.scaling.factor", 0.0f); }, "default", 1},
      {[](gguf_writer& w) { w.kv_f32("llama.rope.scaling.factor", 1.0f); }, "default", 1},
      {[](gguf_writer& w) { w.kv_str("llama.rope.scaling.type", "yarn"); }, "default", 1},
  };
  for (const row& x : rows) {
    gguf_writer w = model("llama", 4096, 32, 4096);
    x.keys(w);
    const auto c = load(w);
    SCOPED_TRACE(x.type);
    EXPECT_EQ(c.method.rope_type(), x.type);
    reference r;
    r.n_rot = 128;
    r.factor = x.s;
    expect_table(c.method, r);
    EXPECT_EQ(c.method.attention_factor(), 1.0);
  }
}

TEST(GgufLoader, WiderIntegerTypesAcceptedWithDiagnostic) {
  gguf_writer w;
  w.kv_str("general.architecture", "llama");
  w.kv_u64("llama.context_length", 4096);
  w.kv_u32("llama.embedding_length", 4096);
  w.kv_u32_array("llama.attention.head_count", {32, 32});
  w.kv_f64("llama.rope.freq_base", 10000.0);
  const auto c = load(w);
  EXPECT_EQ(c.method.head_dim(), 128);
  int notes = 0;
  for (const auto& d : c.diagnostics) notes += d.find("llama.cpp requires") != std::string::npos;
  EXPECT_EQ(notes, 2);
}

TEST(GgufLoader, BadValues) {
  struct bad {
    const char* what;
    std::function<void(gguf_writer&)> keys;
    const char* expect;
  };
  const std::vector<bad> cases = {
      {"rope.freq_base NaN", [](gguf_writer& w) { w.kv_f32("llama.rope.freq_base", NAN); },
       "key 'llama.rope.freq_base': must be a finite number > 1, got nan"},
      {"rope.freq_base 0", [](gguf_writer& w) { w.kv_f32("llama.rope.freq_base", 0.0f); },
       "must be a finite number > 1, got 0"},
      {"rope.freq_base -1", [](gguf_writer& w) { w.kv_f32("llama.rope.freq_base", -1.0f); },
       "got -1"},
      {"rope.freq_base stored as u32",
       [](gguf_writer& w) { w.kv_u32("llama.rope.freq_base", 10000); },
       "key 'llama.rope.freq_base': must be a number (f32), got a u32"},
      {"odd rope.dimension_count",
       [](gguf_writer& w) { w.kv_u32("llama.rope.dimension_count", 63); },
       "key 'llama.rope.dimension_count': must be an even rotary dimension"},
      {"zero rope.dimension_count",
       [](gguf_writer& w) { w.kv_u32("llama.rope.dimension_count", 0); }, "got 0"},
      {"rope.dimension_count > head dim",
       [](gguf_writer& w) { w.kv_u32("llama.rope.dimension_count", 256); },
       "must be <= the head dimension 128, got 256"},
      {"absurd rope.dimension_count",
       [](gguf_writer& w) { w.kv_u32("llama.rope.dimension_count", 4000000000u); },
       "must be an even rotary dimension in [2, 65536], got 4000000000"},
      {"unknown rope.scaling.type",
       [](gguf_writer& w) { w.kv_str("llama.rope.scaling.type", "dynamic"); },
       "must be one of none, linear, yarn, longrope, got 'dynamic'"},
      {"negative factor", [](gguf_writer& w) { w.kv_f32("llama.rope.scaling.factor", -2.0f); },
       "key 'llama.rope.scaling.factor': must be a finite number >= 0"},
      {"attn_factor 0", [](gguf_writer& w) { w.kv_f32("llama.rope.scaling.attn_factor", 0.0f); },
       "key 'llama.rope.scaling.attn_factor': must be a finite number > 0, got 0"},
      {"rope_freqs of the wrong length",
       [](gguf_writer& w) { w.tensor_f32("rope_freqs.weight", std::vector<float>(63, 1.0f)); },
       "tensor 'rope_freqs.weight': must hold rope.dimension_count / 2 = 64 values, got [63]"},
      {"rope_freqs stored as F16",
       [](gguf_writer& w) {
         w.tensor_raw("rope_freqs.weight", gguf_writer::ggml_f16, {64},
                      std::vector<unsigned char>(128, 0x3c));
       },
       "tensor 'rope_freqs.weight': must have type F32, got F16"},
      {"rope_freqs with a negative divisor",
       [](gguf_writer& w) {
         std::vector<float> v(64, 1.0f);
         v[5] = -1.0f;
         w.tensor_f32("rope_freqs.weight", v);
       },
       "tensor 'rope_freqs.weight'[5]: must be a finite number > 0, got -1"},
      // Positive but tiny factors make inv_freq overflow (1/s): every table entry must stay in
      // (0, 2^32], as for a config.json, and the key named is the one that pushed it out.
      {"rope.scale_linear tiny",
       [](gguf_writer& w) { w.kv_f32("llama.rope.scale_linear", 1e-30f); },
       "key 'llama.rope.scale_linear': must give every inv_freq entry in (0, 2^32]"},
      {"rope.scaling.factor tiny with rope_freqs",
       [](gguf_writer& w) {
         w.kv_f32("llama.rope.scaling.factor", 1e-30f);
         w.tensor_f32("rope_freqs.weight", std::vector<float>(64, 1.0f));
       },
       "key 'llama.rope.scaling.factor': must give every inv_freq entry in (0, 2^32]"},
      {"rope_freqs with a tiny divisor",
       [](gguf_writer& w) {
         std::vector<float> v(64, 1.0f);
         v[7] = 1e-30f;
         w.tensor_f32("rope_freqs.weight", v);
       },
       "tensor 'rope_freqs.weight'[7]: must give every inv_freq entry in (0, 2^32]"},
      {"LongRoPE long factor tiny",
       [](gguf_writer& w) {
         std::vector<float> v(64, 2.0f);
         v[3] = 1e-30f;
         w.tensor_f32("rope_factors_long.weight", v);
         w.tensor_f32("rope_factors_short.weight", std::vector<float>(64, 1.0f));
       },
       "tensor 'rope_factors_long.weight'[3]: must give every inv_freq entry in (0, 2^32]"},
      {"LongRoPE long factors without short",
       [](gguf_writer& w) {
         w.tensor_f32("rope_factors_long.weight", std::vector<float>(64, 2.0f));
       },
       "tensor 'rope_factors_short.weight': must be present with its LongRoPE twin"},
  };
  for (const bad& b : cases) {
    SCOPED_TRACE(b.what);
    gguf_writer w = model("llama", 4096, 32, 4096);
    b.keys(w);
    std::string msg;
    try {
      (void)load(w);
    } catch (const ropescale::invalid_parameter& e) {
      msg = e.what();
    }
    ASSERT_FALSE(msg.empty()) << "accepted";
    EXPECT_NE(msg.find(b.expect), std::string::npos) << msg;
    EXPECT_NE(msg.find("(m.gguf)"), std::string::npos) << msg;
    support::rows_out().push_back({std::string("GGUF: ") + b.what, "rejected", msg});
  }
  // Structural keys.
  const auto reject = [](const gguf_writer& w, const char* expect) {
    std::string msg;
    try {
      (void)load(w);
    } catch (const ropescale::invalid_parameter& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find(expect), std::string::npos) << msg;
    support::rows_out().push_back({std::string("GGUF: ") + expect, "rejected", msg});
  };
  reject(model("llama", 4096, 0, 4096), "key 'llama.attention.head_count': must be >= 1, got 0");
  gguf_writer no_arch;
  no_arch.kv_u32("llama.context_length", 4096);
  reject(no_arch, "key 'general.architecture': must be present");
  gguf_writer no_ctx;
  no_ctx.kv_str("general.architecture", "llama");
  reject(no_ctx, "key 'llama.context_length': must be present");
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new support::table_writer("gguf_loader.md"));
  return RUN_ALL_TESTS();
}

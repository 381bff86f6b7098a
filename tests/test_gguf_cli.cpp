// SPDX-License-Identifier: Apache-2.0
// ropescale-inspect on GGUF files and `ropescale-compare --check`, run as subprocesses:
//   - every bundled config (examples/configs, CLEX aside) and its GGUF twin, written by the
//     converter-style writer of tests/support/gguf_converter.hpp, print the same rope_type,
//     head_dim, rotary_dim, inv_freq (within f32 storage) and attention factor, and the
//     cross-check exits 0 — except gpt-oss, whose `truncate: false` GGUF cannot hold (exit 3,
//     docs/gguf.md §3 rule 6);
//   - the known divergences exit 3 with the rule that explains them;
//   - bad GGUF files give exit 1 and one "error:" line, bad --check usage exit 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/gguf_converter.hpp"
#include "support/gguf_writer.hpp"
#include "support/subprocess.hpp"

namespace {

namespace fs = std::filesystem;
using ropescale_test::gguf_twin;
using ropescale_test::gguf_writer;

const fs::path configs = fs::path(ROPESCALE_SOURCE_DIR) / "examples" / "configs";

std::string tmp(const std::string& name) {
  fs::create_directories(ROPESCALE_TEST_TMPDIR);
  return (fs::path(ROPESCALE_TEST_TMPDIR) / name).string();
}

using support::run_result;

/// Runs exe with args (tests/support/subprocess.hpp).
run_result run(const std::string& exe, const std::vector<std::string>& args) {
  return support::run_process(exe, args, tmp("gguf_cli_" + std::to_string(::getpid())));
}

run_result inspect(const std::vector<std::string>& args) {
  return run(ROPESCALE_INSPECT_EXE, args);
}
run_result compare(const std::vector<std::string>& args) {
  return run(ROPESCALE_COMPARE_EXE, args);
}

nlohmann::json read_json(const fs::path& p) {
  return nlohmann::json::parse(support::slurp(p.string()));
}

/// Writes the GGUF twin of a config (possibly edited) and the config itself; returns both paths.
std::pair<std::string, std::string> twin_files(const nlohmann::json& cfg, const std::string& stem) {
  const std::string g = tmp(stem + ".gguf"), c = tmp(stem + ".json");
  gguf_twin(cfg).write(g);
  std::ofstream(c) << cfg.dump(1);
  return {g, c};
}

void expect_same_rope(const run_result& a, const run_result& b, double tol) {
  ASSERT_EQ(a.status, 0) << a.err;
  ASSERT_EQ(b.status, 0) << b.err;
  const auto ja = nlohmann::json::parse(a.out), jb = nlohmann::json::parse(b.out);
  EXPECT_EQ(ja["rope_type"], jb["rope_type"]);
  EXPECT_EQ(ja["head_dim"], jb["head_dim"]);
  EXPECT_EQ(ja["rotary_dim"], jb["rotary_dim"]);
  EXPECT_NEAR(ja["attention_factor"].get<double>() / jb["attention_factor"].get<double>(), 1.0,
              tol);
  ASSERT_EQ(ja["inv_freq"].size(), jb["inv_freq"].size());
  for (std::size_t i = 0; i < ja["inv_freq"].size(); ++i) {
    EXPECT_NEAR(ja["inv_freq"][i].get<double>() / jb["inv_freq"][i].get<double>(), 1.0, tol) << i;
  }
  EXPECT_EQ(ja["max_position_embeddings"], jb["max_position_embeddings"]);
}

TEST(GgufCli, BundledConfigsAndTheirTwinsAgree) {
  int checked = 0;
  for (const auto& e : fs::directory_iterator(configs)) {
    const std::string name = e.path().stem().string();
    if (name.rfind("clex", 0) == 0) continue;  // CLEX has no GGUF form
    SCOPED_TRACE(name);
    const auto [g, c] = twin_files(read_json(e.path()), "twin-" + name);
    const bool gpt_oss = name.find("gpt-oss") != std::string::npos;
    if (!gpt_oss) expect_same_rope(inspect({g}), inspect({e.path().string()}), 1e-6);
    if (name.find("phi-3") != std::string::npos) {
      expect_same_rope(inspect({g, "--seq-len", "131072"}),
                       inspect({e.path().string(), "--seq-len", "131072"}), 1e-6);
    }
    const run_result r = compare({"--check", g, e.path().string()});
    if (gpt_oss) {
      EXPECT_EQ(r.status, 3) << r.out << r.err;
      EXPECT_NE(r.out.find("truncate: false has no GGUF key"), std::string::npos) << r.out;
    } else {
      EXPECT_EQ(r.status, 0) << r.out << r.err;
      EXPECT_NE(r.out.find("result: the GGUF file encodes the config's RoPE"), std::string::npos);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(GgufCli, FileTypeByMagicNotExtension) {
  const nlohmann::json cfg = read_json(configs / "llama-3.1-8b.json");
  const std::string disguised = tmp("gguf-named.json");
  gguf_twin(cfg).write(disguised);
  const run_result r = inspect({disguised});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"rope_type\": \"llama3\""), std::string::npos);
  // Arguments in either order for --check.
  EXPECT_EQ(compare({"--check", (configs / "llama-3.1-8b.json").string(), disguised}).status, 0);
}

TEST(GgufCli, Llama3WithL0OnlyInRopeScalingDiffers) {
  nlohmann::json cfg = read_json(configs / "llama-3.1-8b.json");
  cfg["rope_scaling"]["original_max_position_embeddings"] = 16384;  // top level has none
  const auto [g, c] = twin_files(cfg, "div-llama3-l0");
  const run_result r = compare({"--check", g, c});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("DIFFER"), std::string::npos);
  EXPECT_NE(r.out.find("this config's L0 is 16384 (docs/gguf.md §3 rule 1)"), std::string::npos)
      << r.out;
}

TEST(GgufCli, DeepSeekMscaleNotMscaleAllDimDiffers) {
  nlohmann::json cfg = read_json(configs / "deepseek-v3.json");
  cfg["rope_scaling"]["mscale"] = 0.707;
  cfg["rope_scaling"]["mscale_all_dim"] = 1.0;
  const auto [g, c] = twin_files(cfg, "div-deepseek-mscale");
  const run_result r = compare({"--check", g, c});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("mscale (0.707) != mscale_all_dim (1)"), std::string::npos) << r.out;
  // The bundled config (mscale == mscale_all_dim) agrees, layout included (gptj vs
  // de-interleaved is the same rotation).
  EXPECT_NE(compare({"--check", g, (configs / "deepseek-v3.json").string()}).out.find("expected"),
            std::string::npos);
}

nlohmann::json neox_config(double base) {
  return nlohmann::json{{"model_type", "gpt_neox"},  {"hidden_size", 6144},
                        {"num_attention_heads", 64}, {"max_position_embeddings", 2048},
                        {"rotary_pct", 0.25},        {"rotary_emb_base", base}};
}

TEST(GgufCli, GptNeoxBaseDiffers) {
  {
    const auto [g, c] = twin_files(neox_config(10000), "neox-10000");
    const run_result r = compare({"--check", g, c});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
  }
  const auto [g, c] = twin_files(neox_config(20000), "neox-20000");
  const run_result r = compare({"--check", g, c});
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("GPT-NeoX files never carry rope.freq_base"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rotary_dim                24"), std::string::npos) << r.out;
}

void expect_one_error_line(const run_result& r, int status, const std::string& needle) {
  EXPECT_EQ(r.status, status) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

TEST(GgufCli, BadFilesOneErrorLine) {
  const nlohmann::json cfg = read_json(configs / "llama-2-7b.json");
  const std::vector<unsigned char> good = gguf_twin(cfg).bytes();
  const auto write = [](const std::string& name, const std::vector<unsigned char>& b) {
    const std::string p = tmp(name);
    gguf_writer::write_file(p, b);
    return p;
  };
  std::vector<unsigned char> truncated(good.begin(), good.begin() + 40);
  expect_one_error_line(inspect({write("bad-trunc.gguf", truncated)}), 1, "a truncated file?");
  std::vector<unsigned char> v1 = good;
  v1[4] = 1;
  expect_one_error_line(inspect({write("bad-v1.gguf", v1)}), 1, "version: must be 2 or 3, got 1");
  gguf_writer nan_base;
  nan_base.kv_str("general.architecture", "llama");
  nan_base.kv_u32("llama.context_length", 4096);
  nan_base.kv_u32("llama.embedding_length", 4096);
  nan_base.kv_u32("llama.attention.head_count", 32);
  nan_base.kv_f32("llama.rope.freq_base", NAN);
  expect_one_error_line(inspect({write("bad-nan.gguf", nan_base.bytes())}), 1,
                        "llama.rope.freq_base': must be a finite number > 1, got nan");
  // --check usage and data errors.
  const std::string g = write("ok.gguf", good);
  expect_one_error_line(compare({"--check", g}), 2, "--check needs exactly two files, got 1");
  expect_one_error_line(compare({"--check", g, g}), 2, "exactly one of the two files");
  const std::string c = (configs / "llama-2-7b.json").string();
  expect_one_error_line(compare({"--check", c, c}), 1, "exactly one of the two files");
  expect_one_error_line(compare({"--check", g, c, "--seq-len", "0"}), 2, "--seq-len");
  expect_one_error_line(compare({"--check", write("bad-v1b.gguf", v1), c}), 2 - 1, "version");
}

}  // namespace

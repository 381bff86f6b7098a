// SPDX-License-Identifier: Apache-2.0
// Runs the ropescale-inspect CLI (examples/ropescale-inspect.cpp) as a subprocess and checks its
// contract: one JSON object on stdout with rope_type, head_dim, rotary_dim, attention_factor,
// inv_freq (rotary_dim/2 numbers) and, with --positions, cos/sin rows that include A; numbers
// round-trip exactly; --seq-len selects the S-dependent table; --angle f32 reproduces HF's binary32
// angle; bad input gives exit status 1 (data) or 2 (usage), exactly one "error:" line on stderr and
// nothing on stdout. Expected values come from long-double / binary32 formulas written here.
// The binary's path comes from ROPESCALE_INSPECT (environment) or ROPESCALE_INSPECT_EXE (set by
// examples/CMakeLists.txt); without either the tests skip visibly.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ropescale/detail/cli_args.hpp"
#include "ropescale/hf_config.hpp"
#include "support/config_reference.hpp"
#include "support/subprocess.hpp"

namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Subprocess runner (posix_spawn; stdout/stderr to files; 60 s timeout so a hang fails, not stalls)

using support::run_result;
using support::slurp;

std::string inspect_path() {
  if (const char* env = std::getenv("ROPESCALE_INSPECT"); env != nullptr && *env != '\0') {
    return env;
  }
#ifdef ROPESCALE_INSPECT_EXE
  return ROPESCALE_INSPECT_EXE;
#else
  return {};
#endif
}

std::string tmp_dir() {
  const char* env = std::getenv("ROPESCALE_TEST_TMPDIR");
  std::string dir = (env != nullptr && *env != '\0') ? env : ROPESCALE_TEST_TMPDIR;
  std::filesystem::create_directories(dir);
  return dir;
}

run_result run_inspect(const std::vector<std::string>& args) {
  return support::run_process(inspect_path(), args,
                              tmp_dir() + "/inspect_cli_" + std::to_string(::getpid()));
}

std::string config(const char* name) {
  return std::string(ROPESCALE_SOURCE_DIR) + "/examples/configs/" + name;
}

std::string write_config(const std::string& name, const std::string& text) {
  const std::string path = tmp_dir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

#define SKIP_WITHOUT_CLI()                                                                    \
  do {                                                                                        \
    if (inspect_path().empty()) GTEST_SKIP() << "ROPESCALE_INSPECT not set and no built CLI"; \
  } while (0)

/// Runs a successful invocation and parses stdout as exactly one JSON object.
json run_ok(const std::vector<std::string>& args) {
  const run_result r = run_inspect(args);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(!r.out.empty() && r.out.back() == '\n');
  EXPECT_EQ(r.out.find("nan"), std::string::npos);
  EXPECT_EQ(r.out.find("inf"), std::string::npos);
  json j;
  try {
    j = json::parse(r.out);  // throws on trailing content: one JSON value only
  } catch (const json::exception& e) {
    ADD_FAILURE() << "stdout is not one JSON value: " << e.what() << "\n" << r.out.substr(0, 400);
    return json::object();
  }
  EXPECT_TRUE(j.is_object());
  return j;
}

std::vector<double> numbers(const json& a) {
  std::vector<double> v;
  for (const auto& x : a) v.push_back(x.get<double>());
  return v;
}

// ---------------------------------------------------------------------------------------------
// Independent references: long double in tests/support/config_reference.hpp, binary32 here.

using ropescale_test::config_ref::expect_table_near;
using ropescale_test::config_ref::ref_base;
using ropescale_test::config_ref::ref_default;
using ropescale_test::config_ref::ref_llama3;
using ropescale_test::config_ref::ref_yarn;
using ropescale_test::config_ref::ref_yarn_bounds;
using ropescale_test::config_ref::yarn_bounds;
using ropescale_test::config_ref::yarn_m;

// HF binary32 tables (docs/reference.md §5.3), written independently of the library.
float f32_pow(double theta, std::int64_t i, std::int64_t d) {
  const float e = static_cast<float>(2 * i) / static_cast<float>(d);
  return static_cast<float>(
      std::pow(static_cast<long double>(static_cast<float>(theta)), static_cast<long double>(e)));
}

std::vector<float> f32_default(double theta, std::int64_t d) {
  std::vector<float> w;
  for (std::int64_t i = 0; i < d / 2; ++i) w.push_back(1.0f / f32_pow(theta, i, d));
  return w;
}

std::vector<float> f32_yarn(double theta, std::int64_t d, double s, double lo, double hi) {
  std::vector<float> w;
  const float s32 = static_cast<float>(s);
  for (std::int64_t i = 0; i < d / 2; ++i) {
    const float p = f32_pow(theta, i, d);
    const float ext = 1.0f / p;
    const float inter = 1.0f / (s32 * p);
    float r = (static_cast<float>(i) - static_cast<float>(lo)) / static_cast<float>(hi - lo);
    r = std::min(std::max(r, 0.0f), 1.0f);
    const float wgt = 1.0f - r;
    w.push_back(inter * (1.0f - wgt) + ext * wgt);
  }
  return w;
}

/// Checks cos/sin rows against A·cos(p·ω), A·sin(p·ω) in long double, |err| <= tol·max(1, A).
void expect_cos_sin(const json& j, const std::vector<std::int64_t>& positions, double tol) {
  const std::vector<double> w = numbers(j["inv_freq"]);
  const long double a = j["attention_factor"].get<double>();
  ASSERT_TRUE(j.contains("cos") && j.contains("sin"));
  ASSERT_EQ(j["cos"].size(), positions.size());
  ASSERT_EQ(j["sin"].size(), positions.size());
  double worst = 0;
  for (std::size_t k = 0; k < positions.size(); ++k) {
    ASSERT_EQ(j["cos"][k].size(), w.size());
    ASSERT_EQ(j["sin"][k].size(), w.size());
    for (std::size_t i = 0; i < w.size(); ++i) {
      const long double phi =
          static_cast<long double>(positions[k]) * static_cast<long double>(w[i]);
      const long double c = a * std::cos(phi), s = a * std::sin(phi);
      const double ec = static_cast<double>(std::fabs(j["cos"][k][i].get<double>() - c));
      const double es = static_cast<double>(std::fabs(j["sin"][k][i].get<double>() - s));
      worst = std::max({worst, ec, es});
      EXPECT_LE(ec, tol * std::max(1.0L, a)) << "p=" << positions[k] << " i=" << i;
      EXPECT_LE(es, tol * std::max(1.0L, a)) << "p=" << positions[k] << " i=" << i;
    }
  }
  std::printf("    worst |cos/sin error| = %.3g (A = %.6f)\n", worst, static_cast<double>(a));
}

const std::vector<std::int64_t> kPositions = {0, 1, 7, 4095, 65535, 131071, 1000000, 10000000};

std::string positions_arg(const std::vector<std::int64_t>& ps) {
  std::string s;
  for (auto p : ps) s += (s.empty() ? "" : ",") + std::to_string(p);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Argument parser, in process (the same function the CLI and the cli_args fuzz target call)

TEST(InspectArgs, ParsesEveryFlagInBothSpellings) {
  using ropescale::detail::cli_angle;
  using ropescale::detail::parse_inspect_args;
  auto r = parse_inspect_args(
      std::vector<std::string>{"c.json", "--seq-len", "8192", "--positions=0,1,9007199254740991",
                               "--angle", "f32", "--weights=w.safetensors"});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.config, "c.json");
  EXPECT_EQ(r.args.seq_len, 8192);
  ASSERT_TRUE(r.args.positions.has_value());
  EXPECT_EQ(*r.args.positions, (std::vector<std::int64_t>{0, 1, 9007199254740991}));
  EXPECT_EQ(r.args.angle, cli_angle::f32);
  EXPECT_EQ(r.args.weights, "w.safetensors");
  r = parse_inspect_args(std::vector<std::string>{"--seq-len=9007199254740992", "--", "-odd.json"});
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.args.config, "-odd.json");
  EXPECT_EQ(r.args.seq_len, std::int64_t{1} << 53);
  EXPECT_EQ(r.args.angle, cli_angle::f64);
  EXPECT_FALSE(r.args.positions.has_value());
}

TEST(InspectArgs, RejectsWithOneLineMessages) {
  using ropescale::detail::parse_inspect_args;
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"a.json", "b.json"},
      {"a.json", "--seq-len"},
      {"a.json", "--seq-len", "0"},
      {"a.json", "--seq-len", "+5"},
      {"a.json", "--positions", ","},
      {"a.json", "--positions", "1\n2"},
      {"a.json", "--angle", "F32"},
      {"a.json", "--bogus=1"},
      {"a.json", std::string("--seq-len=\n\x01", 12)},
      {""},
  };
  for (const auto& args : bad) {
    const auto r = parse_inspect_args(args);
    EXPECT_NE(r.error, "") << args.size();
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
  }
  std::string many = "0";
  for (int k = 0; k < 10000; ++k) many += ",1";
  EXPECT_NE(parse_inspect_args(std::vector<std::string>{"a.json", "--positions", many}).error, "");
}

// ---------------------------------------------------------------------------------------------
// JSON contract

TEST(InspectCli, ContractOnEveryBundledConfig) {
  SKIP_WITHOUT_CLI();
  struct row {
    const char* file;
    const char* type;
    std::int64_t head_dim, rotary_dim;
    const char* layout;  // DeepSeek-V3's HF class rotates de-interleaved, every other NeoX
  };
  for (const row& r : {row{"llama-2-7b.json", "default", 128, 128, "neox"},
                       row{"llama-3.1-8b.json", "llama3", 128, 128, "neox"},
                       row{"qwen2.5-7b-instruct-yarn.json", "yarn", 128, 128, "neox"},
                       row{"deepseek-v3.json", "yarn", 64, 64, "deinterleaved"},
                       row{"phi-3-mini-128k-instruct.json", "longrope", 96, 96, "neox"},
                       row{"gpt-oss-20b.json", "yarn", 64, 64, "neox"}}) {
    SCOPED_TRACE(r.file);
    const json j = run_ok({config(r.file), "--positions", positions_arg(kPositions)});
    ASSERT_TRUE(j.contains("rope_type") && j["rope_type"].is_string());
    EXPECT_EQ(j["rope_type"], r.type);
    ASSERT_TRUE(j["head_dim"].is_number_integer());
    EXPECT_EQ(j["head_dim"], r.head_dim);
    ASSERT_TRUE(j["rotary_dim"].is_number_integer());
    EXPECT_EQ(j["rotary_dim"], r.rotary_dim);
    ASSERT_TRUE(j["attention_factor"].is_number());
    ASSERT_TRUE(j["inv_freq"].is_array());
    EXPECT_EQ(j["inv_freq"].size(), static_cast<std::size_t>(r.rotary_dim / 2));
    EXPECT_EQ(j["layout"], r.layout);
    // Numbers round-trip: the printed table equals the library's double table bit for bit.
    const auto lib = ropescale::load_hf_config_file(config(r.file));
    EXPECT_EQ(numbers(j["inv_freq"]), lib.method.inv_freq());
    EXPECT_EQ(j["attention_factor"].get<double>(), lib.method.attention_factor());
    expect_cos_sin(j, kPositions, 2e-7);
  }
}

TEST(InspectCli, NoCosSinWithoutPositions) {
  SKIP_WITHOUT_CLI();
  const json j = run_ok({config("llama-2-7b.json")});
  EXPECT_FALSE(j.contains("cos"));
  EXPECT_FALSE(j.contains("sin"));
}

TEST(InspectCli, DefaultTableMatchesLongDouble) {
  SKIP_WITHOUT_CLI();
  const json j = run_ok({config("llama-2-7b.json")});
  expect_table_near(numbers(j["inv_freq"]), ref_default(10000.0L, 128), 4e-16L);
  EXPECT_EQ(j["attention_factor"].get<double>(), 1.0);
}

TEST(InspectCli, Llama3TableMatchesLongDouble) {
  SKIP_WITHOUT_CLI();
  const json j = run_ok({config("llama-3.1-8b.json")});
  expect_table_near(numbers(j["inv_freq"]), ref_llama3(500000.0L, 128, 8, 1, 4, 8192), 1e-15L);
}

TEST(InspectCli, YarnTablesMatchLongDouble) {
  SKIP_WITHOUT_CLI();
  json j = run_ok({config("qwen2.5-7b-instruct-yarn.json")});
  expect_table_near(numbers(j["inv_freq"]), ref_yarn(1e6L, 128, 4, 32768, 32, 1, true), 1e-14L);
  EXPECT_NEAR(j["attention_factor"].get<double>(), static_cast<double>(yarn_m(4, 1)), 1e-15);
  j = run_ok({config("gpt-oss-20b.json")});
  expect_table_near(numbers(j["inv_freq"]), ref_yarn(150000.0L, 64, 32, 4096, 32, 1, false),
                    1e-13L);
  EXPECT_NEAR(j["attention_factor"].get<double>(), static_cast<double>(yarn_m(32, 1)), 1e-15);
  j = run_ok({config("deepseek-v3.json")});
  expect_table_near(numbers(j["inv_freq"]), ref_yarn(10000.0L, 64, 40, 4096, 32, 1, true), 1e-14L);
  EXPECT_NEAR(j["attention_factor"].get<double>(), 1.0, 1e-15);
  EXPECT_NEAR(j["softmax_scale_multiplier"].get<double>(),
              static_cast<double>(yarn_m(40, 1) * yarn_m(40, 1)), 1e-14);
}

TEST(InspectCli, ProportionalAndNtkViaTempConfigs) {
  SKIP_WITHOUT_CLI();
  const std::string prop = write_config(
      "inspect_proportional.json",
      R"({"head_dim": 64, "rope_parameters": {"full_attention": {"rope_type": "proportional",
          "partial_rotary_factor": 0.25, "factor": 2}, "sliding_attention": {}}})");
  json j = run_ok({prop, "--positions", "3,100000"});
  EXPECT_EQ(j["rope_type"], "proportional");
  EXPECT_EQ(j["rotary_dim"], 64);
  const auto w = numbers(j["inv_freq"]);
  ASSERT_EQ(w.size(), 32u);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (i < 8) {
      EXPECT_NEAR(w[i],
                  static_cast<double>(ref_base(10000.0L, static_cast<std::int64_t>(i), 64) / 2),
                  1e-15 * w[i]);
    } else {
      EXPECT_EQ(w[i], 0.0);
    }
  }
  expect_cos_sin(j, {3, 100000}, 2e-7);
  const std::string ntk = write_config(
      "inspect_ntk.json", R"({"head_dim": 64, "rope_scaling": {"rope_type": "ntk", "factor": 4}})");
  j = run_ok({ntk, "--positions", "5,70000"});
  std::vector<long double> want;
  for (std::int64_t i = 0; i < 32; ++i) {
    want.push_back(ref_base(10000.0L, i, 64) * std::pow(4.0L, -2.0L * i / 62.0L));
  }
  expect_table_near(numbers(j["inv_freq"]), want, 1e-15L);
  expect_cos_sin(j, {5, 70000}, 2e-7);
}

// ---------------------------------------------------------------------------------------------
// --angle f32

TEST(InspectCli, F32AngleMatchesIndependentBinary32Recomputation) {
  SKIP_WITHOUT_CLI();
  struct row {
    const char* file;
    std::vector<float> w32;
  };
  const yarn_bounds qb = ref_yarn_bounds(1e6L, 128, 32768, 32, 1, true);
  const std::vector<row> rows = {
      {"llama-2-7b.json", f32_default(10000.0, 128)},
      {"qwen2.5-7b-instruct-yarn.json",
       f32_yarn(1e6, 128, 4.0, static_cast<double>(qb.lo), static_cast<double>(qb.hi))}};
  for (const row& r : rows) {
    SCOPED_TRACE(r.file);
    const json j =
        run_ok({config(r.file), "--angle", "f32", "--positions", positions_arg(kPositions)});
    const json j64 = run_ok({config(r.file), "--positions", positions_arg(kPositions)});
    EXPECT_EQ(j["inv_freq"], j64["inv_freq"]);  // inv_freq is the double table in both modes
    const float a32 = static_cast<float>(j["attention_factor"].get<double>());
    double max_mode_gap = 0;
    for (std::size_t k = 0; k < kPositions.size(); ++k) {
      for (std::size_t i = 0; i < r.w32.size(); ++i) {
        const float angle = static_cast<float>(kPositions[k]) * r.w32[i];
        const float c = static_cast<float>(std::cos(static_cast<long double>(angle))) * a32;
        const float s = static_cast<float>(std::sin(static_cast<long double>(angle))) * a32;
        EXPECT_NEAR(j["cos"][k][i].get<double>(), c, 2.5e-7 * std::max(1.0f, a32))
            << "p=" << kPositions[k] << " i=" << i;
        EXPECT_NEAR(j["sin"][k][i].get<double>(), s, 2.5e-7 * std::max(1.0f, a32))
            << "p=" << kPositions[k] << " i=" << i;
        max_mode_gap = std::max(
            max_mode_gap, std::fabs(j["cos"][k][i].get<double>() - j64["cos"][k][i].get<double>()));
      }
    }
    // At p = 1e6 HF's binary32 angle is off by ~1e-2 (docs/reference.md §5.1): the modes must
    // differ.
    EXPECT_GT(max_mode_gap, 1e-4);
  }
}

// ---------------------------------------------------------------------------------------------
// --seq-len

TEST(InspectCli, SeqLenDynamic) {
  SKIP_WITHOUT_CLI();
  const std::string path =
      write_config("inspect_dynamic.json",
                   R"({"head_dim": 64, "max_position_embeddings": 4096, "rope_theta": 10000,
          "rope_scaling": {"rope_type": "dynamic", "factor": 2}})");
  const auto def = ref_default(10000.0L, 64);
  expect_table_near(numbers(run_ok({path})["inv_freq"]), def, 4e-16L);
  expect_table_near(numbers(run_ok({path, "--seq-len", "4096"})["inv_freq"]), def, 4e-16L);
  // S = 2L: θ' = θ·(s·2 − (s − 1))^(d/(d−2)) = θ·3^(64/62).
  std::vector<long double> want;
  for (std::int64_t i = 0; i < 32; ++i) {
    want.push_back(ref_base(10000.0L, i, 64) * std::pow(3.0L, -2.0L * i / 62.0L));
  }
  const json j = run_ok({path, "--seq-len=8192", "--positions", "8191"});
  expect_table_near(numbers(j["inv_freq"]), want, 1e-15L);
  EXPECT_EQ(j["seq_len"], 8192);
  expect_cos_sin(j, {8191}, 2e-7);
}

TEST(InspectCli, SeqLenLongropeSwitchesAtL0) {
  SKIP_WITHOUT_CLI();
  const auto lib = ropescale::load_hf_config_file(config("phi-3-mini-128k-instruct.json"));
  const auto& p = lib.method.get_if<ropescale::longrope<double>>()->params();
  auto want = [&](const std::vector<double>& ext) {
    std::vector<long double> w;
    for (std::int64_t i = 0; i < 48; ++i) {
      w.push_back(ref_base(10000.0L, i, 96) /
                  static_cast<long double>(ext[static_cast<std::size_t>(i)]));
    }
    return w;
  };
  const long double a = std::sqrt(1 + std::log(32.0L) / std::log(4096.0L));
  const std::string cfg = config("phi-3-mini-128k-instruct.json");
  for (const auto& [args, ext] :
       std::vector<std::pair<std::vector<std::string>, const std::vector<double>*>>{
           {{cfg}, &p.short_factor},
           {{cfg, "--seq-len", "4096"}, &p.short_factor},
           {{cfg, "--seq-len", "4097"}, &p.long_factor},
           {{cfg, "--seq-len", "131072"}, &p.long_factor}}) {
    const json j = run_ok(args);
    expect_table_near(numbers(j["inv_freq"]), want(*ext), 1e-15L);
    EXPECT_NEAR(j["attention_factor"].get<double>(), static_cast<double>(a), 1e-15);
  }
}

TEST(InspectCli, SeqLenIgnoredByStaticYarn) {
  SKIP_WITHOUT_CLI();
  const std::string cfg = config("gpt-oss-20b.json");
  EXPECT_EQ(run_ok({cfg})["inv_freq"], run_ok({cfg, "--seq-len", "131072"})["inv_freq"]);
}

TEST(InspectCli, WeightsIgnoredForClosedFormTypes) {
  SKIP_WITHOUT_CLI();
  // An existing checkpoint path (file or directory) is accepted and ignored by closed-form types;
  // the loader's diagnostic says so.
  const std::string weights = write_config("inspect_dummy.safetensors", "not read");
  for (const std::string& w : {weights, tmp_dir()}) {
    const json j = run_ok({config("llama-2-7b.json"), "--weights", w});
    bool noted = false;
    for (const auto& d : j["diagnostics"])
      noted = noted || d.get<std::string>().find("weights") != std::string::npos;
    EXPECT_TRUE(noted) << j["diagnostics"].dump();
  }
}

TEST(InspectCli, HelpGoesToStdout) {
  SKIP_WITHOUT_CLI();
  const run_result r = run_inspect({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: ropescale-inspect"), std::string::npos);
  EXPECT_EQ(r.err, "");
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 1 (data) or 2 (usage), one "error:" line naming the problem, empty stdout.

TEST(InspectCli, BadInputTable) {
  SKIP_WITHOUT_CLI();
  const std::string good = config("llama-2-7b.json");
  const std::string dir = tmp_dir();
  const std::string empty = write_config("inspect_empty.json", "");
  const std::string malformed = write_config("inspect_malformed.json", "{\"head_dim\": 64,,}");
  const std::string array = write_config("inspect_array.json", "[1, 2, 3]");
  const std::string wrong_type = write_config("inspect_wrong_type.json", R"({"head_dim": "128"})");
  const std::string bad_factor =
      write_config("inspect_bad_factor.json",
                   R"({"head_dim": 64, "rope_scaling": {"rope_type": "linear", "factor": 0.25}})");
  const std::string missing_key =
      write_config("inspect_missing_key.json",
                   R"({"head_dim": 64, "max_position_embeddings": 131072,
          "rope_scaling": {"rope_type": "llama3", "factor": 8, "high_freq_factor": 4}})");
  const std::string unknown_type = write_config(
      "inspect_unknown_type.json", R"({"head_dim": 64, "rope_scaling": {"rope_type": "xpos"}})");
  const std::string clex = write_config(
      "inspect_clex.json",
      R"({"head_dim": 64, "max_position_embeddings": 4096, "rope_scaling": {"rope_type": "clex", "max_factor": 16}})");
  const std::string huge_a = write_config("inspect_huge_a.json",
                                          R"({"head_dim": 64, "max_position_embeddings": 4096,
          "rope_scaling": {"rope_type": "yarn", "factor": 2, "attention_factor": 1e300}})");
  const std::string odd =
      write_config("inspect_odd.json", R"({"head_dim": 64, "partial_rotary_factor": 0.3})");
  struct row {
    std::vector<std::string> args;
    int status;
    std::string needle;
  };
  const std::vector<row> rows = {
      {{}, 2, "missing CONFIG"},
      {{good, good}, 2, "extra argument"},
      {{good, "--frobnicate"}, 2, "--frobnicate"},
      {{good, "-x"}, 2, "-x"},
      {{good, "--seq-len"}, 2, "--seq-len needs a value"},
      {{good, "--seq-len", "0"}, 2, "--seq-len"},
      {{good, "--seq-len", "-5"}, 2, "--seq-len"},
      {{good, "--seq-len", "1.5"}, 2, "'1.5'"},
      {{good, "--seq-len", "abc"}, 2, "'abc'"},
      {{good, "--seq-len", ""}, 2, "--seq-len"},
      {{good, "--seq-len", "99999999999999999999999"}, 2, "--seq-len"},
      {{good, "--seq-len", "9007199254740993"}, 2, "--seq-len"},
      {{good, "--seq-len", " 5"}, 2, "--seq-len"},
      {{good, "--seq-len", "5", "--seq-len", "6"}, 2, "--seq-len given twice"},
      {{good, "--seq-len=5", "--seq-len=5"}, 2, "twice"},
      {{good, "--positions", ""}, 2, "--positions"},
      {{good, "--positions", "1,,2"}, 2, "--positions"},
      {{good, "--positions", "1,2,"}, 2, "--positions"},
      {{good, "--positions", "-1"}, 2, "--positions"},
      {{good, "--positions", "1.5"}, 2, "--positions"},
      {{good, "--positions", "a"}, 2, "--positions"},
      {{good, "--positions", "9007199254740992"}, 2, "--positions"},
      {{good, "--positions", "1", "--positions", "2"}, 2, "--positions given twice"},
      {{good, "--angle", "f16"}, 2, "--angle"},
      {{good, "--angle", "f32", "--angle", "f64"}, 2, "--angle given twice"},
      {{good, "--weights", "a", "--weights", "b"}, 2, "--weights given twice"},
      {{good, "--weights="}, 2, "--weights"},
      {{dir + "/does-not-exist.json"}, 1, "does-not-exist.json"},
      {{dir}, 1, "not a regular file"},
      {{empty}, 1, "malformed JSON"},
      {{malformed}, 1, "line 1, column"},
      {{array}, 1, "must be a JSON object"},
      {{wrong_type}, 1, "head_dim"},
      {{bad_factor}, 1, "rope_scaling.factor"},
      {{missing_key}, 1, "requires key 'low_freq_factor'"},
      {{unknown_type}, 1, "\"xpos\""},
      {{clex}, 1, "weights"},
      {{odd}, 1, "partial_rotary_factor"},
      {{huge_a, "--positions", "0,1"}, 1, "not finite"},  // A·cos overflows float: no inf token
      {{good, "--weights", dir + "/missing.safetensors"}, 1, "missing.safetensors"},
  };
  for (const row& r : rows) {
    std::string label;
    for (const auto& a : r.args) label += "[" + a + "] ";
    SCOPED_TRACE(label);
    const run_result res = run_inspect(r.args);
    EXPECT_EQ(res.status, r.status) << res.err;
    EXPECT_EQ(res.out, "");
    EXPECT_EQ(res.err.rfind("error: ", 0), 0u) << res.err;
    EXPECT_EQ(std::count(res.err.begin(), res.err.end(), '\n'), 1) << res.err;
    EXPECT_EQ(res.err.find("error:", 1), std::string::npos) << res.err;
    EXPECT_NE(res.err.find(r.needle), std::string::npos) << res.err << " / " << r.needle;
  }
}

}  // namespace

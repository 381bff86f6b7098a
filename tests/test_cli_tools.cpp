// SPDX-License-Identifier: Apache-2.0
// Runs the three command-line tools (ropescale-inspect, ropescale-compare, clex-make-weights) as
// subprocesses and checks what every tool promises: --help (and -h) prints a usage page on stdout
// with every flag, the exit statuses and an example, and exits 0 with nothing on stderr; bad
// arguments give exit 2, nothing on stdout and exactly one "error:" line; ropescale-compare on a
// CLEX config without --weights reports the other methods and skips CLEX with a note naming its
// own --weights flag (no message names another tool). Binary paths are baked in by
// examples/CMakeLists.txt; without them the tests skip visibly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace {

using support::run_result;

run_result run_process(const std::string& exe, const std::vector<std::string>& args) {
  const char* env = std::getenv("ROPESCALE_TEST_TMPDIR");
  const std::string dir = (env != nullptr && *env != '\0') ? env : ROPESCALE_TEST_TMPDIR;
  std::filesystem::create_directories(dir);
  return support::run_process(exe, args, dir + "/cli_tools_" + std::to_string(::getpid()));
}

struct tool {
  const char* name;
  const char* path;
  std::vector<const char*> flags;  // every flag the page must document
};

std::vector<tool> tools() {
  std::vector<tool> t;
#ifdef ROPESCALE_INSPECT_EXE
  t.push_back({"ropescale-inspect",
               ROPESCALE_INSPECT_EXE,
               {"--seq-len", "--weights", "--positions", "--angle", "--help"}});
#endif
#ifdef ROPESCALE_COMPARE_EXE
  t.push_back({"ropescale-compare",
               ROPESCALE_COMPARE_EXE,
               {"--context", "--methods", "--weights", "--svg", "--json", "--markdown",
                "--all-pairs", "--help"}});
#endif
#ifdef ROPESCALE_CLEX_MAKE_WEIGHTS_EXE
  t.push_back({"clex-make-weights",
               ROPESCALE_CLEX_MAKE_WEIGHTS_EXE,
               {"--head-dim", "--param-factor", "--seed", "--inv-freq", "--help"}});
#endif
  return t;
}

std::string config(const char* name) {
  return std::string(ROPESCALE_SOURCE_DIR) + "/examples/configs/" + name;
}

std::size_t count_lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

TEST(CliTools, HelpPageOnStdout) {
  const auto all = tools();
  if (all.size() != 3) GTEST_SKIP() << "tool paths not baked in (examples not built)";
  for (const tool& t : all) {
    for (const char* flag : {"--help", "-h"}) {
      SCOPED_TRACE(std::string(t.name) + " " + flag);
      const run_result r = run_process(t.path, {flag});
      EXPECT_EQ(r.status, 0);
      EXPECT_EQ(r.err, "");
      EXPECT_EQ(r.out.rfind(std::string("usage: ") + t.name + " ", 0), 0u) << r.out;
      for (const char* f : t.flags) EXPECT_NE(r.out.find(f), std::string::npos) << f;
      EXPECT_NE(r.out.find("Exit status: 0 "), std::string::npos);
      EXPECT_NE(r.out.find("\nExample:\n  " + std::string(t.name) + " "), std::string::npos);
      EXPECT_GE(count_lines(r.out), 10u);
    }
  }
}

TEST(CliTools, BadArgumentsGiveOneErrorLine) {
  const auto all = tools();
  if (all.size() != 3) GTEST_SKIP() << "tool paths not baked in (examples not built)";
  for (const tool& t : all) {
    for (const std::vector<std::string>& bad :
         {std::vector<std::string>{"--frobnicate"}, std::vector<std::string>{},
          std::vector<std::string>{"x.json", "--bogus\x1b[2J"}}) {
      SCOPED_TRACE(std::string(t.name) + " " + (bad.empty() ? "(no arguments)" : bad.back()));
      const run_result r = run_process(t.path, bad);
      EXPECT_EQ(r.status, 2);
      EXPECT_EQ(r.out, "");
      EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
      EXPECT_EQ(count_lines(r.err), 1u) << r.err;
      EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << "control bytes must be escaped";
    }
  }
}

#ifdef ROPESCALE_COMPARE_EXE
// A CLEX config without its checkpoint: every closed-form method is still compared on the
// config's base RoPE (θ = 10000, d = 128, L = 4096 for CLEX-LLaMA-2-7B-64K), CLEX is skipped
// with a note naming ropescale-compare's own flag.
TEST(CliTools, CompareSkipsClexWithoutWeights) {
  const std::string cfg = config("clex-llama-2-7b-64k.json");
  run_result r = run_process(ROPESCALE_COMPARE_EXE, {cfg, "--context", "16384"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("rope_type clex, theta 10000, head_dim 128, rotary_dim 128 (64 pairs), "
                       "original context L = 4096"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\npi "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nyarn "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("note: clex skipped: clex needs the checkpoint's ODE weights (--weights "
                       "FILE.safetensors or model.safetensors.index.json)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("ropescale-inspect"), std::string::npos);
  // Asking for clex explicitly is a usage error naming the missing flag.
  r = run_process(ROPESCALE_COMPARE_EXE, {cfg, "--context", "16384", "--methods", "clex,pi"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "error: --methods: clex needs the checkpoint's ODE weights (--weights "
            "FILE.safetensors or model.safetensors.index.json)\n");
}
#endif

#ifdef ROPESCALE_INSPECT_EXE
TEST(CliTools, InspectClexWithoutWeightsNamesTheFlag) {
  const run_result r = run_process(ROPESCALE_INSPECT_EXE, {config("clex-llama-2-7b-64k.json")});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "error: weights: type 'clex' needs the checkpoint's ODE weights "
            "(load_options::weights; --weights FILE.safetensors on the command line), got none\n");
}
#endif

}  // namespace

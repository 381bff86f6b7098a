// SPDX-License-Identifier: Apache-2.0
// Replays every fuzz input kept in the repository through the same entry functions the libFuzzer
// binaries call (tests/fuzz/fuzz_<target>.hpp), in every ordinary build, sanitized or not:
//   tests/fuzz/regressions/<target>/  inputs that once crashed, hung or broke an invariant;
//   tests/fuzz/corpus/<target>/       the crafted seeds (and examples/configs for config).
// A replayed input must return normally: the entry functions swallow std::invalid_argument (the
// documented rejection) and abort on a violated invariant. Inputs of bugs not fixed yet sit in
// tests/fuzz/pending/<target>/ and are listed as skipped, not run (see tests/fuzz/README.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// cli_args.hpp first on purpose: its enum once shadowed ropescale::angle_mode inside
// cos_sin_table.hpp when included before it (now ropescale::detail::cli_angle).
#include "fuzz/fuzz_apply_args.hpp"
#include "fuzz/fuzz_cli_args.hpp"
#include "fuzz/fuzz_config.hpp"
#include "fuzz/fuzz_gguf.hpp"
#include "fuzz/fuzz_safetensors.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path fuzz_dir = fs::path(ROPESCALE_SOURCE_DIR) / "tests" / "fuzz";

// Name of the input being replayed, printed if an invariant check aborts the process.
char current_input[4096] = "";

extern "C" void report_abort(int sig) {
  const char prefix[] = "\ntest_fuzz_regressions: aborted while replaying ";
  (void)!::write(2, prefix, sizeof prefix - 1);
  (void)!::write(2, current_input, std::strlen(current_input));
  (void)!::write(2, "\n", 1);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string()[0] != '.') out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

using entry_fn = int (*)(const std::uint8_t*, std::size_t);

// Replays every file of `dirs`; returns how many ran.
std::size_t replay(entry_fn entry, const std::vector<fs::path>& dirs) {
  std::signal(SIGABRT, report_abort);
  std::size_t count = 0;
  for (const fs::path& dir : dirs) {
    for (const fs::path& file : files_in(dir)) {
      SCOPED_TRACE(file.string());
      std::snprintf(current_input, sizeof current_input, "%s", file.c_str());
      const std::vector<std::uint8_t> bytes = read_all(file);
      try {
        EXPECT_EQ(entry(bytes.data(), bytes.size()), 0);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "escaped exception: " << e.what();
      } catch (...) {
        ADD_FAILURE() << "escaped non-std exception";
      }
      ++count;
    }
  }
  current_input[0] = '\0';
  return count;
}

void replay_target(entry_fn entry, const std::string& target, std::vector<fs::path> extra = {}) {
  std::vector<fs::path> dirs = {fuzz_dir / "regressions" / target, fuzz_dir / "corpus" / target};
  dirs.insert(dirs.end(), extra.begin(), extra.end());
  const std::size_t n = replay(entry, dirs);
  std::printf("[ replayed ] %zu %s inputs\n", n, target.c_str());
  EXPECT_GT(n, 0u) << "no inputs found for " << target;
  const auto pending = files_in(fuzz_dir / "pending" / target);
  if (!pending.empty()) {
    std::string names;
    for (const auto& p : pending) names += "\n  " + p.filename().string();
    std::printf("[ pending  ] %zu known-bug inputs not replayed:%s\n", pending.size(),
                names.c_str());
  }
}

TEST(FuzzRegressions, Config) {
  replay_target(ropescale_fuzz::run_config, "config",
                {fs::path(ROPESCALE_SOURCE_DIR) / "examples" / "configs"});
}

TEST(FuzzRegressions, CliArgs) { replay_target(ropescale_fuzz::run_cli_args, "cli_args"); }

TEST(FuzzRegressions, ApplyArgs) { replay_target(ropescale_fuzz::run_apply_args, "apply_args"); }

TEST(FuzzRegressions, Safetensors) {
  replay_target(ropescale_fuzz::run_safetensors, "safetensors");
}

TEST(FuzzRegressions, Gguf) { replay_target(ropescale_fuzz::run_gguf, "gguf"); }

}  // namespace

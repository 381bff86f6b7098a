// SPDX-License-Identifier: Apache-2.0
// Tests for isa.hpp / detail/cpu_features.hpp: the detected best ISA agrees with an independent
// reading of the CPU flags (/proc/cpuinfo on Linux), set_isa() and the isa argument work, a
// missing ISA throws, ROPESCALE_ISA is honoured and a bad value warns once and falls back
// (checked in child processes, since it is read once per process), and concurrent readers/writers
// of the active ISA are race-free (TSan leg).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/config.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/types.hpp"

namespace {

using ropescale::isa;

const isa kAll[] = {isa::scalar, isa::avx2, isa::avx512, isa::avx512bf16, isa::neon};

/// CPU flags from /proc/cpuinfo ("flags" on x86, "Features" on AArch64); empty if unreadable.
std::set<std::string> proc_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      std::string w;
      while (words >> w) flags.insert(w);
      break;
    }
  }
  return flags;
}

TEST(Isa, NamesRoundTrip) {
  for (isa i : kAll) {
    const auto parsed = ropescale::parse_isa(ropescale::name(i));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, i);
  }
  EXPECT_FALSE(ropescale::parse_isa("sse2").has_value());
  EXPECT_FALSE(ropescale::parse_isa("").has_value());
  EXPECT_FALSE(ropescale::parse_isa("AVX2").has_value());
}

TEST(Isa, ScalarAlwaysAvailable) { EXPECT_TRUE(ropescale::available(isa::scalar)); }

TEST(Isa, BestIsaMatchesProcCpuinfo) {
  const auto flags = proc_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "/proc/cpuinfo not readable";
  auto has = [&](const char* f) { return flags.count(f) != 0; };
  isa expected = isa::scalar;
#if ROPESCALE_DISABLE_SIMD
  (void)has;
#elif ROPESCALE_ARCH_X86_64
  const bool avx2 = has("avx") && has("avx2") && has("fma") && has("f16c");
  const bool avx512 = avx2 && has("avx512f") && has("avx512bw") && has("avx512vl");
  const bool avx512bf16 = avx512 && has("avx512dq") && has("avx512_bf16");
  expected =
      avx512bf16 ? isa::avx512bf16 : (avx512 ? isa::avx512 : (avx2 ? isa::avx2 : isa::scalar));
  EXPECT_EQ(ropescale::available(isa::avx2), avx2);
  EXPECT_EQ(ropescale::available(isa::avx512), avx512);
  EXPECT_EQ(ropescale::available(isa::avx512bf16), avx512bf16);
  EXPECT_FALSE(ropescale::available(isa::neon));
#elif ROPESCALE_ARCH_AARCH64
  expected = isa::neon;
  EXPECT_TRUE(has("asimd"));
#endif
  EXPECT_EQ(ropescale::best_isa(), expected);
  std::string list;
  for (isa i : kAll)
    list += std::string(" ") + ropescale::name(i) + (ropescale::available(i) ? "=run" : "=skip");
  std::printf("[ ropescale ] best ISA %s; ISAs:%s\n", ropescale::name(ropescale::best_isa()),
              list.c_str());
}

TEST(Isa, SetIsaSwitchesAndRejectsMissing) {
  if (std::getenv("ROPESCALE_ISA") != nullptr) GTEST_SKIP() << "ROPESCALE_ISA set";
  EXPECT_EQ(ropescale::active_isa(), ropescale::best_isa());
  for (isa i : kAll) {
    if (ropescale::available(i)) {
      ropescale::set_isa(i);
      EXPECT_EQ(ropescale::active_isa(), i);
      EXPECT_EQ(ropescale::resolve_isa(std::nullopt), i);
    } else {
      const isa before = ropescale::active_isa();
      try {
        ropescale::set_isa(i);
        ADD_FAILURE() << "set_isa(" << ropescale::name(i) << ") did not throw";
      } catch (const ropescale::invalid_parameter& e) {
        EXPECT_EQ(e.key(), "isa");
        EXPECT_NE(std::string(e.what()).find(ropescale::name(i)), std::string::npos) << e.what();
      }
      EXPECT_EQ(ropescale::active_isa(), before) << "a failed set_isa must not change anything";
      EXPECT_THROW(ropescale::resolve_isa(i), std::invalid_argument);
    }
  }
  ropescale::set_isa(ropescale::best_isa());
  EXPECT_EQ(ropescale::active_isa(), ropescale::best_isa());
}

TEST(Isa, ConcurrentReadersAndWriters) {
  if (std::getenv("ROPESCALE_ISA") != nullptr) GTEST_SKIP() << "ROPESCALE_ISA set";
  std::vector<isa> avail;
  for (isa i : kAll) {
    if (ropescale::available(i)) avail.push_back(i);
  }
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 2000; ++k) {
        if (t % 2 == 0) {
          ropescale::set_isa(avail[static_cast<std::size_t>(k) % avail.size()]);
        } else if (!ropescale::available(ropescale::active_isa())) {
          bad = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(bad.load());
  ropescale::set_isa(ropescale::best_isa());
}

// ---- ROPESCALE_ISA: the variable is read once per process, so run this binary again ----

std::string self_exe() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return buf;
}

// Runs this binary with ROPESCALE_ISA set to the shell word `env_word` and only `filter`;
// the child's stderr goes to `err_file` when given. Returns the exit status.
int run_child(const std::string& env_word, const std::string& filter,
              const std::string& err_file = "/dev/null") {
  const std::string exe = self_exe();
  if (exe.empty()) return -1;
  const std::string cmd = "ROPESCALE_ISA=" + env_word + " ROPESCALE_ISA_CHILD=1 '" + exe +
                          "' --gtest_filter=" + filter + " > /dev/null 2> '" + err_file + "'";
  return std::system(cmd.c_str());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Child-side checks (skipped unless started by the parent tests below).
TEST(IsaEnvChild, ActiveIsaFollowsEnvironment) {
  const char* child = std::getenv("ROPESCALE_ISA_CHILD");
  const char* env = std::getenv("ROPESCALE_ISA");
  if (child == nullptr || env == nullptr) GTEST_SKIP() << "only run as a child process";
  const auto want = ropescale::parse_isa(env);
  ASSERT_TRUE(want.has_value());
  EXPECT_EQ(ropescale::active_isa(), *want);
}

TEST(IsaEnvChild, BadValueFallsBackToBestIsa) {
  const char* child = std::getenv("ROPESCALE_ISA_CHILD");
  if (child == nullptr) GTEST_SKIP() << "only run as a child process";
  EXPECT_EQ(ropescale::active_isa(), ropescale::best_isa());
  EXPECT_EQ(ropescale::resolve_isa(std::nullopt), ropescale::best_isa());
  // Tables build and kernels run (before the fallback, every table build threw).
  const ropescale::cos_sin_table table(std::vector<double>{1.0, 0.01}, 1.0, 8);
  std::vector<float> x(4, 1.0f);
  ropescale::apply_rotary(ropescale::dense_view(x.data(), x.size(), 1, 1, 4), *table.snapshot(),
                          ropescale::token_positions::range(3), ropescale::layout::neox, 4);
  EXPECT_NE(x[0], 1.0f);
  EXPECT_EQ(ropescale::active_isa(), ropescale::best_isa());
  // A choice made in code is still checked.
  for (isa i : kAll) {
    if (!ropescale::available(i)) {
      EXPECT_THROW(ropescale::set_isa(i), std::invalid_argument);
    }
  }
  ropescale::set_isa(isa::scalar);
  EXPECT_EQ(ropescale::active_isa(), isa::scalar);
}

TEST(IsaEnv, EnvironmentSelectsEachAvailableIsa) {
  if (std::getenv("ROPESCALE_ISA_CHILD") != nullptr) GTEST_SKIP() << "child process";
  if (self_exe().empty()) GTEST_SKIP() << "/proc/self/exe not readable";
  for (isa i : kAll) {
    if (!ropescale::available(i)) continue;
    EXPECT_EQ(run_child(ropescale::name(i), "IsaEnvChild.ActiveIsaFollowsEnvironment"), 0)
        << "ROPESCALE_ISA=" << ropescale::name(i);
  }
}

TEST(IsaEnv, UnknownOrUnavailableValueWarnsOnceAndFallsBack) {
  if (std::getenv("ROPESCALE_ISA_CHILD") != nullptr) GTEST_SKIP() << "child process";
  if (self_exe().empty()) GTEST_SKIP() << "/proc/self/exe not readable";
  const std::string err = std::string(ROPESCALE_TEST_TMPDIR) + "/isa_env_warning.txt";
  const std::string best = ropescale::name(ropescale::best_isa());
  struct bad_value {
    std::string word;      // as the shell sees it
    std::string expected;  // the whole stderr of the child
  };
  std::vector<bad_value> cases{
      {"bogus",
       "ropescale: warning: ignoring ROPESCALE_ISA='bogus' (must be one of scalar, "
       "avx2, avx512, avx512bf16, neon); using " +
           best + "\n"},
      // Control bytes are escaped, a long value is cut and its length given.
      {"\"$(printf 'x\\033[2J')\"",
       "ropescale: warning: ignoring ROPESCALE_ISA='x\\x1b[2J' (must be one of scalar, avx2, "
       "avx512, avx512bf16, neon); using " +
           best + "\n"},
      {std::string(300, 'a'), "ropescale: warning: ignoring ROPESCALE_ISA='" +
                                  std::string(160, 'a') +
                                  "... (300 bytes)' (must be one of "
                                  "scalar, avx2, avx512, avx512bf16, neon); using " +
                                  best + "\n"}};
  for (isa i : kAll) {
    if (ropescale::available(i)) continue;
    cases.push_back({ropescale::name(i), "ropescale: warning: ignoring ROPESCALE_ISA='" +
                                             std::string(ropescale::name(i)) +
                                             "' (this CPU or build does not support " +
                                             ropescale::name(i) + "); using " + best + "\n"});
  }
  for (const auto& c : cases) {
    EXPECT_EQ(run_child(c.word, "IsaEnvChild.BadValueFallsBackToBestIsa", err), 0) << c.word;
    EXPECT_EQ(read_file(err), c.expected) << "exactly one warning line for " << c.word;
  }
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// Bounded by design (docs/limits.md): messages that echo input are short and safe to print, and
// every loader and CLI answers or rejects hostile input within the resource budget (10 s and
// 1 GiB RSS on one core). Each hostile case runs in a forked child (the CLI through exec, library
// calls directly) under RLIMIT_AS / RLIMIT_CPU safety nets; the parent polls with a wall-clock
// limit and reads the child's peak RSS from wait4's rusage, and a breach of either fails the test.
// The hostile files are generated here at test time (large ones sparse, never committed).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/quote.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/hf_config.hpp"
#include "ropescale/method.hpp"
#include "ropescale/safetensors.hpp"
#include "support/safetensors_writer.hpp"

namespace {

using ropescale::detail::escape_text;
using ropescale::detail::max_echo_bytes;
using ropescale::detail::max_message_bytes;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// The budget and the subprocess runner

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

// docs/limits.md: 10 s and 1 GiB on one core. Sanitizer builds run the same cases with room for
// their own slowdown and shadow memory (the plain build is the one that enforces the budget).
constexpr double budget_seconds = sanitized ? 60.0 : 10.0;
#if defined(__OPTIMIZE__)
constexpr bool optimized = true;
#else
constexpr bool optimized = false;
#endif
/// The largest accepted workloads are sized to the plain budget; only an optimized, unsanitized
/// build can say anything about their time (the README's Release build runs them).
constexpr bool runs_full_work = optimized && !sanitized;
constexpr long budget_rss_kib = sanitized ? 3L << 20 : 1L << 20;

struct run_result {
  int status = -1;  // exit status, or -1 when killed or abnormal
  bool timed_out = false;
  double seconds = 0;
  long max_rss_kib = 0;
  std::string out, err;
};

std::string tmp_dir() {
  const char* env = std::getenv("ROPESCALE_TEST_TMPDIR");
  std::string dir = (env != nullptr && *env != '\0') ? env : ROPESCALE_TEST_TMPDIR;
  dir += "/bounded";
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

/// Runs `body` in a forked child (stdout/stderr to files) and measures it. The child gets
/// RLIMIT_CPU and, outside sanitizer builds, RLIMIT_AS as safety nets; the wall clock is polled.
run_result run_budgeted(const std::function<int()>& body) {
  static int counter = 0;
  const std::string base =
      tmp_dir() + "/run_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::fflush(nullptr);
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    const auto cpu = static_cast<rlim_t>(budget_seconds + 5);
    const rlimit cpu_limit{cpu, cpu};
    ::setrlimit(RLIMIT_CPU, &cpu_limit);
    if (!sanitized) {
      const rlimit as_limit{rlim_t{3} << 30, rlim_t{3} << 30};
      ::setrlimit(RLIMIT_AS, &as_limit);
    }
    int rc = 99;
    try {
      rc = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "uncaught: %s\n", e.what());
      rc = 98;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  run_result r;
  if (pid < 0) return r;
  int status = 0;
  rusage usage{};
  for (;;) {
    const pid_t done = ::wait4(pid, &status, WNOHANG, &usage);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == pid) break;
    if (r.seconds > budget_seconds + 5) {
      r.timed_out = true;
      ::kill(pid, SIGKILL);
      ::wait4(pid, &status, 0, &usage);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.max_rss_kib = usage.ru_maxrss;
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return r;
}

std::string exe_path(const char* env_name, const char* built) {
  if (const char* env = std::getenv(env_name); env != nullptr && *env != '\0') return env;
  return built;
}

#ifndef ROPESCALE_INSPECT_EXE
#define ROPESCALE_INSPECT_EXE ""
#endif
#ifndef ROPESCALE_COMPARE_EXE
#define ROPESCALE_COMPARE_EXE ""
#endif

run_result run_cli(const char* env_name, const char* built, const std::vector<std::string>& args) {
  const std::string exe = exe_path(env_name, built);
  return run_budgeted([&] {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(exe.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    return 127;
  });
}

run_result inspect(const std::vector<std::string>& args) {
  return run_cli("ROPESCALE_INSPECT", ROPESCALE_INSPECT_EXE, args);
}

run_result compare(const std::vector<std::string>& args) {
  return run_cli("ROPESCALE_COMPARE", ROPESCALE_COMPARE_EXE, args);
}

/// The budget holds, and a failure is exactly one bounded "error:" line free of control bytes.
void expect_bounded(const run_result& r, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_FALSE(r.timed_out) << "killed after " << r.seconds << " s";
  EXPECT_LE(r.seconds, budget_seconds) << "wall time";
  EXPECT_LE(r.max_rss_kib, budget_rss_kib) << "peak RSS in KiB";
  EXPECT_NE(r.status, 98) << r.err;  // an exception other than invalid_parameter escaped
  if (r.status != 0) {
    EXPECT_LE(r.err.size(), 4096u) << "error output is not one bounded line";
    if (r.err.rfind("error: ", 0) == 0) {
      EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
    }
    for (const char ch : r.err.substr(0, r.err.empty() ? 0 : r.err.size() - 1)) {
      const auto u = static_cast<unsigned char>(ch);
      EXPECT_FALSE(u < 0x20 || u == 0x7f)
          << "control byte " << int(u) << " in " << r.err.substr(0, 200);
      if (u < 0x20 || u == 0x7f) break;
    }
  }
  std::printf("[ budget   ] %-58s %6.2f s %8ld KiB rss exit %d\n", what.c_str(), r.seconds,
              r.max_rss_kib, r.status);
}

void expect_error(const run_result& r, int status, const std::string& fragment,
                  const std::string& what) {
  expect_bounded(r, what);
  EXPECT_EQ(r.status, status) << what << ": " << r.err.substr(0, 500);
  EXPECT_NE(r.err.find(fragment), std::string::npos)
      << what << ": missing '" << fragment << "' in " << r.err.substr(0, 500);
}

std::string repeat(const std::string& s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

/// A safetensors file whose header is `header` and whose data section is `data_bytes` long; the
/// data is a hole (sparse), so a "1 GiB" or "16 GiB" tensor costs no disk.
void write_sparse_safetensors(const std::string& path, std::string header,
                              std::uint64_t data_bytes) {
  while ((8 + header.size()) % 8) header += ' ';
  ropescale_test::bytes prefix;
  ropescale_test::put_le(prefix, header.size(), 8);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(prefix.data()), 8);
    out << header;
  }
  fs::resize_file(path, 8 + header.size() + data_bytes);
}

std::string llama_config() {
  return R"({"hidden_size": 4096, "num_attention_heads": 32, "max_position_embeddings": 4096})";
}

/// A CLEX config (head_dim H, L = 64) with the given rope-dict extras.
std::string clex_config(int head_dim, const std::string& extra) {
  return R"({"head_dim": )" + std::to_string(head_dim) +
         R"(, "max_position_embeddings": 64, "rope_scaling": {"type": "clex", )" + extra + "}}";
}

/// A small valid CLEX checkpoint (F32 zeros: the ODE is then the closed form) for d, p.
void write_clex_weights(const std::string& path, std::int64_t d, std::int64_t p) {
  const std::int64_t n = d / 2;
  const std::vector<float> zeros(static_cast<std::size_t>(n * p * d), 0.0f);
  const auto image = ropescale_test::st_image({{"model.clex_layer.proj_func.ode_up_proj",
                                                "F32",
                                                {n, p * d},
                                                ropescale_test::f32_bytes(zeros)},
                                               {"model.clex_layer.proj_func.ode_down_proj",
                                                "F32",
                                                {p * d, n},
                                                ropescale_test::f32_bytes(zeros)}});
  ropescale_test::write_bytes(path, image);
}

TEST(BoundedQuote, ControlBytesAreEscaped) {
  EXPECT_EQ(escape_text(std::string("a\x1b[31mb\x07", 8)), "a\\x1b[31mb\\x07");
  EXPECT_EQ(escape_text(std::string("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(escape_text("line\nbreak\ttab\r"), "line\\nbreak\\ttab\\r");
  EXPECT_EQ(escape_text("\x7f"), "\\x7f");
}

TEST(BoundedQuote, Utf8IsKeptButC1AndInvalidBytesAreEscaped) {
  EXPECT_EQ(escape_text("θ = 10000 — ok"), "θ = 10000 — ok");
  EXPECT_EQ(escape_text("\xc2\x9b"), "\\xc2\\x9b");           // U+009B, the 8-bit CSI
  EXPECT_EQ(escape_text("\x9b"), "\\x9b");                    // lone continuation byte
  EXPECT_EQ(escape_text("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
  EXPECT_EQ(escape_text("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(escape_text("\xe2\x82"), "\\xe2\\x82");           // truncated sequence
}

TEST(BoundedQuote, LongInputKeepsAPrefixAndSaysHowLongItWas) {
  const std::string huge(10'000'000, 'a');
  const std::string out = escape_text(huge);
  EXPECT_LE(out.size(), max_echo_bytes + 32);
  EXPECT_EQ(out.substr(0, max_echo_bytes), std::string(max_echo_bytes, 'a'));
  EXPECT_NE(out.find("... (10000000 bytes)"), std::string::npos) << out;
  // A multi-byte character is never cut in half.
  std::string greek;
  for (int i = 0; i < 200; ++i) greek += "θ";
  const std::string g = escape_text(greek);
  EXPECT_EQ(g.substr(0, max_echo_bytes), greek.substr(0, max_echo_bytes));
  EXPECT_EQ(g.find("\\x"), std::string::npos);
}

TEST(BoundedQuote, ThrownMessagesAreBoundedAndEscaped) {
  const std::string key(1'000'000, 'k');
  const std::string got = std::string(5'000'000, 'v') + "\x1b]0;pwned\x07";
  try {
    ropescale::detail::throw_invalid(key + "\x1b", "must be short", got);
    FAIL() << "no throw";
  } catch (const ropescale::invalid_parameter& e) {
    const std::string what = e.what();
    EXPECT_LE(what.size(), max_message_bytes + 64);
    EXPECT_EQ(what.find('\x1b'), std::string::npos);
    EXPECT_NE(what.find("(1000001 bytes)"), std::string::npos) << what;
    EXPECT_NE(what.find("(5000010 bytes)"), std::string::npos) << what;
    EXPECT_LE(e.key().size(), max_echo_bytes + 32);
  }
  try {
    ropescale::detail::throw_message("k", std::string(3'000'000, 'm') + "\x07");
    FAIL() << "no throw";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_LE(std::string(e.what()).size(), max_message_bytes + 64);
  }
}

// ---------------------------------------------------------------------------------------------
// Finding 1: config parsing is linear (no quadratic callback), with the nesting and value caps.

TEST(BoundedBudget, ConfigParsingIsLinear) {
  const std::string dir = tmp_dir();
  // 1.2 MB: one member holding 100 000 empty objects (was 36 s).
  const std::string wide = R"({"head_dim": 64, "x": [)" + repeat("{},", 99999) + "{}]}";
  write_file(dir + "/wide_objects.json", wide);
  auto r = inspect({dir + "/wide_objects.json"});
  expect_bounded(r, "config: 100k empty objects (1.2 MB)");
  EXPECT_EQ(r.status, 0) << r.err;
  // 11 MB of empty objects: past the value cap, refused by the pre-scan.
  write_file(dir + "/wide_objects_11mb.json",
             R"({"head_dim": 64, "x": [)" + repeat("{},", 3'700'000) + "{}]}");
  expect_error(inspect({dir + "/wide_objects_11mb.json"}), 1, "more than 1048576 values",
               "config: 3.7M empty objects (11 MB)");
  // Deep nesting (16 MB of '['): refused at depth 65 without recursion.
  write_file(dir + "/deep.json", R"({"head_dim": 64, "x": )" + std::string(8'000'000, '[') +
                                     std::string(8'000'000, ']') + "}");
  expect_error(inspect({dir + "/deep.json"}), 1, "nesting deeper than 64 levels",
               "config: 8M nested arrays (16 MB)");
}

// ---------------------------------------------------------------------------------------------
// Findings 2 and 12: special files never block, and every I/O error names the file.

TEST(BoundedBudget, SpecialFilesAreRefusedWithTheirName) {
  const std::string dir = tmp_dir();
  const std::string fifo = dir + "/fifo";
  fs::remove(fifo);
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  write_file(dir + "/llama.json", llama_config());
  expect_error(inspect({fifo}), 1, fifo + ": cannot read config file: not a regular file (a FIFO)",
               "config is a FIFO");
  expect_error(inspect({dir + "/llama.json", "--weights", fifo}), 1,
               fifo + ": cannot read --weights file: not a regular file (a FIFO)",
               "--weights FIFO, non-CLEX config");
  write_file(dir + "/clex.json", clex_config(8, R"("max_factor": 4, "time_dt": 0.5)"));
  expect_error(inspect({dir + "/clex.json", "--weights", fifo}), 1, "not a regular file (a FIFO)",
               "--weights FIFO, CLEX config");
  // A sharded index whose shard is a FIFO.
  const std::string shard_dir = dir + "/fifo_shards";
  fs::create_directories(shard_dir);
  fs::remove(shard_dir + "/shard.safetensors");
  ASSERT_EQ(::mkfifo((shard_dir + "/shard.safetensors").c_str(), 0600), 0);
  write_file(shard_dir + "/model.safetensors.index.json",
             R"({"weight_map": {"model.clex_layer.proj_func.ode_up_proj": "shard.safetensors"}})");
  expect_error(inspect({dir + "/clex.json", "--weights", shard_dir}), 1,
               shard_dir + "/shard.safetensors: cannot read safetensors file: not a regular file",
               "index naming a FIFO shard");
  expect_error(inspect({"/dev/zero"}), 1,
               "/dev/zero: cannot read config file: not a regular "
               "file (a character device)",
               "config is /dev/zero");
  // /proc files report st_size 0: read to the end, and errors carry the name.
  expect_error(inspect({"/proc/self/status"}), 1, "/proc/self/status: malformed JSON",
               "config is /proc/self/status");
  expect_error(inspect({"/proc/self/mem"}), 1,
               "/proc/self/mem: cannot read config file: read "
               "failed",
               "config is /proc/self/mem");
  // The library path: the same checks, the same messages.
  try {
    ropescale::load_hf_config_file(fifo);
    ADD_FAILURE() << "no error";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file (a FIFO)"), std::string::npos);
  }
  fs::remove(fifo);
  fs::remove(shard_dir + "/shard.safetensors");
}

// ---------------------------------------------------------------------------------------------
// Finding 3: CLEX configs that validate stay inside the budget.

TEST(BoundedBudget, ClexTableAndSolverWork) {
  const std::string dir = tmp_dir();
  write_clex_weights(dir + "/clex_d8.safetensors", 8, 1);
  // max_factor 1e7 with Δ = 1 (was 72 s and 3.7 GB, then bad_alloc): past the work cap.
  write_file(dir + "/clex_t1e7.json", clex_config(8, R"("max_factor": 10000000, "time_dt": 1)"));
  expect_error(inspect({dir + "/clex_t1e7.json", "--weights", dir + "/clex_d8.safetensors"}), 1,
               "solver work", "clex max_factor 1e7, time_dt 1");
  // max_factor 2e6 (within the cap): the table is not built whole; each row asked for comes
  // from its own solve, the last one taking every step.
  write_file(dir + "/clex_t2e6.json", clex_config(8, R"("max_factor": 2000000, "time_dt": 1)"));
  auto r = inspect(
      {dir + "/clex_t2e6.json", "--weights", dir + "/clex_d8.safetensors", "--seq-len", "64000"});
  expect_bounded(r, "clex max_factor 2e6, row t = 1000");
  EXPECT_EQ(r.status, 0) << r.err;
  if (runs_full_work) {
    r = inspect({dir + "/clex_t2e6.json", "--weights", dir + "/clex_d8.safetensors", "--seq-len",
                 "128000000"});
    expect_bounded(r, "clex max_factor 2e6, row t = 2e6");
    EXPECT_EQ(r.status, 0) << r.err;
    // A 7B-sized network (d = 128) at the largest T the work cap allows for Δ = 0.01.
    write_clex_weights(dir + "/clex_d128.safetensors", 128, 1);
    write_file(dir + "/clex_7b.json", clex_config(128, R"("max_factor": 1300, "time_dt": 0.01)"));
    r = inspect(
        {dir + "/clex_7b.json", "--weights", dir + "/clex_d128.safetensors", "--seq-len", "83200"});
    expect_bounded(r, "clex d 128, max_factor 1300, time_dt 0.01 (whole table)");
    EXPECT_EQ(r.status, 0) << r.err;
  } else {
    std::printf(
        "[ skipped  ] clex row t = 2e6 and d 128 whole table: full-size accepted work is "
        "timed only in optimized, unsanitized builds\n");
  }
  // Small Δ with a large network (was ~48 minutes): refused before the checkpoint is read.
  write_file(dir + "/clex_work.json",
             clex_config(128, R"("max_factor": 64, "time_dt": 0.0001, "param_factor": 8)"));
  expect_error(inspect({dir + "/clex_work.json", "--weights", dir + "/clex_d8.safetensors"}), 1,
               "solver work", "clex time_dt 1e-4, param_factor 8, d 128");
  write_file(dir + "/clex_net.json", clex_config(4096, R"("max_factor": 2, "param_factor": 4)"));
  expect_error(inspect({dir + "/clex_net.json", "--weights", dir + "/clex_d8.safetensors"}), 1,
               "n*p*d <= 2^22", "clex network 2048 x 16384");
}

// ---------------------------------------------------------------------------------------------
// Findings 4 and 6: safetensors checks shape, dtype and size before reading; CLEX loads without
// a large amplification.

TEST(BoundedBudget, SafetensorsChecksBeforeReading) {
  const std::string dir = tmp_dir();
  // A 1 GiB BF16 up-projection of the wrong shape (was 3.1 GB and 11 s before the error).
  const std::int64_t cols = std::int64_t{1} << 27;
  write_sparse_safetensors(
      dir + "/clex_1gib.safetensors",
      R"({"model.clex_layer.proj_func.ode_up_proj":{"dtype":"BF16","shape":[4,)" +
          std::to_string(cols) + R"(],"data_offsets":[0,)" + std::to_string(cols * 8) + "]}}",
      static_cast<std::uint64_t>(cols * 8));
  write_file(dir + "/clex.json", clex_config(8, R"("max_factor": 4, "time_dt": 0.5)"));
  expect_error(inspect({dir + "/clex.json", "--weights", dir + "/clex_1gib.safetensors"}), 1,
               "does not match [4, 8]", "clex: 1 GiB tensor of the wrong shape");
  // A 16 GiB F32 tensor read through the API: invalid_parameter, not bad_alloc.
  const std::uint64_t elements = std::uint64_t{1} << 32;
  write_sparse_safetensors(dir + "/huge_16gib.safetensors",
                           R"({"w":{"dtype":"F32","shape":[)" + std::to_string(elements) +
                               R"(],"data_offsets":[0,)" + std::to_string(elements * 4) + "]}}",
                           elements * 4);
  const std::string huge = dir + "/huge_16gib.safetensors";
  auto r = run_budgeted([&] {
    try {
      (void)ropescale::safetensors::file::open(huge).read_double("w");
    } catch (const ropescale::invalid_parameter& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
    return 0;
  });
  expect_error(r, 1, "exceed the reader's cap", "read_double of a 16 GiB tensor");
  fs::remove(huge);
  fs::remove(dir + "/clex_1gib.safetensors");
  // The largest network the cap allows (n*p*d = 2^22, BF16: 16 MB of weights) loads in budget.
  const std::int64_t d = 128, p = 512, n = d / 2;
  const std::vector<std::uint16_t> ones(static_cast<std::size_t>(n * p * d), 0);
  ropescale_test::write_bytes(dir + "/clex_big.safetensors",
                              ropescale_test::st_image({{"model.clex_layer.proj_func.ode_up_proj",
                                                         "BF16",
                                                         {n, p * d},
                                                         ropescale_test::u16_bytes(ones)},
                                                        {"model.clex_layer.proj_func.ode_down_proj",
                                                         "BF16",
                                                         {p * d, n},
                                                         ropescale_test::u16_bytes(ones)}}));
  write_file(dir + "/clex_big.json", clex_config(128, R"("max_factor": 2, "time_dt": 0.5, )"
                                                      R"("param_factor": 512)"));
  r = inspect(
      {dir + "/clex_big.json", "--weights", dir + "/clex_big.safetensors", "--seq-len", "128"});
  expect_bounded(r, "clex: network at the 2^22 cap (2 x 8 MB BF16)");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LE(r.max_rss_kib, 400L << 10) << "CLEX load amplification (16 MB of BF16 weights)";
  fs::remove(dir + "/clex_big.safetensors");
}

// ---------------------------------------------------------------------------------------------
// Finding 5: header and index caps bound memory, including nesting depth.

TEST(BoundedBudget, HeaderAndIndexCaps) {
  const std::string dir = tmp_dir();
  write_file(dir + "/clex.json", clex_config(8, R"("max_factor": 4, "time_dt": 0.5)"));
  const std::string deep = std::string(24'000'000, '[') + std::string(24'000'000, ']');
  write_sparse_safetensors(dir + "/deep.safetensors", R"({"__metadata__":{"k":)" + deep + "}}", 0);
  expect_error(inspect({dir + "/clex.json", "--weights", dir + "/deep.safetensors"}), 1,
               "nesting deeper than 16 levels", "safetensors: 48 MB nested header");
  write_sparse_safetensors(dir + "/wide.safetensors",
                           R"({"w":{"dtype":"F32","shape":[)" + repeat("0,", 24'000'000) + "0]}}",
                           0);
  expect_error(inspect({dir + "/clex.json", "--weights", dir + "/wide.safetensors"}), 1,
               "more than 2097152 values", "safetensors: 48 MB wide header");
  // Just under the value cap, with the largest entries the format allows.
  write_sparse_safetensors(dir + "/many.safetensors",
                           R"({"__metadata__":{"k":[)" + repeat("[],", 1'000'000) + "[]]}}", 0);
  expect_error(inspect({dir + "/clex.json", "--weights", dir + "/many.safetensors"}), 1,
               "__metadata__.k: must be a string", "safetensors: 1M empty arrays in the header");
  fs::remove(dir + "/deep.safetensors");
  fs::remove(dir + "/wide.safetensors");
  fs::remove(dir + "/many.safetensors");
  // Indexes: past the size cap, and a 30 MB index of 1M entries (under the caps).
  const std::string idx = dir + "/index_big";
  fs::create_directories(idx);
  write_file(idx + "/model.safetensors.index.json",
             R"({"pad": ")" + std::string(40'000'000, 'x') + R"(", "weight_map": {}})");
  expect_error(inspect({dir + "/clex.json", "--weights", idx}), 1, "larger than 32 MiB",
               "index: 40 MB");
  std::string map = R"({"weight_map": {)";
  for (int i = 0; i < 400'000; ++i)
    map += "\"tensor.number." + std::to_string(i) + "\": \"s.safetensors\",";
  map += R"("last": "s.safetensors"}})";
  write_file(idx + "/model.safetensors.index.json", map);
  expect_error(inspect({dir + "/clex.json", "--weights", idx}), 1, "not in weight_map",
               "index: 400k weight_map entries (15 MB)");
  fs::remove_all(idx);
}

// ---------------------------------------------------------------------------------------------
// Findings 7 and 8: config size and diagnostics are capped; CLI output is capped.

TEST(BoundedBudget, ConfigSizeDiagnosticsAndOutput) {
  const std::string dir = tmp_dir();
  write_file(dir + "/big.json", R"({"head_dim": 64, "x": [)" + repeat("1,", 30'000'000) + "1]}");
  expect_error(inspect({dir + "/big.json"}), 1, "larger than 16 MiB", "config: 60 MB array");
  fs::remove(dir + "/big.json");
  std::string keys = R"({"head_dim": 64, "rope_scaling": {"type": "linear", "factor": 2)";
  for (int i = 0; i < 900'000; ++i) keys += ",\"k" + std::to_string(i) + "\":0";
  write_file(dir + "/unknown_keys.json", keys + "}}");
  auto r = inspect({dir + "/unknown_keys.json"});
  expect_bounded(r, "config: 900k unknown rope keys");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LT(r.out.size(), 8192u);
  EXPECT_NE(r.out.find("and 899984 more unknown keys"), std::string::npos) << r.out;

  write_file(dir + "/h4096.json", R"({"head_dim": 4096})");
  std::string positions = "0";
  for (int i = 1; i < 10000; ++i) positions += "," + std::to_string(i);
  expect_error(inspect({dir + "/h4096.json", "--positions", positions}), 2, "output cap",
               "inspect: 10000 positions x head_dim 4096");
  write_file(dir + "/h65536.json", R"({"head_dim": 65536})");
  r = inspect({dir + "/h65536.json", "--positions", "0,1,100000"});
  expect_bounded(r, "inspect: 3 positions x head_dim 65536");
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 300);
  write_file(dir + "/h131072.json", R"({"head_dim": 131072})");
  expect_error(inspect({dir + "/h131072.json"}), 1, "head_dim: must be <= 65536",
               "inspect: head_dim 131072");
  std::string contexts = "8192";
  for (int i = 1; i < 20000; ++i) contexts += "," + std::to_string(8192 + i);
  expect_error(compare({dir + "/h4096.json", "--context", contexts, "--json"}), 2,
               "at most 64 contexts", "compare: 20000 contexts --json");
  write_file(dir + "/h16384.json", R"({"head_dim": 16384, "max_position_embeddings": 4096})");
  expect_error(compare({dir + "/h16384.json", "--context", "8192,16384", "--json"}), 2,
               "report cap", "compare: 2 contexts x 8192 pairs");
  // At the caps: 64 contexts x 128 pairs.
  write_file(dir + "/h256.json", R"({"head_dim": 256, "max_position_embeddings": 4096})");
  contexts = "8192";
  for (int i = 1; i < 64; ++i) contexts += "," + std::to_string(8192 + 1000 * i);
  r = compare({dir + "/h256.json", "--context", contexts, "--json"});
  expect_bounded(r, "compare: 64 contexts x 128 pairs --json");
  EXPECT_EQ(r.status, 0) << r.err.substr(0, 300);
}

// ---------------------------------------------------------------------------------------------
// Finding 9: error lines are bounded and escaped (tensor names, metadata keys, shard names).

TEST(BoundedBudget, ErrorLinesAreBoundedAndEscaped) {
  const std::string dir = tmp_dir();
  write_file(dir + "/clex.json", clex_config(8, R"("max_factor": 4, "time_dt": 0.5)"));
  const std::string esc = "\\u001b]0;owned\\u0007\\u001b[2J";  // raw ESC/BEL once decoded
  const std::vector<float> four(4, 1.0f);
  ropescale_test::write_bytes(dir + "/esc_name.safetensors",
                              ropescale_test::st_image({{"model.clex_layer.proj_func.ode_up_proj",
                                                         "F32",
                                                         {2, 2},
                                                         ropescale_test::f32_bytes(four)}},
                                                       R"({")" + esc + R"(": 3})"));
  expect_error(inspect({dir + "/clex.json", "--weights", dir + "/esc_name.safetensors"}), 1,
               "\\x1b]0;owned\\x07", "metadata key with ESC/BEL");
  const std::string long_name(10'000'000, 'n');
  write_sparse_safetensors(
      dir + "/long_name.safetensors",
      R"({"x)" + esc + long_name + R"(":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4);
  auto r = inspect({dir + "/clex.json", "--weights", dir + "/long_name.safetensors"});
  expect_error(r, 1, "unknown dtype", "10 MB tensor name with ESC");
  EXPECT_NE(r.err.find("tensor 'x\\x1b]0;owned\\x07"), std::string::npos) << r.err.substr(0, 300);
  const std::string shard_dir = dir + "/esc_shards";
  fs::create_directories(shard_dir);
  write_file(shard_dir + "/model.safetensors.index.json",
             R"({"weight_map": {"model.clex_layer.proj_func.ode_up_proj": "../)" + esc + long_name +
                 R"("}})");
  expect_error(inspect({dir + "/clex.json", "--weights", shard_dir}), 1,
               "shard must be a plain file name", "shard name with ESC, 10 MB");
  write_file(dir + "/type.json", R"({"head_dim": 64, "rope_scaling": {"type": ")" + esc +
                                     std::string(5'000'000, 't') + R"("}})");
  expect_error(inspect({dir + "/type.json"}), 1, "must be one of", "5 MB rope type with ESC");
  fs::remove(dir + "/long_name.safetensors");
  fs::remove_all(shard_dir);
}

// ---------------------------------------------------------------------------------------------
// Finding 11: BOM and anything after the value (including after a NUL) are errors, as in
// Python's json.loads on the text transformers reads.

TEST(BoundedBudget, JsonAsPythonReadsIt) {
  const std::string dir = tmp_dir();
  write_file(dir + "/bom.json", "\xEF\xBB\xBF" + llama_config());
  expect_error(inspect({dir + "/bom.json"}), 1, "UTF-8 byte order mark", "config with a BOM");
  write_file(dir + "/nul.json", llama_config() + std::string("\0garbage", 8));
  expect_error(inspect({dir + "/nul.json"}), 1, "NUL byte at line 1", "config + NUL + garbage");
  write_file(dir + "/nul_in_string.json",
             std::string(R"({"head_dim": 64, "x": "a)") + std::string("\0", 1) + "b\"}");
  expect_error(inspect({dir + "/nul_in_string.json"}), 1, "NUL byte", "NUL inside a string");
  write_file(dir + "/trailing.json", llama_config() + " {}");
  expect_error(inspect({dir + "/trailing.json"}), 1, "malformed JSON", "config + trailing value");
  EXPECT_THROW(ropescale::load_hf_config_string("\xEF\xBB\xBF{\"head_dim\": 64}"),
               ropescale::invalid_parameter);
  EXPECT_THROW(ropescale::load_hf_config_string(std::string("{\"head_dim\": 64}\0x", 18)),
               ropescale::invalid_parameter);
  EXPECT_NO_THROW(ropescale::load_hf_config_string(" \n{\"head_dim\": 64}\n\t "));
}

// ---------------------------------------------------------------------------------------------
// Finding 10: tables that cannot be represented are rejected, naming the key and the value.

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ropescale::invalid_parameter& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(BoundedExtremes, UnrepresentableTablesAreRejected) {
  // ω = 1e300 given directly: p·ω overflows for large positions.
  EXPECT_EQ(error_of([] {
              ropescale::cos_sin_table t({1.0, 1e300}, 1.0, 4);
            }),
            "inv_freq[1]: must be at most 2^32 in magnitude (docs/limits.md), got 1e+300");
  // LongRoPE factor 1e-300: ω = θ_i / 1e-300.
  ropescale::longrope_params lp;
  lp.head_dim = 8;
  lp.original_max_position_embeddings = 4096;
  lp.max_position_embeddings = 8192;
  lp.short_factor = {1, 1, 1e-300, 1};
  lp.long_factor = {1, 1, 1, 1};
  const std::string lr = error_of([&] { ropescale::longrope<double> m(lp); });
  EXPECT_NE(lr.find("short_factor: must give every inv_freq entry in (0, 2^32]"), std::string::npos)
      << lr;
  EXPECT_NE(lr.find("got 1e-300 (inv_freq[2] = "), std::string::npos) << lr;
  // θ = 1e300 with factor 1e308: ω underflows to exactly 0.
  ropescale::linear_params p;
  p.head_dim = 64;
  p.rope_theta = 1e300;
  p.factor = 1e308;
  const std::string lin = error_of([&] { ropescale::linear<double> m(p); });
  EXPECT_NE(lin.find("factor: must give every inv_freq entry in (0, 2^32]"), std::string::npos)
      << lin;
  EXPECT_NE(lin.find("got 1e+308 (inv_freq["), std::string::npos) << lin;
  // θ = 1e300 alone stays accepted in double (ω ≈ 1e-295 > 0), rejected in float (0).
  ropescale::default_rope_params dp;
  dp.head_dim = 64;
  dp.rope_theta = 1e300;
  EXPECT_NO_THROW(ropescale::default_rope<double> m(dp));
  EXPECT_NE(error_of([&] { ropescale::default_rope<float> m(dp); }).find("rope_theta: must give"),
            std::string::npos);
  // Through the config loader the key path is the file's.
  const std::string cfg = error_of([] {
    ropescale::load_hf_config_string(
        R"({"head_dim": 64, "rope_theta": 1e300, "rope_scaling": {"type": "linear", "factor": 1e308}})");
  });
  EXPECT_EQ(cfg.rfind("rope_scaling.factor: must give every inv_freq entry", 0), 0u) << cfg;
}

// ---------------------------------------------------------------------------------------------
// README drift: the "### config.json" bad-input rows are recomputed from the loader and must
// match README word for word (the kernel and extreme-value rows are checked by the tests that
// generate them, tests/support/bad_input_table.hpp).

/// The rows of README's table under `heading`: cells split on unescaped '|', "\|" unescaped.
std::vector<std::vector<std::string>> readme_rows(const std::string& heading) {
  std::ifstream in(std::string(ROPESCALE_SOURCE_DIR) + "/README.md");
  std::vector<std::vector<std::string>> rows;
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("### ", 0) == 0 || line.rfind("## ", 0) == 0) inside = line == heading;
    if (!inside || line.rfind("| ", 0) != 0 || line.rfind("| ---", 0) == 0) continue;
    std::vector<std::string> cells;
    std::string cell;
    for (std::size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cell += '|';
        ++i;
      } else if (line[i] == '|') {
        cells.push_back(cell.substr(1, cell.size() >= 2 ? cell.size() - 2 : 0));
        cell.clear();
      } else {
        cell += line[i];
      }
    }
    rows.push_back(cells);
  }
  return rows;
}

TEST(ReadmeDrift, ConfigJsonRowsMatchTheLoader) {
  const auto rows = readme_rows("### config.json");
  ASSERT_GT(rows.size(), 30u) << "README's config.json table not found";
  std::size_t checked = 0;
  for (const auto& row : rows) {
    if (row.size() < 3 || row[0] == "input") continue;
    const std::string& input = row[0];
    // Rows whose input is one JSON text in backticks (optionally followed by a note).
    if (input.empty() || input[0] != '`') continue;
    const std::size_t close = input.find('`', 1);
    if (close == std::string::npos) continue;
    const std::string rest = input.substr(close + 1);
    if (!rest.empty() && rest.rfind(" (", 0) != 0) continue;  // a JSON text plus a note only
    const std::string json = input.substr(1, close - 1);
    if (json.empty() || (json[0] != '{' && json[0] != '[') || json.find("…") != std::string::npos)
      continue;
    SCOPED_TRACE(json);
    const std::string got = error_of([&] { ropescale::load_hf_config_string(json); });
    if (row[1] == "throws invalid_parameter") {
      EXPECT_EQ("`" + got + "`", row[2]) << "README row drifted from the code: " << json;
      ++checked;
    }
  }
  EXPECT_GE(checked, 30u);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the ropescale-inspect argument parser (include/ropescale/detail/cli_args.hpp),
// shared by the libFuzzer binary (fuzz_cli_args.cpp) and the ctest replay
// (tests/test_fuzz_regressions.cpp). Input = the arguments after the program name, separated by
// NUL bytes. The parser promises never to throw (except std::bad_alloc), so nothing is caught.
// Invariants checked: the error is one line; on success the config is set (or --help), every
// value is within its documented range, and re-parsing a canonical spelling of the result
// gives the same result (both the vector and the argc/argv overloads).
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_CLI_ARGS_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_CLI_ARGS_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "ropescale/detail/cli_args.hpp"

namespace ropescale_fuzz {

inline bool same_args(const ropescale::detail::inspect_args& a,
                      const ropescale::detail::inspect_args& b) {
  return a.config == b.config && a.seq_len == b.seq_len && a.weights == b.weights &&
         a.positions == b.positions && a.angle == b.angle && a.help == b.help;
}

/// Fuzz entry: returns 0; aborts on a broken invariant.
inline int run_cli_args(const std::uint8_t* data, std::size_t size) {
  namespace d = ropescale::detail;
  std::vector<std::string> argv;
  if (size > 0) {
    argv.emplace_back();
    for (std::size_t i = 0; i < size; ++i) {
      if (data[i] == 0) {
        argv.emplace_back();
      } else {
        argv.back().push_back(static_cast<char>(data[i]));
      }
    }
  }
  const d::inspect_args_result r = d::parse_inspect_args(argv);

  // The argc/argv overload (what main() calls) agrees with the vector overload.
  std::vector<const char*> c_argv = {"ropescale-inspect"};
  for (const std::string& s : argv) c_argv.push_back(s.c_str());
  const d::inspect_args_result rc =
      d::parse_inspect_args(static_cast<int>(c_argv.size()), c_argv.data());
  ROPESCALE_FUZZ_CHECK(rc.error == r.error);
  ROPESCALE_FUZZ_CHECK(!r.error.empty() || same_args(rc.args, r.args));

  if (!r.error.empty()) {
    ROPESCALE_FUZZ_CHECK(r.error.find('\n') == std::string::npos);
    ROPESCALE_FUZZ_CHECK(r.error.find('\r') == std::string::npos);
    ROPESCALE_FUZZ_CHECK(r.error.size() < 4096);
    return 0;
  }
  const d::inspect_args& a = r.args;
  ROPESCALE_FUZZ_CHECK(a.help || !a.config.empty());
  if (a.seq_len) ROPESCALE_FUZZ_CHECK(*a.seq_len >= 1 && *a.seq_len <= d::inspect_max_seq_len);
  if (a.weights) ROPESCALE_FUZZ_CHECK(!a.weights->empty());
  if (a.positions) {
    ROPESCALE_FUZZ_CHECK(!a.positions->empty() && a.positions->size() <= d::inspect_max_positions);
    for (std::int64_t p : *a.positions)
      ROPESCALE_FUZZ_CHECK(p >= 0 && p <= d::inspect_max_position);
  }

  // Canonical re-spelling parses to the same thing.
  std::vector<std::string> canon;
  if (a.help) canon.emplace_back("--help");
  if (a.seq_len) canon.push_back("--seq-len=" + std::to_string(*a.seq_len));
  if (a.weights) canon.push_back("--weights=" + *a.weights);
  if (a.positions) {
    std::string list;
    for (std::size_t i = 0; i < a.positions->size(); ++i)
      list += (i ? "," : "") + std::to_string((*a.positions)[i]);
    canon.push_back("--positions=" + list);
  }
  canon.emplace_back(a.angle == d::cli_angle::f32 ? "--angle=f32" : "--angle=f64");
  if (!a.config.empty()) {
    canon.emplace_back("--");
    canon.push_back(a.config);
  }
  const d::inspect_args_result again = d::parse_inspect_args(canon);
  ROPESCALE_FUZZ_CHECK(again.error.empty());
  ROPESCALE_FUZZ_CHECK(same_args(again.args, a));
  return 0;
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_CLI_ARGS_HPP

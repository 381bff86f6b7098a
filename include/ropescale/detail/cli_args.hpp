// SPDX-License-Identifier: Apache-2.0
// Argument parser of the ropescale-inspect CLI (examples/ropescale-inspect.cpp), kept in a header
// so tests and the cli_args fuzz target can call it without a process:
//   ropescale-inspect CONFIG.json|MODEL.gguf [--seq-len N] [--weights FILE.safetensors]
//                     [--positions P1,P2,...] [--angle f64|f32]
// Flags take their value as the next argument or after '=' ("--seq-len=4096"); each flag may
// appear once; "--" ends the flags. Numbers are plain decimal digits (no sign, no spaces). The
// parser never throws (besides std::bad_alloc): it reports the first problem as one line of text,
// which the CLI prints as "error: ..." with exit status 2.
#ifndef ROPESCALE_DETAIL_CLI_ARGS_HPP
#define ROPESCALE_DETAIL_CLI_ARGS_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ropescale/detail/quote.hpp"

namespace ropescale::detail {

/// Angle evaluation of the CLI's cos/sin output: accurate double (docs/reference.md §5.2) or HF's
/// binary32 angle (docs/reference.md §5.3).
enum class cli_angle { f64, f32 };

/// Largest accepted --seq-len (docs/reference.md §2.5: S is an integer in [1, 2^53]).
inline constexpr std::int64_t inspect_max_seq_len = std::int64_t{1} << 53;
/// Largest accepted position: positions are exact in double (p < 2^53).
inline constexpr std::int64_t inspect_max_position = (std::int64_t{1} << 53) - 1;
/// Most positions accepted in one --positions list (bounds the output size).
inline constexpr std::size_t inspect_max_positions = 10000;

/// Usage text (printed for --help and named in usage errors).
inline constexpr std::string_view inspect_usage =
    "usage: ropescale-inspect CONFIG.json|MODEL.gguf [--seq-len N] [--weights FILE.safetensors] "
    "[--positions P1,P2,...] [--angle f64|f32]";

/// Parsed command line of ropescale-inspect.
struct inspect_args {
  std::string config;                                  ///< CONFIG.json path
  std::optional<std::int64_t> seq_len;                 ///< --seq-len S (absent: HF's initial table)
  std::optional<std::string> weights;                  ///< --weights FILE (CLEX checkpoints)
  std::optional<std::vector<std::int64_t>> positions;  ///< --positions list
  cli_angle angle = cli_angle::f64;                    ///< --angle
  bool help = false;                                   ///< -h / --help
};

/// Result of parse_inspect_args: error is empty on success, else a one-line description.
struct inspect_args_result {
  inspect_args args;
  std::string error;
};

namespace cli_impl {

/// Plain decimal digits -> value in [lo, hi]; nullopt on anything else (sign, space, overflow).
inline std::optional<std::int64_t> parse_decimal(std::string_view s, std::int64_t lo,
                                                 std::int64_t hi) {
  if (s.empty() || s.size() > 30) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (v > (hi - digit) / 10) return std::nullopt;  // v*10 + digit would exceed hi
    v = v * 10 + digit;
  }
  if (v < lo) return std::nullopt;
  return v;
}

/// An option argument split at its first '=': "--name=VALUE" (has_value) or "--name".
/// Shared by ropescale-inspect and ropescale-compare (examples/compare_report.hpp).
struct option_token {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

inline option_token split_option(std::string_view arg) {
  option_token o{arg, {}, false};
  if (const auto eq = arg.find('='); eq != std::string_view::npos) {
    o.name = arg.substr(0, eq);
    o.value = arg.substr(eq + 1);
    o.has_value = true;
  }
  return o;
}

/// "--name VALUE": without "=VALUE", the value is the next argument (k advances past it).
/// False when there is no next argument.
inline bool take_value(const std::vector<std::string>& argv, std::size_t& k, option_token& o) {
  if (o.has_value) return true;
  if (k + 1 >= argv.size()) return false;
  o.value = argv[++k];
  o.has_value = true;
  return true;
}

}  // namespace cli_impl

/// Parses the arguments after the program name. Never throws except std::bad_alloc.
/// Contract: on success error is empty and args.config is non-empty (or args.help is set).
inline inspect_args_result parse_inspect_args(const std::vector<std::string>& argv) {
  inspect_args_result r;
  inspect_args& a = r.args;
  bool have_config = false, have_angle = false, flags_done = false;
  auto fail = [&r](std::string msg) {
    r.error = std::move(msg);
    return r;
  };

  for (std::size_t k = 0; k < argv.size(); ++k) {
    const std::string_view arg = argv[k];
    if (flags_done || arg.empty() || arg[0] != '-' || arg == "-") {
      if (have_config)
        return fail("unexpected extra argument " + quote_text(arg) + "; " +
                    std::string(inspect_usage));
      if (arg.empty()) return fail("CONFIG path is empty");
      a.config = std::string(arg);
      have_config = true;
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      a.help = true;
      continue;
    }
    // --name VALUE or --name=VALUE
    cli_impl::option_token opt = cli_impl::split_option(arg);
    const std::string_view name = opt.name;
    if (name != "--seq-len" && name != "--weights" && name != "--positions" && name != "--angle") {
      return fail("unknown option " + quote_text(name) + "; " + std::string(inspect_usage));
    }
    if (!cli_impl::take_value(argv, k, opt)) return fail(std::string(name) + " needs a value");
    const std::string_view value = opt.value;
    if (name == "--seq-len") {
      if (a.seq_len) return fail("--seq-len given twice");
      a.seq_len = cli_impl::parse_decimal(value, 1, inspect_max_seq_len);
      if (!a.seq_len) {
        return fail("--seq-len: must be an integer in [1, 2^53], got " + quote_text(value));
      }
    } else if (name == "--weights") {
      if (a.weights) return fail("--weights given twice");
      if (value.empty()) return fail("--weights: must be a file path, got ''");
      a.weights = std::string(value);
    } else if (name == "--positions") {
      if (a.positions) return fail("--positions given twice");
      std::vector<std::int64_t> list;
      std::size_t start = 0;
      while (true) {
        const std::size_t comma = value.find(',', start);
        const std::string_view item = value.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        const auto p = cli_impl::parse_decimal(item, 0, inspect_max_position);
        if (!p) {
          return fail(
              "--positions: must be a comma-separated list of integers in [0, 2^53), "
              "got " +
              quote_text(item) + " in " + quote_text(value));
        }
        if (list.size() >= inspect_max_positions) {
          return fail("--positions: at most " + std::to_string(inspect_max_positions) +
                      " positions, got more");
        }
        list.push_back(*p);
        if (comma == std::string_view::npos) break;
        start = comma + 1;
      }
      a.positions = std::move(list);
    } else {  // --angle
      if (have_angle) return fail("--angle given twice");
      have_angle = true;
      if (value == "f64") {
        a.angle = cli_angle::f64;
      } else if (value == "f32") {
        a.angle = cli_angle::f32;
      } else {
        return fail("--angle: must be f64 or f32, got " + quote_text(value));
      }
    }
  }
  if (!a.help && !have_config) return fail("missing CONFIG.json; " + std::string(inspect_usage));
  return r;
}

/// Overload for main(): skips argv[0].
inline inspect_args_result parse_inspect_args(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int k = 1; k < argc; ++k) args.emplace_back(argv[k] != nullptr ? argv[k] : "");
  return parse_inspect_args(args);
}

}  // namespace ropescale::detail

#endif  // ROPESCALE_DETAIL_CLI_ARGS_HPP

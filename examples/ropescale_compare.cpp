// SPDX-License-Identifier: Apache-2.0
// ropescale-compare: the RoPE scaling methods side by side for one model.
//
//   ropescale-compare CONFIG.json --context 8192,32768,131072
//                     [--methods all|pi,ntk,dynamic,yarn,llama3,longrope,clex] [--weights F]
//                     [--svg OUT.svg] [--json | --markdown] [--all-pairs]
//   ropescale-compare --check MODEL.gguf CONFIG.json [--seq-len N]
//
// --check compares the RoPE a GGUF file encodes with the model's config.json (gguf_check.hpp,
// docs/gguf.md): a table of what differs and why; exit 0 when they agree, 3 when they differ.
//
// Reads the model's base RoPE from CONFIG.json (rope_theta, head_dim, partial_rotary_factor and
// the original context L: original_max_position_embeddings for llama3/yarn/longrope configs,
// max_position_embeddings otherwise). For each target context C >= L it builds every method at
// s = C/L and evaluates its table at S = C: PI (linear), static NTK-aware, Dynamic NTK, YaRN (the
// config's betas if it is a YaRN config, else 32/1), Llama-3 (the config's bands, else Llama-3.1's
// 1/4), and, when the config provides them, LongRoPE (its short/long factors) and CLEX (its ODE
// weights, --weights). The report per method: per-pair scale θ'_i/θ_i and wavelength 2π/θ'_i,
// pairs whose wavelength exceeds L and C, out-of-distribution angles, the angle step of the
// highest-frequency pairs, and the attention factor (definitions: compare_report.hpp).
//
// stdout: an aligned text report (default), one JSON document (--json) or GitHub-markdown
// tables without the per-pair sections (--markdown, used for README). --svg writes a figure
// for the largest context (two panels: per-pair scale and wavelength, L and C marked).
// Errors: nothing on stdout, one "error: ..." line on stderr; exit 2 for bad usage (flags,
// contexts, methods the config cannot provide), 1 for bad data (config, weights, output file).
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "compare_report.hpp"
#include "gguf_check.hpp"
#include "ropescale/gguf.hpp"
#include "ropescale/hf_config.hpp"

namespace {

namespace cmp = ropescale::examples::compare;

constexpr int exit_bad_data = 1;
constexpr int exit_bad_usage = 2;

/// Prints "error: <message>" as exactly one bounded line (control bytes escaped).
void print_error(std::string_view message) {
  std::string line = "error: ";
  ropescale::detail::append_escaped(line, message, 2 * ropescale::detail::max_message_bytes);
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

constexpr std::string_view help_text =
    "\n"
    "Compare RoPE scaling methods for a model: for each target context C (>= the original\n"
    "context L from the config), build PI, NTK, Dynamic NTK, YaRN, Llama-3 (and LongRoPE / CLEX\n"
    "when the config provides them) at s = C/L and report per-pair scale, wavelength, pairs\n"
    "longer than L and C, out-of-distribution angles, high-frequency resolution and the\n"
    "attention factor.\n"
    "  --context N1,N2,...  target context lengths (required)\n"
    "  --methods LIST       all (default) or a comma list; a listed method the config cannot\n"
    "                       provide is an error (with all it is skipped with a note)\n"
    "  --weights FILE       CLEX checkpoint (.safetensors or model.safetensors.index.json)\n"
    "  --svg OUT.svg        write a figure for the largest context\n"
    "  --json               machine-readable output instead of the table\n"
    "  --markdown           GitHub-markdown tables (no per-pair sections)\n"
    "  --all-pairs          print every pair in the per-pair tables\n"
    "  -h, --help           this page\n"
    "\n"
    "ropescale-compare --check MODEL.gguf CONFIG.json [--seq-len N]\n"
    "  compares the RoPE a llama.cpp GGUF file encodes with the model's config.json (rotary\n"
    "  dim, layout, per-pair inv_freq, attention factor, LongRoPE's two tables) and explains\n"
    "  each difference (docs/gguf.md); exit 0 agree, 3 differ, 1/2 bad input.\n"
    "\n"
    "Exit status: 0 report written, 1 bad data (config, weights, output file), 2 bad usage\n"
    "(flags, contexts, methods the config cannot provide), 3 (--check) the files differ. On\n"
    "error nothing goes to stdout and one \"error: ...\" line to stderr.\n"
    "\n"
    "Example:\n"
    "  ropescale-compare examples/configs/llama-2-7b.json --context 16384,131072 --markdown\n";

/// The base RoPE and method sources of a loaded config.
struct from_config {
  cmp::base_rope base;
  cmp::method_sources sources;
};

from_config read_config(const std::string& path, const ropescale::loaded_config& loaded) {
  from_config out;
  cmp::base_rope& b = out.base;
  b.config = path;
  b.model = std::filesystem::path(path).stem().string();
  b.rope_type = std::string(loaded.method.rope_type());
  b.original_context = loaded.max_position_embeddings;
  std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        const auto& p = m.params();
        b.rope_theta = p.rope_theta;
        b.head_dim = p.head_dim;
        b.partial_rotary_factor = p.partial_rotary_factor;
        if constexpr (std::is_same_v<M, ropescale::llama3<double>>) {
          b.original_context = p.original_max_position_embeddings;
          out.sources.llama3 = p;
        } else if constexpr (std::is_same_v<M, ropescale::yarn<double>>) {
          b.original_context = p.original_max_position_embeddings;
          out.sources.yarn = p;
        } else if constexpr (std::is_same_v<M, ropescale::longrope<double>>) {
          b.original_context = p.original_max_position_embeddings;
          out.sources.longrope = p;
        } else if constexpr (std::is_same_v<M, ropescale::erased_method>) {
          const auto* held = m.template get_if<ropescale::clex<double>>();
          if (held == nullptr) return;
          b.original_context = held->params().max_position_embeddings;
          // The method object owns the lazily built ODE table; share it between the callbacks.
          const auto clex = std::make_shared<ropescale::clex<double>>(*held);
          cmp::external_method e;
          e.rope_type = "clex";
          e.inv_freq = [clex](std::int64_t S) { return clex->inv_freq(S); };
          e.attention_factor = [clex](std::int64_t S) { return clex->attention_factor(S); };
          e.query_scale = [clex](std::int64_t S) { return clex->query_scale(S); };
          e.factor = [clex](std::int64_t S) { return static_cast<double>(clex->scale_for(S)); };
          e.note = [clex](std::int64_t S) {
            std::string note = "t = " + std::to_string(clex->scale_for(S)) + " of " +
                               std::to_string(clex->params().max_factor);
            if (clex->beyond_trained_range(S)) note += ", beyond trained L*T";
            if (clex->params().log_scale) note += ", q x" + cmp::fmt(clex->query_scale(S), 4);
            return note;
          };
          out.sources.clex = std::move(e);
        }
      },
      loaded.method.variant());
  b.rotary_dim = loaded.method.rotary_dim();
  b.pairs = b.rotary_dim / 2;
  if (b.original_context < 1) {
    ropescale::detail::throw_message("max_position_embeddings",
                                     "missing; the report needs the original context length L");
  }
  return out;
}

/// Loads the config. A CLEX config without --weights is still compared: its base RoPE (rope_theta,
/// head_dim, partial_rotary_factor, L, all top-level in a CLEX config) is read with the CLEX rope
/// dict removed, and clex is skipped with a note (or rejected when --methods names it).
from_config load_config(const cmp::cli_args& args) {
  ropescale::load_options options;
  if (args.weights) options.weights = *args.weights;
  try {
    return read_config(args.config, ropescale::load_hf_config_file(args.config, options));
  } catch (const ropescale::invalid_parameter& e) {
    if (args.weights || e.key() != "weights") throw;  // only "type 'clex' needs the weights"
  }
  std::ifstream in(args.config, std::ios::binary);  // read once already: a regular, small file
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  nlohmann::json j = ropescale::detail::parse_config_text(text, "config");
  for (nlohmann::json* root : {&j, j.contains("text_config") ? &j["text_config"] : nullptr}) {
    if (root == nullptr || !root->is_object()) continue;
    for (const char* dict : {"rope_scaling", "rope_parameters"}) {
      const auto it = root->find(dict);
      if (it == root->end() || !it->is_object()) continue;
      const auto type = it->find(it->contains("rope_type") ? "rope_type" : "type");
      if (type != it->end() && *type == "clex") root->erase(dict);
    }
  }
  from_config cfg = read_config(args.config, ropescale::load_hf_config(j));
  cfg.base.rope_type = "clex";
  cfg.sources.clex_missing =
      "clex needs the checkpoint's ODE weights (--weights FILE.safetensors or "
      "model.safetensors.index.json)";
  return cfg;
}

int run(const cmp::cli_args& args) {
  const from_config cfg = load_config(args);
  const auto rows = static_cast<std::int64_t>(args.contexts.size()) * cfg.base.pairs;
  if (rows > cmp::max_report_pair_rows) {
    print_error("--context: " + std::to_string(args.contexts.size()) + " contexts x " +
                std::to_string(cfg.base.pairs) + " pairs = " + std::to_string(rows) +
                " per-pair rows exceed the report cap of 8192 (docs/limits.md)");
    return exit_bad_usage;
  }
  cmp::report rep;
  try {
    rep = cmp::build_report(cfg.base, args.contexts, args.methods, cfg.sources,
                            args.methods_explicit);
  } catch (const ropescale::invalid_parameter& e) {
    if (e.key().rfind("--", 0) == 0) {  // a CLI input problem, not the config's
      print_error(e.what());
      return exit_bad_usage;
    }
    throw;
  }

  if (args.svg) {
    const auto largest =
        std::max_element(rep.contexts.begin(), rep.contexts.end(),
                         [](const cmp::context_result& a, const cmp::context_result& b) {
                           return a.context < b.context;
                         });
    const std::string doc = cmp::to_svg(rep, *largest);
    std::ofstream f(*args.svg, std::ios::binary | std::ios::trunc);
    f << doc;
    f.close();
    if (!f) {
      print_error("--svg: cannot write '" + *args.svg + "'");
      return exit_bad_data;
    }
  }
  const std::string out = args.json       ? cmp::to_json(rep).dump(2) + "\n"
                          : args.markdown ? cmp::to_markdown(rep)
                                          : cmp::to_text(rep, args.all_pairs);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : exit_bad_data;
}

/// --check mode: which file is the GGUF is decided by the magic bytes, so either order works.
int run_check(const ropescale::examples::gguf_check::check_args& args) {
  namespace gc = ropescale::examples::gguf_check;
  const bool first_gguf = ropescale::gguf::has_gguf_magic(args.first);
  const bool second_gguf = ropescale::gguf::has_gguf_magic(args.second);
  if (first_gguf == second_gguf) {
    print_error(std::string("--check: exactly one of the two files must be a GGUF file (magic "
                            "\"GGUF\"), got ") +
                (first_gguf ? "two" : "none"));
    return first_gguf ? exit_bad_usage : exit_bad_data;
  }
  const std::string& gguf_path = first_gguf ? args.first : args.second;
  const std::string& config_path = first_gguf ? args.second : args.first;
  const ropescale::gguf::file f = ropescale::gguf::file::open(gguf_path);
  const ropescale::loaded_config g = ropescale::load_gguf(f);
  const ropescale::loaded_config c = ropescale::load_hf_config_file(config_path);
  const ropescale::gguf::value* arch = f.find("general.architecture");
  const gc::report rep = gc::check(g, arch != nullptr ? arch->text : "", c, args.seq_len);
  const std::string out = gc::to_text(rep, gguf_path, config_path);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) return exit_bad_data;
  return rep.differ() ? gc::exit_differ : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> argv_list;
  for (int k = 1; k < argc; ++k) argv_list.emplace_back(argv[k] != nullptr ? argv[k] : "");
  if (std::find(argv_list.begin(), argv_list.end(), "--check") != argv_list.end()) {
    ropescale::examples::gguf_check::check_args check;
    const std::string err = ropescale::examples::gguf_check::parse_check_args(argv_list, check);
    if (!err.empty()) {
      print_error(err);
      return exit_bad_usage;
    }
    try {
      return run_check(check);
    } catch (const std::exception& e) {
      print_error(e.what());
      return exit_bad_data;
    }
  }
  const cmp::cli_parse_result parsed = cmp::parse_args(argv_list);
  if (!parsed.error.empty()) {
    print_error(parsed.error);
    return exit_bad_usage;
  }
  if (parsed.args.help) {
    std::printf("%s\n%s", std::string(cmp::usage).c_str(), std::string(help_text).c_str());
    return 0;
  }
  try {
    return run(parsed.args);
  } catch (const std::exception& e) {
    print_error(e.what());
    return exit_bad_data;
  }
}

// SPDX-License-Identifier: Apache-2.0
// ropescale-inspect: load a Hugging Face config.json or a GGUF model file (recognised by its
// magic bytes, not its extension; docs/gguf.md) and print the RoPE table it implies.
//
//   ropescale-inspect CONFIG.json|MODEL.gguf [--seq-len N] [--weights FILE.safetensors]
//                     [--positions P1,P2,...] [--angle f64|f32]
//
// stdout: one JSON object
//   {"rope_type": str, "head_dim": int, "rotary_dim": int, "attention_factor": number,
//    "inv_freq": [rotary_dim/2 numbers], "cos": [[...] per position], "sin": [[...] ...], ...}
// cos/sin appear only with --positions and include the attention factor A (HF-style). Numbers are
// printed with 17 significant digits. --seq-len absent means HF's initial table (dynamic →
// default, longrope → short factors). --angle f64 (default) forms p·ω in double and reduces it
// mod 2π (docs/reference.md §5.2); --angle f32 reproduces HF's binary32 angle (docs/reference.md
// §5.3). inv_freq is the double table in both modes. Extra keys: softmax_scale_multiplier,
// max_position_embeddings, seq_len, positions, angle, layout (the pairing the model's weights
// need: "neox", "gptj" or "deinterleaved"; loaded_config::layout), diagnostics.
//
// Errors: nothing on stdout, one "error: ..." line on stderr; exit 2 for bad usage (flags,
// --seq-len, --positions), 1 for bad data (config, weights file, non-finite output).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ropescale/detail/angle.hpp"
#include "ropescale/detail/cli_args.hpp"
#include "ropescale/detail/file_io.hpp"
#include "ropescale/detail/json.hpp"
#include "ropescale/gguf.hpp"
#include "ropescale/hf_config.hpp"

namespace {

constexpr int exit_bad_data = 1;
constexpr int exit_bad_usage = 2;
/// Most cos values (positions × pairs) one run prints (docs/limits.md): about 50 MB of JSON.
constexpr std::size_t max_output_values = std::size_t{1} << 20;

constexpr const char* help_text =
    "\n"
    "Prints, as one JSON object, the RoPE a Hugging Face config.json implies: rope_type,\n"
    "head_dim, rotary_dim, attention_factor, inv_freq (rotary_dim/2 values, 17 significant\n"
    "digits), layout, and with --positions the cos/sin rows (attention factor included).\n"
    "\n"
    "  CONFIG.json              the model's config.json\n"
    "  --seq-len N              table for a sequence of N positions (dynamic, longrope, clex);\n"
    "                           absent: the table HF builds at load\n"
    "  --weights FILE           CLEX checkpoint (.safetensors, model.safetensors.index.json or\n"
    "                           a directory); required for CLEX configs\n"
    "  --positions P1,P2,...    also print cos and sin rows for these positions\n"
    "  --angle f64|f32          f64 (default): double angle reduced mod 2*pi; f32: HF's binary32\n"
    "                           angle\n"
    "  -h, --help               this page\n"
    "  Flags also take the form --name=VALUE.\n"
    "\n"
    "Exit status: 0 printed, 1 bad data (config, weights file), 2 bad usage (flags, values).\n"
    "On error nothing goes to stdout and one \"error: ...\" line to stderr.\n"
    "\n"
    "Example:\n"
    "  ropescale-inspect examples/configs/llama-3.1-8b.json --seq-len 131072 --positions 0,8192\n";

/// Prints "error: <message>" as exactly one bounded line (control bytes escaped).
void print_error(std::string_view message) {
  std::string line = "error: ";
  ropescale::detail::append_escaped(line, message, 2 * ropescale::detail::max_message_bytes);
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

/// Thrown when an output number is not finite (JSON has no nan/inf).
struct non_finite_output : std::exception {
  std::string what_;
  explicit non_finite_output(std::string w) : what_(std::move(w)) {}
  const char* what() const noexcept override { return what_.c_str(); }
};

/// JSON text writer with %.17g numbers; refuses non-finite values.
class json_writer {
 public:
  void raw(std::string_view s) { out_ += s; }
  void key(std::string_view k) {
    out_ += ", ";
    out_ += ropescale::detail::json_quote(k);
    out_ += ": ";
  }
  void number(double v, std::string_view what) {
    if (!std::isfinite(v)) {
      throw non_finite_output(std::string(what) + ": the computed value is not finite (" +
                              ropescale::detail::format_double(v) + "); JSON cannot hold it");
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    out_ += buf;
  }
  void integer(std::int64_t v) { out_ += std::to_string(v); }
  template <class T>
  void numbers(const std::vector<T>& v, std::string_view what) {
    out_ += '[';
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i != 0) out_ += ", ";
      number(static_cast<double>(v[i]), what);
    }
    out_ += ']';
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

int run(const ropescale::detail::inspect_args& args) {
  using ropescale::detail::cli_angle;
  ropescale::load_options options;
  if (args.weights) {
    // A checkpoint is a .safetensors file, a model.safetensors.index.json or a directory; the
    // CLEX loader checks its contents. A path that does not exist is an error for every type.
    // The probe never blocks: a FIFO or device is refused before it is opened for reading.
    std::error_code ec;
    if (!std::filesystem::is_directory(*args.weights, ec))
      (void)ropescale::detail::input_file::open(*args.weights, "--weights file");
    options.weights = *args.weights;
  }
  const ropescale::loaded_config cfg = [&] {
    if (!ropescale::gguf::has_gguf_magic(args.config)) {
      return ropescale::load_hf_config_file(args.config, options);
    }
    ropescale::loaded_config g = ropescale::load_gguf_file(args.config);
    if (options.weights) {
      g.diagnostics.push_back("weights ignored: a GGUF file describes no CLEX checkpoint");
    }
    return g;
  }();
  const ropescale::method& m = cfg.method;
  const std::vector<double> inv_freq = m.inv_freq(args.seq_len);
  const double a = static_cast<double>(m.attention_factor(args.seq_len));

  json_writer w;
  w.raw("{");
  w.raw(ropescale::detail::json_quote("rope_type"));
  w.raw(": ");
  w.raw(ropescale::detail::json_quote(m.rope_type()));
  w.key("head_dim");
  w.integer(m.head_dim());
  w.key("rotary_dim");
  w.integer(m.rotary_dim());
  w.key("attention_factor");
  w.number(a, "attention_factor");
  w.key("inv_freq");
  w.numbers(inv_freq, "inv_freq");
  if (args.positions && args.positions->size() * inv_freq.size() > max_output_values) {
    print_error("--positions: " + std::to_string(args.positions->size()) + " positions x " +
                std::to_string(inv_freq.size()) + " pairs exceed the output cap of 2^20 cos " +
                "values (docs/limits.md)");
    return exit_bad_usage;
  }
  if (args.positions) {
    const std::size_t n = inv_freq.size();
    std::vector<float> inv32;
    if (args.angle == cli_angle::f32) inv32 = m.inv_freq_hf_f32(args.seq_len);
    std::vector<float> cos_row(n), sin_row(n);
    std::string cos_text, sin_text;
    for (std::size_t k = 0; k < args.positions->size(); ++k) {
      const std::int64_t p = (*args.positions)[k];
      for (std::size_t i = 0; i < n; ++i) {
        if (args.angle == cli_angle::f32) {
          ropescale::detail::hf_f32_cos_sin(p, inv32[i], a, cos_row[i], sin_row[i]);
        } else {
          ropescale::detail::accurate_cos_sin(p, inv_freq[i], a, cos_row[i], sin_row[i]);
        }
      }
      json_writer c, s;
      c.numbers(cos_row, "cos");
      s.numbers(sin_row, "sin");
      cos_text += (k == 0 ? "" : ", ") + c.str();
      sin_text += (k == 0 ? "" : ", ") + s.str();
    }
    w.key("cos");
    w.raw("[" + cos_text + "]");
    w.key("sin");
    w.raw("[" + sin_text + "]");
  }
  w.key("softmax_scale_multiplier");
  w.number(m.softmax_scale_multiplier(), "softmax_scale_multiplier");
  w.key("max_position_embeddings");
  w.integer(cfg.max_position_embeddings);
  if (args.seq_len) {
    w.key("seq_len");
    w.integer(*args.seq_len);
  }
  if (args.positions) {
    w.key("positions");
    w.raw("[");
    for (std::size_t k = 0; k < args.positions->size(); ++k) {
      if (k != 0) w.raw(", ");
      w.integer((*args.positions)[k]);
    }
    w.raw("]");
  }
  w.key("angle");
  w.raw(args.angle == cli_angle::f32 ? "\"f32\"" : "\"f64\"");
  w.key("layout");
  w.raw(ropescale::detail::json_quote(ropescale::name(cfg.layout)));
  w.key("diagnostics");
  w.raw("[");
  for (std::size_t k = 0; k < cfg.diagnostics.size(); ++k) {
    if (k != 0) w.raw(", ");
    w.raw(ropescale::detail::json_quote(cfg.diagnostics[k]));
  }
  w.raw("]}\n");

  const std::string& text = w.str();
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    print_error("cannot write to stdout");
    return exit_bad_data;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const ropescale::detail::inspect_args_result parsed =
      ropescale::detail::parse_inspect_args(argc, argv);
  if (!parsed.error.empty()) {
    print_error(parsed.error);
    return exit_bad_usage;
  }
  if (parsed.args.help) {
    std::printf("%s\n%s", std::string(ropescale::detail::inspect_usage).c_str(), help_text);
    return 0;
  }
  try {
    return run(parsed.args);
  } catch (const std::exception& e) {
    print_error(e.what());
    return exit_bad_data;
  } catch (...) {
    print_error("unexpected internal error");
    return exit_bad_data;
  }
}

// SPDX-License-Identifier: Apache-2.0
// clex-make-weights: writes a small, deterministic safetensors file with the CLEX ODE tensors
// (docs/reference.md §4.2) so CLEX can be tried without a real checkpoint:
//
//   clex-make-weights OUT.safetensors [--head-dim D] [--param-factor P] [--seed N] [--inv-freq]
//   clex-make-weights --help
//
//   model.clex_layer.proj_func.ode_up_proj    BF16 [D/2, P·D]
//   model.clex_layer.proj_func.ode_down_proj  BF16 [P·D, D/2]
//   model.clex_layer.inv_freq                 BF16 [D/2]   (only with --inv-freq: 10000^(−2k/D))
//
// D is the rotary dim (default 128, Llama-2-7B), P the config's param_factor (default 1). The
// weights are uniform pseudo-random values (splitmix64, identical on every platform), with W_down
// small enough that the ODE stays a mild perturbation of NTK-aware scaling with factor 2t − 1;
// they are NOT a trained CLEX model, so the tables they give only demonstrate the machinery. Then:
//
//   ropescale-inspect examples/configs/clex-llama-2-7b-64k.json --weights OUT.safetensors --seq-len
//   20000
//
// The file is written by the tiny writer below (8-byte little-endian header length, JSON header
// padded with spaces to 8 bytes, then the little-endian data), independent of ropescale's reader.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "ropescale/detail/quote.hpp"

namespace {

struct tensor_out {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<std::uint16_t> bf16;
};

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// Uniform in [-1, 1) from the top 53 bits.
double uniform_pm1(std::uint64_t& state) {
  return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-52 - 1.0;
}

/// float -> bf16 bits, round to nearest even (inputs are finite).
std::uint16_t to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

bool write_safetensors(const std::string& path, const std::vector<tensor_out>& tensors) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\",\"generator\":\"clex-make-weights\"}";
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    const std::uint64_t bytes = 2 * t.bf16.size();
    header += ",\"" + t.name + "\":{\"dtype\":\"BF16\",\"shape\":[";
    for (std::size_t i = 0; i < t.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(t.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  std::string out;
  for (int i = 0; i < 8; ++i)
    out += static_cast<char>((static_cast<std::uint64_t>(header.size()) >> (8 * i)) & 0xffu);
  out += header;
  for (const auto& t : tensors)
    for (std::uint16_t h : t.bf16) {
      out += static_cast<char>(h & 0xffu);
      out += static_cast<char>(h >> 8);
    }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  return static_cast<bool>(f);
}

bool parse_int(const char* s, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v < lo || v > hi) return false;
  out = v;
  return true;
}

constexpr const char* usage_line =
    "usage: clex-make-weights OUT.safetensors [--head-dim D] [--param-factor P] [--seed N] "
    "[--inv-freq]";

constexpr const char* help_text =
    "\n"
    "Writes deterministic, untrained CLEX ODE weights (BF16 safetensors) of the shapes a CLEX\n"
    "config expects, so CLEX can be tried without a real checkpoint.\n"
    "\n"
    "  OUT.safetensors     file to write (replaced if it exists)\n"
    "  --head-dim D        rotary dim of the model, even, in [4, 4096] (default 128)\n"
    "  --param-factor P    the config's param_factor, in [1, 64] (default 1)\n"
    "  --seed N            pseudo-random seed, >= 0 (default 2024)\n"
    "  --inv-freq          also write model.clex_layer.inv_freq (10000^(-2k/D))\n"
    "  -h, --help          this page\n"
    "\n"
    "Exit status: 0 written, 1 the file cannot be written, 2 bad arguments (one \"error:\" line\n"
    "on stderr).\n"
    "\n"
    "Example:\n"
    "  clex-make-weights /tmp/clex-demo.safetensors && ropescale-inspect\n"
    "    examples/configs/clex-llama-2-7b-64k.json --weights /tmp/clex-demo.safetensors "
    "--seq-len 20000\n";

/// Bad arguments: one "error: ...; usage: ..." line on stderr, exit 2.
int usage(const std::string& msg) {
  std::fprintf(stderr, "error: %s; %s\n", msg.c_str(), usage_line);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out_path;
  std::int64_t d = 128, p = 1, seed = 2024;
  bool with_inv_freq = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::int64_t lo, std::int64_t hi, std::int64_t& dst) {
      return i + 1 < argc && parse_int(argv[++i], lo, hi, dst);
    };
    if (a == "-h" || a == "--help") {
      std::printf("%s\n%s", usage_line, help_text);
      return 0;
    }
    if (a == "--head-dim") {
      if (!value(4, 4096, d) || d % 2 != 0)
        return usage("--head-dim: must be an even integer in [4, 4096]");
    } else if (a == "--param-factor") {
      if (!value(1, 64, p)) return usage("--param-factor: must be an integer in [1, 64]");
    } else if (a == "--seed") {
      if (!value(0, INT64_MAX, seed)) return usage("--seed: must be a non-negative integer");
    } else if (a == "--inv-freq") {
      with_inv_freq = true;
    } else if (!a.empty() && a[0] != '-' && out_path.empty()) {
      out_path = a;
    } else {
      return usage("unexpected argument " + ropescale::detail::quote_text(a, 60));
    }
  }
  if (out_path.empty()) return usage("missing OUT.safetensors");

  const std::int64_t n = d / 2, h = p * d;
  std::uint64_t state = static_cast<std::uint64_t>(seed);
  tensor_out up{"model.clex_layer.proj_func.ode_up_proj", {n, h}, {}};
  tensor_out down{"model.clex_layer.proj_func.ode_down_proj", {h, n}, {}};
  const double up_scale = 0.5 / std::sqrt(static_cast<double>(n));
  const double down_scale = 0.005 / std::sqrt(static_cast<double>(h));
  for (std::int64_t i = 0; i < n * h; ++i)
    up.bf16.push_back(to_bf16(static_cast<float>(up_scale * uniform_pm1(state))));
  for (std::int64_t i = 0; i < n * h; ++i)
    down.bf16.push_back(to_bf16(static_cast<float>(down_scale * uniform_pm1(state))));
  std::vector<tensor_out> tensors = {up, down};
  if (with_inv_freq) {
    tensor_out inv{"model.clex_layer.inv_freq", {n}, {}};
    for (std::int64_t k = 0; k < n; ++k)
      inv.bf16.push_back(to_bf16(static_cast<float>(
          std::pow(10000.0, -2.0 * static_cast<double>(k) / static_cast<double>(d)))));
    tensors.push_back(inv);
  }
  if (!write_safetensors(out_path, tensors)) {
    std::fprintf(stderr, "error: cannot write %s\n", out_path.c_str());
    return 1;
  }
  return 0;
}

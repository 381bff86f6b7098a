// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the Hugging Face config.json loader (include/ropescale/hf_config.hpp), shared by
// the libFuzzer binary (fuzz_config.cpp) and the ctest replay (tests/test_fuzz_regressions.cpp).
// Input = config.json text. It is loaded twice: with default options, and with
// layer_type "sliding_attention" plus CLEX weights (a small valid checkpoint, n = 4, p = 1,
// written once to a scratch directory), so every rope type, the per-layer-type form and the CLEX
// branch are reachable. Allowed outcome for bad input: std::invalid_argument.
// On success the method must keep its contract: dimensions consistent, every table finite and
// non-negative with the right length, attention factor / scales finite and > 0 for S in a sweep
// that crosses L and L0, seq_len 0 rejected; a tiny cos/sin table (accurate and HF-f32) builds and
// a rotation of one head keeps every pair's norm times A and leaves channels >= rotary_dim alone.
// The library's own caps (docs/limits.md: head_dim <= 65536, CLEX solver work) bound every table
// the harness asks for; it runs under -rss_limit_mb=1024 -timeout=10 (the resource budget), and
// every rejection message must be bounded and free of control bytes.
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_CONFIG_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_CONFIG_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "fuzz/fuzz_scratch.hpp"
#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/hf_config.hpp"

namespace ropescale_fuzz {

/// A valid CLEX checkpoint for d = 8 (n = 4), p = 1, θ = 10000: W_up [4, 8], W_down [8, 4],
/// inv_freq [4], all F32. Returns its path (written once per process).
inline const std::filesystem::path& clex_checkpoint_path() {
  static const std::filesystem::path path = [] {
    const int n = 4, pd = 8;
    std::vector<float> up(n * pd), down(pd * n), inv(n);
    for (int i = 0; i < n * pd; ++i) up[i] = static_cast<float>((i * 7 + 3) % 11 - 5) * 0.01f;
    for (int i = 0; i < pd * n; ++i) down[i] = static_cast<float>((i * 5 + 1) % 13 - 6) * 0.01f;
    for (int k = 0; k < n; ++k) inv[k] = static_cast<float>(std::pow(10000.0, -2.0 * k / 8.0));
    const std::string header =
        R"({"model.clex_layer.proj_func.ode_up_proj":{"dtype":"F32","shape":[4,8],"data_offsets":[0,128]},)"
        R"("model.clex_layer.proj_func.ode_down_proj":{"dtype":"F32","shape":[8,4],"data_offsets":[128,256]},)"
        R"("model.clex_layer.inv_freq":{"dtype":"F32","shape":[4],"data_offsets":[256,272]}})";
    std::vector<unsigned char> bytes(8);
    for (int i = 0; i < 8; ++i)
      bytes[i] = static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff);
    bytes.insert(bytes.end(), header.begin(), header.end());
    for (const auto* v : {&up, &down, &inv}) {
      const auto* b = reinterpret_cast<const unsigned char*>(v->data());
      bytes.insert(bytes.end(), b, b + v->size() * sizeof(float));
    }
    return write_scratch("clex_n4_p1.safetensors", bytes.data(), bytes.size());
  }();
  return path;
}

inline bool finite_non_negative(double x) { return std::isfinite(x) && x >= 0.0; }

/// Rotates one head (head_dim H, 1 token at position 2) with the table built from (ω, A) and
/// checks norms and pass-through channels.
inline void check_rotation(const ropescale::method& m, const std::vector<double>& w, double a,
                           ropescale::angle_mode mode, const std::vector<float>& w32) {
  using namespace ropescale;
  frequency_table f;
  f.inv_freq = w;
  f.inv_freq_hf_f32 = w32;
  f.attention_factor = a;
  f.mode = mode;
  const cos_sin_rows rows(f, 3);
  const std::int64_t h = m.head_dim(), d = m.rotary_dim(), n = d / 2;
  for (std::size_t i = 0; i < rows.row_stride() * 3; ++i) {
    const float v = rows.data()[i];
    ROPESCALE_FUZZ_CHECK(std::isfinite(v) &&
                         std::fabs(v) <= static_cast<float>(a) * 1.0001f + 1e-30f);
  }
  std::vector<float> x(static_cast<std::size_t>(h));
  for (std::int64_t c = 0; c < h; ++c) x[c] = static_cast<float>((c * 37 % 19) - 9) * 0.125f;
  const std::vector<float> before = x;
  const std::int64_t position = 2;
  for (layout lay : {layout::neox, layout::gptj}) {
    x = before;
    apply_rotary(dense_view(x.data(), 1, 1, h), rows, token_positions::list(&position, 1), lay, d);
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t ia = lay == layout::neox ? i : 2 * i;
      const std::int64_t ib = lay == layout::neox ? i + n : 2 * i + 1;
      const double in = std::hypot(before[ia], before[ib]);
      const double out = std::hypot(x[ia], x[ib]);
      ROPESCALE_FUZZ_CHECK(std::isfinite(out));
      ROPESCALE_FUZZ_CHECK(std::fabs(out - a * in) <= 1e-5 * (a * in) + 1e-30);
    }
    ROPESCALE_FUZZ_CHECK(std::memcmp(x.data() + d, before.data() + d, sizeof(float) * (h - d)) ==
                         0);
  }
}

inline void check_method(const ropescale::loaded_config& lc) {
  const ropescale::method& m = lc.method;
  const std::string_view type = m.rope_type();
  bool known = false;
  for (const char* t : ropescale::detail::supported_rope_types) known = known || type == t;
  ROPESCALE_FUZZ_CHECK(known);
  const std::int64_t h = m.head_dim(), d = m.rotary_dim(), n = m.pairs();
  ROPESCALE_FUZZ_CHECK(h >= 1 && d >= 2 && d % 2 == 0 && d <= h && n == d / 2);
  if (type == "proportional") ROPESCALE_FUZZ_CHECK(d == h);
  ROPESCALE_FUZZ_CHECK(lc.max_position_embeddings >= 0);
  const double ssm = m.softmax_scale_multiplier();
  ROPESCALE_FUZZ_CHECK(std::isfinite(ssm) && ssm > 0.0);
  ROPESCALE_FUZZ_CHECK(n <= ropescale::detail::max_head_dim / 2);  // docs/limits.md

  const bool clex = type == "clex";
  const std::int64_t l = lc.max_position_embeddings;
  std::vector<std::int64_t> seq = {1, 2, 4096, 131072};
  if (l > 0 && !clex) {
    for (std::int64_t s : {l - 1, l, l + 1, 2 * l, 64 * l}) {
      if (s >= 1 && s <= (std::int64_t{1} << 53)) seq.push_back(s);
    }
  }
  if (clex && l > 0) seq.push_back(l);  // t = 1; larger S would build the whole ODE table
  if (!clex) seq.push_back(std::int64_t{1} << 53);

  const std::vector<double> w0 = m.inv_freq();
  const std::vector<float> w32 = m.inv_freq_hf_f32();
  const double a0 = m.attention_factor();
  ROPESCALE_FUZZ_CHECK(static_cast<std::int64_t>(w0.size()) == n);
  ROPESCALE_FUZZ_CHECK(static_cast<std::int64_t>(w32.size()) == n);
  for (std::int64_t i = 0; i < n; ++i) {
    ROPESCALE_FUZZ_CHECK(finite_non_negative(w0[i]));
    ROPESCALE_FUZZ_CHECK(finite_non_negative(w32[i]));
    if (type != "proportional") ROPESCALE_FUZZ_CHECK(w0[i] > 0.0);
  }
  ROPESCALE_FUZZ_CHECK(std::isfinite(a0) && a0 > 0.0);
  for (std::int64_t s : seq) {
    const std::vector<double> w = m.inv_freq(s);
    ROPESCALE_FUZZ_CHECK(static_cast<std::int64_t>(w.size()) == n);
    for (double v : w) ROPESCALE_FUZZ_CHECK(finite_non_negative(v));
    if (!m.depends_on_seq_len()) ROPESCALE_FUZZ_CHECK(w == w0);
    const double a = m.attention_factor(s);
    ROPESCALE_FUZZ_CHECK(std::isfinite(a) && a > 0.0);
    const double q = m.query_scale(s);
    ROPESCALE_FUZZ_CHECK(std::isfinite(q) && q >= 0.0);
  }
  bool threw = false;
  try {
    (void)m.inv_freq(0);
  } catch (const std::invalid_argument&) {
    threw = true;
  }
  ROPESCALE_FUZZ_CHECK(threw);

  // A beyond float range makes the float tables infinite (reported, see README); skip those.
  if (n <= 512 && a0 < 1e30) {
    check_rotation(m, w0, a0, ropescale::angle_mode::accurate, {});
    check_rotation(m, w0, a0, ropescale::angle_mode::f32, w32);
  }
}

/// Fuzz entry: returns 0; aborts on a broken invariant, lets unexpected exceptions escape.
inline int run_config(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check_method(ropescale::load_hf_config_string(text));
  } catch (const std::invalid_argument& e) {
    check_error_message(e.what());
  }
  ropescale::load_options opt;
  opt.layer_type = "sliding_attention";
  opt.weights = clex_checkpoint_path();
  opt.use_checkpoint_inv_freq = size % 2 == 0;
  try {
    check_method(ropescale::load_hf_config_string(text, opt));
  } catch (const std::invalid_argument& e) {
    check_error_message(e.what());
  }
  return 0;
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_CONFIG_HPP

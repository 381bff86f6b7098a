// SPDX-License-Identifier: Apache-2.0
// The README's usage example, compiled and run by ctest so it cannot rot: load a model's
// config.json, build an accurate cos/sin cache for the context you serve, and rotate Q and K of a
// batch of tokens in place with the fused kernel.
//
//     quickstart [CONFIG.json]      (default: examples/configs/llama-3.1-8b.json)
#include <cstdio>
#include <exception>
#include <ropescale/ropescale.hpp>
#include <vector>

int main(int argc, char** argv) try {
  const char* path = argc > 1 ? argv[1] : ROPESCALE_EXAMPLE_CONFIG;

  // 1. The method and its parameters, standardised exactly as Hugging Face transformers v5 does.
  const ropescale::loaded_config cfg = ropescale::load_hf_config_file(path);
  const ropescale::method& rope = cfg.method;
  const std::int64_t d = rope.rotary_dim();

  // 2. cos/sin rows for positions [0, 8192), attention factor folded in, accurate to 2e-7.
  ropescale::cos_sin_table table = ropescale::cos_sin_table::from_method(rope, 8192);
  const auto rows = table.snapshot();  // immutable; safe to share across threads

  // 3. Rotate 4 tokens of Q (32 heads) and K (8 heads, GQA) in place, in the layout the model's
  //    HF class uses (NeoX here). The views carry the buffer sizes: a view that does not fit is
  //    rejected before anything is written.
  const std::int64_t tokens = 4, q_heads = 32, k_heads = 8, head_dim = rope.head_dim();
  std::vector<float> q(tokens * q_heads * head_dim, 0.5f), k(tokens * k_heads * head_dim, 0.25f);
  const std::vector<std::int64_t> positions = {0, 1, 4096, 8191};
  ropescale::apply_rotary(ropescale::dense_view(q.data(), q.size(), tokens, q_heads, head_dim),
                          ropescale::dense_view(k.data(), k.size(), tokens, k_heads, head_dim),
                          *rows, ropescale::token_positions::list(positions.data(), tokens),
                          cfg.layout, d);

  std::printf("%s: rope_type=%.*s rotary_dim=%lld attention_factor=%.17g layout=%s isa=%s\n", path,
              static_cast<int>(rope.rope_type().size()), rope.rope_type().data(),
              static_cast<long long>(d), rope.attention_factor(), ropescale::name(cfg.layout),
              ropescale::name(ropescale::active_isa()));
  const float* q3 = &q[3 * q_heads * head_dim];
  std::printf("q[token 3, head 0, 0..1] = %.9g %.9g\n", static_cast<double>(q3[0]),
              static_cast<double>(q3[1]));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}

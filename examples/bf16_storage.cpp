// SPDX-License-Identifier: Apache-2.0
// The README's bf16 example, compiled and run by ctest: bf16 values built from floats (rounded to
// nearest even) or from raw bits, an engine's packed QKV buffer of bf16 bits (std::uint16_t)
// viewed as ropescale::bf16 and rotated in place (math in float, one RNE rounding per value),
// checked against the same rotation done in float.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <ropescale/apply.hpp>
#include <ropescale/cos_sin_table.hpp>
#include <ropescale/types.hpp>
#include <vector>

int main() try {
  // bf16 from a float rounds to nearest even; raw bits only through from_bits.
  const ropescale::bf16 half{0.5f};
  const ropescale::bf16 third{1.0f / 3.0f};             // 0.333984375 (nearest bf16)
  const auto one = ropescale::bf16::from_bits(0x3F80);  // 1.0
  const float widened = static_cast<float>(third);      // exact widening
  // ropescale::bf16 bad{1};  // does not compile: neither the value 1 nor the bits 0x0001

  // An engine's packed QKV rows in bf16 bits: 2 tokens × (8 Q + 2 K + 2 V heads) × 64 channels.
  const std::int64_t tokens = 2, q_heads = 8, kv_heads = 2, head_dim = 64;
  std::vector<std::uint16_t> qkv_bits(tokens * (q_heads + 2 * kv_heads) * head_dim);
  std::vector<float> reference(qkv_bits.size());
  for (std::size_t i = 0; i < qkv_bits.size(); ++i) {
    const ropescale::bf16 v{std::sin(0.1f * static_cast<float>(i))};
    qkv_bits[i] = v.bits;
    reference[i] = static_cast<float>(v);
  }
  // bf16 is a 2-byte standard-layout wrapper of its bits (static_asserted in types.hpp).
  auto* qkv = reinterpret_cast<ropescale::bf16*>(qkv_bits.data());
  const auto [q, k, v] =
      ropescale::packed_qkv_views(qkv, qkv_bits.size(), tokens, q_heads, kv_heads, head_dim);

  // Default RoPE (θ = 10000) for positions [0, 4096); rotate Q and K of tokens 100 and 101.
  std::vector<double> inv_freq(head_dim / 2);
  for (std::size_t i = 0; i < inv_freq.size(); ++i) {
    inv_freq[i] = std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  }
  const ropescale::cos_sin_table table(inv_freq, 1.0, 4096);
  const auto rows = table.snapshot();
  const auto pos = ropescale::token_positions::range(100);
  ropescale::apply_rotary(q, k, *rows, pos, ropescale::layout::neox, head_dim);

  // The same rotation in float, then one rounding to bf16, must give the same bits.
  const auto ref = ropescale::packed_qkv_views(reference.data(), reference.size(), tokens, q_heads,
                                               kv_heads, head_dim);
  ropescale::apply_rotary(ref.q, ref.k, *rows, pos, ropescale::layout::neox, head_dim);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < qkv_bits.size(); ++i) {
    differ += qkv_bits[i] != ropescale::bf16(reference[i]).bits ? 1 : 0;
  }
  std::printf(
      "bf16{0.5f} bits 0x%04X, bf16{1/3} = %.9g, from_bits(0x3F80) = %g; "
      "%zu of %zu rotated values differ from float-then-round\n",
      static_cast<unsigned>(half.bits), static_cast<double>(widened),
      static_cast<double>(static_cast<float>(one)), differ, qkv_bits.size());
  (void)v;
  return differ == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}

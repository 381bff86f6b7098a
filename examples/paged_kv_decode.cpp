// SPDX-License-Identifier: Apache-2.0
// paged-kv-example: an engine's attention step with a paged bf16 KV cache, written with the fused
// RoPE + KV append of ropescale/kv_append.hpp (docs/kv_append.md).
//
// The engine: one attention layer with GQA (8 query heads share 2 KV heads, head_dim 64), f32
// activations from a fused QKV projection (one packed [Q | K | V] row per token), and a KV cache
// of 16 pages × 8 slots in bf16, head-major ([page][head][slot][dim], FlashInfer's HND layout).
// Three sequences get pages from a shuffled free list (each has a block table: its pages in order),
// so token i of a sequence lives in slot block_table[i / 8]·8 + i % 8.
//
// Step 1 prefills all three prompts in ONE call: their tokens are concatenated (positions as a
// list), plus one padding token (slot −1, as a batch padded to a fixed size would have). Each
// further step decodes one token per sequence, again in one call. Per call, rope_kv_append rotates
// Q in place in the packed buffer, rotates K straight into the bf16 K cache and copies V into the
// V cache: K is read once, not rotated in place and read again by a separate append.
//
// Attention for each new query then reads its sequence's keys and values back through the block
// table. The program checks every attention output against a double-precision reference computed
// from the raw activations (exact angles, no cache, no rounding), allowing for bf16 storage, and
// exits non-zero on a mismatch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <numeric>
#include <random>
#include <ropescale/cos_sin_table.hpp>
#include <ropescale/kv_append.hpp>
#include <vector>

namespace {

namespace rs = ropescale;

constexpr std::int64_t head_dim = 64;
constexpr std::int64_t q_heads = 8;
constexpr std::int64_t kv_heads = 2;
constexpr std::int64_t row = (q_heads + 2 * kv_heads) * head_dim;  // packed [Q | K | V]
constexpr std::int64_t pages = 16;
constexpr std::int64_t page_size = 8;
constexpr double theta = 10000.0;
constexpr int sequences = 3;
constexpr std::int64_t prompt_len[sequences] = {5, 11, 3};
constexpr int decode_steps = 4;
constexpr double tolerance = 2e-2;  // bf16 keys and values (8 significant bits) vs exact

std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }

/// Deterministic stand-in for the QKV projection of sequence `seq` at `position`.
float activation(int seq, std::int64_t position, std::int64_t channel) {
  const double x = std::sin(0.37 * static_cast<double>(channel + 1) +
                            1.3 * static_cast<double>(position) + 2.1 * seq);
  return static_cast<float>(0.5 * x);
}

/// Reference: channel pair i of a NeoX head at `position`, rotated in double with exact angles.
void rotate_reference(std::vector<double>& x, std::int64_t position) {
  const std::int64_t n = head_dim / 2;
  for (std::int64_t i = 0; i < n; ++i) {
    const double w = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double c = std::cos(static_cast<double>(position) * w);
    const double s = std::sin(static_cast<double>(position) * w);
    const double a = x[at(i)], b = x[at(i + n)];
    x[at(i)] = a * c - b * s;
    x[at(i + n)] = b * c + a * s;
  }
}

struct sequence {
  std::vector<std::int64_t> block_table;  // pages, in order
};

int run() {
  // cos/sin rows for positions [0, 64): the table an engine builds once per model.
  rs::frequency_table f;
  for (std::int64_t i = 0; i < head_dim / 2; ++i) {
    f.inv_freq.push_back(
        std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim)));
  }
  rs::cos_sin_table table(f, 64);
  const auto rows = table.snapshot();

  std::vector<rs::bf16> k_store(at(pages * page_size * kv_heads * head_dim));
  std::vector<rs::bf16> v_store(k_store.size());
  const auto k_cache = rs::paged_cache_view<rs::bf16>::head_major(k_store.data(), pages, page_size,
                                                                  kv_heads, head_dim);
  const auto v_cache = rs::paged_cache_view<rs::bf16>::head_major(v_store.data(), pages, page_size,
                                                                  kv_heads, head_dim);

  std::vector<std::int64_t> free_pages(pages);
  std::iota(free_pages.begin(), free_pages.end(), 0);
  std::shuffle(free_pages.begin(), free_pages.end(), std::mt19937(7));
  sequence seqs[sequences];
  auto slot_for = [&](sequence& s, std::int64_t position) {
    if (position / page_size >= static_cast<std::int64_t>(s.block_table.size())) {
      s.block_table.push_back(free_pages.back());
      free_pages.pop_back();
    }
    return s.block_table[at(position / page_size)] * page_size + position % page_size;
  };

  double worst = 0;
  std::int64_t appended = 0;
  for (int step = 0; step <= decode_steps; ++step) {
    // The batch of this step: (sequence, position) per token; slot −1 for the padding token.
    std::vector<int> owner;
    std::vector<std::int64_t> positions, slots;
    for (int s = 0; s < sequences; ++s) {
      const std::int64_t from = step == 0 ? 0 : prompt_len[s] + step - 1;
      const std::int64_t to = step == 0 ? prompt_len[s] : from + 1;
      for (std::int64_t p = from; p < to; ++p) {
        owner.push_back(s);
        positions.push_back(p);
        slots.push_back(slot_for(seqs[s], p));
      }
    }
    if (step == 0) {  // pad the prefill batch with one token that must not be stored
      owner.push_back(-1);
      positions.push_back(0);
      slots.push_back(-1);
    }
    const auto tokens = static_cast<std::int64_t>(positions.size());
    std::vector<float> qkv(at(tokens * row));
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t c = 0; c < row; ++c) {
        qkv[at(t * row + c)] =
            owner[at(t)] < 0 ? 1e30f : activation(owner[at(t)], positions[at(t)], c);
      }
    }
    // Strided views into the packed rows, then one call for the whole batch.
    const rs::tensor_view<float> q{qkv.data(), tokens, q_heads, head_dim, row, head_dim};
    const rs::tensor_view<float> k{
        qkv.data() + q_heads * head_dim, tokens, kv_heads, head_dim, row, head_dim};
    const rs::tensor_view<float> v{
        qkv.data() + (q_heads + kv_heads) * head_dim, tokens, kv_heads, head_dim, row, head_dim};
    rs::rope_kv_append(q, k, v, k_cache, v_cache, rs::slot_mapping::list(slots.data(), tokens),
                       *rows, rs::token_positions::list(positions.data(), tokens), rs::layout::neox,
                       head_dim);
    appended += static_cast<std::int64_t>(
        std::count_if(owner.begin(), owner.end(), [](int o) { return o >= 0; }));

    // Attention of every real token's query over its sequence's cache (causal: positions <= p).
    for (std::int64_t t = 0; t < tokens; ++t) {
      const int s = owner[at(t)];
      if (s < 0) continue;
      const std::int64_t p = positions[at(t)];
      for (std::int64_t h = 0; h < q_heads; ++h) {
        const std::int64_t kvh = h / (q_heads / kv_heads);
        std::vector<double> qd(at(head_dim)), qr(at(head_dim));
        for (std::int64_t c = 0; c < head_dim; ++c) {
          qd[at(c)] = q.data[t * row + h * head_dim + c];
          qr[at(c)] = activation(s, p, h * head_dim + c);
        }
        rotate_reference(qr, p);
        std::vector<double> score(at(p + 1)), score_ref(at(p + 1));
        for (std::int64_t j = 0; j <= p; ++j) {
          const std::int64_t slot =
              seqs[s].block_table[at(j / page_size)] * page_size + j % page_size;
          std::vector<double> kr(at(head_dim));
          for (std::int64_t c = 0; c < head_dim; ++c) {
            kr[at(c)] = activation(s, j, (q_heads + kvh) * head_dim + c);
          }
          rotate_reference(kr, j);
          double dot = 0, dot_ref = 0;
          for (std::int64_t c = 0; c < head_dim; ++c) {
            const std::int64_t off = (slot / page_size) * k_cache.page_stride +
                                     (slot % page_size) * k_cache.slot_stride +
                                     kvh * k_cache.head_stride + c;
            dot += qd[at(c)] * static_cast<double>(rs::to_float(k_store[at(off)]));
            dot_ref += qr[at(c)] * kr[at(c)];
          }
          score[at(j)] = dot / std::sqrt(static_cast<double>(head_dim));
          score_ref[at(j)] = dot_ref / std::sqrt(static_cast<double>(head_dim));
        }
        const auto softmax = [](std::vector<double>& x) {
          const double m = *std::max_element(x.begin(), x.end());
          double sum = 0;
          for (double& e : x) sum += (e = std::exp(e - m));
          for (double& e : x) e /= sum;
        };
        softmax(score);
        softmax(score_ref);
        for (std::int64_t c = 0; c < head_dim; ++c) {
          double out = 0, out_ref = 0;
          for (std::int64_t j = 0; j <= p; ++j) {
            const std::int64_t slot =
                seqs[s].block_table[at(j / page_size)] * page_size + j % page_size;
            const std::int64_t off = (slot / page_size) * v_cache.page_stride +
                                     (slot % page_size) * v_cache.slot_stride +
                                     kvh * v_cache.head_stride + c;
            out += score[at(j)] * static_cast<double>(rs::to_float(v_store[at(off)]));
            out_ref +=
                score_ref[at(j)] * activation(s, j, (q_heads + kv_heads + kvh) * head_dim + c);
          }
          worst = std::max(worst, std::fabs(out - out_ref));
        }
      }
    }
  }
  std::printf(
      "paged KV cache (bf16, head-major, %lld pages x %lld slots): %lld tokens appended, "
      "max |attention - exact| = %.2e\n",
      static_cast<long long>(pages), static_cast<long long>(page_size),
      static_cast<long long>(appended), worst);
  if (!(worst <= tolerance)) {
    std::fprintf(stderr, "error: attention differs from the exact reference by %.3e (> %.0e)\n",
                 worst, tolerance);
    return 1;
  }
  std::printf("paged-kv-example: ok\n");
  return 0;
}

}  // namespace

int main() {
  try {
    return run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

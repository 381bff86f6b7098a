// SPDX-License-Identifier: Apache-2.0
// engine-decode-example: a complete, small decode loop showing how an inference engine wires
// ropescale in, and how RoPE methods whose table changes with the sequence length (Dynamic NTK,
// LongRoPE, CLEX) interact with a KV cache.
//
// The engine: one attention layer, GQA (8 query heads share 2 KV heads), a packed QKV buffer per
// step ([Q | K | V] per token, as a fused QKV projection writes it), a batch of 3 sequences with
// different prompt lengths (so every sequence has its own position), and a KV cache. Q and K are
// rotated in place, in one fused call, through strided views into the packed buffer.
//
// The problem. With Dynamic NTK the table depends on S, the sequence length: every step past L
// has a different table. LongRoPE switches from its short to its long factors when S crosses L0,
// CLEX changes its scale t at every multiple of L. A rotated key stores the angle p·ω(S_then). If
// the cache keeps rotated keys while new queries use ω(S_now), q·k no longer depends only on the
// relative position; the model computes something that matches neither the old nor the new table.
// (This is what Hugging Face transformers does for Dynamic NTK, issue #25306, and why its Phi-3
// drops the cache when LongRoPE switches tables, #33129.) Two correct options:
//
//   1. cache UNROTATED keys and re-rotate all of them with the current table at every step where
//      the table changed (exact "per-length" semantics; costs O(S) rotations per step per layer
//      while the table keeps changing; CLEX's reference code does this);
//   2. FREEZE the table: pick it once (e.g. at the engine's maximum context, as vLLM does for
//      LongRoPE and its static "dynamic") and use it for every position of every sequence; cached
//      rotated keys then stay valid, and the whole batch is rotated in one call. Prompts shorter
//      than L then also see the scaled table.
//
// The program runs all three policies for Dynamic NTK and LongRoPE, checks each attention output
// against a naive scalar implementation (double, written from the formulas, reading the raw
// activations), and exits non-zero if option 1 or 2 mismatches, or if the rotated-key cache does
// NOT diverge once the table changes (the demonstration would then be wrong).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <ropescale/ropescale.hpp>
#include <string>
#include <vector>

namespace {

namespace rs = ropescale;

// ---- Model and batch shape ---------------------------------------------------------------------
constexpr std::int64_t head_dim = 64;  // H; the whole head rotates (d = H)
constexpr std::int64_t q_heads = 8;
constexpr std::int64_t kv_heads = 2;  // GQA: query head h reads KV head h / (q_heads/kv_heads)
constexpr std::int64_t qkv_row = (q_heads + 2 * kv_heads) * head_dim;  // packed [Q | K | V]
constexpr std::int64_t batch = 3;
constexpr std::int64_t prompt_len[batch] = {20, 28, 40};
constexpr std::int64_t decode_steps = 24;
constexpr std::int64_t max_context = 40 + decode_steps;  // the longest sequence this run serves
constexpr std::int64_t original_context = 32;  // L (L0 for LongRoPE): small, so it is crossed
constexpr double tolerance = 1e-5;             // float engine vs double reference

// Deterministic stand-in for the QKV projection: activation of `channel` (0 … qkv_row−1) for the
// token at `position` of sequence `seq`, in [−0.5, 0.5).
float activation(std::int64_t seq, std::int64_t position, std::int64_t channel) {
  std::uint64_t x = static_cast<std::uint64_t>(seq * 1000003 + position * 7919 + channel * 31 + 1);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return static_cast<float>(static_cast<double>(x >> 11) * 0x1.0p-53 - 0.5);
}

// Views into a packed buffer of `tokens` rows: Q heads, then K heads, then V heads. The token
// stride is the packed row; heads are adjacent. The views carry the buffer's size.
rs::tensor_view<float> q_view(float* qkv, std::int64_t tokens) {
  return rs::packed_qkv_views(qkv, static_cast<std::size_t>(tokens * qkv_row), tokens, q_heads,
                              kv_heads, head_dim)
      .q;
}
rs::tensor_view<float> k_view(float* qkv, std::int64_t tokens) {
  return rs::packed_qkv_views(qkv, static_cast<std::size_t>(tokens * qkv_row), tokens, q_heads,
                              kv_heads, head_dim)
      .k;
}
const float* v_of(const float* qkv_token) { return qkv_token + (q_heads + kv_heads) * head_dim; }

// ---- KV cache policies -------------------------------------------------------------------------
enum class policy {
  rotated_cache,    // WRONG for S-dependent tables: rotate new keys with ω(S_now), cache them
  unrotated_cache,  // option 1: cache raw keys, re-rotate them all with ω(S_now)
  frozen_table      // option 2: one table, fixed at the maximum context, for everything
};
const char* name(policy p) {
  switch (p) {
    case policy::rotated_cache:
      return "rotated keys cached, per-length table (wrong)";
    case policy::unrotated_cache:
      return "option 1: unrotated keys cached, re-rotated";
    case policy::frozen_table:
      return "option 2: table frozen at the max context";
  }
  return "?";
}

struct sequence {
  std::int64_t length = 0;     // tokens in the cache; the next token's position
  std::vector<float> k_cache;  // [max_context][kv_heads][head_dim] (rotated or not: see policy)
  std::vector<float> v_cache;  // [max_context][kv_heads][head_dim]
  std::unique_ptr<rs::cos_sin_table> table;  // per-sequence table (per-length policies)
  std::int64_t table_seq_len = 0;            // the S its table was built for
};

// The table of `m` for sequence length S, rows for every position this run can reach.
void ensure_table_for(sequence& s, const rs::method& m, std::int64_t S) {
  if (s.table && (s.table_seq_len == S || !m.depends_on_seq_len())) return;
  auto freq = rs::frequencies_of(m, rs::angle_mode::accurate, S);
  if (s.table) {
    s.table->rebuild(std::move(freq), max_context);  // readers holding old snapshots keep them
  } else {
    s.table = std::make_unique<rs::cos_sin_table>(std::move(freq), max_context);
  }
  s.table_seq_len = S;
}

// Engine attention (float) of one query token: q rows [q_heads][head_dim] (rotated), keys
// [S][kv_heads][head_dim] (rotated), values [S][kv_heads][head_dim].
std::vector<float> attend(const float* q, const float* keys, const float* values, std::int64_t S,
                          double query_scale) {
  std::vector<float> out(static_cast<std::size_t>(q_heads * head_dim), 0.0f);
  std::vector<float> p(static_cast<std::size_t>(S));
  const float scale = static_cast<float>(query_scale / std::sqrt(static_cast<double>(head_dim)));
  for (std::int64_t h = 0; h < q_heads; ++h) {
    const std::int64_t g = h / (q_heads / kv_heads);
    const float* qh = q + h * head_dim;
    float top = -INFINITY;
    for (std::int64_t j = 0; j < S; ++j) {
      const float* kj = keys + (j * kv_heads + g) * head_dim;
      float dot = 0.0f;
      for (std::int64_t c = 0; c < head_dim; ++c) dot += qh[c] * kj[c];
      p[static_cast<std::size_t>(j)] = dot * scale;
      top = std::max(top, p[static_cast<std::size_t>(j)]);
    }
    float sum = 0.0f;
    for (float& x : p) sum += (x = std::exp(x - top));
    for (std::int64_t j = 0; j < S; ++j) {
      const float w = p[static_cast<std::size_t>(j)] / sum;
      const float* vj = values + (j * kv_heads + g) * head_dim;
      for (std::int64_t c = 0; c < head_dim; ++c)
        out[static_cast<std::size_t>(h * head_dim + c)] += w * vj[c];
    }
  }
  return out;
}

// ---- Naive scalar reference --------------------------------------------------------------------
// Attention of the token at `position` of sequence `seq` over positions 0 … position, computed
// from the raw activations in double: NeoX rotation of every query and key with the table ω and
// attention factor A (x_i ← A(x_i cos φ − x_{i+n} sin φ), x_{i+n} ← A(x_{i+n} cos φ + x_i sin φ),
// φ = p·ω_i), scores q·k·query_scale/√H, softmax, weighted sum of V. Independent of the engine's
// buffers, views, tables and kernels.
std::vector<double> reference(std::int64_t seq, std::int64_t position, const std::vector<double>& w,
                              double A, double query_scale) {
  const std::int64_t n = head_dim / 2;
  const auto rotated = [&](std::int64_t p, std::int64_t first_channel) {
    std::vector<double> x(static_cast<std::size_t>(head_dim));
    for (std::int64_t i = 0; i < n; ++i) {
      const double a = static_cast<double>(activation(seq, p, first_channel + i));
      const double b = static_cast<double>(activation(seq, p, first_channel + i + n));
      const double phi = static_cast<double>(p) * w[static_cast<std::size_t>(i)];
      x[static_cast<std::size_t>(i)] = A * (a * std::cos(phi) - b * std::sin(phi));
      x[static_cast<std::size_t>(i + n)] = A * (b * std::cos(phi) + a * std::sin(phi));
    }
    return x;
  };
  const std::int64_t S = position + 1;
  std::vector<double> out(static_cast<std::size_t>(q_heads * head_dim), 0.0);
  for (std::int64_t h = 0; h < q_heads; ++h) {
    const std::int64_t g = h / (q_heads / kv_heads);
    const std::vector<double> q = rotated(position, h * head_dim);
    std::vector<double> s(static_cast<std::size_t>(S));
    for (std::int64_t j = 0; j < S; ++j) {
      const std::vector<double> k = rotated(j, (q_heads + g) * head_dim);
      double dot = 0.0;
      for (std::int64_t c = 0; c < head_dim; ++c)
        dot += q[static_cast<std::size_t>(c)] * k[static_cast<std::size_t>(c)];
      s[static_cast<std::size_t>(j)] = dot * query_scale / std::sqrt(static_cast<double>(head_dim));
    }
    const double top = *std::max_element(s.begin(), s.end());
    double sum = 0.0;
    for (double& x : s) sum += (x = std::exp(x - top));
    for (std::int64_t j = 0; j < S; ++j) {
      for (std::int64_t c = 0; c < head_dim; ++c) {
        const double v =
            static_cast<double>(activation(seq, j, (q_heads + kv_heads + g) * head_dim + c));
        out[static_cast<std::size_t>(h * head_dim + c)] += s[static_cast<std::size_t>(j)] / sum * v;
      }
    }
  }
  return out;
}

// ---- The decode loop ---------------------------------------------------------------------------
struct run_result {
  double worst_before_change = 0.0;  // max |engine − reference| while no table had changed
  double worst_after_change = 0.0;   // ... after a sequence's table changed since its prefill
};

run_result run(const rs::method& m, policy pol) {
  const std::int64_t d = m.rotary_dim();
  const rs::layout layout = rs::layout::neox;
  std::vector<sequence> seqs(batch);
  for (auto& s : seqs) {
    s.k_cache.resize(static_cast<std::size_t>(max_context * kv_heads * head_dim));
    s.v_cache.resize(s.k_cache.size());
  }
  // Option 2: one table for everything, chosen once. (LongRoPE: m.inv_freq(max_context) is its
  // fixed-once choice; Dynamic NTK: the table of the longest sequence served.)
  std::shared_ptr<const rs::cos_sin_rows> frozen;
  if (pol == policy::frozen_table) {
    frozen = rs::cos_sin_table::from_method(m, max_context, rs::angle_mode::accurate, max_context)
                 .snapshot();
  }
  const auto append_kv = [&](sequence& s, const float* qkv_token) {  // K as it is now, and V
    const std::size_t at = static_cast<std::size_t>(s.length * kv_heads * head_dim);
    std::copy_n(qkv_token + q_heads * head_dim, kv_heads * head_dim,
                s.k_cache.begin() + static_cast<std::ptrdiff_t>(at));
    std::copy_n(v_of(qkv_token), kv_heads * head_dim,
                s.v_cache.begin() + static_cast<std::ptrdiff_t>(at));
    ++s.length;
  };

  // Prefill: each prompt in one call, positions 0 … P−1.
  for (std::int64_t b = 0; b < batch; ++b) {
    sequence& s = seqs[static_cast<std::size_t>(b)];
    const std::int64_t P = prompt_len[b];
    std::vector<float> qkv(static_cast<std::size_t>(P * qkv_row));
    for (std::int64_t t = 0; t < P; ++t) {
      for (std::int64_t c = 0; c < qkv_row; ++c)
        qkv[static_cast<std::size_t>(t * qkv_row + c)] = activation(b, t, c);
    }
    if (pol != policy::frozen_table) ensure_table_for(s, m, P);
    const auto rows = pol == policy::frozen_table ? frozen : s.table->snapshot();
    if (pol == policy::unrotated_cache) {
      for (std::int64_t t = 0; t < P; ++t)
        append_kv(s, &qkv[static_cast<std::size_t>(t * qkv_row)]);
    } else {
      rs::apply_rotary(q_view(qkv.data(), P), k_view(qkv.data(), P), *rows,
                       rs::token_positions::range(0), layout, d);
      for (std::int64_t t = 0; t < P; ++t)
        append_kv(s, &qkv[static_cast<std::size_t>(t * qkv_row)]);
    }
  }

  run_result result;
  std::vector<float> qkv(static_cast<std::size_t>(batch * qkv_row));
  std::vector<std::int64_t> positions(batch);
  std::vector<float> scratch(static_cast<std::size_t>(max_context * kv_heads * head_dim));
  for (std::int64_t step = 0; step < decode_steps; ++step) {
    // One new token per sequence, each at its own position.
    for (std::int64_t b = 0; b < batch; ++b) {
      positions[static_cast<std::size_t>(b)] = seqs[static_cast<std::size_t>(b)].length;
      for (std::int64_t c = 0; c < qkv_row; ++c) {
        qkv[static_cast<std::size_t>(b * qkv_row + c)] =
            activation(b, positions[static_cast<std::size_t>(b)], c);
      }
    }
    const auto pos = rs::token_positions::list(positions.data(), batch);

    if (pol == policy::frozen_table) {
      // Option 2: the whole batch, Q and K fused, in one call; cached keys stay valid forever.
      rs::apply_rotary(q_view(qkv.data(), batch), k_view(qkv.data(), batch), *frozen, pos, layout,
                       d);
    }
    for (std::int64_t b = 0; b < batch; ++b) {
      sequence& s = seqs[static_cast<std::size_t>(b)];
      float* token = &qkv[static_cast<std::size_t>(b * qkv_row)];
      const std::int64_t S = s.length + 1;  // positions the table must serve after this token
      rs::apply_options only_b;
      only_b.token_begin = b;
      only_b.token_end = b + 1;
      const float* keys = s.k_cache.data();

      if (pol == policy::rotated_cache) {
        // The table of this sequence's current length rotates the new q and k ...
        ensure_table_for(s, m, S);
        rs::apply_rotary(q_view(qkv.data(), batch), k_view(qkv.data(), batch), *s.table->snapshot(),
                         pos, layout, d, only_b);
        append_kv(s, token);  // ... and the cache keeps keys rotated by OLDER tables: the bug.
      } else if (pol == policy::unrotated_cache) {
        // Option 1: cache the raw key, rotate q, then rotate every cached key with the current
        // table into a scratch copy (skip this when m.depends_on_seq_len() is false or the table
        // did not change: then rotate-once-and-cache is exact).
        append_kv(s, token);
        ensure_table_for(s, m, S);
        const auto rows = s.table->snapshot();
        rs::apply_rotary(q_view(qkv.data(), batch), *rows, pos, layout, d, only_b);
        std::copy_n(s.k_cache.begin(), S * kv_heads * head_dim, scratch.begin());
        rs::apply_rotary(rs::dense_view(scratch.data(), S, kv_heads, head_dim), *rows,
                         rs::token_positions::range(0), layout, d);
        keys = scratch.data();
      } else {
        append_kv(s, token);  // already rotated by the frozen table
      }

      // Attention over the S cached tokens, and the check against the scalar reference with the
      // table the policy claims to implement: ω(S) per length, or the frozen ω(max_context).
      const std::int64_t S_table = pol == policy::frozen_table ? max_context : S;
      const double qs = m.query_scale(S);  // CLEX's log_scale temperature; 1 otherwise
      const std::vector<float> out = attend(token, keys, s.v_cache.data(), S, qs);
      const std::vector<double> ref =
          reference(b, S - 1, m.inv_freq(S_table), m.attention_factor(S_table), qs);
      double err = 0.0;
      for (std::size_t i = 0; i < out.size(); ++i) {
        err = std::max(err, std::fabs(static_cast<double>(out[i]) - ref[i]));
      }
      // Has this sequence's table changed since its prefill?
      const bool changed = m.inv_freq(S) != m.inv_freq(prompt_len[b]);
      double& worst = changed ? result.worst_after_change : result.worst_before_change;
      worst = std::max(worst, err);
    }
  }
  return result;
}

}  // namespace

int main() try {
  // Two methods whose table depends on S. Any rs::method works the same way, e.g. one loaded
  // with rs::load_hf_config_file("config.json").method (CLEX: pass its checkpoint in the options).
  rs::dynamic_params dyn;
  dyn.head_dim = head_dim;
  dyn.rope_theta = 10000.0;
  dyn.factor = 2.0;
  dyn.max_position_embeddings = original_context;
  rs::longrope_params lr;
  lr.head_dim = head_dim;
  lr.rope_theta = 10000.0;
  lr.original_max_position_embeddings = original_context;
  lr.max_position_embeddings = max_context;
  for (std::int64_t i = 0; i < head_dim / 2; ++i) {
    lr.short_factor.push_back(1.0 + 0.02 * static_cast<double>(i));
    lr.long_factor.push_back(1.0 + 0.25 * static_cast<double>(i));
  }
  const std::vector<std::pair<const char*, rs::method>> methods = {
      {"dynamic (factor 2, L = 32)", rs::method(rs::dynamic<>(dyn))},
      {"longrope (L0 = 32)", rs::method(rs::longrope<>(lr))}};

  std::printf(
      "batch of %lld sequences, prompts 20/28/40 tokens, %lld decode steps, %lld query / "
      "%lld KV heads, head_dim %lld, isa %s\n",
      static_cast<long long>(batch), static_cast<long long>(decode_steps),
      static_cast<long long>(q_heads), static_cast<long long>(kv_heads),
      static_cast<long long>(head_dim), rs::name(rs::active_isa()));
  bool ok = true;
  for (const auto& [label, m] : methods) {
    std::printf("\n%s: table depends on S: %s\n", label, m.depends_on_seq_len() ? "yes" : "no");
    std::printf("  %-50s %16s %16s\n", "KV-cache policy", "max err before", "after change");
    for (const policy pol :
         {policy::rotated_cache, policy::unrotated_cache, policy::frozen_table}) {
      const run_result r = run(m, pol);
      const double worst = std::max(r.worst_before_change, r.worst_after_change);
      bool pass = true;
      if (pol == policy::rotated_cache) {
        // Exact until a table changes, then wrong: the check is that the divergence is visible.
        pass = r.worst_before_change <= tolerance && r.worst_after_change > 10 * tolerance;
      } else {
        pass = worst <= tolerance;
      }
      std::printf("  %-50s %16.3e %16.3e  %s\n", name(pol), r.worst_before_change,
                  r.worst_after_change,
                  pol == policy::rotated_cache ? (pass ? "diverges, as expected" : "UNEXPECTED")
                                               : (pass ? "matches reference" : "MISMATCH"));
      ok = ok && pass;
    }
  }
  std::printf("\n%s\n", ok ? "engine-decode-example: OK" : "engine-decode-example: FAILED");
  return ok ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}

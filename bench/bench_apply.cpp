// SPDX-License-Identifier: Apache-2.0
// Benchmarks of the in-place rotation kernels against the memory floor (docs/benchmarks.md §3,
// §9). Contract names (parsed by scripts, never renamed): BM_InPlaceFloor, BM_ApplyNeox_f32,
// BM_ApplyGptj_f32, BM_ApplyNeox_bf16, each over tokens × heads × dim = 1×32×128, 512×8×128 and
// 4096×32×128, positions from 100000, A = 1, with the active ISA (ROPESCALE_ISA overrides). The
// floor multiplies the same T·H·D elements in place by a volatile 1.0f with the same ISA's
// target region and vector width (simd::scale_in_place). Bytes = 2 × elements × sizeof(element);
// items = elements. Extras have names no contract name prefixes: BM_FusedQK_GQA_f32 (32 Q heads
// + 8 K heads in one call), BM_IsaNeox_f32 / BM_IsaFloor_f32 (each available ISA, labelled),
// BM_RotateGptj_bf16, BM_RotateNeox_f16. Ratios: bench/ratios.py.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/simd/dispatch.hpp"
#include "ropescale/types.hpp"

namespace {

using ropescale::bf16;
using ropescale::f16;
using ropescale::isa;
using ropescale::layout;

constexpr std::uint32_t kSeed = 20260611u;
constexpr std::int64_t kFirstPosition = 100000;

struct shape {
  std::int64_t tokens, heads, dim;
  std::int64_t elements() const { return tokens * heads * dim; }
};

shape shape_from(const benchmark::State& state) {
  return shape{state.range(0), state.range(1), state.range(2)};
}

struct aligned_delete {
  void operator()(void* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
};

/// 64-byte aligned array of `n` T, filled from a fixed-seed uniform [−1, 1] generator.
template <class T>
std::unique_ptr<T[], aligned_delete> random_tensor(std::int64_t n, std::uint32_t seed) {
  void* raw = ::operator new[](static_cast<std::size_t>(n) * sizeof(T), std::align_val_t{64});
  std::unique_ptr<T[], aligned_delete> p(static_cast<T*>(raw));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < n; ++i) p[i] = ropescale::store_from_float<T>(u(rng));
  return p;
}

float volatile_one() {
  static volatile float one = 1.0f;
  return one;
}

/// Rows for positions [kFirstPosition, kFirstPosition + tokens) of the default RoPE (θ = 1e6,
/// A = 1), in the cos_sin_table row layout, built with compute_cos_sin_row.
struct bench_table {
  std::unique_ptr<float[], aligned_delete> rows;  // 64-byte aligned, like cos_sin_rows
  ropescale::cos_sin_view view;
};

bench_table make_table(std::int64_t tokens, std::int64_t rotary_dim) {
  ropescale::frequency_table f;
  const std::int64_t n = rotary_dim / 2;
  f.inv_freq.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    f.inv_freq[static_cast<std::size_t>(i)] =
        std::pow(1e6, -2.0 * static_cast<double>(i) / static_cast<double>(rotary_dim));
  }
  bench_table t;
  t.rows = random_tensor<float>(tokens * 2 * n, kSeed);
  for (std::int64_t r = 0; r < tokens; ++r) {
    ropescale::compute_cos_sin_row(f, kFirstPosition + r, t.rows.get() + r * 2 * n);
  }
  t.view =
      ropescale::cos_sin_view{t.rows.get(), t.rows.get() + n, 2 * n, n, kFirstPosition, tokens};
  return t;
}

void set_counters(benchmark::State& state, std::int64_t elements, std::size_t elem_size) {
  state.SetBytesProcessed(state.iterations() * 2 * elements * static_cast<std::int64_t>(elem_size));
  state.SetItemsProcessed(state.iterations() * elements);
}

template <class T>
void floor_loop(benchmark::State& state, isa which) {
  const shape s = shape_from(state);
  auto x = random_tensor<T>(s.elements(), kSeed);
  for (auto _ : state) {
    ropescale::simd::scale_in_place(which, x.get(), s.elements(), volatile_one());
    benchmark::DoNotOptimize(x.get());
    benchmark::ClobberMemory();
  }
  set_counters(state, s.elements(), sizeof(T));
  state.SetLabel(ropescale::name(which));
}

template <class T>
void apply_loop(benchmark::State& state, layout lay, std::optional<isa> forced) {
  const shape s = shape_from(state);
  auto x = random_tensor<T>(s.elements(), kSeed);
  const bench_table table = make_table(s.tokens, s.dim);
  ropescale::apply_options opt;
  opt.force_isa = forced;
  const auto view = ropescale::dense_view(x.get(), s.tokens, s.heads, s.dim);
  const auto pos = ropescale::token_positions::range(kFirstPosition);
  for (auto _ : state) {
    ropescale::apply_rotary(view, table.view, pos, lay, s.dim, opt);
    benchmark::DoNotOptimize(x.get());
    benchmark::ClobberMemory();
  }
  set_counters(state, s.elements(), sizeof(T));
  state.SetLabel(ropescale::name(forced ? *forced : ropescale::active_isa()));
}

void BM_InPlaceFloor(benchmark::State& state) { floor_loop<float>(state, ropescale::active_isa()); }
void BM_ApplyNeox_f32(benchmark::State& state) { apply_loop<float>(state, layout::neox, {}); }
void BM_ApplyGptj_f32(benchmark::State& state) { apply_loop<float>(state, layout::gptj, {}); }
void BM_ApplyNeox_bf16(benchmark::State& state) { apply_loop<bf16>(state, layout::neox, {}); }
void BM_RotateGptj_bf16(benchmark::State& state) { apply_loop<bf16>(state, layout::gptj, {}); }
void BM_RotateNeox_f16(benchmark::State& state) { apply_loop<f16>(state, layout::neox, {}); }

constexpr isa kIsas[] = {isa::scalar, isa::avx2, isa::avx512, isa::neon};

void BM_IsaNeox_f32(benchmark::State& state) {
  const isa which = kIsas[state.range(3)];
  if (!ropescale::available(which)) {
    state.SkipWithError((std::string("CPU or build lacks ") + ropescale::name(which)).c_str());
    return;
  }
  apply_loop<float>(state, layout::neox, which);
}

void BM_IsaFloor_f32(benchmark::State& state) {
  const isa which = kIsas[state.range(3)];
  if (!ropescale::available(which)) {
    state.SkipWithError((std::string("CPU or build lacks ") + ropescale::name(which)).c_str());
    return;
  }
  floor_loop<float>(state, which);
}

/// Q (tokens × 32 × dim) and K (tokens × 8 × dim) rotated in one call, as for a GQA model.
void BM_FusedQK_GQA_f32(benchmark::State& state) {
  const std::int64_t T = state.range(0), Hq = state.range(1), Hk = state.range(2),
                     D = state.range(3);
  auto q = random_tensor<float>(T * Hq * D, kSeed);
  auto k = random_tensor<float>(T * Hk * D, kSeed + 1);
  const bench_table table = make_table(T, D);
  const auto qv = ropescale::dense_view(q.get(), T, Hq, D);
  const auto kv = ropescale::dense_view(k.get(), T, Hk, D);
  const auto pos = ropescale::token_positions::range(kFirstPosition);
  for (auto _ : state) {
    ropescale::apply_rotary(qv, kv, table.view, pos, layout::neox, D);
    benchmark::DoNotOptimize(q.get());
    benchmark::DoNotOptimize(k.get());
    benchmark::ClobberMemory();
  }
  set_counters(state, T * (Hq + Hk) * D, sizeof(float));
  state.SetLabel(ropescale::name(ropescale::active_isa()));
}

void contract_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"tokens", "heads", "dim"})
      ->Args({1, 32, 128})
      ->Args({512, 8, 128})
      ->Args({4096, 32, 128});
}

void isa_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"tokens", "heads", "dim", "isa"});
  for (std::int64_t i = 0; i < 4; ++i) {
    if (!ropescale::available(kIsas[i])) continue;
    b->Args({1, 32, 128, i})->Args({512, 8, 128, i})->Args({4096, 32, 128, i});
  }
}

}  // namespace

BENCHMARK(BM_InPlaceFloor)->Apply(contract_args);
BENCHMARK(BM_ApplyNeox_f32)->Apply(contract_args);
BENCHMARK(BM_ApplyGptj_f32)->Apply(contract_args);
BENCHMARK(BM_ApplyNeox_bf16)->Apply(contract_args);
BENCHMARK(BM_RotateGptj_bf16)->Apply(contract_args);
BENCHMARK(BM_RotateNeox_f16)->Apply(contract_args);
BENCHMARK(BM_IsaFloor_f32)->Apply(isa_args);
BENCHMARK(BM_IsaNeox_f32)->Apply(isa_args);
BENCHMARK(BM_FusedQK_GQA_f32)
    ->ArgNames({"tokens", "q_heads", "k_heads", "dim"})
    ->Args({1, 32, 8, 128})
    ->Args({512, 32, 8, 128})
    ->Args({4096, 32, 8, 128});

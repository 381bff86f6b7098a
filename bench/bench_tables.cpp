// SPDX-License-Identifier: Apache-2.0
// Benchmarks of the cos/sin side (docs/benchmarks.md §4, §6, §9): the no-table decode path and the
// cold paths that build rows.
//   BM_DecodeOnTheFly_f32 (contract name): apply_rotary_on_the_fly on a T×H×D f32 tensor (NeoX,
//     default RoPE θ = 1e6, A = 1, positions from 100000, active ISA): per token, 64 pairs of
//     accurate vector sincos then the rotation of every head. Bytes = 2·T·H·D·4, items = T·H·D,
//     so its bytes/s is directly comparable with BM_InPlaceFloor at the same args.
//   BM_OnTheFlyIsa_f32: the same with each available ISA forced (label = ISA).
//   BM_OnTheFlyFusedQK_f32: GQA decode, Q (32 heads) + K (8 heads) in one call, one row each token.
//   BM_TableBuild: a cos_sin_table for 128K positions, d = 128 (accurate and f32 mode).
//   BM_SinCosRow: one 64-pair row at p ≈ 1e5 with each available ISA's cos_sin_row (vector
//     targets: simd/sincos-inl.hpp's vector sincos; scalar: double cos/sin per pair), against
//     per-pair libm cosf/sinf on a float angle (what ggml does) and the table builder's double
//     path; items = pairs.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "ropescale/cos_sin_table.hpp"
#include "ropescale/detail/angle.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/on_the_fly.hpp"
#include "ropescale/simd/dispatch.hpp"
#include "ropescale/types.hpp"

namespace {

using ropescale::isa;

constexpr std::uint32_t kTablesSeed = 20261125u;
constexpr std::int64_t kStart = 100000;

struct free_aligned {
  void operator()(float* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
};

std::unique_ptr<float[], free_aligned> random_floats(std::int64_t n) {
  void* raw = ::operator new[](static_cast<std::size_t>(n) * sizeof(float), std::align_val_t{64});
  std::unique_ptr<float[], free_aligned> p(static_cast<float*>(raw));
  std::mt19937 rng(kTablesSeed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < n; ++i) p[i] = u(rng);
  return p;
}

/// Default RoPE table ω_i = θ^(−2i/d), θ = 1e6.
std::vector<double> default_inv_freq(std::int64_t d, double theta = 1e6) {
  std::vector<double> w(static_cast<std::size_t>(d / 2));
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(d));
  }
  return w;
}

void BM_DecodeOnTheFly_f32(benchmark::State& state) {
  const std::int64_t T = state.range(0), H = state.range(1), D = state.range(2);
  auto x = random_floats(T * H * D);
  const std::vector<double> w = default_inv_freq(D);
  const auto view = ropescale::dense_view(x.get(), T, H, D);
  const auto pos = ropescale::token_positions::range(kStart);
  for (auto _ : state) {
    ropescale::apply_rotary_on_the_fly(view, w.data(), D / 2, 1.0, pos, ropescale::layout::neox, D);
    benchmark::DoNotOptimize(x.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * T * H * D *
                          static_cast<std::int64_t>(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * T * H * D);
  state.SetLabel(ropescale::name(ropescale::active_isa()));
}

constexpr isa kIsas[] = {isa::scalar, isa::avx2, isa::avx512, isa::neon};

/// BM_DecodeOnTheFly_f32 with a forced ISA (range(3) indexes kIsas), labelled.
void BM_OnTheFlyIsa_f32(benchmark::State& state) {
  const std::int64_t T = state.range(0), H = state.range(1), D = state.range(2);
  const isa which = kIsas[state.range(3)];
  if (!ropescale::available(which)) {
    state.SkipWithError((std::string("CPU or build lacks ") + ropescale::name(which)).c_str());
    return;
  }
  auto x = random_floats(T * H * D);
  const std::vector<double> w = default_inv_freq(D);
  const auto view = ropescale::dense_view(x.get(), T, H, D);
  const auto pos = ropescale::token_positions::range(kStart);
  ropescale::apply_options opt;
  opt.force_isa = which;
  for (auto _ : state) {
    ropescale::apply_rotary_on_the_fly(view, w.data(), D / 2, 1.0, pos, ropescale::layout::neox, D,
                                       opt);
    benchmark::DoNotOptimize(x.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * T * H * D *
                          static_cast<std::int64_t>(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * T * H * D);
  state.SetLabel(ropescale::name(which));
}

/// GQA decode without a table: Q (32 heads) and K (8 heads) rotated in one call, one row per
/// token shared by all 40 heads. Bytes count both tensors.
void BM_OnTheFlyFusedQK_f32(benchmark::State& state) {
  const std::int64_t T = state.range(0), Hq = state.range(1), Hk = state.range(2),
                     D = state.range(3);
  auto q = random_floats(T * Hq * D);
  auto k = random_floats(T * Hk * D);
  const std::vector<double> w = default_inv_freq(D);
  const auto qv = ropescale::dense_view(q.get(), T, Hq, D);
  const auto kv = ropescale::dense_view(k.get(), T, Hk, D);
  const auto pos = ropescale::token_positions::range(kStart);
  for (auto _ : state) {
    ropescale::apply_rotary_on_the_fly(qv, kv, w.data(), D / 2, 1.0, pos, ropescale::layout::neox,
                                       D);
    benchmark::DoNotOptimize(q.get());
    benchmark::DoNotOptimize(k.get());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 2 * T * (Hq + Hk) * D *
                          static_cast<std::int64_t>(sizeof(float)));
  state.SetItemsProcessed(state.iterations() * T * (Hq + Hk) * D);
  state.SetLabel(ropescale::name(ropescale::active_isa()));
}

void BM_TableBuild(benchmark::State& state) {
  const std::int64_t N = state.range(0), D = state.range(1);
  const bool f32 = state.range(2) != 0;
  ropescale::frequency_table f;
  f.inv_freq = default_inv_freq(D);
  if (f32) {
    f.inv_freq_hf_f32.assign(f.inv_freq.begin(), f.inv_freq.end());
    f.mode = ropescale::angle_mode::f32;
  }
  for (auto _ : state) {
    ropescale::cos_sin_table table(f, N);
    benchmark::DoNotOptimize(table.snapshot()->data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * N * (D / 2));
  state.SetBytesProcessed(state.iterations() * N * D * static_cast<std::int64_t>(sizeof(float)));
  state.SetLabel(f32 ? "f32 mode" : "accurate");
}

void row_double_with(isa which, const double* w, std::int64_t n, std::int64_t p, float* c,
                     float* s) {
  ropescale::simd::cos_sin_row_double(which, w, n, p, 1.0, c, s);
}

void row_with(isa which, const double* w, std::int64_t n, std::int64_t p, float* c, float* s) {
  ropescale::simd::cos_sin_row(which, w, n, p, 1.0, c, s);
}

/// range(0) = pair count, range(1) = method: 0..3 = cos_sin_row of kIsas[m], 4 = libm cosf/sinf
/// per pair on fl32(p·ω) (ggml's way; not accurate), 5 = the table builder (double cos/sin).
void BM_SinCosRow(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const std::int64_t method = state.range(1);
  const std::vector<double> w = default_inv_freq(2 * n);
  std::vector<float> w32(w.begin(), w.end());
  alignas(64) float row[2 * 512];
  std::int64_t p = kStart;
  if (method >= 10 && method < 14) {
    const isa which = kIsas[method - 10];
    if (!ropescale::available(which)) {
      state.SkipWithError((std::string("CPU or build lacks ") + ropescale::name(which)).c_str());
      return;
    }
    for (auto _ : state) {
      row_double_with(which, w.data(), n, p, row, row + n);
      benchmark::DoNotOptimize(row);
      benchmark::ClobberMemory();
      p = p == kStart + 4095 ? kStart : p + 1;
    }
    state.SetLabel(std::string("cos_sin_row_double, ") + ropescale::name(which));
  } else if (method < 4) {
    const isa which = kIsas[method];
    if (!ropescale::available(which)) {
      state.SkipWithError((std::string("CPU or build lacks ") + ropescale::name(which)).c_str());
      return;
    }
    for (auto _ : state) {
      row_with(which, w.data(), n, p, row, row + n);
      benchmark::DoNotOptimize(row);
      benchmark::ClobberMemory();
      p = p == kStart + 4095 ? kStart : p + 1;
    }
    state.SetLabel(std::string("cos_sin_row, ") + ropescale::name(which));
  } else if (method == 4) {
    for (auto _ : state) {
      const float pf = static_cast<float>(p);
      for (std::int64_t i = 0; i < n; ++i) {
        const float phi = pf * w32[static_cast<std::size_t>(i)];
        row[i] = std::cos(phi);
        row[n + i] = std::sin(phi);
      }
      benchmark::DoNotOptimize(row);
      benchmark::ClobberMemory();
      p = p == kStart + 4095 ? kStart : p + 1;
    }
    state.SetLabel("libm cosf/sinf per pair, f32 angle (ggml-style, inaccurate)");
  } else {
    for (auto _ : state) {
      for (std::int64_t i = 0; i < n; ++i) {
        ropescale::detail::accurate_cos_sin(p, w[static_cast<std::size_t>(i)], 1.0, row[i],
                                            row[n + i]);
      }
      benchmark::DoNotOptimize(row);
      benchmark::ClobberMemory();
      p = p == kStart + 4095 ? kStart : p + 1;
    }
    state.SetLabel("table builder: double reduction + double cos/sin");
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void sincos_row_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"pairs", "method"});
  for (std::int64_t m = 0; m < 6; ++m) {
    if (m < 4 && !ropescale::available(kIsas[m])) continue;
    b->Args({64, m});
  }
  for (std::int64_t m = 11; m < 14; ++m) {
    if (!ropescale::available(kIsas[m - 10])) continue;
    b->Args({64, m});
  }
}

}  // namespace

BENCHMARK(BM_DecodeOnTheFly_f32)
    ->ArgNames({"tokens", "heads", "dim"})
    ->Args({1, 32, 128})
    ->Args({512, 8, 128})
    ->Args({4096, 32, 128});
BENCHMARK(BM_OnTheFlyIsa_f32)->Apply([](benchmark::internal::Benchmark* b) {
  b->ArgNames({"tokens", "heads", "dim", "isa"});
  for (std::int64_t i = 0; i < 4; ++i) {
    if (!ropescale::available(kIsas[i])) continue;
    b->Args({1, 32, 128, i})->Args({512, 8, 128, i});
  }
});
BENCHMARK(BM_OnTheFlyFusedQK_f32)
    ->ArgNames({"tokens", "q_heads", "k_heads", "dim"})
    ->Args({1, 32, 8, 128});
BENCHMARK(BM_TableBuild)
    ->ArgNames({"positions", "dim", "f32"})
    ->Args({131072, 128, 0})
    ->Args({131072, 128, 1})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SinCosRow)->Apply(sincos_row_args);

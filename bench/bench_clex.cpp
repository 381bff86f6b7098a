// SPDX-License-Identifier: Apache-2.0
// CLEX table build (docs/reference.md §4.9): the whole integer table t = 1 … T from one fixed-step
// 3/8-rule solve, per iteration from a fresh method object (the table is cached per object). Shapes
// of the published models: d = 128, p = 1 (T = 16 and 64, Δ = 0.01) and Mixtral's p = 2, T = 10.
// Requirement: T = 64, d = 128 well under a second on one core.
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ropescale/methods/clex.hpp"

namespace {

ropescale::clex_params clex_bench_params(std::int64_t d, std::int64_t p, std::int64_t T) {
  ropescale::clex_params c;
  c.head_dim = d;
  c.rope_theta = 1e4;
  c.max_position_embeddings = 4096;
  c.max_factor = T;
  c.param_factor = p;
  c.act = "tanh";
  c.time_dt = 0.01;
  std::mt19937_64 rng(42);
  std::normal_distribution<double> nd(0.0, 0.05);
  const auto count = static_cast<std::size_t>(d / 2 * p * d);
  c.ode_up_proj.resize(count);
  c.ode_down_proj.resize(count);
  for (auto& v : c.ode_up_proj) v = nd(rng);
  for (auto& v : c.ode_down_proj) v = nd(rng);
  return c;
}

void BM_ClexTable(benchmark::State& state) {
  const auto params = clex_bench_params(state.range(0), state.range(1), state.range(2));
  for (auto _ : state) {
    ropescale::clex<double> m(params);
    auto row = m.inv_freq_for_scale(params.max_factor);  // builds the whole table
    benchmark::DoNotOptimize(row.data());
    benchmark::ClobberMemory();
  }
  const double steps = static_cast<double>(params.max_factor - 1) / params.time_dt;
  state.counters["steps"] = steps;
  state.counters["rhs_evals/s"] =
      benchmark::Counter(4 * steps, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_ClexTable)
    ->ArgNames({"dim", "p", "T"})
    ->Args({128, 1, 64})
    ->Args({128, 1, 16})
    ->Args({128, 2, 10})
    ->Args({32, 1, 64})
    ->Unit(benchmark::kMillisecond);

// SPDX-License-Identifier: Apache-2.0
// Benchmarks of the fused RoPE + paged KV append (kv_append.hpp, docs/kv_append.md). Contract
// names (parsed by bench/ratios.py and bench/check_names.cmake, never renamed), each over
// tokens × heads × dim = 1×8×128, 512×8×128 and 4096×8×128 (heads = KV heads), for <src>_<dst>
// in f32_f32, f32_bf16, f32_f16, bf16_bf16:
//   BM_RopeKvAppend_<src>_<dst>      rope_kv_append of K and V (no Q, so the three compare like
//                                    for like);
//   BM_KvAppendFloor_<src>_<dst>     kv_append: the same append without rotation (vectorised
//                                    conversion, same scatter, same checks) — what an engine
//                                    pays anyway;
//   BM_RopeThenKvAppend_<src>_<dst>  apply_rotary on K in place, then the floor's kv_append;
//   BM_KvMemcpy                      std::memcpy of the same f32 K and V rows into the same slots.
// The caches are token-major, pages of 16 slots, just enough pages for the tokens, used in an
// order shuffled with a fixed seed; positions from 100000, A = 1, one thread, the active ISA.
// Bytes = tokens·heads·dim·(2·sizeof(src) + 2·sizeof(dst)) (K and V read, K and V written), so
// within one <src>_<dst> the bytes/s ratios are the inverse time ratios.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/kv_append.hpp"
#include "ropescale/types.hpp"

namespace {

using ropescale::bf16;
using ropescale::f16;

constexpr std::uint32_t kSeed = 20261203u;
constexpr std::int64_t kFirstPosition = 100000;
constexpr std::int64_t kPageSize = 16;

struct aligned_delete {
  void operator()(void* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
};

template <class T>
using buffer = std::unique_ptr<T[], aligned_delete>;

template <class T>
buffer<T> random_tensor(std::int64_t n, std::uint32_t seed) {
  void* raw = ::operator new[](static_cast<std::size_t>(n) * sizeof(T), std::align_val_t{64});
  buffer<T> p(static_cast<T*>(raw));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::int64_t i = 0; i < n; ++i) p[i] = ropescale::store_from_float<T>(u(rng));
  return p;
}

/// K and V sources, token-major caches and a shuffled slot mapping for one shape.
template <class S, class C>
struct kv_setup {
  std::int64_t tokens, heads, dim, pages;
  buffer<S> k, v;
  buffer<C> k_cache, v_cache;
  std::vector<std::int64_t> slots;
  std::vector<float> row_data;
  ropescale::cos_sin_view rows;

  explicit kv_setup(const benchmark::State& state)
      : tokens(state.range(0)),
        heads(state.range(1)),
        dim(state.range(2)),
        pages((tokens + kPageSize - 1) / kPageSize),
        k(random_tensor<S>(tokens * heads * dim, kSeed)),
        v(random_tensor<S>(tokens * heads * dim, kSeed + 1)),
        k_cache(random_tensor<C>(pages * kPageSize * heads * dim, kSeed + 2)),
        v_cache(random_tensor<C>(pages * kPageSize * heads * dim, kSeed + 3)),
        slots(static_cast<std::size_t>(tokens)) {
    make_rows();
    std::vector<std::int64_t> order(static_cast<std::size_t>(pages));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(kSeed));
    for (std::int64_t t = 0; t < tokens; ++t) {
      slots[static_cast<std::size_t>(t)] =
          order[static_cast<std::size_t>(t / kPageSize)] * kPageSize + t % kPageSize;
    }
  }

  /// Rows for positions [kFirstPosition, kFirstPosition + tokens) of the default RoPE, θ = 1e6.
  void make_rows() {
    const std::int64_t n = dim / 2;
    ropescale::frequency_table f;
    f.inv_freq.resize(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < f.inv_freq.size(); ++i) {
      f.inv_freq[i] = std::pow(1e6, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
    }
    row_data.resize(static_cast<std::size_t>(tokens * 2 * n));
    for (std::int64_t r = 0; r < tokens; ++r) {
      ropescale::compute_cos_sin_row(f, kFirstPosition + r,
                                     row_data.data() + static_cast<std::size_t>(r * 2 * n));
    }
    rows = ropescale::cos_sin_view{row_data.data(), row_data.data() + n, 2 * n, n, kFirstPosition,
                                   tokens};
  }

  ropescale::tensor_view<S> k_view() { return ropescale::dense_view(k.get(), tokens, heads, dim); }
  ropescale::tensor_view<S> v_view() { return ropescale::dense_view(v.get(), tokens, heads, dim); }
  ropescale::paged_cache_view<C> cache(C* data) const {
    return ropescale::paged_cache_view<C>::token_major(data, pages, kPageSize, heads, dim);
  }
  ropescale::slot_mapping slot_list() const {
    return ropescale::slot_mapping::list(slots.data(), tokens);
  }

  void set_counters(benchmark::State& state) const {
    const std::int64_t elements = tokens * heads * dim;
    state.SetBytesProcessed(state.iterations() * elements *
                            static_cast<std::int64_t>(2 * sizeof(S) + 2 * sizeof(C)));
    state.SetItemsProcessed(state.iterations() * 2 * elements);
    state.SetLabel(ropescale::name(ropescale::active_isa()));
  }
};

/// The timed loop shared by the three forms: `step(s)` once per iteration, the caches observed.
template <class S, class C, class Step>
void kv_loop(benchmark::State& state, Step step) {
  kv_setup<S, C> s(state);
  for (auto _ : state) {
    step(s);
    benchmark::DoNotOptimize(s.k_cache.get());
    benchmark::DoNotOptimize(s.v_cache.get());
    benchmark::ClobberMemory();
  }
  s.set_counters(state);
}

template <class S, class C>
void kv_append_floor(kv_setup<S, C>& s) {
  ropescale::kv_append(s.k_view(), s.v_view(), s.cache(s.k_cache.get()), s.cache(s.v_cache.get()),
                       s.slot_list());
}

template <class S, class C>
void rope_kv_append_loop(benchmark::State& state) {
  kv_loop<S, C>(state, [](kv_setup<S, C>& s) {
    ropescale::rope_kv_append(ropescale::tensor_view<S>{}, s.k_view(), s.v_view(),
                              s.cache(s.k_cache.get()), s.cache(s.v_cache.get()), s.slot_list(),
                              s.rows, ropescale::token_positions::range(kFirstPosition),
                              ropescale::layout::neox, s.dim);
  });
}

template <class S, class C>
void kv_append_floor_loop(benchmark::State& state) {
  kv_loop<S, C>(state, kv_append_floor<S, C>);
}

template <class S, class C>
void rope_then_kv_append_loop(benchmark::State& state) {
  kv_loop<S, C>(state, [](kv_setup<S, C>& s) {
    ropescale::apply_rotary(s.k_view(), s.rows, ropescale::token_positions::range(kFirstPosition),
                            ropescale::layout::neox, s.dim);
    kv_append_floor(s);
  });
}

void BM_KvMemcpy(benchmark::State& state) {
  kv_loop<float, float>(state, [](kv_setup<float, float>& s) {
    const std::int64_t row = s.heads * s.dim;
    const auto bytes = static_cast<std::size_t>(row) * sizeof(float);
    for (std::int64_t t = 0; t < s.tokens; ++t) {
      const std::int64_t slot = s.slots[static_cast<std::size_t>(t)];
      std::memcpy(s.k_cache.get() + slot * row, s.k.get() + t * row, bytes);
      std::memcpy(s.v_cache.get() + slot * row, s.v.get() + t * row, bytes);
    }
  });
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"tokens", "heads", "dim"})
      ->Args({1, 8, 128})
      ->Args({512, 8, 128})
      ->Args({4096, 8, 128});
}

template <class S, class C>
void register_pair(const std::string& suffix) {
  shapes(benchmark::RegisterBenchmark(("BM_RopeKvAppend_" + suffix).c_str(),
                                      rope_kv_append_loop<S, C>));
  shapes(benchmark::RegisterBenchmark(("BM_KvAppendFloor_" + suffix).c_str(),
                                      kv_append_floor_loop<S, C>));
  shapes(benchmark::RegisterBenchmark(("BM_RopeThenKvAppend_" + suffix).c_str(),
                                      rope_then_kv_append_loop<S, C>));
}

const bool registered = [] {
  register_pair<float, float>("f32_f32");
  register_pair<float, bf16>("f32_bf16");
  register_pair<float, f16>("f32_f16");
  register_pair<bf16, bf16>("bf16_bf16");
  shapes(benchmark::RegisterBenchmark("BM_KvMemcpy", BM_KvMemcpy));
  return true;
}();

}  // namespace

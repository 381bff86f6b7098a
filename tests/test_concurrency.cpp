// SPDX-License-Identifier: Apache-2.0
// Concurrency tests, written for ThreadSanitizer (the CI's clang TSan leg runs this file) and run
// in every ordinary build too. They exercise the thread-safety contract (also written out in
// /work/notes → README "Thread safety"):
//   * ISA dispatch: the cached detection and the active-ISA cell are initialised on first use
//     from any thread (function-local statics) and set_isa() is an atomic store;
//   * cos_sin_rows snapshots are immutable; cos_sin_table::snapshot/ensure/rebuild may be called
//     from any number of threads; a reader's snapshot never changes under it;
//   * method objects' const members are thread-safe, including CLEX's lazily built ODE table
//     (std::call_once); stateful helpers (dynamic_hf_cache) belong to one thread (the writer
//     below) and publish through a cos_sin_table.
// Each scenario has reader threads rotating Q/K from snapshots of a shared table while a writer
// grows or rebuilds it (dynamic-NTK growth and reset, the LongRoPE short->long switch, CLEX t
// changes). Readers check every snapshot against the table the writer published for that
// generation (precomputed single-threaded), its rows against long-double cos/sin, and their
// rotated output against a double rotation by the snapshot's own rows.
// This file's first test must stay first: it races the dispatch statics' initialisation, which
// only happens once per process.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/method.hpp"
#include "ropescale/methods/clex.hpp"
#include "ropescale/methods/dynamic.hpp"
#include "ropescale/methods/longrope.hpp"
#include "ropescale/on_the_fly.hpp"

namespace {

using ropescale::cos_sin_rows;
using ropescale::cos_sin_table;

// Threads that start work at the same instant (spin on a flag), so first uses really race.
class start_line {
 public:
  void wait() const {
    while (!go_.load(std::memory_order_acquire)) std::this_thread::yield();
  }
  void release() { go_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> go_{false};
};

// Failures seen by worker threads, reported by the main thread (first few messages kept).
class failures {
 public:
  void add(const std::string& what) {
    std::lock_guard<std::mutex> lock(m_);
    ++count_;
    if (messages_.size() < 8) messages_.push_back(what);
  }
  void report() const {
    std::lock_guard<std::mutex> lock(m_);
    EXPECT_EQ(count_, 0u) << "first failures:\n"
                          << [&] {
                               std::string s;
                               for (const auto& m : messages_) s += "  " + m + "\n";
                               return s;
                             }();
  }

 private:
  mutable std::mutex m_;
  std::size_t count_ = 0;
  std::vector<std::string> messages_;
};

unsigned reader_count() {
  // Enough to interleave; TSan's cost grows with threads, and CI has 2 cores.
  return 4;
}

// A deterministic head vector.
std::vector<float> input_vector(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(size);
  for (auto& x : v) x = u(rng);
  return v;
}

// Rotates `heads` heads of one token (NeoX) by the snapshot row of `position` with the library
// and compares with a double rotation by the same row values. Returns "" or a failure text.
std::string rotate_and_check(const cos_sin_rows& rows, std::int64_t position, std::int64_t heads,
                             std::int64_t head_dim, unsigned seed) {
  const std::int64_t n = rows.pairs(), d = 2 * n;
  std::vector<float> q = input_vector(static_cast<std::size_t>(heads * head_dim), seed);
  const std::vector<float> in = q;
  ropescale::apply_rotary(ropescale::dense_view(q.data(), 1, heads, head_dim), rows,
                          ropescale::token_positions::list(&position, 1), ropescale::layout::neox,
                          d);
  for (std::int64_t h = 0; h < heads; ++h) {
    for (std::int64_t i = 0; i < n; ++i) {
      const double c = rows.cos(position, i), s = rows.sin(position, i);
      const double a = in[h * head_dim + i], b = in[h * head_dim + i + n];
      const double ea = a * c - b * s, eb = b * c + a * s;
      const double scale = std::hypot(a, b) * std::max(1.0, std::hypot(c, s)) + 1e-30;
      if (std::fabs(q[h * head_dim + i] - ea) > 4e-7 * scale ||
          std::fabs(q[h * head_dim + i + n] - eb) > 4e-7 * scale) {
        return "rotation mismatch at position " + std::to_string(position) + ", pair " +
               std::to_string(i);
      }
    }
    for (std::int64_t c = d; c < head_dim; ++c) {
      if (q[h * head_dim + c] != in[h * head_dim + c]) return "pass-through channel changed";
    }
  }
  return "";
}

// What the writer publishes: generation g of the table holds these frequencies and factor.
struct published {
  std::vector<double> inv_freq;
  double attention_factor = 1.0;
};

// Checks a snapshot: its frequencies are the ones published for its generation, a few rows match
// long-double cos/sin, and a rotation by it is right. Returns "" or a failure text.
std::string check_snapshot(const cos_sin_rows& rows, const std::vector<published>& expected,
                           std::int64_t head_dim, std::mt19937_64& rng) {
  const std::uint64_t g = rows.generation();
  if (g >= expected.size()) return "unexpected generation " + std::to_string(g);
  const published& e = expected[g];
  if (rows.frequencies().inv_freq != e.inv_freq) {
    return "generation " + std::to_string(g) + " holds other frequencies than were published";
  }
  if (rows.attention_factor() != e.attention_factor) return "attention factor mismatch";
  if (rows.positions() == 0) return "";
  std::uniform_int_distribution<std::int64_t> pick(0, rows.positions() - 1);
  const double tol = 2e-7 * std::max(1.0, e.attention_factor);
  for (int k = 0; k < 2; ++k) {
    const std::int64_t p = k == 0 ? rows.positions() - 1 : pick(rng);
    for (std::int64_t i = 0; i < rows.pairs(); ++i) {
      const long double phi = static_cast<long double>(p) * static_cast<long double>(e.inv_freq[i]);
      const long double a = e.attention_factor;
      if (std::fabs(static_cast<long double>(rows.cos(p, i)) - a * std::cos(phi)) > tol ||
          std::fabs(static_cast<long double>(rows.sin(p, i)) - a * std::sin(phi)) > tol) {
        return "row " + std::to_string(p) + " pair " + std::to_string(i) +
               " differs from A·cos/sin(p·ω)";
      }
    }
    const std::string r = rotate_and_check(rows, p, 2, head_dim, static_cast<unsigned>(p));
    if (!r.empty()) return r;
  }
  return "";
}

// Runs `readers` threads that keep taking snapshots (and sometimes calling ensure() themselves)
// until the writer finishes; returns how many snapshots were checked.
template <class Writer>
std::size_t run_readers_and_writer(cos_sin_table& table, const std::vector<published>& expected,
                                   std::int64_t head_dim, Writer writer, failures& fails,
                                   bool readers_grow) {
  std::atomic<bool> done{false};
  std::atomic<std::size_t> checked{0};
  start_line start;
  std::vector<std::thread> threads;
  for (unsigned r = 0; r < reader_count(); ++r) {
    threads.emplace_back([&, r] {
      std::mt19937_64 rng(1234 + r);
      start.wait();
      std::size_t local = 0;
      // At least a few checks even if the writer is quick; then until it is done.
      while (local < 4 || !done.load(std::memory_order_acquire)) {
        std::shared_ptr<const cos_sin_rows> snap = table.snapshot();
        if (readers_grow && local % 5 == 4) {
          // A reader that needs more rows grows the table itself (writers may race).
          snap = table.ensure(snap->positions() + 7);
        }
        const std::string err = check_snapshot(*snap, expected, head_dim, rng);
        if (!err.empty()) fails.add(err);
        ++local;
      }
      checked += local;
    });
  }
  std::thread w([&] {
    start.wait();
    try {
      writer();
    } catch (const std::exception& e) {
      fails.add(std::string("writer threw: ") + e.what());
    }
    done.store(true, std::memory_order_release);
  });
  start.release();
  w.join();
  for (auto& t : threads) t.join();
  return checked.load();
}

// ---------------------------------------------------------------------------------------------
// Dispatch. MUST BE THE FIRST TEST: races the first use of the detection and active-ISA statics.

TEST(ConcurrencyDispatch, FirstUseRacedFromManyThreads) {
  constexpr int threads_n = 8;
  start_line start;
  std::vector<int> best(threads_n, -1), active(threads_n, -1);
  std::vector<std::thread> threads;
  failures fails;
  for (int t = 0; t < threads_n; ++t) {
    threads.emplace_back([&, t] {
      start.wait();
      // Different threads reach the statics through different entry points.
      try {
        switch (t % 4) {
          case 0:
            active[t] = static_cast<int>(ropescale::active_isa());
            break;
          case 1:
            (void)ropescale::available(ropescale::isa::avx2);
            break;
          case 2:
            active[t] = static_cast<int>(ropescale::resolve_isa(std::nullopt));
            break;
          default:
            break;
        }
        best[t] = static_cast<int>(ropescale::best_isa());
        if (active[t] < 0) active[t] = static_cast<int>(ropescale::active_isa());
        // And a real kernel call through the default (active) ISA.
        std::vector<double> w = {1.0, 0.01, 1e-4, 1e-6};
        std::vector<float> x = input_vector(8, static_cast<unsigned>(t));
        const std::int64_t p = 1000 + t;
        ropescale::apply_rotary_on_the_fly(ropescale::dense_view(x.data(), 1, 1, 8), w.data(), 4,
                                           1.0, ropescale::token_positions::list(&p, 1),
                                           ropescale::layout::gptj, 8);
      } catch (const std::exception& e) {
        fails.add(e.what());
      }
    });
  }
  start.release();
  for (auto& th : threads) th.join();
  fails.report();
  for (int t = 1; t < threads_n; ++t) {
    EXPECT_EQ(best[t], best[0]);
    EXPECT_EQ(active[t], active[0]);
  }
  EXPECT_EQ(best[0], static_cast<int>(ropescale::best_isa()));
}

TEST(ConcurrencyDispatch, SetIsaWhileOtherThreadsApply) {
  std::vector<ropescale::isa> isas;
  for (auto i : {ropescale::isa::scalar, ropescale::isa::avx2, ropescale::isa::avx512,
                 ropescale::isa::neon}) {
    if (ropescale::available(i)) isas.push_back(i);
  }
  const ropescale::isa before = ropescale::active_isa();
  const std::int64_t head_dim = 64, n = 32;
  std::vector<double> w(n);
  for (std::int64_t i = 0; i < n; ++i) w[i] = std::pow(10000.0, -2.0 * i / 64.0);
  const cos_sin_rows rows(ropescale::frequency_table{w, {}, 1.0, ropescale::angle_mode::accurate},
                          64);
  failures fails;
  std::atomic<bool> done{false};
  start_line start;
  std::vector<std::thread> threads;
  for (unsigned r = 0; r < reader_count(); ++r) {
    threads.emplace_back([&, r] {
      start.wait();
      int iterations = 0;
      while (iterations < 20 || !done.load(std::memory_order_acquire)) {
        const std::string err =
            rotate_and_check(rows, (iterations * 7 + r) % 64, 3, head_dim, r + 17u * iterations);
        if (!err.empty()) fails.add(err);
        ++iterations;
      }
    });
  }
  std::thread flipper([&] {
    start.wait();
    for (int k = 0; k < 200; ++k) ropescale::set_isa(isas[k % isas.size()]);
    done.store(true, std::memory_order_release);
  });
  start.release();
  flipper.join();
  for (auto& t : threads) t.join();
  ropescale::set_isa(before);
  fails.report();
}

// ---------------------------------------------------------------------------------------------
// Tables.

TEST(ConcurrencyTable, ReadersWhileWritersGrow) {
  const std::int64_t head_dim = 64;
  std::vector<double> w(32);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = std::pow(500000.0, -2.0 * i / 64.0);
  const std::vector<published> expected = {{w, 1.25}};
  cos_sin_table table(w, 1.25, 1);
  failures fails;
  const std::size_t checked = run_readers_and_writer(
      table, expected, head_dim,
      [&] {
        for (std::int64_t s = 2; s <= 3000; s = s * 5 / 4 + 1) (void)table.ensure(s);
        (void)table.ensure(3000);
      },
      fails, /*readers_grow=*/true);
  fails.report();
  EXPECT_GE(table.positions(), 3000);
  EXPECT_EQ(table.snapshot()->generation(), 0u);
  EXPECT_GT(checked, 0u);
}

TEST(ConcurrencyTable, DynamicNtkGrowthAndReset) {
  ropescale::dynamic_params p;
  p.head_dim = 64;
  p.rope_theta = 10000.0;
  p.factor = 4.0;
  p.max_position_embeddings = 256;
  const ropescale::dynamic<double> method(p);
  // The writer's script of forward lengths: grow past L, stay, shrink below L (reset), regrow.
  const std::vector<std::int64_t> script = {100,  256, 300, 400, 350, 700,
                                            1000, 200, 120, 900, 1500};
  // Precompute, single-threaded, the table of every generation the writer will publish.
  std::vector<published> expected = {{method.inv_freq(), 1.0}};
  {
    ropescale::dynamic_hf_cache<double> cache(method);
    std::uint64_t version = cache.version();
    for (std::int64_t s : script) {
      cache.update(s);
      if (cache.version() != version) {
        version = cache.version();
        expected.push_back({cache.table(), 1.0});
      }
    }
  }
  ASSERT_GE(expected.size(), 4u);
  cos_sin_table table(expected[0].inv_freq, 1.0, 64);
  failures fails;
  run_readers_and_writer(
      table, expected, p.head_dim,
      [&] {
        ropescale::dynamic_hf_cache<double> cache(method);  // owned by this thread only
        std::uint64_t version = cache.version();
        for (std::int64_t s : script) {
          const std::vector<double>& t = cache.update(s);
          if (cache.version() != version) {
            version = cache.version();
            table.rebuild(t, 1.0, std::max<std::int64_t>(s, table.positions()));
          } else {
            table.ensure(s);
          }
        }
      },
      fails, /*readers_grow=*/false);
  fails.report();
  EXPECT_EQ(table.snapshot()->generation() + 1, expected.size());
}

TEST(ConcurrencyTable, LongRopeShortToLongSwitch) {
  ropescale::longrope_params p;
  p.head_dim = 48;
  p.rope_theta = 10000.0;
  p.original_max_position_embeddings = 512;
  p.max_position_embeddings = 4096;
  for (int i = 0; i < 24; ++i) {
    p.short_factor.push_back(1.0 + 0.02 * i);
    p.long_factor.push_back(1.0 + 0.5 * i);
  }
  const ropescale::longrope<double> method(p);
  // Generation 0: short (S <= L0); 1: long (S > L0); 2: short again (a new request).
  const std::vector<published> expected = {{method.inv_freq(512), method.attention_factor(512)},
                                           {method.inv_freq(513), method.attention_factor(513)},
                                           {method.inv_freq(1), method.attention_factor(1)}};
  ASSERT_NE(expected[0].inv_freq, expected[1].inv_freq);
  cos_sin_table table(expected[0].inv_freq, expected[0].attention_factor, 128);
  failures fails;
  run_readers_and_writer(
      table, expected, p.head_dim,
      [&] {
        bool long_now = false;
        for (std::int64_t s : {200, 400, 512, 513, 800, 1200, 1600}) {
          if (method.uses_long_factor(s) != long_now) {
            long_now = !long_now;
            table.rebuild(method.inv_freq(s), method.attention_factor(s), s);
          } else {
            table.ensure(s);
          }
        }
        table.rebuild(method.inv_freq(1), method.attention_factor(1), 64);  // next request
      },
      fails, /*readers_grow=*/false);
  fails.report();
  EXPECT_EQ(table.snapshot()->generation(), 2u);
}

ropescale::clex_params small_clex_params() {
  ropescale::clex_params p;
  p.head_dim = 16;  // d = 16, n = 8, p = 1
  p.rope_theta = 10000.0;
  p.max_position_embeddings = 128;
  p.max_factor = 8;
  p.param_factor = 1;
  p.act = "tanh";
  p.time_dt = 0.05;
  const std::size_t n = 8, pd = 16;
  p.ode_up_proj.resize(n * pd);
  p.ode_down_proj.resize(pd * n);
  for (std::size_t i = 0; i < n * pd; ++i) p.ode_up_proj[i] = 0.02 * std::sin(0.7 * i + 0.1);
  for (std::size_t i = 0; i < pd * n; ++i) p.ode_down_proj[i] = 0.03 * std::cos(1.3 * i + 0.2);
  return p;
}

TEST(ConcurrencyClex, LazyTableBuiltFromManyThreadsAtOnce) {
  const ropescale::clex_params p = small_clex_params();
  // Reference rows from an independent object (copies share their table; this one does not).
  const ropescale::clex<double> reference(p);
  std::vector<std::vector<double>> rows;
  for (std::int64_t t = 1; t <= p.max_factor; ++t) rows.push_back(reference.inv_freq_for_scale(t));
  const ropescale::clex<double> shared(p);  // table not built yet
  failures fails;
  start_line start;
  std::vector<std::thread> threads;
  for (unsigned r = 0; r < 6; ++r) {
    threads.emplace_back([&, r] {
      start.wait();
      for (std::int64_t k = 0; k < 12; ++k) {
        const std::int64_t s = 1 + ((k * 37 + r * 101) % (p.max_position_embeddings * 10));
        const std::int64_t t = shared.scale_for(s);
        if (shared.inv_freq(s) != rows[static_cast<std::size_t>(t - 1)]) {
          fails.add("clex row for S = " + std::to_string(s) + " differs");
        }
        const ropescale::clex<double> copy = shared;  // copies share the published table
        if (copy.inv_freq_for_scale(t) != rows[static_cast<std::size_t>(t - 1)]) {
          fails.add("clex copy row differs");
        }
      }
    });
  }
  start.release();
  for (auto& t : threads) t.join();
  fails.report();
}

TEST(ConcurrencyClex, ReadersWhileWriterFollowsScaleT) {
  const ropescale::clex<double> method(small_clex_params());
  const std::int64_t l = method.params().max_position_embeddings;
  // The writer walks S across multiples of L (t = 1, 2, 3, 2 after a new request, ...).
  const std::vector<std::int64_t> script = {50, 128, 129, 200, 257, 300, 400, 100, 129, 600};
  std::vector<published> expected = {{method.inv_freq(script[0]), 1.0}};
  {
    std::int64_t t_now = method.scale_for(script[0]);
    for (std::int64_t s : script) {
      if (method.scale_for(s) != t_now) {
        t_now = method.scale_for(s);
        expected.push_back({method.inv_freq(s), 1.0});
      }
    }
  }
  ASSERT_GE(expected.size(), 5u);
  cos_sin_table table(expected[0].inv_freq, 1.0, l);
  failures fails;
  run_readers_and_writer(
      table, expected, method.head_dim(),
      [&] {
        std::int64_t t_now = method.scale_for(script[0]);
        for (std::int64_t s : script) {
          if (method.scale_for(s) != t_now) {
            t_now = method.scale_for(s);
            // CLEX re-rotates every cached key with the new t's table (docs/reference.md §4.5).
            table.rebuild(method.inv_freq(s), 1.0, l * t_now);
          }
        }
      },
      fails, /*readers_grow=*/false);
  fails.report();
  EXPECT_EQ(table.snapshot()->generation() + 1, expected.size());
}

// Const members of the type-erased method, and the on-the-fly path, from many threads.
TEST(ConcurrencyMethod, ConstMembersFromManyThreads) {
  ropescale::longrope_params lp;
  lp.head_dim = 32;
  lp.original_max_position_embeddings = 100;
  lp.max_position_embeddings = 1000;
  lp.short_factor.assign(16, 1.5);
  lp.long_factor.assign(16, 3.0);
  ropescale::dynamic_params dp;
  dp.head_dim = 32;
  dp.factor = 2.0;
  dp.max_position_embeddings = 100;
  const std::vector<ropescale::method> methods = {ropescale::longrope<double>(lp),
                                                  ropescale::dynamic<double>(dp)};
  std::vector<std::vector<std::vector<double>>> want(methods.size());
  for (std::size_t m = 0; m < methods.size(); ++m) {
    for (std::int64_t s = 1; s <= 400; s += 57) want[m].push_back(methods[m].inv_freq(s));
  }
  failures fails;
  start_line start;
  std::vector<std::thread> threads;
  for (unsigned r = 0; r < reader_count(); ++r) {
    threads.emplace_back([&, r] {
      start.wait();
      for (std::size_t m = 0; m < methods.size(); ++m) {
        std::size_t k = 0;
        for (std::int64_t s = 1; s <= 400; s += 57, ++k) {
          const std::vector<double> w = methods[m].inv_freq(s);
          if (w != want[m][k]) fails.add("inv_freq differs across threads");
          std::vector<float> x = input_vector(32, r);
          const std::int64_t pos = s - 1;
          ropescale::apply_rotary_on_the_fly(ropescale::dense_view(x.data(), 1, 1, 32), w.data(),
                                             16, methods[m].attention_factor(s),
                                             ropescale::token_positions::list(&pos, 1),
                                             ropescale::layout::neox, 32);
        }
      }
    });
  }
  start.release();
  for (auto& t : threads) t.join();
  fails.report();
}

}  // namespace

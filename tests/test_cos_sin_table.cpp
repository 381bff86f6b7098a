// SPDX-License-Identifier: Apache-2.0
// cos_sin_table.hpp: accuracy of the cached rows against the independent long-double reference
// (docs/reference.md §5.2: |ĉ − A·cos φ| <= 2e-7·max(1, A) for 0 <= p <= 1e7), the HF-compatible
// f32 mode against an independent binary32 recomputation (§5.3), growth / rebuild / snapshot
// semantics, concurrent readers during growth and rebuilds, and argument validation.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ropescale/cos_sin_table.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/method.hpp"
#include "support/exact_trig.hpp"
#include "support/isa_types.hpp"

namespace {

using ropescale::angle_mode;
using ropescale::cos_sin_rows;
using ropescale::cos_sin_table;
using ropescale::frequency_table;
using ropescale_test::exact_cos_sin;

constexpr double kBound = 2e-7;

struct worst_error {
  double err = 0;  // |ĉ − A·cos φ| / max(1, A)
  std::int64_t position = -1;
  int pair = -1;

  void check_row(const float* row, std::int64_t p, const std::vector<double>& w, double a) {
    const std::size_t n = w.size();
    const double scale = std::max(1.0, a);
    for (std::size_t i = 0; i < n; ++i) {
      const ropescale_test::exact_cs ref = exact_cos_sin(p, w[i], a);
      const double ec = static_cast<double>(std::fabs(static_cast<long double>(row[i]) - ref.c));
      const double es =
          static_cast<double>(std::fabs(static_cast<long double>(row[n + i]) - ref.s));
      const double e = std::max(ec, es) / scale;
      if (e > err) {
        err = e;
        position = p;
        pair = static_cast<int>(i);
      }
    }
  }
};

TEST(CosSinTable, RowLayoutAndAlignment) {
  const std::vector<double> w{1.0, 0.5, 0.25};
  cos_sin_table table(w, 1.5, 10);
  auto rows = table.snapshot();
  ASSERT_EQ(rows->positions(), 10);
  ASSERT_EQ(rows->pairs(), 3);
  ASSERT_EQ(rows->row_stride(), 6u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(rows->data()) % 64, 0u);
  EXPECT_EQ(rows->row(7), rows->data() + 7 * 6);
  EXPECT_EQ(rows->row(7)[1], rows->cos(7, 1));
  EXPECT_EQ(rows->row(7)[3 + 2], rows->sin(7, 2));
  // Position 0: cos = A exactly, sin = +0.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rows->cos(0, i), 1.5f);
    EXPECT_EQ(rows->sin(0, i), 0.0f);
  }
  EXPECT_EQ(rows->mode(), angle_mode::accurate);
  EXPECT_EQ(rows->attention_factor(), 1.5);
  EXPECT_EQ(rows->generation(), 0u);
}

TEST(CosSinTable, ZeroFrequencyPairsAreIdentity) {
  cos_sin_table table(std::vector<double>{0.5, 0.0, 0.0}, 1.0, 2000);
  auto rows = table.snapshot();
  for (std::int64_t p = 0; p < rows->positions(); ++p) {
    ASSERT_EQ(rows->cos(p, 1), 1.0f);
    ASSERT_EQ(rows->sin(p, 2), 0.0f);
  }
}

// Restores the process-wide active ISA when a test that sets it ends.
struct isa_restore {
  ropescale::isa saved = ropescale::active_isa();
  ~isa_restore() { ropescale::set_isa(saved); }
};

class CosSinTableIsa : public ropescale_test::IsaTest {};
ROPESCALE_TEST_EVERY_ISA(CosSinTableIsa);

// Every representative table, with the rows built by every available ISA's builder: all
// positions [0, 4096) through a real table, and sampled positions up to 1e7 through
// compute_cos_sin_row (the function the table fills its rows with; checked bit-identical to the
// table below). The long-double reference is computed once per table.
TEST_P(CosSinTableIsa, AccurateModeWithinSpecBound) {
  const ropescale::isa which = GetParam();
  isa_restore restore;
  const std::vector<std::int64_t> sampled = ropescale_test::sampled_positions(17, 300);
  double overall = 0;
  for (const auto& t : ropescale_test::representative_tables()) {
    const std::size_t n = t.inv_freq.size();
    const double scale = std::max(1.0, t.attention_factor);
    std::vector<std::int64_t> positions;
    for (std::int64_t p = 0; p < 4096; ++p) positions.push_back(p);
    positions.insert(positions.end(), sampled.begin(), sampled.end());
    std::vector<long double> ref(positions.size() * 2 * n);
    for (std::size_t j = 0; j < positions.size(); ++j) {
      for (std::size_t i = 0; i < n; ++i) {
        const auto cs = exact_cos_sin(positions[j], t.inv_freq[i], t.attention_factor);
        ref[j * 2 * n + i] = cs.c;
        ref[j * 2 * n + n + i] = cs.s;
      }
    }
    {
      SCOPED_TRACE(t.label + " built with " + ropescale::name(which));
      ropescale::set_isa(which);
      cos_sin_table table(t.inv_freq, t.attention_factor, 4096);
      auto rows = table.snapshot();
      frequency_table f{t.inv_freq, {}, t.attention_factor, angle_mode::accurate};
      std::vector<float> row(2 * n);
      double worst = 0;
      std::int64_t at = -1;
      for (std::size_t j = 0; j < positions.size(); ++j) {
        const float* r = rows->data() + j * 2 * n;
        if (positions[j] >= 4096 || j >= 4096) {
          ropescale::compute_cos_sin_row(f, positions[j], row.data());
          r = row.data();
        }
        for (std::size_t i = 0; i < 2 * n; ++i) {
          const double e = static_cast<double>(std::fabs(r[i] - ref[j * 2 * n + i])) / scale;
          if (e > worst) {
            worst = e;
            at = positions[j];
          }
        }
      }
      std::printf("[ accuracy ] table %-6s %-22s worst |err|/max(1,A) = %.3e (p=%lld)\n",
                  ropescale::name(which), t.label.c_str(), worst, static_cast<long long>(at));
      EXPECT_LE(worst, kBound) << "at p=" << at;
      overall = std::max(overall, worst);
    }
  }
  std::printf("[ accuracy ] table, all ISAs and tables: worst |err|/max(1,A) = %.3e\n", overall);
  this->RecordProperty("worst_error", std::to_string(overall));
}

// The vector double-precision builder agrees with double std::cos/std::sin (the scalar target)
// to within one float ulp everywhere and bit for bit almost everywhere.
TEST_P(CosSinTableIsa, IsaBuildersAgree) {
  const ropescale::isa which = GetParam();
  isa_restore restore;
  const auto t = ropescale_test::yarn_table(1e6L, 128, 4, 32768);
  ropescale::set_isa(ropescale::isa::scalar);
  auto ref = cos_sin_table(t.inv_freq, t.attention_factor, 2048).snapshot();
  {
    ropescale::set_isa(which);
    auto rows = cos_sin_table(t.inv_freq, t.attention_factor, 2048).snapshot();
    std::int64_t differ = 0;
    const std::size_t total = 2048 * rows->row_stride();
    for (std::size_t i = 0; i < total; ++i) {
      const float a = rows->data()[i], b = ref->data()[i];
      if (a == b) continue;
      ++differ;
      ASSERT_LE(std::fabs(a - b), std::fabs(std::nextafter(b, 2.0f * b) - b)) << i;
    }
    std::printf("[ builders ] %-6s vs scalar: %lld of %zu values differ (by one ulp)\n",
                ropescale::name(which), static_cast<long long>(differ), total);
    EXPECT_LE(differ, static_cast<std::int64_t>(total / 1000));
  }
}

// The library's own method classes (helper A's), through ropescale::method and from_method:
// one configuration per closed-form family, at the sequence length that selects its scaled table.
struct method_case {
  std::string label;
  ropescale::method m;
  std::optional<std::int64_t> seq_len;
};

std::vector<method_case> method_cases() {
  std::vector<method_case> c;
  c.push_back({"default 1e4/128",
               ropescale::default_rope<>(ropescale::default_rope_params{{128, 1e4, 1.0}}),
               {}});
  c.push_back({"default 1e6/64",
               ropescale::default_rope<>(ropescale::default_rope_params{{64, 1e6, 1.0}}),
               {}});
  c.push_back(
      {"linear s=4", ropescale::linear<>(ropescale::linear_params{{128, 1e4, 1.0}, 4.0}), {}});
  c.push_back({"ntk s=8", ropescale::ntk<>(ropescale::ntk_params{{128, 5e5, 1.0}, 8.0}), {}});
  c.push_back({"dynamic s=4 S=4L",
               ropescale::dynamic<>(ropescale::dynamic_params{{128, 1e4, 1.0}, 4.0, 4096}),
               std::int64_t{16384}});
  {
    ropescale::yarn_params y;
    y.head_dim = 128;
    y.rope_theta = 1e6;
    y.factor = 4.0;
    y.original_max_position_embeddings = 32768;
    c.push_back({"yarn s=4", ropescale::yarn<>(y), {}});
  }
  {
    ropescale::longrope_params l;
    l.head_dim = 96;
    l.rope_theta = 1e4;
    for (int i = 0; i < 48; ++i) {
      l.short_factor.push_back(1.0 + 0.02 * i);
      l.long_factor.push_back(1.0 + 1.3 * i);
    }
    l.original_max_position_embeddings = 4096;
    l.max_position_embeddings = 131072;
    c.push_back({"longrope long", ropescale::longrope<>(l), std::int64_t{100000}});
  }
  c.push_back({"llama3 s=8",
               ropescale::llama3<>(ropescale::llama3_params{{128, 5e5, 1.0}, 8.0, 1.0, 4.0, 8192}),
               {}});
  c.push_back({"proportional prf=.25",
               ropescale::proportional<>(ropescale::proportional_params{{256, 1e6, 0.25}, 1.0}),
               {}});
  return c;
}

TEST(CosSinTable, LibraryMethodsWithinSpecBound) {
  for (const auto& mc : method_cases()) {
    SCOPED_TRACE(mc.label);
    auto table = cos_sin_table::from_method(mc.m, 1024, angle_mode::accurate, mc.seq_len);
    auto rows = table.snapshot();
    const std::vector<double> w = mc.m.inv_freq(mc.seq_len);
    const double a = mc.m.attention_factor(mc.seq_len);
    ASSERT_EQ(rows->pairs(), static_cast<std::int64_t>(w.size()));
    EXPECT_EQ(rows->attention_factor(), a);
    worst_error worst;
    for (std::int64_t p = 0; p < rows->positions(); ++p) worst.check_row(rows->row(p), p, w, a);
    const frequency_table f = ropescale::frequencies_of(mc.m, angle_mode::accurate, mc.seq_len);
    std::vector<float> row(2 * w.size());
    for (std::int64_t p : ropescale_test::sampled_positions(23, 100)) {
      ropescale::compute_cos_sin_row(f, p, row.data());
      worst.check_row(row.data(), p, w, a);
    }
    std::printf("[ accuracy ] table method %-20s A=%.4f worst |err|/max(1,A) = %.3e (p=%lld)\n",
                mc.label.c_str(), a, worst.err, static_cast<long long>(worst.position));
    EXPECT_LE(worst.err, kBound);

    // f32 mode from the method's binary32 table, bit for bit (<= 1 ulp) against the recomputation.
    auto t32 = cos_sin_table::from_method(mc.m, 256, angle_mode::f32, mc.seq_len);
    auto r32 = t32.snapshot();
    const std::vector<float> w32 = mc.m.inv_freq_hf_f32(mc.seq_len);
    int off = 0;
    for (std::int64_t p = 0; p < r32->positions(); ++p) {
      for (std::size_t i = 0; i < w32.size(); ++i) {
        float c, sn;
        ropescale_test::hf_f32_reference(p, w32[i], a, c, sn);
        off += (r32->cos(p, static_cast<std::int64_t>(i)) != c) +
               (r32->sin(p, static_cast<std::int64_t>(i)) != sn);
        ASSERT_NEAR(r32->cos(p, static_cast<std::int64_t>(i)), c, 2.4e-7 * std::max(1.0, a));
        ASSERT_NEAR(r32->sin(p, static_cast<std::int64_t>(i)), sn, 2.4e-7 * std::max(1.0, a));
      }
    }
    EXPECT_LE(off, 2);
  }
}

TEST(CosSinTable, TableRowsEqualComputeRow) {
  const auto t = ropescale_test::yarn_table(1e6L, 128, 4, 32768);
  cos_sin_table table(t.inv_freq, t.attention_factor, 3000);
  auto rows = table.snapshot();
  frequency_table f{t.inv_freq, {}, t.attention_factor, angle_mode::accurate};
  std::vector<float> row(2 * t.inv_freq.size());
  for (std::int64_t p : {0, 1, 2, 999, 2047, 2999}) {
    ropescale::compute_cos_sin_row(f, p, row.data());
    EXPECT_EQ(std::memcmp(row.data(), rows->row(p), row.size() * sizeof(float)), 0) << p;
  }
}

// f32 mode against an independent binary32 recomputation: fl32(fl32(p)·ω32), cos/sin in long
// double rounded to float, times fl32(A) in binary32. Expected bit for bit; a double rounding
// difference (cos rounded via double vs via long double) could in principle flip one ulp, so one
// ulp is tolerated and counted.
TEST(CosSinTable, F32ModeMatchesBinary32Recomputation) {
  const int d = 128;
  std::vector<float> w32(d / 2);
  for (int i = 0; i < d / 2; ++i) {
    w32[static_cast<std::size_t>(i)] =
        static_cast<float>(ropescale_test::default_omega(5e5L, d, i));
  }
  const double a = 1.1386294361119891;
  frequency_table f{{}, w32, a, angle_mode::f32};
  cos_sin_table table(f, 2048);
  auto rows = table.snapshot();
  EXPECT_EQ(rows->mode(), angle_mode::f32);
  std::int64_t checked = 0, off_by_one = 0;
  auto check = [&](const float* row, std::int64_t p) {
    for (std::size_t i = 0; i < w32.size(); ++i) {
      float c, s;
      ropescale_test::hf_f32_reference(p, w32[i], a, c, s);
      for (auto [got, want] : {std::pair{row[i], c}, std::pair{row[w32.size() + i], s}}) {
        ++checked;
        if (got == want) continue;
        ++off_by_one;
        ASSERT_LE(std::fabs(got - want), std::nextafter(std::fabs(want), 2.0f) - std::fabs(want))
            << "p=" << p << " i=" << i;
      }
    }
  };
  for (std::int64_t p = 0; p < rows->positions(); ++p) check(rows->row(p), p);
  std::vector<float> row(2 * w32.size());
  for (std::int64_t p : ropescale_test::sampled_positions(5, 100)) {
    ropescale::compute_cos_sin_row(f, p, row.data());
    check(row.data(), p);
  }
  std::printf("[ f32 mode ] %lld values, %lld differ by one ulp\n", static_cast<long long>(checked),
              static_cast<long long>(off_by_one));
  EXPECT_LE(off_by_one, checked / 100000);
}

// f32 mode really is HF's pipeline: at p = 1e6 it differs from the accurate value by far more than
// the accurate mode's bound (docs/reference.md §5.1), but only through the binary32 angle.
TEST(CosSinTable, F32ModeDiffersFromAccurateAtLongRange) {
  const double w = 1.0 / 3.0;
  const float w32 = static_cast<float>(w);
  frequency_table fa{{w}, {}, 1.0, angle_mode::accurate};
  frequency_table ff{{w}, {w32}, 1.0, angle_mode::f32};
  float ra[2], rf[2];
  double worst = 0;
  for (std::int64_t p = 1'000'000; p < 1'000'100; ++p) {
    ropescale::compute_cos_sin_row(fa, p, ra);
    ropescale::compute_cos_sin_row(ff, p, rf);
    worst = std::max(worst, static_cast<double>(std::fabs(ra[0] - rf[0])));
  }
  EXPECT_GT(worst, 1e-3);
}

TEST(CosSinTable, GrowthKeepsSnapshotsAndPrefix) {
  const auto t = ropescale_test::default_table(1e4L, 64);
  cos_sin_table table(t.inv_freq, 1.0, 100);
  auto before = table.snapshot();
  std::vector<float> saved(before->data(), before->data() + 100 * before->row_stride());

  auto same = table.ensure(80);  // already covered: no new snapshot
  EXPECT_EQ(same.get(), before.get());

  auto grown = table.ensure(101);  // geometric: at least 150 rows
  EXPECT_GE(grown->positions(), 150);
  EXPECT_NE(grown.get(), before.get());
  EXPECT_EQ(table.snapshot().get(), grown.get());
  EXPECT_EQ(grown->generation(), before->generation());
  // The old snapshot is untouched and still readable.
  EXPECT_EQ(before->positions(), 100);
  EXPECT_EQ(std::memcmp(saved.data(), before->data(), saved.size() * sizeof(float)), 0);
  // The prefix is copied bit for bit; the new rows equal a fresh table's.
  EXPECT_EQ(std::memcmp(saved.data(), grown->data(), saved.size() * sizeof(float)), 0);
  cos_sin_table fresh(t.inv_freq, 1.0, grown->positions());
  auto f = fresh.snapshot();
  EXPECT_EQ(std::memcmp(
                f->data(), grown->data(),
                static_cast<std::size_t>(grown->positions()) * grown->row_stride() * sizeof(float)),
            0);

  // A large request is honoured exactly.
  auto big = table.ensure(5000);
  EXPECT_EQ(big->positions(), 5000);
  EXPECT_EQ(table.positions(), 5000);

  // Growing from an empty table works.
  cos_sin_table empty(t.inv_freq, 1.0);
  EXPECT_EQ(empty.positions(), 0);
  EXPECT_EQ(empty.snapshot()->data(), nullptr);
  EXPECT_EQ(empty.ensure(3)->positions(), 3);
}

TEST(CosSinTable, RebuildPublishesNewGeneration) {
  const auto a = ropescale_test::default_table(1e4L, 64);
  const auto b = ropescale_test::ntk_table(1e4L, 64, 4);
  cos_sin_table table(a.inv_freq, 1.0, 256);
  auto old = table.snapshot();
  auto next = table.rebuild(b.inv_freq, 1.25);
  EXPECT_EQ(next->generation(), old->generation() + 1);
  EXPECT_EQ(next->positions(), 256);  // default: keep the row count
  EXPECT_EQ(next->attention_factor(), 1.25);
  EXPECT_EQ(table.snapshot().get(), next.get());
  // Old snapshot still holds the old frequencies' values.
  worst_error wo, wn;
  for (std::int64_t p = 0; p < 256; ++p) {
    wo.check_row(old->row(p), p, a.inv_freq, 1.0);
    wn.check_row(next->row(p), p, b.inv_freq, 1.25);
  }
  EXPECT_LE(wo.err, kBound);
  EXPECT_LE(wn.err, kBound);
  auto smaller = table.rebuild(a.inv_freq, 1.0, 16);
  EXPECT_EQ(smaller->positions(), 16);
  EXPECT_EQ(smaller->generation(), 2u);
  // Mode switch through a full frequency_table.
  std::vector<float> w32(a.inv_freq.begin(), a.inv_freq.end());
  auto f32 = table.rebuild(frequency_table{a.inv_freq, w32, 1.0, angle_mode::f32}, 8);
  EXPECT_EQ(f32->mode(), angle_mode::f32);
  EXPECT_EQ(f32->frequencies().inv_freq_hf_f32, w32);
}

TEST(CosSinTable, MoveKeepsRows) {
  cos_sin_table a(std::vector<double>{1.0}, 1.0, 5);
  auto rows = a.snapshot();
  cos_sin_table b(std::move(a));
  EXPECT_EQ(b.snapshot().get(), rows.get());
}

TEST(CosSinTable, Validation) {
  auto key_of = [](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const ropescale::invalid_parameter& e) {
      return e.key();
    }
    return "<no throw>";
  };
  const std::vector<double> w{1.0, 0.1};
  EXPECT_EQ(key_of([] { cos_sin_table(std::vector<double>{}, 1.0, 1); }), "inv_freq");
  EXPECT_EQ(key_of([] { cos_sin_table(std::vector<double>{1.0, NAN}, 1.0, 1); }), "inv_freq[1]");
  EXPECT_EQ(key_of([&] { cos_sin_table(w, 0.0, 1); }), "attention_factor");
  EXPECT_EQ(key_of([&] { cos_sin_table(w, INFINITY, 1); }), "attention_factor");
  EXPECT_EQ(key_of([&] { cos_sin_table(w, 1.0, -1); }), "positions");
  EXPECT_EQ(key_of([&] { cos_sin_table(w, 1.0, (std::int64_t{1} << 31) + 1); }), "positions");
  EXPECT_EQ(key_of([&] {
              cos_sin_table(frequency_table{w, {}, 1.0, angle_mode::f32}, 1);
            }),
            "inv_freq_hf_f32");
  EXPECT_EQ(key_of([&] {
              cos_sin_table(frequency_table{w, {1.0f}, 1.0, angle_mode::f32}, 1);
            }),
            "inv_freq");
  EXPECT_EQ(key_of([&] {
              cos_sin_table(frequency_table{w, {1.0f, INFINITY}, 1.0, angle_mode::f32}, 1);
            }),
            "inv_freq_hf_f32[1]");
  cos_sin_table t(w, 1.0, 4);
  EXPECT_EQ(key_of([&] { t.ensure(-1); }), "positions");
  EXPECT_EQ(key_of([&] { t.rebuild(std::vector<double>{}, 1.0); }), "inv_freq");
  EXPECT_EQ(t.snapshot()->generation(), 0u);  // failed rebuild publishes nothing
  float row[4];
  EXPECT_EQ(
      key_of([&] {
        ropescale::compute_cos_sin_row(frequency_table{w, {}, 1.0, angle_mode::accurate}, -5, row);
      }),
      "position");
}

// Readers take snapshots and check their rows while a writer grows and rebuilds the table.
// Every row must be complete and internally consistent (cos² + sin² = A², pair 0 matches the
// snapshot's own frequencies). Run under ThreadSanitizer in CI.
TEST(CosSinTable, ConcurrentReadersDuringGrowthAndRebuild) {
  const std::vector<double> w{1.0, 0.01, 1e-4, 1e-6};
  cos_sin_table table(w, 1.0, 64);
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::atomic<int> failures{0};
  auto reader = [&] {
    while (!stop.load(std::memory_order_acquire)) {
      auto rows = table.snapshot();
      const double a = rows->attention_factor();
      const auto& freq = rows->frequencies().inv_freq;
      for (std::int64_t p = 0; p < rows->positions(); p += 7) {
        const float* r = rows->row(p);
        for (std::size_t i = 0; i < freq.size(); ++i) {
          const double c = r[i], s = r[freq.size() + i];
          if (std::fabs(c * c + s * s - a * a) > 1e-6 * a * a) failures.fetch_add(1);
        }
        const auto ref = exact_cos_sin(p, freq[0], a);
        if (std::fabs(static_cast<long double>(r[0]) - ref.c) > 1e-6L) failures.fetch_add(1);
      }
      reads.fetch_add(1);
    }
  };
  std::thread r1(reader), r2(reader);
  for (int step = 0; step < 40; ++step) {
    table.ensure(64 + step * 40);
    if (step % 5 == 4) {
      std::vector<double> w2 = w;
      for (double& x : w2) x *= 1.0 + 0.01 * step;
      table.rebuild(w2, 1.0 + 0.05 * step);
    }
  }
  // Make sure the readers ran at least a little against the final table.
  while (reads.load() < 4) std::this_thread::yield();
  stop.store(true, std::memory_order_release);
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(table.snapshot()->generation(), 8u);
}

}  // namespace

// SPDX-License-Identifier: Apache-2.0
// Cached cos/sin rows for a frequency table (docs/reference.md §1.2, §5): one row per position p in
// [0, N), each row `n` cos values followed by `n` sin values (n = pair count = inv_freq.size()), as
// float, with the attention factor A folded in:
//
//     row(p)[i]     = A·cos(p·ω_i)        i = 0 … n−1
//     row(p)[n + i] = A·sin(p·ω_i)
//
// Rows are contiguous (row stride 2n floats, no padding) in one 64-byte-aligned block, so the
// rotation kernels (apply.hpp) index row p as data() + p·2n and read the cos and sin halves with
// plain vector loads. This is the row layout every kernel consumes, and also what the no-table
// decode path (on_the_fly.hpp) computes on the stack per token.
//
// Accuracy (angle_mode::accurate, the default): the angle p·ω is formed in double with its
// rounding error recovered by fma, reduced in double (Cody–Waite), cos/sin evaluated in double
// and A·cos rounded once to float: |row − A·cos(p·ω)| <= 2e-7·max(1, A) for p <= 1e7 (the spec's
// bound; measured worst 0.5 ulp of float: 2.98e-8 for A = 1, see tests/test_cos_sin_table.cpp).
// Rows are computed with the active ISA's double-precision vector sincos
// (simd/sincos-inl.hpp cos_sin_row_double: reduction mod π/2, Taylor polynomials to r^15/r^16 in
// double; ~11× faster than libm, same values except within ~1e-16 of a float rounding boundary),
// or with double std::cos/std::sin on the scalar target.
// angle_mode::f32 reproduces Hugging Face's binary32 pipeline (docs/reference.md §5.3) from the
// method's inv_freq_hf_f32 table instead.
//
// Thread safety. A cos_sin_rows object is immutable once built, so any number of threads may read
// one concurrently. A cos_sin_table owns a pointer to the current snapshot
// (std::shared_ptr<const cos_sin_rows>); snapshot() copies that pointer under a mutex, ensure() and
// rebuild() build a new snapshot WITHOUT holding that mutex (writers are serialised among
// themselves by a second mutex) and then publish it with a pointer swap under the first mutex.
// A reader keeps using the snapshot it took for as long as it holds the shared_ptr, even while a
// writer publishes a grown or rebuilt one; the old rows are freed when the last holder lets go.
// Readers never see a half-built table. Moving or destroying a cos_sin_table is not thread-safe.
#ifndef ROPESCALE_COS_SIN_TABLE_HPP
#define ROPESCALE_COS_SIN_TABLE_HPP

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ropescale/config.hpp"
#include "ropescale/detail/angle.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/isa.hpp"
#include "ropescale/simd/dispatch.hpp"

namespace ropescale {

/// How table angles are formed (docs/reference.md §5.2 / §5.3).
///   accurate: double angle p·ω reduced mod 2π, double cos/sin, one rounding (default).
///   f32:      Hugging Face's binary32 angle fl32(fl32(p)·ω32) from inv_freq_hf_f32, its cos/sin
///             computed accurately and rounded to float, then multiplied by fl32(A) in binary32.
enum class angle_mode { accurate, f32 };

/// "accurate" / "f32".
constexpr const char* name(angle_mode m) noexcept {
  return m == angle_mode::accurate ? "accurate" : "f32";
}

/// What a cos/sin cache is built from: the method's table ω (double), optionally HF's binary32
/// table ω32 (required for angle_mode::f32), and the attention factor A.
struct frequency_table {
  std::vector<double> inv_freq;        ///< ω_i, i < n (used by angle_mode::accurate)
  std::vector<float> inv_freq_hf_f32;  ///< ω32_i (used by angle_mode::f32)
  double attention_factor = 1.0;       ///< A, folded into every value
  angle_mode mode = angle_mode::accurate;

  /// Pair count n of the rows (the length of the table the mode uses).
  std::int64_t pairs() const noexcept {
    return static_cast<std::int64_t>(mode == angle_mode::f32 ? inv_freq_hf_f32.size()
                                                             : inv_freq.size());
  }
};

/// Largest position a table or the on-the-fly path accepts (p·ω stays exact in double; the
/// vector reduction's int32 quadrant count cannot overflow for any |ω| <= 1).
inline constexpr std::int64_t max_position = std::int64_t{1} << 31;

namespace detail {

/// The first reason f is unusable, or no error: the mode's table must be non-empty and finite,
/// the other table empty or of the same length, A finite and > 0.
inline error frequency_table_error(const frequency_table& f) {
  const bool f32 = f.mode == angle_mode::f32;
  const std::size_t n = f32 ? f.inv_freq_hf_f32.size() : f.inv_freq.size();
  if (n == 0) {
    return make_invalid(f32 ? "inv_freq_hf_f32" : "inv_freq", "must be non-empty",
                        "an empty table");
  }
  for (std::size_t i = 0; i < f.inv_freq.size(); ++i) {
    if (!std::isfinite(f.inv_freq[i])) {
      return make_invalid_value("inv_freq[" + std::to_string(i) + "]", "must be finite",
                                f.inv_freq[i]);
    }
    if (std::fabs(f.inv_freq[i]) > max_inv_freq) {
      throw_invalid_value("inv_freq[" + std::to_string(i) + "]",
                          "must be at most 2^32 in magnitude (docs/limits.md)", f.inv_freq[i]);
    }
  }
  for (std::size_t i = 0; i < f.inv_freq_hf_f32.size(); ++i) {
    if (!std::isfinite(f.inv_freq_hf_f32[i])) {
      return make_invalid_value("inv_freq_hf_f32[" + std::to_string(i) + "]", "must be finite",
                                f.inv_freq_hf_f32[i]);
    }
    if (std::fabs(f.inv_freq_hf_f32[i]) > static_cast<float>(max_inv_freq)) {
      throw_invalid_value("inv_freq_hf_f32[" + std::to_string(i) + "]",
                          "must be at most 2^32 in magnitude (docs/limits.md)",
                          f.inv_freq_hf_f32[i]);
    }
  }
  const std::size_t other = f32 ? f.inv_freq.size() : f.inv_freq_hf_f32.size();
  if (other != 0 && other != n) {
    return make_invalid_value(
        f32 ? "inv_freq" : "inv_freq_hf_f32",
        "must be empty or as long as the mode's table (" + std::to_string(n) + ")",
        static_cast<std::int64_t>(other));
  }
  if (!std::isfinite(f.attention_factor) || !(f.attention_factor > 0.0)) {
    return make_invalid_value("attention_factor", "must be a finite number > 0",
                              f.attention_factor);
  }
  return {};
}

/// An error unless 0 <= positions <= max_position and the rows fit in memory.
inline error position_count_error(std::int64_t positions, std::int64_t pairs) {
  if (positions < 0 || positions > max_position) {
    return make_invalid_value("positions", "must be in [0, 2^31]", positions);
  }
  const auto limit =
      static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()) / (2u * sizeof(float));
  if (pairs > 0 &&
      static_cast<std::uint64_t>(positions) > limit / static_cast<std::uint64_t>(pairs)) {
    return make_invalid_value("positions", "too many rows for this pair count", positions);
  }
  return {};
}

/// Raises frequency_table_error(f) if there is one.
inline void validate_frequency_table(const frequency_table& f) {
  if (error e = frequency_table_error(f)) raise(std::move(e));
}

/// Raises position_count_error(positions, pairs) if there is one.
inline void validate_position_count(std::int64_t positions, std::int64_t pairs) {
  if (error e = position_count_error(positions, pairs)) raise(std::move(e));
}

struct aligned_float_delete {
  void operator()(float* p) const noexcept { ::operator delete[](p, std::align_val_t{64}); }
};
using aligned_floats = std::unique_ptr<float[], aligned_float_delete>;

inline aligned_floats allocate_floats(std::size_t count) {
  if (count == 0) return aligned_floats(nullptr);
  void* raw = ::operator new[](count * sizeof(float), std::align_val_t{64});
  return aligned_floats(static_cast<float*>(raw));
}

/// One accurate-mode row with the given ISA's double-precision vector sincos
/// (simd/sincos-inl.hpp cos_sin_row_double; scalar: accurate_cos_sin per pair).
inline void accurate_row(isa which, const double* w, std::int64_t n, std::int64_t p, double a,
                         float* c, float* s) noexcept {
  simd::cos_sin_row_double(which, w, n, p, a, c, s);
}

/// Fills rows for positions [first, last) into out (row p at out + (p − first)·2n), f
/// validated. Accurate mode runs on the active ISA (throws only if ROPESCALE_ISA is invalid).
inline void fill_cos_sin_rows(const frequency_table& f, std::int64_t first, std::int64_t last,
                              float* out) {
  const auto n = static_cast<std::size_t>(f.pairs());
  const isa which = f.mode == angle_mode::f32 ? isa::scalar : active_isa();
  for (std::int64_t p = first; p < last; ++p) {
    float* c = out + static_cast<std::size_t>(p - first) * 2 * n;
    float* s = c + n;
    if (f.mode == angle_mode::f32) {
      for (std::size_t i = 0; i < n; ++i) {
        hf_f32_cos_sin(p, f.inv_freq_hf_f32[i], f.attention_factor, c[i], s[i]);
      }
    } else {
      accurate_row(which, f.inv_freq.data(), static_cast<std::int64_t>(n), p, f.attention_factor, c,
                   s);
    }
  }
}

}  // namespace detail

/// The frequency_table of a RoPE method at sequence length seq_len (absent: HF's initial table):
/// inv_freq(seq_len) widened to double, attention_factor(seq_len), and for angle_mode::f32 also
/// inv_freq_hf_f32(seq_len). Works with ropescale::method and every method class (any type with
/// the method contract's inv_freq / attention_factor / inv_freq_hf_f32; method.hpp is not
/// included here so kernel headers stay free of Eigen and JSON). Throws what the method throws.
template <class Method>
inline frequency_table frequencies_of(const Method& m, angle_mode mode = angle_mode::accurate,
                                      std::optional<std::int64_t> seq_len = std::nullopt) {
  frequency_table f;
  const auto w = m.inv_freq(seq_len);
  f.inv_freq.assign(w.begin(), w.end());
  f.attention_factor = static_cast<double>(m.attention_factor(seq_len));
  f.mode = mode;
  if (mode == angle_mode::f32) f.inv_freq_hf_f32 = m.inv_freq_hf_f32(seq_len);
  return f;
}

/// Computes one row (n cos then n sin floats, A folded in) for `position`: exactly what a
/// cos_sin_table stores for that position. Use it to fill rows of a cache of your own layout.
/// Throws invalid_parameter on a bad table or a position outside [0, max_position].
inline void compute_cos_sin_row(const frequency_table& f, std::int64_t position, float* row) {
  detail::validate_frequency_table(f);
  if (position < 0 || position > max_position) {
    detail::throw_invalid_value("position", "must be in [0, 2^31]", position);
  }
  detail::fill_cos_sin_rows(f, position, position + 1, row);
}

/// An immutable block of cos/sin rows for positions [0, positions()): row p is n cos values then
/// n sin values (A folded in), row stride 2n floats, data 64-byte aligned. Built once, never
/// modified, so it may be read from any number of threads.
class cos_sin_rows {
 public:
  /// Builds rows for positions [0, positions): O(positions·n) double-precision sin/cos on the
  /// active ISA (about 32 ms for 128K positions × 64 pairs with AVX-512, 38 ms with AVX2).
  /// Throws invalid_parameter on a bad table (see frequency_table) or position count, or when
  /// ROPESCALE_ISA names an unavailable ISA (as every kernel entry point does).
  cos_sin_rows(frequency_table f, std::int64_t positions, std::uint64_t generation = 0)
      : freq_(std::move(f)), generation_(generation) {
    detail::validate_frequency_table(freq_);
    detail::validate_position_count(positions, freq_.pairs());
    positions_ = positions;
    data_ = detail::allocate_floats(static_cast<std::size_t>(positions_) * row_stride());
    detail::fill_cos_sin_rows(freq_, 0, positions_, data_.get());
  }

  /// A copy of `prefix` extended to `positions` rows (>= prefix.positions()): existing rows are
  /// copied, the new ones computed. Same frequencies and generation.
  cos_sin_rows(const cos_sin_rows& prefix, std::int64_t positions)
      : freq_(prefix.freq_), generation_(prefix.generation_) {
    detail::validate_position_count(positions, freq_.pairs());
    if (positions < prefix.positions_) {
      detail::throw_invalid_value("positions", "must not shrink the table", positions);
    }
    positions_ = positions;
    data_ = detail::allocate_floats(static_cast<std::size_t>(positions_) * row_stride());
    const std::size_t kept = static_cast<std::size_t>(prefix.positions_) * row_stride();
    if (kept != 0) std::memcpy(data_.get(), prefix.data_.get(), kept * sizeof(float));
    detail::fill_cos_sin_rows(freq_, prefix.positions_, positions_, data_.get() + kept);
  }

  cos_sin_rows& operator=(const cos_sin_rows&) = delete;

  /// Number of rows N (positions 0 … N−1).
  std::int64_t positions() const noexcept { return positions_; }
  /// Pair count n (floats per half row).
  std::int64_t pairs() const noexcept { return freq_.pairs(); }
  /// Floats between consecutive rows: 2n.
  std::size_t row_stride() const noexcept { return 2 * static_cast<std::size_t>(freq_.pairs()); }
  /// All rows, row-major; nullptr when positions() == 0.
  const float* data() const noexcept { return data_.get(); }
  /// Row of position p (n cos then n sin). Requires 0 <= p < positions() (debug-asserted).
  const float* row(std::int64_t p) const noexcept {
    ROPESCALE_ASSERT(p >= 0 && p < positions_);
    return data_.get() + static_cast<std::size_t>(p) * row_stride();
  }
  /// A·cos(p·ω_i) and A·sin(p·ω_i) as stored.
  float cos(std::int64_t p, std::int64_t i) const noexcept {
    return row(p)[static_cast<std::size_t>(i)];
  }
  float sin(std::int64_t p, std::int64_t i) const noexcept {
    return row(p)[static_cast<std::size_t>(pairs() + i)];
  }
  /// The frequencies, attention factor and mode the rows were built from.
  const frequency_table& frequencies() const noexcept { return freq_; }
  double attention_factor() const noexcept { return freq_.attention_factor; }
  angle_mode mode() const noexcept { return freq_.mode; }
  /// Incremented by every cos_sin_table::rebuild (not by growth): rows of different generations
  /// rotate by different angles, so keys cached under an older generation are stale.
  std::uint64_t generation() const noexcept { return generation_; }

 private:
  frequency_table freq_;
  std::int64_t positions_ = 0;
  std::uint64_t generation_ = 0;
  detail::aligned_floats data_;
};

/// A growable, rebuildable cos/sin cache publishing immutable snapshots (see the file comment for
/// the thread-safety contract). Typical use: one table per model (or per layer type), readers call
/// snapshot() once per forward pass and index its rows; a decode loop calls ensure(S) when the
/// sequence outgrows the table; a dynamic-NTK or LongRoPE engine calls rebuild() when the method's
/// table changes with S (docs/reference.md §3.4, §3.6).
class cos_sin_table {
 public:
  /// Builds rows for positions [0, positions). Throws invalid_parameter on bad input.
  explicit cos_sin_table(frequency_table f, std::int64_t positions = 0)
      : sync_(std::make_unique<sync>()),
        current_(std::make_shared<const cos_sin_rows>(std::move(f), positions, 0)) {}

  /// Rows of a RoPE method's table at seq_len (see frequencies_of), e.g.
  ///     auto table = cos_sin_table::from_method(loaded.method, 32768);
  /// For methods whose table depends on the sequence length (dynamic, longrope, clex) call
  /// rebuild(frequencies_of(m, mode, S)) when S changes.
  template <class Method>
  static cos_sin_table from_method(const Method& m, std::int64_t positions,
                                   angle_mode mode = angle_mode::accurate,
                                   std::optional<std::int64_t> seq_len = std::nullopt) {
    return cos_sin_table(frequencies_of(m, mode, seq_len), positions);
  }

  /// Non-throwing from_method: checks seq_len (>= 1 when given), the method's table and the
  /// position count, then builds into `out`. Returns the error instead of raising it (out is
  /// then left unchanged); an empty error on success. Memory exhaustion is not reported here.
  template <class Method>
  static error try_from_method(std::optional<cos_sin_table>& out, const Method& m,
                               std::int64_t positions, angle_mode mode = angle_mode::accurate,
                               std::optional<std::int64_t> seq_len = std::nullopt) {
    if (seq_len && *seq_len < 1)
      return detail::make_invalid_value("seq_len", "must be an integer >= 1", *seq_len);
    frequency_table f = frequencies_of(m, mode, seq_len);
    if (error e = detail::frequency_table_error(f)) return e;
    if (error e = detail::position_count_error(positions, f.pairs())) return e;
    out.emplace(std::move(f), positions);
    return {};
  }

  /// Accurate mode from a double table ω and attention factor A.
  cos_sin_table(std::vector<double> inv_freq, double attention_factor, std::int64_t positions = 0)
      : cos_sin_table(
            frequency_table{std::move(inv_freq), {}, attention_factor, angle_mode::accurate},
            positions) {}

  cos_sin_table(cos_sin_table&&) noexcept = default;             ///< not thread-safe
  cos_sin_table& operator=(cos_sin_table&&) noexcept = default;  ///< not thread-safe
  cos_sin_table(const cos_sin_table&) = delete;
  cos_sin_table& operator=(const cos_sin_table&) = delete;
  ~cos_sin_table() = default;

  /// The current rows. Thread-safe; the snapshot stays valid (and unchanged) while held.
  std::shared_ptr<const cos_sin_rows> snapshot() const {
    std::lock_guard<std::mutex> lock(sync_->pointer);
    return current_;
  }

  /// Current row count (a snapshot's positions()).
  std::int64_t positions() const { return snapshot()->positions(); }

  /// Makes sure rows exist for positions [0, positions) and returns a snapshot that has them.
  /// Grows geometrically (to max(positions, 1.5·current)) so a decode loop calling ensure(S) for
  /// S = 1, 2, 3, … rebuilds O(log S) times; existing rows are copied, not recomputed.
  /// Thread-safe; readers keep their snapshots. Throws invalid_parameter for positions outside
  /// [0, 2^31].
  std::shared_ptr<const cos_sin_rows> ensure(std::int64_t positions) {
    std::lock_guard<std::mutex> writer(sync_->writer);
    std::shared_ptr<const cos_sin_rows> cur = snapshot();
    if (positions <= cur->positions()) {
      if (positions < 0) detail::throw_invalid_value("positions", "must be >= 0", positions);
      return cur;
    }
    const std::int64_t grown = cur->positions() + cur->positions() / 2;
    const std::int64_t target = std::max(positions, std::min(grown, max_position));
    auto next = std::make_shared<const cos_sin_rows>(*cur, target);
    publish(next);
    return next;
  }

  /// Replaces the frequencies (and attention factor / mode) and rebuilds rows for
  /// [0, positions), default: the current row count. The new snapshot's generation() is one more
  /// than the old one's. Thread-safe; readers keep their old snapshots. Throws invalid_parameter.
  std::shared_ptr<const cos_sin_rows> rebuild(
      frequency_table f, std::optional<std::int64_t> positions = std::nullopt) {
    std::lock_guard<std::mutex> writer(sync_->writer);
    std::shared_ptr<const cos_sin_rows> cur = snapshot();
    const std::int64_t count = positions.value_or(cur->positions());
    auto next = std::make_shared<const cos_sin_rows>(std::move(f), count, cur->generation() + 1);
    publish(next);
    return next;
  }

  /// Accurate-mode rebuild from a double table and attention factor.
  std::shared_ptr<const cos_sin_rows> rebuild(
      std::vector<double> inv_freq, double attention_factor,
      std::optional<std::int64_t> positions = std::nullopt) {
    return rebuild(frequency_table{std::move(inv_freq), {}, attention_factor, angle_mode::accurate},
                   positions);
  }

 private:
  struct sync {
    mutable std::mutex pointer;  // guards current_ (held only for the pointer copy / swap)
    std::mutex writer;           // serialises ensure() / rebuild()
  };

  void publish(std::shared_ptr<const cos_sin_rows> next) {
    std::shared_ptr<const cos_sin_rows> old;
    {
      std::lock_guard<std::mutex> lock(sync_->pointer);
      old = std::exchange(current_, std::move(next));
    }
    // `old` is released here, outside the pointer lock.
  }

  std::unique_ptr<sync> sync_;
  std::shared_ptr<const cos_sin_rows> current_;
};

}  // namespace ropescale

#endif  // ROPESCALE_COS_SIN_TABLE_HPP

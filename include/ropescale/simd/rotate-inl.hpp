// SPDX-License-Identifier: Apache-2.0
// The rotation kernel bodies, written once against the `ops` vocabulary and included inside each
// ISA's namespace and target region (simd/scalar.hpp, avx2.hpp, avx512.hpp, neon.hpp). One body
// per layout serves float, bf16 and f16: ops::load widens to float lanes, ops::store rounds back
// (RNE). Remainders shorter than a vector go through scalar::rotate_pair, so every combination
// shares one body. No include guard and no #includes: the including file provides everything.
//
// Loop order: token → (Q heads, then K heads) → pairs. The token's cos/sin row is located once
// per token and stays in L1 while every head of Q and K reuses it; the data is streamed in
// address order, which is what the hardware prefetchers want for out-of-cache prefill.

/// NeoX pairs (x_i, x_{i+n}) of one head.
template <class T, bool Inverse>
inline void rotate_head_neox(T* x, const float* c, const float* s, std::int64_t n) noexcept {
  std::int64_t i = 0;
  if constexpr (ops::lanes > 1) {
    constexpr std::int64_t L = ops::lanes;
    for (; i + L <= n; i += L) {
      const auto a = ops::load(x + i);
      const auto b = ops::load(x + n + i);
      const auto cv = ops::load(c + i);
      const auto sv = ops::load(s + i);
      if constexpr (!Inverse) {
        ops::store(x + i, ops::fnmadd(b, sv, ops::mul(a, cv)));      // a·c − b·s
        ops::store(x + n + i, ops::fmadd(a, sv, ops::mul(b, cv)));   // b·c + a·s
      } else {
        ops::store(x + i, ops::fmadd(b, sv, ops::mul(a, cv)));       // a·c + b·s
        ops::store(x + n + i, ops::fnmadd(a, sv, ops::mul(b, cv)));  // b·c − a·s
      }
    }
  }
  for (; i < n; ++i) scalar::rotate_pair<T, Inverse>(x + i, x + n + i, c[i], s[i]);
}

/// GPT-J pairs (x_{2i}, x_{2i+1}) of one head. A vector holds lanes/2 pairs; cos/sin are
/// duplicated into both lanes of a pair and the pair is swapped, then one fmaddsub finishes:
/// even lanes a·c − b·s, odd lanes b·c + a·s.
template <class T, bool Inverse>
inline void rotate_head_gptj(T* x, const float* c, const float* s, std::int64_t n) noexcept {
  std::int64_t i = 0;
  if constexpr (ops::lanes > 1) {
    constexpr std::int64_t L = ops::lanes;
    for (; i + L <= n; i += L) {  // L pairs = two vectors of data
      typename ops::vec c_lo, c_hi, s_lo, s_hi;
      ops::dup_pairs(ops::load(c + i), c_lo, c_hi);
      ops::dup_pairs(ops::load(s + i), s_lo, s_hi);
      const auto v0 = ops::load(x + 2 * i);
      const auto v1 = ops::load(x + 2 * i + L);
      if constexpr (!Inverse) {
        ops::store(x + 2 * i, ops::fmaddsub(v0, c_lo, ops::mul(ops::swap_pairs(v0), s_lo)));
        ops::store(x + 2 * i + L, ops::fmaddsub(v1, c_hi, ops::mul(ops::swap_pairs(v1), s_hi)));
      } else {
        ops::store(x + 2 * i, ops::fmsubadd(v0, c_lo, ops::mul(ops::swap_pairs(v0), s_lo)));
        ops::store(x + 2 * i + L, ops::fmsubadd(v1, c_hi, ops::mul(ops::swap_pairs(v1), s_hi)));
      }
    }
  }
  for (; i < n; ++i) scalar::rotate_pair<T, Inverse>(x + 2 * i, x + 2 * i + 1, c[i], s[i]);
}

template <class T, layout Layout, bool Inverse>
inline void rotate_heads(T* base, std::int64_t heads, std::int64_t head_stride, const float* c,
                         const float* s, std::int64_t n) noexcept {
  for (std::int64_t h = 0; h < heads; ++h) {
    if constexpr (Layout == layout::neox) {
      rotate_head_neox<T, Inverse>(base + h * head_stride, c, s, n);
    } else {
      rotate_head_gptj<T, Inverse>(base + h * head_stride, c, s, n);
    }
  }
}

template <class T, layout Layout, bool Inverse>
inline void rotate_tokens(const rotate_job<T>& j) noexcept {
  const std::int64_t n = j.pairs;
  for (std::int64_t t = j.token_begin; t < j.token_end; ++t) {
    const std::int64_t row =
        j.positions != nullptr ? j.positions[t] - j.row_offset : j.range_row0 + t;
    const float* c = j.cos + row * j.row_stride;
    const float* s = j.sin + row * j.row_stride;
    if (j.q_heads > 0) {
      rotate_heads<T, Layout, Inverse>(j.q + t * j.q_token_stride, j.q_heads, j.q_head_stride, c,
                                       s, n);
    }
    if (j.k_heads > 0) {
      rotate_heads<T, Layout, Inverse>(j.k + t * j.k_token_stride, j.k_heads, j.k_head_stride, c,
                                       s, n);
    }
  }
}

/// Rotates in place as described by `j` (already validated). Types: float, bf16, f16.
template <class T>
inline void rotate(const rotate_job<T>& j) noexcept {
  if (j.lay == layout::neox) {
    if (j.inverse) {
      rotate_tokens<T, layout::neox, true>(j);
    } else {
      rotate_tokens<T, layout::neox, false>(j);
    }
  } else {
    if (j.inverse) {
      rotate_tokens<T, layout::gptj, true>(j);
    } else {
      rotate_tokens<T, layout::gptj, false>(j);
    }
  }
}

/// x[i] ← x[i]·f for i < count: the memory floor benchmarks compare against (same target
/// region and vector width as rotate()).
template <class T>
inline void scale_in_place(T* x, std::int64_t count, float f) noexcept {
  std::int64_t i = 0;
  if constexpr (ops::lanes > 1) {
    const auto fv = ops::set1(f);
    for (; i + ops::lanes <= count; i += ops::lanes) ops::store(x + i, ops::mul(ops::load(x + i), fv));
  }
  for (; i < count; ++i) x[i] = store_from_float<T>(load_as_float(x[i]) * f);
}

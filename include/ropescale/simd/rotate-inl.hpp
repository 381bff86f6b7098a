// SPDX-License-Identifier: Apache-2.0
// The rotation kernel bodies, written once against the `ops` vocabulary and included inside each
// ISA's namespace and target region (simd/scalar.hpp, avx2.hpp, avx512.hpp, neon.hpp). One body
// per layout serves float, bf16 and f16: ops::load widens to float lanes, ops::store rounds back
// (RNE); bf16 on targets with ops::has_bf16_split uses paired-lane units instead (below).
// Remainders shorter than a vector go through scalar::rotate_pair. Read top-down: the entry
// point, the once-per-call choice, the two token loops, the per-head and per-block routines.
// No include guard and no #includes: the including file provides everything.
//
// Two routines rotate every call, for every layout, storage type and row source (table rows
// here, on-the-fly rows in sincos-inl.hpp):
// - rotate_tokens_resident: token → chunk of the row's vector blocks → (Q heads, then K heads) →
//   blocks. A chunk's cos/sin vectors are loaded once per token and kept in registers while every
//   head of Q and K reuses them (ops::row_regs says how many registers the row may take), so
//   each token's heads are swept in address order with no table loads in the head loop. It is
//   compiled only for the pair counts of common rotary dims (with_resident_shape: 32, 64, 96,
//   128, 256) whose rows are whole vector blocks, in 1–4 chunks.
// - rotate_tokens_streaming: any row. Token → (Q heads, then K heads) → blocks, the row reloaded
//   from L1 per head, then the scalar remainder. DRAM-sized calls whose row needs several
//   register sweeps take it too (one sequential sweep per token keeps the prefetchers effective),
//   as does the de-interleaved layout (it permutes each head through a scratch copy).
// The direction is a runtime sign applied to the sin values as they are loaded (inverse: sn → −sn,
// exact), so each body is compiled once, not once per direction. docs/architecture.md has the
// trace of a call and the measurements behind these choices.

// ---- contents (declared first so the file reads top-down) ----
struct table_rows;
struct table_source;
template <class T, layout Layout, class Rows>
inline void rotate_tokens(const rotate_job<T>& j, const Rows& rows) noexcept;
template <class T, layout Layout>
inline bool streams(const rotate_job<T>& j) noexcept;
template <class T, layout Layout, class F>
inline bool with_resident_shape(std::int64_t pairs, F&& f) noexcept;
template <class T, layout Layout, int NB, int Chunks, class Rows>
ROPESCALE_NOINLINE void rotate_tokens_resident(const rotate_job<T>& j,
                                               const Rows& row_source) noexcept;
template <class T, layout Layout, class Rows>
ROPESCALE_NOINLINE void rotate_tokens_streaming(const rotate_job<T>& j,
                                                const Rows& row_source) noexcept;
template <class T, layout Layout, int NB>
ROPESCALE_INLINE void rotate_chunk(T* q, std::int64_t q_heads, std::int64_t q_hs, T* k,
                                   std::int64_t k_heads, std::int64_t k_hs, const float* c,
                                   const float* s, std::int64_t n, std::int64_t i0,
                                   typename ops::vec sign) noexcept;
template <class T, layout Layout>
inline void rotate_head_stream(T* x, const float* c, const float* s, std::int64_t n,
                               float sign) noexcept;
template <class T, layout Layout>
inline void rotate_pairs_scalar(T* x, const float* c, const float* s, std::int64_t from,
                                std::int64_t n, float sign) noexcept;

template <class T>
inline void neox_block(T* pa, T* pb, typename ops::vec cv, typename ops::vec sv) noexcept;
template <class T>
inline void gptj_block(T* p, typename ops::vec c_lo, typename ops::vec c_hi, typename ops::vec s_lo,
                       typename ops::vec s_hi) noexcept;
template <class O = ops>
ROPESCALE_INLINE void load_row_bf16_neox(const float* p, typename O::vec& first,
                                         typename O::vec& second) noexcept;
template <int N, bool InOrder = false, bool Stream = false, class O = ops>
ROPESCALE_INLINE void merge_bf16_group(bf16* const* p, const typename O::vec* r) noexcept;
template <class O = ops>
ROPESCALE_INLINE void neox_unit_bf16(const bf16* pa, const bf16* pb, typename O::vec ce,
                                     typename O::vec co, typename O::vec se, typename O::vec so,
                                     typename O::vec* r) noexcept;
template <class O = ops>
ROPESCALE_INLINE void gptj_unit_bf16(const bf16* p, typename O::vec cv, typename O::vec sv,
                                     typename O::vec* r) noexcept;

// Optional ops capabilities (bf16 paired-lane units, below).

/// Grouped bf16 narrowing. An ops type may narrow several (even, odd) vector pairs at once:
/// `static constexpr bool merge_bf16_grouped = true` plus `template <int N> merge_bf16_n(p, r)`
/// (pair i = r[2i], r[2i+1], stored at p[i] as merge_bf16 would). The bodies hand it a whole
/// head, so a rare-case screen (NaN, subnormal) is one branch per head instead of one per vector.
template <class O, class = void>
struct has_merge_bf16_n : std::false_type {};
template <class O>
struct has_merge_bf16_n<O, std::void_t<decltype(O::merge_bf16_grouped)>>
    : std::bool_constant<O::merge_bf16_grouped> {};

/// NeoX bf16 in element order. An ops type with `static constexpr bool bf16_neox_in_order =
/// true` widens 2·lanes consecutive bf16 into two vectors in element order
/// (`widen_bf16(p, first, second)`) and narrows them back with `merge_bf16_n<N, true>`, so the
/// NeoX row needs no deinterleave and the narrowing no lane shuffle (AVX512_BF16: one vpermw
/// per vector to widen, one vcvtne2ps2bf16 per two to narrow). GPT-J keeps the even/odd split.
template <class O, class = void>
struct has_bf16_neox_in_order : std::false_type {};
template <class O>
struct has_bf16_neox_in_order<O, std::void_t<decltype(O::bf16_neox_in_order)>>
    : std::bool_constant<O::bf16_neox_in_order> {};

/// f(integral_constant<layout, L>) for the job's layout: the one runtime layout switch of
/// rotate(), rotate_on_the_fly() (sincos-inl.hpp) and append() (append-inl.hpp).
template <class Job, class F>
inline void with_layout(const Job& j, F&& f) noexcept {
  switch (j.lay) {
    case layout::neox:
      f(std::integral_constant<layout, layout::neox>{});
      return;
    case layout::gptj:
      f(std::integral_constant<layout, layout::gptj>{});
      return;
    case layout::deinterleaved:
      f(std::integral_constant<layout, layout::deinterleaved>{});
      return;
  }
}

/// +1 or −1: multiplies every sin value as it is loaded (inverse rotation: sn → −sn).
inline float direction_sign(const row_args& j) noexcept { return j.inverse ? -1.0f : 1.0f; }

/// Rotates in place as described by `j` (already validated). Types: float, bf16, f16.
template <class T>
inline void rotate(const rotate_job<T>& j) noexcept {
  with_layout(j, [&](auto lay) { rotate_tokens<T, decltype(lay)::value>(j, table_source{&j}); });
}

/// x[i] ← x[i]·f for i < count: the memory floor benchmarks compare against (same target
/// region and vector width as rotate()).
template <class T>
inline void scale_in_place(T* x, std::int64_t count, float f) noexcept {
  std::int64_t i = 0;
  if constexpr (ops::lanes > 1) {
    const auto fv = ops::set1(f);
    for (; i + ops::lanes <= count; i += ops::lanes) {
      ops::store(x + i, ops::mul(ops::load(x + i), fv));
    }
  }
  for (; i < count; ++i) x[i] = store_from_float<T>(load_as_float(x[i]) * f);
}

// ---- row sources: token t → its cos/sin row ----

/// The table row of token t: positions[t] − row_offset, or range_row0 + t without positions.
struct row_index {
  const std::int64_t* positions;
  std::int64_t row_offset;
  std::int64_t row0;
  explicit row_index(const row_args& j) noexcept
      : positions(j.positions), row_offset(j.row_offset), row0(j.range_row0) {}
  std::int64_t operator()(std::int64_t t) const noexcept {
    return positions != nullptr ? positions[t] - row_offset : row0 + t;
  }
};

/// Rows read from the job's cos/sin table. Held by value in the token loops (the fields in
/// registers, not reloaded after every store through a float pointer).
struct table_rows {
  row_index index;
  const float* cos;
  const float* sin;
  std::int64_t row_stride;
  explicit table_rows(const row_args& j) noexcept
      : index(j), cos(j.cos), sin(j.sin), row_stride(j.row_stride) {}
  void get(std::int64_t t, const float*& c, const float*& s) const noexcept {
    const std::int64_t r = index(t) * row_stride;
    c = cos + r;
    s = sin + r;
  }
  /// Fetches token t's row (n pairs) into the cache ahead of its sweep.
  void prefetch(std::int64_t t, std::int64_t n) const noexcept {
    const std::int64_t r = index(t) * row_stride;
    for (std::int64_t i = 0; i < n; i += 16) {
      ROPESCALE_PREFETCH(cos + r + i);
      ROPESCALE_PREFETCH(sin + r + i);
    }
  }
};

/// The table as the token loops receive it: the job itself. Each loop builds its table_rows
/// from the job's fields on entry; a row source the caller builds on its stack and the loop
/// reads back at once stalls store-to-load forwarding (~9 ns per call at decode).
struct table_source {
  const row_args* job;
};

/// The row source a token loop holds by value: table_rows built from the job, or a copy of any
/// other source (computed_rows, sincos-inl.hpp).
inline table_rows loop_rows(const table_source& source) noexcept { return table_rows(*source.job); }
template <class Rows>
inline Rows loop_rows(const Rows& source) noexcept {
  return source;
}

// ---- once per call: which token loop ----

/// The register-resident loop for rows it is compiled for (with_resident_shape) unless the call
/// streams (streams()); the streaming loop for everything else.
template <class T, layout Layout, class Rows>
inline void rotate_tokens(const rotate_job<T>& j, const Rows& rows) noexcept {
  if constexpr (Layout != layout::deinterleaved && ops::lanes > 1) {
    if (!streams<T, Layout>(j) &&
        with_resident_shape<T, Layout>(j.pairs, [&](auto nb, auto chunks) {
          rotate_tokens_resident<T, Layout, decltype(nb)::value, decltype(chunks)::value>(j, rows);
        })) {
      return;
    }
  }
  rotate_tokens_streaming<T, Layout>(j, rows);
}

/// Pairs per register-resident unit: one vector of pairs, or for bf16 NeoX with paired-lane
/// units two (the even/odd halves of 2·lanes pairs).
template <class T, layout Layout>
inline constexpr std::int64_t unit_pairs = (std::is_same_v<T, bf16> && ops::has_bf16_split &&
                                            Layout == layout::neox)
                                               ? 2 * ops::lanes
                                               : ops::lanes;

/// Units one register sweep holds: row registers / registers per unit (NeoX: cos and sin, bf16
/// NeoX: their even/odd halves, GPT-J: the duplicated cos and sin halves, bf16 GPT-J: cos, sin).
template <class T, layout Layout>
inline constexpr int units_per_sweep =
    ops::row_regs /
    ((std::is_same_v<T, bf16> && ops::has_bf16_split) == (Layout == layout::neox) ? 4 : 2);

/// Pairs a token's row can cover in one register-resident sweep.
template <class T, layout Layout>
inline constexpr std::int64_t resident_pairs = units_per_sweep<T, Layout>* unit_pairs<T, Layout>;

/// True when a row longer than one register-resident sweep belongs to a call moving at least
/// stream_min_bytes(): the data then comes from DRAM, and one sequential sweep per token matters
/// more than the row reloads. (Without it AVX2 4096×32×128 ran at 0.50 of the floor, two
/// resident sweeps per token, instead of ~0.9.)
template <class T, layout Layout>
inline bool streams(const rotate_job<T>& j) noexcept {
  if constexpr (ops::lanes > 1) {
    if (j.pairs > resident_pairs<T, Layout>) {
      const std::int64_t bytes = (j.token_end - j.token_begin) * (j.q_heads + j.k_heads) * j.pairs *
                                 2 * static_cast<std::int64_t>(sizeof(T));
      return bytes >= stream_min_bytes();
    }
  }
  return false;
}

/// A register-resident row: NB units per sweep, Chunks sweeps per token (nb == 0: none).
struct resident_shape {
  int nb;
  int chunks;
};
template <class T, layout Layout>
constexpr resident_shape resident_shape_of(std::int64_t pairs) noexcept {
  constexpr std::int64_t U = unit_pairs<T, Layout>;
  constexpr std::int64_t K = units_per_sweep<T, Layout>;
  const std::int64_t units = pairs / U;
  if (K < 1 || units < 1 || units * U != pairs) return {0, 0};
  if (units <= K) return {static_cast<int>(units), 1};
  if (units % K == 0 && units / K <= 4) return {static_cast<int>(K), static_cast<int>(units / K)};
  return {0, 0};
}

template <class T, layout Layout, std::int64_t Pairs, class F>
inline bool resident_case(F& f) noexcept {
  constexpr resident_shape shape = resident_shape_of<T, Layout>(Pairs);
  if constexpr (shape.nb > 0) {
    f(std::integral_constant<int, shape.nb>{}, std::integral_constant<int, shape.chunks>{});
    return true;
  } else {
    return false;
  }
}

/// f(integral_constant nb, integral_constant chunks) when the resident loop is compiled for rows
/// of `pairs` pairs, else false. Only the pair counts of common rotary dims are (32, 64, 96, 128,
/// 256: each extra count is one more unrolled loop per ISA, layout and type in every user TU, and
/// only whole vector blocks qualify, e.g. not 96 for bf16 NeoX on AVX-512); every other row takes
/// the streaming loop, correct for any count.
template <class T, layout Layout, class F>
inline bool with_resident_shape(std::int64_t pairs, F&& f) noexcept {
  switch (pairs) {
    case 16:
      return resident_case<T, Layout, 16>(f);
    case 48:
      return resident_case<T, Layout, 48>(f);
    case 32:
      return resident_case<T, Layout, 32>(f);
    case 64:
      return resident_case<T, Layout, 64>(f);
    case 128:
      return resident_case<T, Layout, 128>(f);
    default:
      return false;
  }
}

// ---- the two token loops ----

/// Rows of exactly Chunks × NB units: the whole token loop of a call in one function, job fields
/// in locals. Each token's row is taken in Chunks register-resident sweeps of NB units, each
/// sweeping every head of Q and K (one sweep for a 128-dim row on AVX-512; two for NeoX on AVX2,
/// whose 16 registers hold half a row). (One function per call, not a call per token:
/// docs/architecture.md, "What was tried".) Always out of line, so its code does not depend on
/// what else the including TU instantiates. g++ inlined it into rotate_on_the_fly in
/// ropescale-bench (not in a small TU): on-the-fly 4096×32×128 then ran at 0.75 of the floor
/// instead of 0.93, the head loop identical except for the order of its stores.
template <class T, layout Layout, int NB, int Chunks, class Rows>
ROPESCALE_NOINLINE void rotate_tokens_resident(const rotate_job<T>& j,
                                               const Rows& row_source) noexcept {
  const auto rows = loop_rows(row_source);  // fields in registers, not reloaded after stores
  constexpr std::int64_t n = Chunks * NB * unit_pairs<T, Layout>;  // == j.pairs
  const std::int64_t q_heads = j.q_heads, q_hs = j.q_head_stride, q_ts = j.q_token_stride;
  const std::int64_t k_heads = j.k_heads, k_hs = j.k_head_stride, k_ts = j.k_token_stride;
  T* const q = j.q;
  T* const k = j.k;
  const auto sign = ops::set1(direction_sign(j));
  for (std::int64_t t = j.token_begin; t < j.token_end; ++t) {
    const float* c;
    const float* s;
    rows.get(t, c, s);
    T* const qt = q_heads > 0 ? q + t * q_ts : q;
    T* const kt = k_heads > 0 ? k + t * k_ts : k;
    ROPESCALE_UNROLL
    for (int chunk = 0; chunk < Chunks; ++chunk) {
      rotate_chunk<T, Layout, NB>(qt, q_heads, q_hs, kt, k_heads, k_hs, c, s, n,
                                  chunk * NB * unit_pairs<T, Layout>, sign);
    }
  }
}

/// Any row: per token, each head of Q then K in address order (rotate_head_stream), the row
/// reloaded from L1 per head and the next token's row prefetched.
template <class T, layout Layout, class Rows>
ROPESCALE_NOINLINE void rotate_tokens_streaming(const rotate_job<T>& j,
                                                const Rows& row_source) noexcept {
  const auto rows = loop_rows(row_source);
  const float sign = direction_sign(j);
  const std::int64_t n = j.pairs;
  for (std::int64_t t = j.token_begin; t < j.token_end; ++t) {
    const float* c;
    const float* s;
    rows.get(t, c, s);
    if (t + 1 < j.token_end) rows.prefetch(t + 1, n);
    for (std::int64_t h = 0; h < j.q_heads; ++h) {
      rotate_head_stream<T, Layout>(j.q + t * j.q_token_stride + h * j.q_head_stride, c, s, n,
                                    sign);
    }
    for (std::int64_t h = 0; h < j.k_heads; ++h) {
      rotate_head_stream<T, Layout>(j.k + t * j.k_token_stride + h * j.k_head_stride, c, s, n,
                                    sign);
    }
  }
}

// ---- one sweep: NB units of every head, the row in registers ----

/// NB units starting at pair i0 of every head of Q then K (q, k: the token's base pointers),
/// with the units' cos/sin loaded once (sin times `sign`) and held in registers across all heads.
/// bf16 with paired-lane units narrows each head's results as one group (merge_bf16_group).
template <class T, layout Layout, int NB>
ROPESCALE_INLINE void rotate_chunk(T* q, std::int64_t q_heads, std::int64_t q_hs, T* k,
                                   std::int64_t k_heads, std::int64_t k_hs, const float* c,
                                   const float* s, std::int64_t n, std::int64_t i0,
                                   typename ops::vec sign) noexcept {
  constexpr std::int64_t L = ops::lanes;
  if constexpr (std::is_same_v<T, bf16> && ops::has_bf16_split && Layout == layout::neox) {
    typename ops::vec ce[slots<NB>], co[slots<NB>], se[slots<NB>], so[slots<NB>];
    ROPESCALE_UNROLL
    for (std::int64_t b = 0; b < NB; ++b) {
      const std::int64_t i = i0 + 2 * b * L;
      load_row_bf16_neox(c + i, ce[b], co[b]);
      load_row_bf16_neox(s + i, se[b], so[b]);
      se[b] = ops::mul(se[b], sign);
      so[b] = ops::mul(so[b], sign);
    }
    auto head = [&](bf16* x) {
      bf16* p[slots<2 * NB>];
      typename ops::vec r[slots<4 * NB>];
      ROPESCALE_UNROLL
      for (std::int64_t b = 0; b < NB; ++b) {
        p[2 * b] = x + i0 + 2 * b * L;
        p[2 * b + 1] = x + n + i0 + 2 * b * L;
        neox_unit_bf16(p[2 * b], p[2 * b + 1], ce[b], co[b], se[b], so[b], r + 4 * b);
      }
      merge_bf16_group<2 * NB, has_bf16_neox_in_order<ops>::value>(p, r);
    };
    for (std::int64_t h = 0; h < q_heads; ++h) head(q + h * q_hs);
    for (std::int64_t h = 0; h < k_heads; ++h) head(k + h * k_hs);
  } else if constexpr (std::is_same_v<T, bf16> && ops::has_bf16_split) {
    typename ops::vec cr[slots<NB>], sr[slots<NB>];
    ROPESCALE_UNROLL
    for (std::int64_t b = 0; b < NB; ++b) {
      cr[b] = ops::load(c + i0 + b * L);
      sr[b] = ops::mul(ops::load(s + i0 + b * L), sign);
    }
    auto head = [&](bf16* x) {
      bf16* p[slots<NB>];
      typename ops::vec r[slots<2 * NB>];
      ROPESCALE_UNROLL
      for (std::int64_t b = 0; b < NB; ++b) {
        p[b] = x + 2 * i0 + 2 * b * L;
        gptj_unit_bf16(p[b], cr[b], sr[b], r + 2 * b);
      }
      merge_bf16_group<NB>(p, r);
    };
    for (std::int64_t h = 0; h < q_heads; ++h) head(q + h * q_hs);
    for (std::int64_t h = 0; h < k_heads; ++h) head(k + h * k_hs);
  } else if constexpr (Layout == layout::neox) {
    typename ops::vec cr[slots<NB>], sr[slots<NB>];
    ROPESCALE_UNROLL
    for (std::int64_t b = 0; b < NB; ++b) {
      cr[b] = ops::load(c + i0 + b * L);
      sr[b] = ops::mul(ops::load(s + i0 + b * L), sign);
    }
    auto head = [&](T* x) {
      ROPESCALE_UNROLL
      for (std::int64_t b = 0; b < NB; ++b) {
        neox_block(x + i0 + b * L, x + n + i0 + b * L, cr[b], sr[b]);
      }
    };
    for (std::int64_t h = 0; h < q_heads; ++h) head(q + h * q_hs);
    for (std::int64_t h = 0; h < k_heads; ++h) head(k + h * k_hs);
  } else {
    typename ops::vec cl[slots<NB>], ch[slots<NB>], sl[slots<NB>], sh[slots<NB>];
    ROPESCALE_UNROLL
    for (std::int64_t b = 0; b < NB; ++b) {
      ops::dup_pairs(ops::load(c + i0 + b * L), cl[b], ch[b]);
      ops::dup_pairs(ops::mul(ops::load(s + i0 + b * L), sign), sl[b], sh[b]);
    }
    auto head = [&](T* x) {
      ROPESCALE_UNROLL
      for (std::int64_t b = 0; b < NB; ++b) {
        gptj_block(x + 2 * (i0 + b * L), cl[b], ch[b], sl[b], sh[b]);
      }
    };
    for (std::int64_t h = 0; h < q_heads; ++h) head(q + h * q_hs);
    for (std::int64_t h = 0; h < k_heads; ++h) head(k + h * k_hs);
  }
}

// ---- one head, streaming ----

/// The streaming form of one head: in address order, the row's blocks reloaded (and for GPT-J
/// re-duplicated) from L1, then the scalar remainder.
template <class T, layout Layout>
inline void rotate_head_stream(T* x, const float* c, const float* s, std::int64_t n,
                               float sign) noexcept {
  if constexpr (Layout == layout::deinterleaved) {
    // DeepSeek de-interleaved (docs/reference.md §1.3): the even/odd de-interleave of the first
    // 2n channels, then NeoX (inverse: NeoX un-rotation, then interleave back). The permutation
    // is exact (storage type) and goes through a scratch copy in L1.
    T tmp[max_deinterleaved_rotary_dim];  // 2n <= this (apply.hpp)
    const bool inverse = sign < 0.0f;
    if (inverse) rotate_head_stream<T, layout::neox>(x, c, s, n, sign);
    for (std::int64_t i = 0; i < 2 * n; ++i) tmp[i] = x[i];
    for (std::int64_t p = 0; p < n; ++p) {
      if (inverse) {
        x[2 * p] = tmp[p];
        x[2 * p + 1] = tmp[n + p];
      } else {
        x[p] = tmp[2 * p];
        x[n + p] = tmp[2 * p + 1];
      }
    }
    if (!inverse) rotate_head_stream<T, layout::neox>(x, c, s, n, sign);
  } else {
    constexpr std::int64_t L = ops::lanes;
    std::int64_t i = 0;
    if constexpr (ops::lanes > 1) {
      const auto sg = ops::set1(sign);
      if constexpr (std::is_same_v<T, bf16> && ops::has_bf16_split) {
        if constexpr (Layout == layout::neox) {
          for (; i + 2 * L <= n; i += 2 * L) {
            typename ops::vec ce, co, se, so, r[4];
            load_row_bf16_neox(c + i, ce, co);
            load_row_bf16_neox(s + i, se, so);
            bf16* p[2] = {x + i, x + n + i};
            neox_unit_bf16(p[0], p[1], ce, co, ops::mul(se, sg), ops::mul(so, sg), r);
            merge_bf16_group<2, has_bf16_neox_in_order<ops>::value>(p, r);
          }
        } else {
          for (; i + L <= n; i += L) {
            typename ops::vec r[2];
            bf16* p = x + 2 * i;
            gptj_unit_bf16(p, ops::load(c + i), ops::mul(ops::load(s + i), sg), r);
            merge_bf16_group<1>(&p, r);
          }
        }
      }
      for (; i + L <= n; i += L) {
        if constexpr (Layout == layout::neox) {
          neox_block(x + i, x + n + i, ops::load(c + i), ops::mul(ops::load(s + i), sg));
        } else {
          typename ops::vec c_lo, c_hi, s_lo, s_hi;
          ops::dup_pairs(ops::load(c + i), c_lo, c_hi);
          ops::dup_pairs(ops::mul(ops::load(s + i), sg), s_lo, s_hi);
          gptj_block(x + 2 * i, c_lo, c_hi, s_lo, s_hi);
        }
      }
    }
    rotate_pairs_scalar<T, Layout>(x, c, s, i, n, sign);
  }
}

// ---- bf16 paired-lane units ----
//
// A 32-bit lane holding two adjacent bf16 values x_{2j} (low half) and x_{2j+1} (high half) gives
// both as floats with one op each (shift left 16 / mask the high half), and the two rounded results
// go back with one shift and one merge: ops::split_bf16 / merge_bf16. That halves the conversion
// work against widening and narrowing each vector, and it lands GPT-J pairs directly in two
// vectors (a = even, b = odd), so bf16 GPT-J needs neither swaps nor duplicated cos/sin. NeoX uses
// it with the row deinterleaved into even/odd pairs, once per token. Units: NeoX 2·lanes pairs
// (4 row registers), GPT-J lanes pairs (2).

/// The NeoX row's 2·lanes cos (or sin) values at p, in the order neox_unit_bf16 needs them.
template <class O>
ROPESCALE_INLINE void load_row_bf16_neox(const float* p, typename O::vec& first,
                                         typename O::vec& second) noexcept {
  if constexpr (has_bf16_neox_in_order<O>::value) {
    first = O::load(p);
    second = O::load(p + O::lanes);
  } else {
    O::deinterleave(O::load(p), O::load(p + O::lanes), first, second);
  }
}

template <int N, bool InOrder, bool Stream, class O>
ROPESCALE_INLINE void merge_bf16_group(bf16* const* p, const typename O::vec* r) noexcept {
  static_assert(!Stream || InOrder, "only element-order groups are streamed");
  if constexpr (InOrder) {
    O::template merge_bf16_n<N, true, Stream>(p, r);
  } else if constexpr (has_merge_bf16_n<O>::value) {
    O::template merge_bf16_n<N>(p, r);
  } else {
    ROPESCALE_UNROLL
    for (std::size_t i = 0; i < static_cast<std::size_t>(N); ++i) {
      O::merge_bf16(p[i], r[2 * i], r[2 * i + 1]);
    }
  }
}

/// NeoX bf16: 2·lanes pairs, a at pa and b at pb, split even/odd (or in element order, see
/// has_bf16_neox_in_order) with the row halves (ce, co) / (se, so) loaded to match
/// (load_row_bf16_neox); the rotated a goes to r[0], r[1] and b to r[2], r[3] (not stored).
template <class O>
ROPESCALE_INLINE void neox_unit_bf16(const bf16* pa, const bf16* pb, typename O::vec ce,
                                     typename O::vec co, typename O::vec se, typename O::vec so,
                                     typename O::vec* r) noexcept {
  typename O::vec ae, ao, be, bo;
  if constexpr (has_bf16_neox_in_order<O>::value) {
    O::widen_bf16(pa, ae, ao);
    O::widen_bf16(pb, be, bo);
  } else {
    O::split_bf16(pa, ae, ao);
    O::split_bf16(pb, be, bo);
  }
  r[0] = O::fnmadd(be, se, O::mul(ae, ce));
  r[1] = O::fnmadd(bo, so, O::mul(ao, co));
  r[2] = O::fmadd(ae, se, O::mul(be, ce));
  r[3] = O::fmadd(ao, so, O::mul(bo, co));
}

/// GPT-J bf16: lanes interleaved pairs at p (a = even, b = odd), row (cv, sv); result in r[0..1].
template <class O>
ROPESCALE_INLINE void gptj_unit_bf16(const bf16* p, typename O::vec cv, typename O::vec sv,
                                     typename O::vec* r) noexcept {
  typename O::vec a, b;
  O::split_bf16(p, a, b);
  r[0] = O::fnmadd(b, sv, O::mul(a, cv));
  r[1] = O::fmadd(a, sv, O::mul(b, cv));
}

// ---- blocks: one vector of pairs, the row already in registers (sin already signed) ----

/// NeoX: lanes pairs, a at pa and b at pb (= pa + n). Callers pass per-head base pointers plus
/// compile-time block offsets, so an unrolled chunk addresses every block as base + displacement.
template <class T>
inline void neox_block(T* pa, T* pb, typename ops::vec cv, typename ops::vec sv) noexcept {
  const auto a = ops::load(pa);
  const auto b = ops::load(pb);
  ops::store(pa, ops::fnmadd(b, sv, ops::mul(a, cv)));  // a·c − b·s
  ops::store(pb, ops::fmadd(a, sv, ops::mul(b, cv)));   // b·c + a·s
}

/// GPT-J: lanes interleaved pairs (2·lanes elements) at p, with the duplicated row halves.
template <class T>
inline void gptj_block(T* p, typename ops::vec c_lo, typename ops::vec c_hi, typename ops::vec s_lo,
                       typename ops::vec s_hi) noexcept {
  constexpr std::int64_t L = ops::lanes;
  auto v0 = ops::load(p);
  auto v1 = ops::load(p + L);
#if defined(__GNUC__) && (defined(__x86_64__) || defined(_M_X64))
  // Keep each data vector in a register: g++ otherwise folds the load into both the vpermilps
  // and the vfmaddsub, loading every vector twice.
  if constexpr (ops::lanes > 1) {
    __asm__("" : "+v"(v0), "+v"(v1));
  }
#endif
  ops::store(p, ops::fmaddsub(v0, c_lo, ops::mul(ops::swap_pairs(v0), s_lo)));
  ops::store(p + L, ops::fmaddsub(v1, c_hi, ops::mul(ops::swap_pairs(v1), s_hi)));
}

/// Scalar remainder pairs [from, n) of one head.
template <class T, layout Layout>
inline void rotate_pairs_scalar(T* x, const float* c, const float* s, std::int64_t from,
                                std::int64_t n, float sign) noexcept {
  for (std::int64_t p = from; p < n; ++p) {
    if constexpr (Layout == layout::neox) {
      scalar::rotate_pair(x + p, x + n + p, c[p], s[p] * sign);
    } else {
      scalar::rotate_pair(x + 2 * p, x + 2 * p + 1, c[p], s[p] * sign);
    }
  }
}

// SPDX-License-Identifier: Apache-2.0
// Out-of-place rotation and the fused paged KV append (kv_append.hpp), written once against the
// `ops` vocabulary and included after rotate-inl.hpp inside each ISA's namespace and target
// region (simd/scalar.hpp, avx2.hpp, avx512.hpp, neon.hpp). No include guard and no #includes.
//
// Exactness contract: for every layout, type pair and ISA, the stored value equals what that
// ISA's in-place kernel (rotate-inl.hpp) would leave in a source-typed buffer, converted to the
// destination type with round-to-nearest-even. So each formula below is the in-place one:
// NeoX a·c − b·s as fnmadd(b, s, a·c); GPT-J as fmaddsub(v, c, swap(v)·s), except for bf16
// sources on targets with ops::has_bf16_split, whose in-place GPT-J rounds like NeoX
// (gptj_unit_bf16); pairs shorter than a vector through scalar::rotate_pair on a source-typed
// copy; the de-interleave permutation in the source type. Conversions are ops::store (RNE, NaN
// kept quiet) or a bit copy when source and destination types are equal.
//
// Loop order: token → its row (table or computed on the fly) → Q heads → K heads → V heads, each
// head one sequential pass from source to destination (destinations written in address order;
// the page scatter costs one division per token). Streaming calls take K and V head by head
// (K head h, then V head h) when V has K's shape. For the usual rows (a whole number of vector
// blocks that fits the row registers, e.g. 128-dim heads) the row stays in registers across the
// token's Q and K heads; other rows are reloaded from L1 per vector block. bf16 NeoX rows use
// the in-place kernel's paired-lane units (bf16_units). DRAM-sized calls store K and V into the
// caches with non-temporal stores (append_streams), the plain append (the floor) as the fused one.

/// x converted from S to D (identity when equal; RNE otherwise).
template <class D, class S>
inline D convert_to(S x) noexcept {
  if constexpr (std::is_same_v<S, D>) {
    return x;
  } else {
    return store_from_float<D>(load_as_float(x));
  }
}

/// Whether the ops type has non-temporal stores: `static constexpr bool has_stream = true`,
/// `stream(p, v)` (as store, p aligned to the vector's width) and `stream_fence()`.
template <class O, class = void>
struct has_stream_stores : std::false_type {};
template <class O>
struct has_stream_stores<O, std::void_t<decltype(O::has_stream)>>
    : std::bool_constant<O::has_stream> {};

/// ops::store, or (NT) the non-temporal ops::stream: p is then aligned to the vector's width.
template <bool NT, class D, class O = ops>
ROPESCALE_INLINE void put(D* p, typename O::vec v) noexcept {
  if constexpr (NT) {
    O::stream(p, v);
  } else {
    O::store(p, v);
  }
}

/// One vector register's bytes of x copied bit for bit to p non-temporally (ops::stream_bits;
/// p aligned to the register's width).
template <class T, class O = ops>
ROPESCALE_INLINE void stream_bits(T* p, const T* x) noexcept {
  O::stream_bits(p, x);
}

/// Orders a call's non-temporal stores before whatever follows it (ops::stream_fence).
template <class O = ops>
ROPESCALE_INLINE void end_streaming() noexcept {
  O::stream_fence();
}

/// f32 → bf16 stores narrow two vectors at a time where the ops have element-order bf16 groups
/// (AVX512_BF16: one vcvtne2ps2bf16 per 32 values, subnormals screened as in the in-place
/// kernel, merge_bf16_group) instead of one integer rounding sequence per vector. Plain stores
/// only (a call that streams keeps ops::stream).
template <class S, class D, bool NT>
inline constexpr bool grouped_bf16_stores =
    std::is_same_v<S, float>&& std::is_same_v<D, bf16> && !NT && has_bf16_neox_in_order<ops>::value;

/// y[i] = x[i] converted from S to D, for i in [from, count) (a bit copy when S == D). NT:
/// y + from is aligned to a vector register's width and the vector part is stored
/// non-temporally. Inline: a short 16-bit bit copy goes through registers, not memcpy.
template <class S, class D, bool NT = false, bool Inline = false>
inline void copy_converted(const S* x, D* y, std::int64_t from, std::int64_t count) noexcept {
  if (count <= from) return;
  // A 16-bit copy stays a bit copy (a widen/narrow round trip would quiet a signalling NaN).
  // Streaming, or Inline (V's heads copied between K's rotations at decode, where a library call
  // per head cost more than its copy): one register of raw bits at a time, non-temporally or
  // through a fixed-size memcpy (a vector load and store); else memcpy, which measured faster
  // for long runs.
  if constexpr ((NT || Inline) && std::is_same_v<S, D> && sizeof(S) == 2 && ops::lanes > 1) {
    constexpr std::int64_t E = 2 * ops::lanes;  // 16-bit values per vector register
    std::int64_t i = from;
    for (; i + E <= count; i += E) {
      if constexpr (NT) {
        stream_bits(y + i, x + i);
      } else {
        std::memcpy(y + i, x + i, E * sizeof(S));
      }
    }
    if (i < count) std::memcpy(y + i, x + i, static_cast<std::size_t>(count - i) * sizeof(S));
  } else if constexpr (std::is_same_v<S, D> && !(std::is_same_v<S, float> && ops::lanes > 1)) {
    std::memcpy(y + from, x + from, static_cast<std::size_t>(count - from) * sizeof(S));
  } else {
    // f32 → f32 through vector registers is a bit copy too (loads and stores do not convert),
    // inline instead of a library call per token and head run.
    std::int64_t i = from;
    if constexpr (grouped_bf16_stores<S, D, NT>) {
      constexpr std::int64_t L = ops::lanes;
      for (; i + 4 * L <= count; i += 4 * L) {
        const typename ops::vec r[4] = {ops::load(x + i), ops::load(x + i + L),
                                        ops::load(x + i + 2 * L), ops::load(x + i + 3 * L)};
        bf16* const p[2] = {y + i, y + i + 2 * L};
        merge_bf16_group<2, true>(p, r);
      }
    }
    if constexpr (ops::lanes > 1) {
      constexpr std::int64_t L = ops::lanes;
      for (; i + 4 * L <= count; i += 4 * L) {
        const typename ops::vec r[4] = {ops::load(x + i), ops::load(x + i + L),
                                        ops::load(x + i + 2 * L), ops::load(x + i + 3 * L)};
        ROPESCALE_UNROLL
        for (int b = 0; b < 4; ++b) put<NT>(y + i + b * L, r[b]);
      }
      for (; i + L <= count; i += L) put<NT>(y + i, ops::load(x + i));
    }
    for (; i < count; ++i) y[i] = convert_to<D>(x[i]);
  }
}

/// One pair rotated exactly as scalar::rotate_pair does in place (rounded to S), then
/// converted to D. s is the signed sin (already negated for the inverse).
template <class S, class D>
inline void rotate_pair_to(const S* xa, const S* xb, D* ya, D* yb, float c, float s) noexcept {
  S a = *xa;
  S b = *xb;
  scalar::rotate_pair(&a, &b, c, s);
  *ya = convert_to<D>(a);
  *yb = convert_to<D>(b);
}

/// One head: the 2n rotated channels of x (layout Layout, row c/s, every sin value times sign:
/// −1 rotates backwards, direction_sign) into y, then channels [2n, head_dim) copied. y may equal
/// x (in place); otherwise they must not overlap. NT: y is aligned to the vector's width, n is a
/// multiple of lanes, and the vector stores of NeoX and GPT-J are non-temporal. (A negated sin
/// in the forward formula gives the inverse formula's bits: the negation is exact.)
template <class S, class D, layout Layout, bool NT = false>
inline void rotate_head_to(const S* x, D* y, const float* c, const float* s, float sign,
                           std::int64_t n, std::int64_t head_dim) noexcept {
  constexpr std::int64_t L = ops::lanes;
  if constexpr (Layout == layout::deinterleaved) {
    // As rotate_head_stream: the even/odd de-interleave of the first 2n channels then NeoX, or
    // NeoX un-rotation then interleave, the permutation through a source-typed scratch row.
    S tmp[max_deinterleaved_rotary_dim];  // 2n <= this (checked by the entry point)
    if (sign > 0.0f) {
      for (std::int64_t p = 0; p < n; ++p) {
        tmp[p] = x[2 * p];
        tmp[n + p] = x[2 * p + 1];
      }
      rotate_head_to<S, D, layout::neox>(tmp, y, c, s, sign, n, 2 * n);
    } else {
      rotate_head_to<S, S, layout::neox>(x, tmp, c, s, sign, n, 2 * n);
      for (std::int64_t p = 0; p < n; ++p) {
        y[2 * p] = convert_to<D>(tmp[p]);
        y[2 * p + 1] = convert_to<D>(tmp[n + p]);
      }
    }
  } else {
    std::int64_t i = 0;
    [[maybe_unused]] const auto sg = ops::set1(sign);
    if constexpr (L > 1 && Layout == layout::neox) {
      for (; i + L <= n; i += L) {
        const auto a = ops::load(x + i);
        const auto b = ops::load(x + n + i);
        const auto cv = ops::load(c + i);
        const auto sv = ops::mul(ops::load(s + i), sg);
        put<NT>(y + i, ops::fnmadd(b, sv, ops::mul(a, cv)));
        put<NT>(y + n + i, ops::fmadd(a, sv, ops::mul(b, cv)));
      }
    } else if constexpr (L > 1 && std::is_same_v<S, bf16> && ops::has_bf16_split) {
      static_assert(std::is_same_v<D, bf16>, "bf16 sources are stored as bf16");
      for (; i + L <= n; i += L) {
        typename ops::vec r[2];
        D* p = y + 2 * i;
        gptj_unit_bf16(x + 2 * i, ops::load(c + i), ops::mul(ops::load(s + i), sg), r);
        merge_bf16_group<1>(&p, r);
      }
    } else if constexpr (L > 1) {
      for (; i + L <= n; i += L) {
        typename ops::vec c_lo, c_hi, s_lo, s_hi;
        ops::dup_pairs(ops::load(c + i), c_lo, c_hi);
        ops::dup_pairs(ops::mul(ops::load(s + i), sg), s_lo, s_hi);
        const auto v0 = ops::load(x + 2 * i);
        const auto v1 = ops::load(x + 2 * i + L);
        put<NT>(y + 2 * i, ops::fmaddsub(v0, c_lo, ops::mul(ops::swap_pairs(v0), s_lo)));
        put<NT>(y + 2 * i + L, ops::fmaddsub(v1, c_hi, ops::mul(ops::swap_pairs(v1), s_hi)));
      }
    }
    for (; i < n; ++i) {
      if constexpr (Layout == layout::neox) {
        rotate_pair_to<S, D>(x + i, x + n + i, y + i, y + n + i, c[i], s[i] * sign);
      } else {
        rotate_pair_to<S, D>(x + 2 * i, x + 2 * i + 1, y + 2 * i, y + 2 * i + 1, c[i], s[i] * sign);
      }
    }
  }
  if (static_cast<const void*>(x) != static_cast<const void*>(y)) {
    copy_converted<S, D, NT>(x, y, 2 * n, head_dim);
  }
}

/// Every head of one token of `a` from src_t to dst_t: rotated with the row (n > 0; sin times
/// sign) or copied (n == 0; heads that are contiguous on both sides as one run). NT as
/// rotate_head_to. With `v` (K's heads and head_dim), V head h is copied right after head h
/// (append_tokens: four streams in flight instead of two).
template <class S, class D, layout Layout, bool NT>
inline void append_heads(const append_tensor<S, D>& a, const S* src_t, D* dst_t, const float* c,
                         const float* s, float sign, std::int64_t n,
                         const append_tensor<S, D>* v = nullptr, const S* v_src_t = nullptr,
                         D* v_dst_t = nullptr) noexcept {
  if (n == 0 && v == nullptr && a.src_head_stride == a.head_dim &&
      a.dst_head_stride == a.head_dim) {
    copy_converted<S, D, NT>(src_t, dst_t, 0, a.heads * a.head_dim);
    return;
  }
  for (std::int64_t h = 0; h < a.heads; ++h) {
    const S* x = src_t + h * a.src_head_stride;
    D* y = dst_t + h * a.dst_head_stride;
    if (n == 0) {
      copy_converted<S, D, NT>(x, y, 0, a.head_dim);
    } else {
      rotate_head_to<S, D, Layout, NT && Layout != layout::deinterleaved>(x, y, c, s, sign, n,
                                                                          a.head_dim);
    }
    if (v != nullptr) {
      copy_converted<S, D, NT, !NT>(v_src_t + h * v->src_head_stride,
                                    v_dst_t + h * v->dst_head_stride, 0, a.head_dim);
    }
  }
}

/// bf16 NeoX on targets with paired-lane bf16 (ops::has_bf16_split) takes the in-place kernel's
/// units (neox_unit_bf16 + merge_bf16_group, rotate-inl.hpp) in the register-resident loop:
/// two source vectors widen with one op each and two results narrow together, instead of a
/// widen and a narrow per vector. Same formula per element, so the same bits.
template <class S, layout Layout>
inline constexpr bool bf16_units =
    Layout == layout::neox&& std::is_same_v<S, bf16>&& ops::has_bf16_split&& ops::lanes > 1;

/// One head x → y with the row's NB vector blocks held in registers (rows of exactly NB·lanes
/// pairs, NeoX or GPT-J): cr/sr are the cos/sin blocks (GPT-J: cr[2b], cr[2b+1] and sr[2b],
/// sr[2b+1] the duplicated halves), loaded once per token for all Q and K heads.
/// The formulas are rotate_head_to's; NT as there. bf16 NeoX (bf16_units) goes through the
/// in-place kernel's paired-lane units instead: cr[2u], cr[2u+1] / sr[2u], sr[2u+1] are unit
/// u's row halves as load_row_bf16_neox gives them. Every sin register is already signed
/// (negated for the inverse), so one formula serves both directions.
template <class S, class D, layout Layout, int NB, bool NT>
ROPESCALE_INLINE void rotate_head_resident(const S* x, D* y, std::int64_t head_dim,
                                           const typename ops::vec* cr,
                                           const typename ops::vec* sr) noexcept {
  constexpr std::int64_t L = ops::lanes;
  constexpr std::int64_t n = NB * L;
  if constexpr (bf16_units<S, Layout>) {
    static_assert(NB % 2 == 0, "bf16 NeoX units are two vector blocks");
    bf16* p[slots<NB>];
    typename ops::vec r[slots<2 * NB>];
    ROPESCALE_UNROLL
    for (int u = 0; u < NB / 2; ++u) {
      const std::int64_t i = 2 * u * L;
      p[2 * u] = y + i;
      p[2 * u + 1] = y + n + i;
      neox_unit_bf16(x + i, x + n + i, cr[2 * u], cr[2 * u + 1], sr[2 * u], sr[2 * u + 1],
                     r + 4 * u);
    }
    // (Streamed where the groups are stored in element order, AVX512_BF16; elsewhere a
    // streaming call stores these plainly.)
    constexpr bool in_order = has_bf16_neox_in_order<ops>::value;
    merge_bf16_group<NB, in_order, NT && in_order>(p, r);
    if (head_dim > 2 * n && static_cast<const void*>(x) != static_cast<const void*>(y)) {
      copy_converted<S, D, NT>(x, y, 2 * n, head_dim);
    }
    return;
  } else if constexpr (Layout == layout::neox &&
                       ((NT && sizeof(D) < sizeof(float)) || grouped_bf16_stores<S, D, NT>)) {
    // Both halves computed first, then stored in address order: a narrowed vector fills half
    // a line, and non-temporal stores combine into whole lines only when a line's stores are
    // consecutive (alternating halves measured ~25% slower than the floor's copy). f32 → bf16
    // with grouped stores narrows the head's 2·NB vectors as NB element-order pairs.
    typename ops::vec lo[slots<NB>], hi[slots<NB>];
    ROPESCALE_UNROLL
    for (int b = 0; b < NB; ++b) {
      const auto va = ops::load(x + b * L);
      const auto vb = ops::load(x + n + b * L);
      lo[b] = ops::fnmadd(vb, sr[b], ops::mul(va, cr[b]));
      hi[b] = ops::fmadd(va, sr[b], ops::mul(vb, cr[b]));
    }
    if constexpr (grouped_bf16_stores<S, D, NT>) {
      static_assert(NB % 2 == 0, "grouped bf16 stores take two vector blocks per pair");
      bf16* p[slots<NB>];
      typename ops::vec r[slots<2 * NB>];
      ROPESCALE_UNROLL
      for (int u = 0; u < NB / 2; ++u) {
        p[u] = y + 2 * u * L;
        p[NB / 2 + u] = y + n + 2 * u * L;
        r[2 * u] = lo[2 * u];
        r[2 * u + 1] = lo[2 * u + 1];
        r[NB + 2 * u] = hi[2 * u];
        r[NB + 2 * u + 1] = hi[2 * u + 1];
      }
      merge_bf16_group<NB, true>(p, r);
    } else {
      ROPESCALE_UNROLL
      for (int b = 0; b < NB; ++b) put<NT>(y + b * L, lo[b]);
      ROPESCALE_UNROLL
      for (int b = 0; b < NB; ++b) put<NT>(y + n + b * L, hi[b]);
    }
    if (head_dim > 2 * n && static_cast<const void*>(x) != static_cast<const void*>(y)) {
      copy_converted<S, D, NT>(x, y, 2 * n, head_dim);
    }
    return;
  }
  ROPESCALE_UNROLL
  for (int b = 0; b < NB; ++b) {
    const std::int64_t i = b * L;
    if constexpr (Layout == layout::neox) {
      const auto va = ops::load(x + i);
      const auto vb = ops::load(x + n + i);
      put<NT>(y + i, ops::fnmadd(vb, sr[b], ops::mul(va, cr[b])));
      put<NT>(y + n + i, ops::fmadd(va, sr[b], ops::mul(vb, cr[b])));
    } else {
      const auto v0 = ops::load(x + 2 * i);
      const auto v1 = ops::load(x + 2 * i + L);
      put<NT>(y + 2 * i, ops::fmaddsub(v0, cr[2 * b], ops::mul(ops::swap_pairs(v0), sr[2 * b])));
      put<NT>(y + 2 * i + L,
              ops::fmaddsub(v1, cr[2 * b + 1], ops::mul(ops::swap_pairs(v1), sr[2 * b + 1])));
    }
  }
  if (head_dim > 2 * n && static_cast<const void*>(x) != static_cast<const void*>(y)) {
    copy_converted<S, D, NT>(x, y, 2 * n, head_dim);
  }
}

/// Every head of `a` for one token (rotate_head_resident), and after K head h, when `v` is given,
/// V head h copied (V has K's heads and head_dim): the rotation is arithmetic-bound and the copy
/// load/store-bound, so interleaving them lets the core overlap the two.
template <class S, class D, layout Layout, int NB, bool NT>
ROPESCALE_INLINE void rotate_heads_resident(const append_tensor<S, D>& a, const S* src_t, D* dst_t,
                                            const typename ops::vec* cr,
                                            const typename ops::vec* sr,
                                            const append_tensor<S, D>* v = nullptr,
                                            const S* v_src_t = nullptr,
                                            D* v_dst_t = nullptr) noexcept {
  constexpr std::int64_t rotated = 2 * NB * ops::lanes;
  for (std::int64_t h = 0; h < a.heads; ++h) {
    rotate_head_resident<S, D, Layout, NB, NT>(src_t + h * a.src_head_stride,
                                               dst_t + h * a.dst_head_stride, a.head_dim, cr, sr);
    if (v != nullptr) {
      const S* x = v_src_t + h * v->src_head_stride;
      D* y = v_dst_t + h * v->dst_head_stride;
      if constexpr (!NT && std::is_same_v<S, D>) {
        // A head of just the rotated channels (the usual case): one fixed-size copy, a few
        // register moves with no loop or size test.
        if (a.head_dim == rotated) {
          std::memcpy(y, x, rotated * sizeof(S));
          continue;
        }
      }
      copy_converted<S, D, NT, !NT>(x, y, 0, a.head_dim);
    }
  }
}

/// The token loop. NB > 0: rows of exactly NB vector blocks, kept in registers across the
/// token's Q and K heads (rotate_heads_resident); NB == 0: any row, reloaded per block from L1
/// (rotate_head_to). NT: K and V go to their caches with non-temporal stores (append_streams).
/// The direction is the sign of the sin values (direction_sign), applied as they are loaded.
template <class S, class QD, class C, layout Layout, int NB, bool NT>
inline void append_tokens(const append_job<S, QD, C>& j) noexcept {
  const std::int64_t n = j.pairs;
  const float sign = direction_sign(j);
  const bool rotate_k = n > 0;
  // Pages of a power-of-two size (the usual 16) split a slot with a shift, not a division.
  const bool pow2_pages = (j.page_size & (j.page_size - 1)) == 0;
  const int page_shift = pow2_pages ? log2_of_power_of_two(j.page_size) : 0;
  // Streaming calls copy V head h right after K head h (rotate_heads_resident, append_heads)
  // when V has K's shape: four streams in flight instead of two keep DRAM busier, in the fused
  // call (while K's arithmetic runs) and in the plain append alike.
  // Plain (decode-sized) calls do so for 16-bit bit copies: the copy then runs on the load and
  // store ports while K's widen/rotate/narrow keeps the vector units busy. (A converting V copy
  // competes with K for the same units: f32 → bf16 decode measured ~30% slower interleaved.)
  constexpr bool bit_copy_v = std::is_same_v<S, C> && sizeof(S) == 2 && ops::lanes > 1;
  const bool v_with_k =
      (NT || (bit_copy_v && rotate_k)) && j.v.heads == j.k.heads && j.v.head_dim == j.k.head_dim;
  const append_tensor<S, C>* v_in_k = v_with_k ? &j.v : nullptr;
  for (std::int64_t t = j.token_begin; t < j.token_end; ++t) {
    std::int64_t kd = t * j.k.dst_token_stride;
    std::int64_t vd = t * j.v.dst_token_stride;
    bool kv = j.k.heads > 0 || j.v.heads > 0;
    if (j.slots != nullptr) {
      const std::int64_t slot = j.slots[t];
      kv = kv && slot >= 0;
      if (kv) {
        const std::int64_t page = pow2_pages ? slot >> page_shift : slot / j.page_size;
        const std::int64_t offset = slot - page * j.page_size;
        kd = page * j.k.dst_page_stride + offset * j.k.dst_slot_stride;
        vd = page * j.v.dst_page_stride + offset * j.v.dst_slot_stride;
      }
    }
    const float* c = nullptr;
    const float* s = nullptr;
    if (n > 0 && (j.q.heads > 0 || (kv && j.k.heads > 0))) {
      const std::int64_t r =
          j.positions != nullptr ? j.positions[t] - j.row_offset : j.range_row0 + t;
      if (j.inv_freq != nullptr) {
        cos_sin_row(j.inv_freq, n, r, j.attention, j.row, j.row + n);
        c = j.row;
        s = j.row + n;
      } else {
        c = j.cos + r * j.row_stride;
        s = j.sin + r * j.row_stride;
      }
    }
    if constexpr (NB > 0) {
      constexpr bool units = bf16_units<S, Layout>;
      // GPT-J holds each block's duplicated halves (two registers); NeoX, and bf16 NeoX units
      // (two blocks as two registers), one per block.
      constexpr std::size_t R = Layout == layout::gptj ? slots<2 * NB> : slots<NB>;
      typename ops::vec cr[R], sr[R];
      if (c == nullptr) {
        // No Q or K head to rotate (V only): the registers are never read, and are filled only
        // to keep them initialised (filling them for every token compiled to a `rep stos`).
        for (std::size_t b = 0; b < R; ++b) cr[b] = sr[b] = ops::set1(0.0f);
      } else {
        const auto sg = ops::set1(sign);
        ROPESCALE_UNROLL
        for (int b = 0; b < NB; ++b) {
          if constexpr (units) {
            if (b % 2 == 0) {
              load_row_bf16_neox(c + b * ops::lanes, cr[b], cr[b + 1]);
              load_row_bf16_neox(s + b * ops::lanes, sr[b], sr[b + 1]);
              sr[b] = ops::mul(sr[b], sg);
              sr[b + 1] = ops::mul(sr[b + 1], sg);
            }
          } else if constexpr (Layout == layout::neox) {
            cr[b] = ops::load(c + b * ops::lanes);
            sr[b] = ops::mul(ops::load(s + b * ops::lanes), sg);
          } else {
            ops::dup_pairs(ops::load(c + b * ops::lanes), cr[2 * b], cr[2 * b + 1]);
            ops::dup_pairs(ops::mul(ops::load(s + b * ops::lanes), sg), sr[2 * b], sr[2 * b + 1]);
          }
        }
      }
      if (j.q.heads > 0) {
        rotate_heads_resident<S, QD, Layout, NB, false>(j.q, j.q.src + t * j.q.src_token_stride,
                                                        j.q.dst + t * j.q.dst_token_stride, cr, sr);
      }
      if (kv && j.k.heads > 0) {
        rotate_heads_resident<S, C, Layout, NB, NT>(
            j.k, j.k.src + t * j.k.src_token_stride, j.k.dst + kd, cr, sr, v_in_k,
            j.v.src + t * j.v.src_token_stride, j.v.dst + vd);
      }
    } else {
      if (j.q.heads > 0) {
        append_heads<S, QD, Layout, false>(j.q, j.q.src + t * j.q.src_token_stride,
                                           j.q.dst + t * j.q.dst_token_stride, c, s, sign, n);
      }
      if (kv && j.k.heads > 0) {
        append_heads<S, C, Layout, NT>(j.k, j.k.src + t * j.k.src_token_stride, j.k.dst + kd, c, s,
                                       sign, rotate_k ? n : 0, v_in_k,
                                       j.v.src + t * j.v.src_token_stride, j.v.dst + vd);
      }
    }
    // (V went with K's heads when v_in_k is set: equal head counts, so K had heads too.)
    if (kv && j.v.heads > 0 && v_in_k == nullptr) {
      append_heads<S, C, Layout, NT>(j.v, j.v.src + t * j.v.src_token_stride, j.v.dst + vd, nullptr,
                                     nullptr, 1.0f, 0);
    }
  }
  if constexpr (NT) end_streaming();
}

/// Whether a call stores K and V into the caches non-temporally (ops::stream). Only for a
/// large call — one writing at least kv_stream_min_bytes() of K and V, a prefill chunk, whose
/// lines would leave the last-level cache before attention reads them anyway — where skipping the
/// read for ownership of every written line saves a third of the floor's traffic; kv_append
/// (the floor) and rope_kv_append take the same decision. Every vector store must land aligned
/// to its width, up to a whole register (16-bit bit copies and bf16 groups store a register of
/// 16-bit values): cache data aligned to a register, page, slot and head strides in whole
/// registers of C, the rotated half (pairs) in whole vectors.
template <class S, class QD, class C>
inline bool append_streams(const append_job<S, QD, C>& j) noexcept {
  if constexpr (!has_stream_stores<ops>::value) {
    static_cast<void>(j);
    return false;
  } else {
    constexpr std::int64_t L = ops::lanes;
    constexpr std::int64_t E = L * static_cast<std::int64_t>(sizeof(float) / sizeof(C));
    if (j.slots == nullptr || j.pairs % L != 0) return false;
    const auto aligned = [](const append_tensor<S, C>& a) {
      return a.heads == 0 ||
             (reinterpret_cast<std::uintptr_t>(a.dst) % (std::uintptr_t{L} * sizeof(float)) == 0 &&
              a.dst_page_stride % E == 0 && a.dst_slot_stride % E == 0 &&
              a.dst_head_stride % E == 0);
    };
    const std::int64_t m = kv_stream_min_bytes();
    const auto size = static_cast<std::int64_t>(sizeof(C));
    const std::int64_t tokens = j.token_end - j.token_begin;
    const std::int64_t kb = tokens * j.k.heads * j.k.head_dim * size;  // each fits (checked views)
    const std::int64_t vb = tokens * j.v.heads * j.v.head_dim * size;
    return (kb >= m || vb >= m - kb) && aligned(j.k) && aligned(j.v);
  }
}

/// Picks the token loop once per call: the register-resident row for rows of 2 or 4 whole vector
/// blocks that fit the row registers (64- and 128-dim heads on AVX-512, 64-dim NeoX on AVX2;
/// instantiating every block count up to the register limit doubled the compile time of a TU
/// using rope_kv_append), not for bf16 GPT-J sources (their in-place formula is
/// gptj_unit_bf16's); else the per-block reloading loop.
template <class S, class QD, class C, layout Layout, bool NT>
inline void append_tokens_for(const append_job<S, QD, C>& j) noexcept {
  if constexpr (ops::lanes > 1 && Layout != layout::deinterleaved &&
                !(Layout == layout::gptj && std::is_same_v<S, bf16> && ops::has_bf16_split)) {
    constexpr int K = Layout == layout::neox ? ops::row_regs / 2 : ops::row_regs / 4;
    if (j.pairs == 4 * ops::lanes && K >= 4) {
      append_tokens<S, QD, C, Layout, (K >= 4 ? 4 : 0), NT>(j);
      return;
    }
    if (j.pairs == 2 * ops::lanes && K >= 2) {
      append_tokens<S, QD, C, Layout, (K >= 2 ? 2 : 0), NT>(j);
      return;
    }
  }
  append_tokens<S, QD, C, Layout, 0, NT>(j);
}

/// Runs a validated append job (out-of-place rotation, fused KV append or plain KV append).
/// Types: S float with QD, C in {float, bf16, f16}; or S == QD == C (bf16, f16).
template <class S, class QD, class C>
inline void append(const append_job<S, QD, C>& j) noexcept {
  const bool nt = append_streams(j);
  with_layout(j, [&](auto lay) {
    constexpr layout Layout = decltype(lay)::value;
    if (nt) {
      append_tokens_for<S, QD, C, Layout, has_stream_stores<ops>::value>(j);
    } else {
      append_tokens_for<S, QD, C, Layout, false>(j);
    }
  });
}

// SPDX-License-Identifier: Apache-2.0
// Tests for kv_append.hpp: out-of-place rotation with conversion and the fused paged KV append.
// The contract is "the same bits as rotating in place with the same ISA, then converting with
// round-to-nearest-even", so every case is compared with apply_rotary (or
// apply_rotary_on_the_fly) run in place on a copy of the source with the ISA forced, followed by
// a conversion written here independently of the library (nearest value found by binary search
// over every finite value of the format, ties to the even encoding). Every ISA is a type
// parameter and skips visibly on a CPU without it. Buffers carry guard zones; caches start
// filled with a canary byte, so every slot the call must not write is checked byte for byte, and
// every rejected call must leave the caches (and Q) byte-identical.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ropescale/apply.hpp"
#include "ropescale/detail/angle.hpp"
#include "ropescale/kv_append.hpp"
#include "ropescale/on_the_fly.hpp"
#include "ropescale/types.hpp"
#include "support/guarded_buffer.hpp"
#include "support/rotate_reference.hpp"

namespace {

using ropescale::bf16;
using ropescale::cos_sin_view;
using ropescale::f16;
using ropescale::isa;
using ropescale::layout;
using ropescale::paged_cache_view;
using ropescale::slot_mapping;
using ropescale::tensor_view;
using ropescale::token_positions;
namespace ref = ropescale_test::reference;
using ropescale_test::guarded_buffer;

template <isa I>
struct isa_tag {
  static constexpr isa value = I;
};
struct IsaNames {
  template <class Tag>
  static std::string GetName(int) {
    return ropescale::name(Tag::value);
  }
};
using AllIsas = ::testing::Types<isa_tag<isa::scalar>, isa_tag<isa::avx2>, isa_tag<isa::avx512>,
                                 isa_tag<isa::avx512bf16>, isa_tag<isa::neon>>;

constexpr unsigned kSeed = 20261203u;

// ---- independent round-to-nearest-even conversion ----

/// Every non-negative finite value of a 16-bit format, ascending, with its bits.
struct format_table {
  std::vector<double> value;
  std::vector<std::uint16_t> bits;
  std::uint16_t inf_bits = 0;
};

template <class D>
const format_table& table_of() {
  static const format_table t = [] {
    format_table f;
    const bool is_bf16 = std::is_same_v<D, bf16>;
    f.inf_bits = is_bf16 ? 0x7F80 : 0x7C00;
    for (std::uint32_t b = 0; b < f.inf_bits; ++b) {
      const auto h = static_cast<std::uint16_t>(b);
      f.value.push_back(is_bf16 ? ref::bf16_bits_to_double(h) : ref::half_bits_to_double(h));
      f.bits.push_back(h);
    }
    return f;
  }();
  return t;
}

/// x (finite, as produced by the kernels here) rounded to the nearest value of D, ties to even;
/// beyond the largest finite value by half an ulp or more: infinity.
template <class D>
std::uint16_t rne_bits(double x) {
  const format_table& t = table_of<D>();
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  const std::size_t n = t.value.size();
  const double top = t.value[n - 1];
  const double half_ulp = (top - t.value[n - 2]) / 2;
  if (a >= top + half_ulp) return static_cast<std::uint16_t>(sign | t.inf_bits);
  if (a >= top) return static_cast<std::uint16_t>(sign | t.bits[n - 1]);
  const auto it = std::lower_bound(t.value.begin(), t.value.end(), a);
  const auto hi = static_cast<std::size_t>(it - t.value.begin());
  if (t.value[hi] == a) return static_cast<std::uint16_t>(sign | t.bits[hi]);
  const std::size_t lo = hi - 1;
  const double dl = a - t.value[lo], dh = t.value[hi] - a;
  const std::size_t pick = dl < dh ? lo : dh < dl ? hi : ((t.bits[lo] & 1) == 0 ? lo : hi);
  return static_cast<std::uint16_t>(sign | t.bits[pick]);
}

double to_double(float v) { return v; }
double to_double(bf16 v) { return ref::bf16_bits_to_double(v.bits); }
double to_double(f16 v) { return ref::half_bits_to_double(v.bits); }

/// The expected destination value of a source value: a bit copy for equal types, else RNE.
template <class D, class S>
D expect_converted(S x) {
  if constexpr (std::is_same_v<S, D>) {
    return x;
  } else if constexpr (std::is_same_v<D, float>) {
    return static_cast<float>(to_double(x));
  } else {
    return D::from_bits(rne_bits<D>(to_double(x)));
  }
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

template <class T>
T from_float(float f) {
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else {
    return T::from_bits(rne_bits<T>(f));
  }
}

template <class T>
const char* dtype_name() {
  return std::is_same_v<T, float> ? "f32" : std::is_same_v<T, bf16> ? "bf16" : "f16";
}

// ---- tables ----

struct test_rows {
  std::vector<float> data;
  std::vector<double> omega;
  std::int64_t n = 0, first = 0, rows = 0;
  cos_sin_view view() const {
    return cos_sin_view{data.data(), data.data() + n, 2 * n, n, first, rows};
  }
  ropescale::frequency_table freq() const {
    ropescale::frequency_table f;
    f.inv_freq = omega;
    return f;
  }
};

test_rows make_rows(std::int64_t rotary_dim, std::int64_t first, std::int64_t rows) {
  test_rows t;
  t.omega = ref::default_inv_freq(rotary_dim, 10000.0);
  t.n = rotary_dim / 2;
  t.first = first;
  t.rows = rows;
  t.data.resize(static_cast<std::size_t>(2 * t.n * rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < t.n; ++i) {
      float c = 0, s = 0;
      ropescale::detail::accurate_cos_sin(first + r, t.omega[static_cast<std::size_t>(i)], 1.0, c,
                                          s);
      t.data[static_cast<std::size_t>(r * 2 * t.n + i)] = c;
      t.data[static_cast<std::size_t>(r * 2 * t.n + t.n + i)] = s;
    }
  }
  return t;
}

std::size_t idx(std::int64_t i) { return static_cast<std::size_t>(i); }

/// A strided [tokens][heads][head_dim] tensor in a guarded buffer, gaps between heads and tokens
/// filled with a canary value.
template <class T>
struct strided {
  std::int64_t tokens, heads, dim, hs, ts;
  guarded_buffer<T> buf;
  strided(std::int64_t t, std::int64_t h, std::int64_t d, std::int64_t head_gap,
          std::int64_t token_gap, std::size_t offset)
      : tokens(t),
        heads(h),
        dim(d),
        hs(d + head_gap),
        ts(h * (d + head_gap) + token_gap),
        buf(idx(std::max<std::int64_t>(t * (h * (d + head_gap) + token_gap), 1)), offset) {
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = from_float<T>(-7.0f);
  }
  T& at(std::int64_t t, std::int64_t h, std::int64_t c) { return buf[idx(t * ts + h * hs + c)]; }
  tensor_view<T> view() { return tensor_view<T>{buf.data(), tokens, heads, dim, ts, hs}; }
  void fill_random(std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t h = 0; h < heads; ++h) {
        for (std::int64_t c = 0; c < dim; ++c) at(t, h, c) = from_float<T>(u(rng));
      }
    }
  }
};

enum class row_kind { table, on_the_fly };

/// In-place rotation of a copy of `src` with the given ISA: the reference the out-of-place paths
/// must reproduce bit for bit (before conversion).
template <class S>
std::vector<S> rotated_in_place(isa which, strided<S>& src, const test_rows& rows, row_kind kind,
                                token_positions pos, layout lay, std::int64_t rotary_dim,
                                bool inverse) {
  std::vector<S> copy(src.buf.data(), src.buf.data() + src.buf.size());
  tensor_view<S> v = src.view();
  v.data = copy.data();
  ropescale::apply_options opt;
  opt.force_isa = which;
  opt.inverse = inverse;
  if (kind == row_kind::table) {
    ropescale::apply_rotary(v, rows.view(), pos, lay, rotary_dim, opt);
  } else {
    ropescale::apply_rotary_on_the_fly(v, tensor_view<S>{}, rows.freq(), pos, lay, rotary_dim, opt);
  }
  return copy;
}

// ---- out-of-place rotation ----

struct oop_shape {
  std::int64_t tokens, heads, head_dim, rotary_dim;
};

template <class S, class D>
void out_of_place_sweep(isa which) {
  std::mt19937 rng(kSeed);
  const oop_shape shapes[] = {
      {3, 3, 128, 128}, {2, 2, 80, 48}, {1, 1, 256, 256}, {5, 2, 64, 40}, {2, 1, 8, 2}};
  std::int64_t cases = 0;
  for (const oop_shape& sh : shapes) {
    for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
      for (bool inverse : {false, true}) {
        for (row_kind kind : {row_kind::table, row_kind::on_the_fly}) {
          for (bool list : {false, true}) {
            SCOPED_TRACE(std::string(dtype_name<S>()) + "->" + dtype_name<D>() + " " +
                         ropescale::name(lay) + " head_dim " + std::to_string(sh.head_dim) +
                         " rotary " + std::to_string(sh.rotary_dim) + " inverse " +
                         std::to_string(inverse) + (kind == row_kind::table ? " table" : " otf") +
                         (list ? " list" : " range"));
            strided<S> src(sh.tokens, sh.heads, sh.head_dim, 3, 1, 1);
            src.fill_random(rng);
            strided<D> dst(sh.tokens, sh.heads, sh.head_dim, 1, 5, 3);
            const std::vector<D> dst_before(dst.buf.data(), dst.buf.data() + dst.buf.size());
            const std::int64_t start = 100000;
            const test_rows rows = make_rows(sh.rotary_dim, start - 4, sh.tokens + 16);
            std::vector<std::int64_t> plist(idx(sh.tokens));
            for (std::int64_t t = 0; t < sh.tokens; ++t) {
              plist[idx(t)] = start - 4 + static_cast<std::int64_t>(rng() % 12u);
            }
            const token_positions pos = list ? token_positions::list(plist.data(), sh.tokens)
                                             : token_positions::range(start);
            const std::vector<S> want =
                rotated_in_place(which, src, rows, kind, pos, lay, sh.rotary_dim, inverse);
            const std::vector<S> src_before(src.buf.data(), src.buf.data() + src.buf.size());
            ropescale::apply_options opt;
            opt.force_isa = which;
            opt.inverse = inverse;
            const tensor_view<const S> in{src.buf.data(), sh.tokens, sh.heads,
                                          sh.head_dim,    src.ts,    src.hs};
            if (kind == row_kind::table) {
              ropescale::apply_rotary_to(in, dst.view(), rows.view(), pos, lay, sh.rotary_dim, opt);
            } else {
              ropescale::apply_rotary_to(in, dst.view(), rows.freq(), pos, lay, sh.rotary_dim, opt);
            }
            ASSERT_TRUE(dst.buf.guards_intact());
            ASSERT_TRUE(
                std::memcmp(src_before.data(), src.buf.data(), src_before.size() * sizeof(S)) == 0)
                << "the source changed";
            std::vector<char> written(dst.buf.size(), 0);
            for (std::int64_t t = 0; t < sh.tokens; ++t) {
              for (std::int64_t h = 0; h < sh.heads; ++h) {
                for (std::int64_t c = 0; c < sh.head_dim; ++c) {
                  const D expect = expect_converted<D>(want[idx(t * src.ts + h * src.hs + c)]);
                  ASSERT_TRUE(same_bits(dst.at(t, h, c), expect))
                      << "token " << t << " head " << h << " channel " << c << ": got "
                      << to_double(dst.at(t, h, c)) << ", want " << to_double(expect);
                  written[idx(t * dst.ts + h * dst.hs + c)] = 1;
                }
              }
            }
            for (std::size_t i = 0; i < written.size(); ++i) {
              if (!written[i]) {
                ASSERT_TRUE(same_bits(dst.buf[i], dst_before[i])) << "gap " << i;
              }
            }
            ++cases;
          }
        }
      }
    }
  }
  std::printf("[ out-of-place ] %s %s->%s: %lld cases bit-identical to in-place + RNE\n",
              ropescale::name(which), dtype_name<S>(), dtype_name<D>(),
              static_cast<long long>(cases));
}

// ---- fused paged append ----

/// A paged cache in a guarded buffer, filled with a canary byte, plus the test's own address
/// formula (independent of the view's). The data starts `offset` elements past a 64-byte
/// boundary: 1 (the default) leaves every vector store unaligned; 0 aligns the cache as
/// non-temporal stores require (append_streams).
template <class C>
struct test_cache {
  std::int64_t pages, page_size, heads, dim;
  bool head_major;
  guarded_buffer<C> buf;
  test_cache(std::int64_t p, std::int64_t ps, std::int64_t h, std::int64_t d, bool hm,
             std::size_t offset = 1)
      : pages(p),
        page_size(ps),
        heads(h),
        dim(d),
        head_major(hm),
        buf(idx(p * ps * h * d), offset) {
    std::memset(static_cast<void*>(buf.data()), 0x5A, buf.size() * sizeof(C));
  }
  std::int64_t offset(std::int64_t slot, std::int64_t h, std::int64_t c) const {
    const std::int64_t page = slot / page_size, o = slot % page_size;
    return head_major ? ((page * heads + h) * page_size + o) * dim + c
                      : ((page * page_size + o) * heads + h) * dim + c;
  }
  paged_cache_view<C> view() {
    return head_major ? paged_cache_view<C>::head_major(buf.data(), pages, page_size, heads, dim)
                      : paged_cache_view<C>::token_major(buf.data(), pages, page_size, heads, dim);
  }
  std::vector<unsigned char> bytes() const {
    const auto* p = reinterpret_cast<const unsigned char*>(buf.data());
    return std::vector<unsigned char>(p, p + buf.size() * sizeof(C));
  }
};

struct append_case {
  layout lay;
  bool head_major;
  bool q_out;  // Q out of place (into C) instead of in place
  row_kind kind;
  std::int64_t rotary_dim;
  bool aligned_caches;  // caches on a 64-byte boundary (test_cache offset 0), as streaming needs
  std::int64_t v_heads = 2;  // V's heads (K has 2): K's, or another count (V then not with K)
};

/// Whether `which`'s append body stores a valid call's K and V non-temporally (its
/// append_streams on the call's job): rope_kv_append with Q in place and table rows, or
/// kv_append when rows is null.
template <class S, class C>
bool call_streams(isa which, const tensor_view<S>& q, const tensor_view<S>& k,
                  const tensor_view<S>& v, const paged_cache_view<C>& kc,
                  const paged_cache_view<C>& vc, const slot_mapping& sm, const cos_sin_view* rows,
                  token_positions pos, layout lay, std::int64_t rotary_dim) {
  ropescale::apply_options opt;
  opt.force_isa = which;
  ropescale::detail::row_source rs{};
  if (rows != nullptr) rs = ropescale::detail::to_row_source(*rows);
  ropescale::simd::append_job<S, S, C> j;
  if (!ropescale::detail::make_append_job(j, q, static_cast<const tensor_view<S>*>(nullptr), k, v,
                                          &kc, &vc, &sm, rows != nullptr ? &rs : nullptr, pos, lay,
                                          rows != nullptr ? rotary_dim : 0, opt)) {
    ADD_FAILURE() << "call_streams: the call is not valid";
    return false;
  }
  switch (which) {
#if ROPESCALE_COMPILE_AVX2
    case isa::avx2:
      return ropescale::simd::avx2::append_streams(j);
#endif
#if ROPESCALE_COMPILE_AVX512
    case isa::avx512:
      return ropescale::simd::avx512::append_streams(j);
    case isa::avx512bf16:
      return ropescale::simd::avx512bf16::append_streams(j);
#endif
    default:
      return false;
  }
}

/// The documented streaming rule for the sweep's caches (64-byte aligned, 64-channel heads): with
/// the threshold at 0, every ISA with non-temporal stores streams when the rotated half is a
/// whole number of its vectors (8 floats for AVX2, 16 for AVX-512).
bool sweep_should_stream(isa which, std::int64_t rotary_dim) {
  const std::int64_t lanes = which == isa::avx2                                 ? 8
                             : which == isa::avx512 || which == isa::avx512bf16 ? 16
                                                                                : 0;
  return lanes > 0 && ropescale::simd::kv_stream_min_bytes() == 0 && (rotary_dim / 2) % lanes == 0;
}

/// Q (4 heads) and K, V (2 heads, GQA) of 7 tokens, head_dim 64, into 4 pages of 4 slots; two
/// tokens are padding (−1) and the pages are used out of order, so most slots stay untouched.
template <class S, class C>
void append_case_run(isa which, const append_case& ac, std::mt19937& rng) {
  SCOPED_TRACE(std::string(dtype_name<S>()) + "->" + dtype_name<C>() + " " +
               ropescale::name(ac.lay) + (ac.head_major ? " head-major" : " token-major") +
               (ac.q_out ? " q_out" : " q in place") +
               (ac.kind == row_kind::table ? " table" : " otf") + " rotary " +
               std::to_string(ac.rotary_dim) + " v heads " + std::to_string(ac.v_heads));
  const std::int64_t T = 7, HQ = 4, HK = 2, HV = ac.v_heads, D = 64;
  // Packed [q | k | v] rows with one spare element per token.
  const std::int64_t row = (HQ + HK + HV) * D + 1;
  guarded_buffer<S> qkv(idx(T * row), 1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::size_t i = 0; i < qkv.size(); ++i) qkv[i] = from_float<S>(u(rng));
  const tensor_view<S> q{qkv.data(), T, HQ, D, row, D};
  const tensor_view<S> k{qkv.data() + HQ * D, T, HK, D, row, D};
  const tensor_view<S> v{qkv.data() + (HQ + HK) * D, T, HV, D, row, D};
  const std::size_t cache_offset = ac.aligned_caches ? 0 : 1;
  test_cache<C> kc(4, 4, HK, D, ac.head_major, cache_offset),
      vc(4, 4, HV, D, ac.head_major, cache_offset);
  strided<C> qo(T, HQ, D, 2, 0, 0);
  const std::vector<std::int64_t> slots = {13, -1, 2, 7, 8, -1, 0};
  const std::int64_t start = 100000;
  const test_rows rows = make_rows(ac.rotary_dim, start, T);
  const token_positions pos = token_positions::range(start);

  // References: Q and K rotated in place (same ISA) on copies.
  strided<S> qs(T, HQ, D, 0, (HK + HV) * D + 1, 0), ks(T, HK, D, 0, (HQ + HV) * D + 1, 0);
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < HQ; ++h) {
      for (std::int64_t c = 0; c < D; ++c) qs.at(t, h, c) = q.data[t * row + h * D + c];
    }
    for (std::int64_t h = 0; h < HK; ++h) {
      for (std::int64_t c = 0; c < D; ++c) ks.at(t, h, c) = k.data[t * row + h * D + c];
    }
  }
  const std::vector<S> q_want =
      rotated_in_place(which, qs, rows, ac.kind, pos, ac.lay, ac.rotary_dim, false);
  const std::vector<S> k_want =
      rotated_in_place(which, ks, rows, ac.kind, pos, ac.lay, ac.rotary_dim, false);
  const std::vector<S> src_before(qkv.data(), qkv.data() + qkv.size());
  std::vector<unsigned char> k_expect = kc.bytes(), v_expect = vc.bytes();

  ropescale::apply_options opt;
  opt.force_isa = which;
  const slot_mapping sm = slot_mapping::list(slots.data(), T);
  if (ac.aligned_caches) {
    // The streaming cases must take the streaming path (or the sweep tests nothing new).
    const cos_sin_view table = rows.view();
    ASSERT_EQ(
        call_streams(which, q, k, v, kc.view(), vc.view(), sm, &table, pos, ac.lay, ac.rotary_dim),
        sweep_should_stream(which, ac.rotary_dim));
  }
  if (ac.q_out) {
    if (ac.kind == row_kind::table) {
      ropescale::rope_kv_append(q, qo.view(), k, v, kc.view(), vc.view(), sm, rows.view(), pos,
                                ac.lay, ac.rotary_dim, opt);
    } else {
      ropescale::rope_kv_append(q, qo.view(), k, v, kc.view(), vc.view(), sm, rows.freq(), pos,
                                ac.lay, ac.rotary_dim, opt);
    }
  } else {
    if (ac.kind == row_kind::table) {
      ropescale::rope_kv_append(q, k, v, kc.view(), vc.view(), sm, rows.view(), pos, ac.lay,
                                ac.rotary_dim, opt);
    } else {
      ropescale::rope_kv_append(q, k, v, kc.view(), vc.view(), sm, rows.freq(), pos, ac.lay,
                                ac.rotary_dim, opt);
    }
  }
  ASSERT_TRUE(qkv.guards_intact());
  ASSERT_TRUE(kc.buf.guards_intact());
  ASSERT_TRUE(vc.buf.guards_intact());
  ASSERT_TRUE(qo.buf.guards_intact());
  for (std::int64_t t = 0; t < T; ++t) {
    for (std::int64_t h = 0; h < HQ; ++h) {
      for (std::int64_t c = 0; c < D; ++c) {
        const S want = q_want[idx(t * qs.ts + h * qs.hs + c)];
        if (ac.q_out) {
          ASSERT_TRUE(same_bits(qo.at(t, h, c), expect_converted<C>(want)))
              << "q_out token " << t << " head " << h << " channel " << c;
        } else {
          ASSERT_TRUE(same_bits(q.data[t * row + h * D + c], want))
              << "q token " << t << " head " << h << " channel " << c;
        }
      }
    }
    const std::int64_t slot = slots[idx(t)];
    for (std::int64_t h = 0; h < HK; ++h) {
      for (std::int64_t c = 0; c < D; ++c) {
        // K and V sources are never written.
        ASSERT_TRUE(
            same_bits(k.data[t * row + h * D + c], src_before[idx(t * row + HQ * D + h * D + c)]));
        if (slot < 0) continue;
        const C kw = expect_converted<C>(k_want[idx(t * ks.ts + h * ks.hs + c)]);
        std::memcpy(k_expect.data() + idx(kc.offset(slot, h, c)) * sizeof(C), &kw, sizeof(C));
      }
    }
    for (std::int64_t h = 0; h < HV; ++h) {
      for (std::int64_t c = 0; c < D; ++c) {
        ASSERT_TRUE(same_bits(v.data[t * row + h * D + c],
                              src_before[idx(t * row + (HQ + HK) * D + h * D + c)]));
        if (slot < 0) continue;
        const C vw = expect_converted<C>(v.data[t * row + h * D + c]);
        std::memcpy(v_expect.data() + idx(vc.offset(slot, h, c)) * sizeof(C), &vw, sizeof(C));
      }
    }
  }
  const std::vector<unsigned char> k_got = kc.bytes(), v_got = vc.bytes();
  ASSERT_EQ(k_got.size(), k_expect.size());
  ASSERT_EQ(v_got.size(), v_expect.size());
  for (std::size_t i = 0; i < k_got.size(); ++i) {
    ASSERT_EQ(k_got[i], k_expect[i])
        << "k_cache byte " << i << " (element " << i / sizeof(C) << ")";
  }
  for (std::size_t i = 0; i < v_got.size(); ++i) {
    ASSERT_EQ(v_got[i], v_expect[i])
        << "v_cache byte " << i << " (element " << i / sizeof(C) << ")";
  }
  if (!ac.q_out) return;
  // The same append without rotation (kv_append): K is then copied like V.
  test_cache<C> kc2(4, 4, HK, D, ac.head_major, cache_offset),
      vc2(4, 4, HV, D, ac.head_major, cache_offset);
  ropescale::kv_append(k, v, kc2.view(), vc2.view(), sm, opt);
  std::vector<unsigned char> k2_expect = kc2.bytes();
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t slot = slots[idx(t)];
    if (slot < 0) continue;
    for (std::int64_t h = 0; h < HK; ++h) {
      for (std::int64_t c = 0; c < D; ++c) {
        const C kw = expect_converted<C>(k.data[t * row + h * D + c]);
        std::memcpy(k2_expect.data() + idx(kc2.offset(slot, h, c)) * sizeof(C), &kw, sizeof(C));
      }
    }
  }
  ASSERT_TRUE(kc2.bytes() == k2_expect) << "kv_append K";
  ASSERT_TRUE(vc2.bytes() == v_expect) << "kv_append V";
}

template <class S, class C>
void append_sweep(isa which, bool aligned_caches = false) {
  std::mt19937 rng(kSeed + 1);
  int cases = 0;
  for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
    for (bool head_major : {false, true}) {
      for (bool q_out : {false, true}) {
        for (row_kind kind : {row_kind::table, row_kind::on_the_fly}) {
          for (std::int64_t rd : {std::int64_t{64}, std::int64_t{36}}) {
            append_case_run<S, C>(
                which, append_case{lay, head_major, q_out, kind, rd, aligned_caches}, rng);
            if (::testing::Test::HasFatalFailure()) return;
            ++cases;
          }
        }
      }
    }
    // V with more heads than K: K's heads rotated, V's copied on their own (not with K's).
    for (bool q_out : {false, true}) {
      append_case_run<S, C>(
          which, append_case{lay, false, q_out, row_kind::table, 64, aligned_caches, 3}, rng);
      if (::testing::Test::HasFatalFailure()) return;
      ++cases;
    }
  }
  std::printf("[ kv append    ] %s %s->%s: %d cases bit-identical, untouched slots untouched\n",
              ropescale::name(which), dtype_name<S>(), dtype_name<C>(), cases);
}

template <class Tag>
class KvAppendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ropescale::available(Tag::value)) {
      GTEST_SKIP() << "CPU or build lacks " << ropescale::name(Tag::value);
    }
  }
  static constexpr isa which = Tag::value;
};
TYPED_TEST_SUITE(KvAppendTest, AllIsas, IsaNames);

TYPED_TEST(KvAppendTest, OutOfPlaceF32ToF32) {
  out_of_place_sweep<float, float>(TestFixture::which);
}
TYPED_TEST(KvAppendTest, OutOfPlaceF32ToBf16) {
  out_of_place_sweep<float, bf16>(TestFixture::which);
}
TYPED_TEST(KvAppendTest, OutOfPlaceF32ToF16) { out_of_place_sweep<float, f16>(TestFixture::which); }
TYPED_TEST(KvAppendTest, OutOfPlaceBf16ToBf16) {
  out_of_place_sweep<bf16, bf16>(TestFixture::which);
}
TYPED_TEST(KvAppendTest, OutOfPlaceF16ToF16) { out_of_place_sweep<f16, f16>(TestFixture::which); }

TYPED_TEST(KvAppendTest, FusedF32ToF32) { append_sweep<float, float>(TestFixture::which); }
TYPED_TEST(KvAppendTest, FusedF32ToBf16) { append_sweep<float, bf16>(TestFixture::which); }
TYPED_TEST(KvAppendTest, FusedF32ToF16) { append_sweep<float, f16>(TestFixture::which); }
TYPED_TEST(KvAppendTest, FusedBf16ToBf16) { append_sweep<bf16, bf16>(TestFixture::which); }
TYPED_TEST(KvAppendTest, FusedF16ToF16) { append_sweep<f16, f16>(TestFixture::which); }

/// Sets the streaming threshold to 0 for a scope (every aligned call streams), then restores it.
struct every_call_streams {
  std::int64_t saved = ropescale::simd::kv_stream_min_bytes();
  every_call_streams() { ropescale::simd::set_kv_stream_min_bytes(0); }
  ~every_call_streams() { ropescale::simd::set_kv_stream_min_bytes(saved); }
  every_call_streams(const every_call_streams&) = delete;
  every_call_streams& operator=(const every_call_streams&) = delete;
};

/// Calls that write at least simd::kv_stream_min_bytes() of K and V store them non-temporally
/// (simd/append-inl.hpp, append_streams); with the threshold at 0 and 64-byte aligned caches,
/// every sweep case with rotary_dim 64 takes that path (checked) for the fused call and
/// kv_append, and must store the same bits.
TYPED_TEST(KvAppendTest, StreamingStoresSameBits) {
  const every_call_streams zero;
  append_sweep<float, float>(TestFixture::which, true);
  append_sweep<float, bf16>(TestFixture::which, true);
  append_sweep<float, f16>(TestFixture::which, true);
  append_sweep<bf16, bf16>(TestFixture::which, true);
  append_sweep<f16, f16>(TestFixture::which, true);
}

/// Out-of-place into the source itself is the in-place rotation.
/// The bf16 bits to_bf16 gives for any f32 (independent of the library): a NaN keeps its sign
/// and upper payload and becomes quiet; everything else rounds to nearest, ties to even.
std::uint16_t bf16_expected(float x) {
  std::uint32_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  if (std::isnan(x)) return static_cast<std::uint16_t>((u >> 16) | 0x40);
  if (std::isinf(x)) return static_cast<std::uint16_t>((u >> 16) & 0xFF80);
  return rne_bits<bf16>(static_cast<double>(x));
}

float f32_of_bits(std::uint32_t u) {
  float x = 0;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// f32 -> bf16 caches with special values in K and V: subnormals (which vcvtne2ps2bf16 would
// flush: the grouped narrowing must notice and round them exactly), the largest subnormal (rounds
// up to the smallest normal), ties, values that round to infinity, infinities, quiet and
// signalling NaNs, signed zeros. V must hold bf16_expected(v); K the in-place rotation with the
// same ISA, then bf16_expected. Plain and streaming stores; token-major 128-dim heads (the
// register-resident loop of AVX-512) and a 40-dim head (vector body plus tail).
TYPED_TEST(KvAppendTest, SpecialValuesToBf16) {
  const std::uint32_t specials[] = {0x00000001u, 0x80000001u, 0x007FFFFFu, 0x00400000u, 0x807FFFFFu,
                                    0x00000000u, 0x80000000u, 0x3F808000u, 0x3F818000u, 0x7F7FFFFFu,
                                    0xFF7FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00001u, 0x7F800001u,
                                    0xFFA12345u, 0x0DB1A2C3u, 0x00012345u};
  const std::int64_t n_special = static_cast<std::int64_t>(sizeof specials / sizeof specials[0]);
  for (const std::int64_t D : {std::int64_t{128}, std::int64_t{40}}) {
    for (const bool streaming : {false, true}) {
      SCOPED_TRACE("head_dim " + std::to_string(D) + (streaming ? " streaming" : " plain"));
      const std::int64_t saved = ropescale::simd::kv_stream_min_bytes();
      ropescale::simd::set_kv_stream_min_bytes(streaming ? 0 : saved);
      const std::int64_t T = 3, H = 2;
      std::mt19937 rng(kSeed + 11);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      strided<float> k(T, H, D, 0, 0, 0), v(T, H, D, 0, 0, 0);
      std::int64_t next = 0;
      for (std::int64_t t = 0; t < T; ++t) {
        for (std::int64_t h = 0; h < H; ++h) {
          for (std::int64_t c = 0; c < D; ++c) {
            // every 7th element special (so most 32-value groups hold one), else random; K's
            // subnormals are scaled so the rotation keeps them subnormal.
            const bool special = (t * H * D + h * D + c) % 7 == 3;
            const float x = special ? f32_of_bits(specials[next++ % n_special]) : u(rng);
            v.at(t, h, c) = x;
            k.at(t, h, c) = special ? x : u(rng) * 1e-39f;
          }
        }
      }
      const test_rows rows = make_rows(D, 50, T);
      const std::vector<std::int64_t> slots = {5, -1, 2};
      const std::size_t offset = streaming ? 0 : 1;
      test_cache<bf16> kc(2, 4, H, D, false, offset), vc(2, 4, H, D, false, offset);
      ropescale::apply_options opt;
      opt.force_isa = TestFixture::which;
      ropescale::rope_kv_append(tensor_view<float>{}, k.view(), v.view(), kc.view(), vc.view(),
                                slot_mapping::list(slots.data(), T), rows.view(),
                                token_positions::range(50), layout::neox, D, opt);
      const std::vector<float> k_rot =
          rotated_in_place(TestFixture::which, k, rows, row_kind::table, token_positions::range(50),
                           layout::neox, D, false);
      ropescale::simd::set_kv_stream_min_bytes(saved);
      for (std::int64_t t = 0; t < T; ++t) {
        const std::int64_t slot = slots[idx(t)];
        if (slot < 0) continue;
        for (std::int64_t h = 0; h < H; ++h) {
          for (std::int64_t c = 0; c < D; ++c) {
            const std::uint16_t want_v = bf16_expected(v.at(t, h, c));
            const std::uint16_t want_k = bf16_expected(k_rot[idx(t * k.ts + h * k.hs + c)]);
            ASSERT_EQ(vc.buf[idx(vc.offset(slot, h, c))].bits, want_v)
                << "v token " << t << " head " << h << " channel " << c;
            ASSERT_EQ(kc.buf[idx(kc.offset(slot, h, c))].bits, want_k)
                << "k token " << t << " head " << h << " channel " << c;
          }
        }
      }
      // The same V through kv_append (the floor's copy).
      test_cache<bf16> vc2(2, 4, H, D, false, offset);
      ropescale::kv_append(tensor_view<float>{}, v.view(), kc.view(), vc2.view(),
                           slot_mapping::list(slots.data(), T), opt);
      EXPECT_TRUE(vc2.bytes() == vc.bytes());
    }
  }
}

/// Streaming 16-bit caches store bit copies a whole register at a time (ops::stream_bits), the
/// rest of a head with memcpy: heads of 80 channels in slots whose heads are padded to 96 (so
/// each head ends in a partial register), rotary_dim 64, and values whose bits a widen/narrow
/// round trip would change (signalling NaNs, a NaN payload) or that a flushing narrowing would
/// zero (subnormals). K must hold the in-place rotation's bits over [0, 64) and K's own bits
/// over [64, 80), V its own bits; padding channels and unused slots keep the canary. With the
/// threshold at 0, fused and plain calls alike; the call is checked to stream.
template <class T>
void streamed_sixteen_bit_run(isa which) {
  constexpr std::int64_t tokens = 5, heads = 2, dim = 80, padded = 96, page_size = 4, pages = 2;
  constexpr std::int64_t rotary_dim = 64;
  std::mt19937 rng(kSeed + 21);
  strided<T> k(tokens, heads, dim, 0, 0, 0), v(tokens, heads, dim, 0, 0, 0);
  k.fill_random(rng);
  v.fill_random(rng);
  const std::uint16_t odd_bits[] = {0x7F81u, 0xFF81u, 0x7C01u, 0x7FA5u, 0x0001u, 0x8003u};
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t h = 0; h < heads; ++h) {
      for (std::int64_t c = 0; c < dim; c += 7) {
        v.at(t, h, c).bits = odd_bits[idx((t + h + c) % 6)];
        if (c >= rotary_dim) k.at(t, h, c).bits = odd_bits[idx((t + c) % 6)];
      }
    }
  }
  const std::vector<std::int64_t> slots = {6, -1, 0, 3, 5};
  const test_rows rows = make_rows(rotary_dim, 300, tokens);
  const std::vector<T> k_rot =
      rotated_in_place(which, k, rows, row_kind::table, token_positions::range(300), layout::neox,
                       rotary_dim, false);
  const std::int64_t cache_elems = pages * page_size * heads * padded;
  for (const bool fused : {true, false}) {
    SCOPED_TRACE(fused ? "rope_kv_append" : "kv_append");
    guarded_buffer<T> kbuf(idx(cache_elems), 0), vbuf(idx(cache_elems), 0);
    std::memset(static_cast<void*>(kbuf.data()), 0x5A, kbuf.size() * sizeof(T));
    std::memset(static_cast<void*>(vbuf.data()), 0x5A, vbuf.size() * sizeof(T));
    const paged_cache_view<T> kc{kbuf.data(),    pages, page_size,
                                 heads,          dim,   page_size * heads * padded,
                                 heads * padded, padded};
    const paged_cache_view<T> vc{vbuf.data(),    pages, page_size,
                                 heads,          dim,   page_size * heads * padded,
                                 heads * padded, padded};
    const slot_mapping sm = slot_mapping::list(slots.data(), tokens);
    ropescale::apply_options opt;
    opt.force_isa = which;
    const cos_sin_view table = rows.view();
    ASSERT_EQ(call_streams(which, tensor_view<T>{}, k.view(), v.view(), kc, vc, sm,
                           fused ? &table : nullptr, token_positions::range(300), layout::neox,
                           rotary_dim),
              sweep_should_stream(which, rotary_dim));
    if (fused) {
      ropescale::rope_kv_append(tensor_view<T>{}, k.view(), v.view(), kc, vc, sm, rows.view(),
                                token_positions::range(300), layout::neox, rotary_dim, opt);
    } else {
      ropescale::kv_append(k.view(), v.view(), kc, vc, sm, opt);
    }
    ASSERT_TRUE(kbuf.guards_intact());
    ASSERT_TRUE(vbuf.guards_intact());
    std::vector<std::uint16_t> k_want(idx(cache_elems), 0x5A5Au), v_want(idx(cache_elems), 0x5A5Au);
    for (std::int64_t t = 0; t < tokens; ++t) {
      const std::int64_t slot = slots[idx(t)];
      if (slot < 0) continue;
      for (std::int64_t h = 0; h < heads; ++h) {
        for (std::int64_t c = 0; c < dim; ++c) {
          const std::int64_t at = slot * heads * padded + h * padded + c;  // pages are in order
          k_want[idx(at)] = fused && c < rotary_dim ? k_rot[idx(t * k.ts + h * k.hs + c)].bits
                                                    : k.at(t, h, c).bits;
          v_want[idx(at)] = v.at(t, h, c).bits;
        }
      }
    }
    for (std::int64_t i = 0; i < cache_elems; ++i) {
      ASSERT_EQ(kbuf[idx(i)].bits, k_want[idx(i)]) << "k_cache element " << i;
      ASSERT_EQ(vbuf[idx(i)].bits, v_want[idx(i)]) << "v_cache element " << i;
    }
  }
}

TYPED_TEST(KvAppendTest, StreamedSixteenBitCopiesKeepBits) {
  const every_call_streams zero;
  streamed_sixteen_bit_run<bf16>(TestFixture::which);
  streamed_sixteen_bit_run<f16>(TestFixture::which);
}

TYPED_TEST(KvAppendTest, DestinationEqualSourceIsInPlace) {
  std::mt19937 rng(kSeed + 2);
  for (layout lay : {layout::neox, layout::gptj, layout::deinterleaved}) {
    strided<float> x(3, 2, 96, 0, 0, 0);
    x.fill_random(rng);
    const test_rows rows = make_rows(96, 5, 3);
    const std::vector<float> want = rotated_in_place(TestFixture::which, x, rows, row_kind::table,
                                                     token_positions::range(5), lay, 96, false);
    ropescale::apply_options opt;
    opt.force_isa = TestFixture::which;
    ropescale::apply_rotary_to(x.view(), x.view(), rows.view(), token_positions::range(5), lay, 96,
                               opt);
    ASSERT_TRUE(std::memcmp(want.data(), x.buf.data(), want.size() * sizeof(float)) == 0)
        << ropescale::name(lay);
  }
}

// ---- behaviour that does not depend on the ISA ----

struct small_setup {
  static constexpr std::int64_t T = 4, H = 2, D = 16;
  std::vector<float> q = std::vector<float>(T * H * D), k = q, v = q;
  test_cache<bf16> kc{2, 4, H, D, false};
  test_cache<bf16> vc{2, 4, H, D, false};
  std::vector<std::int64_t> slots = {3, 3, -1, 5};
  test_rows rows = make_rows(D, 10, 8);
  small_setup() {
    std::mt19937 rng(kSeed + 3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto* b : {&q, &k, &v}) {
      for (float& x : *b) x = u(rng);
    }
  }
};

TEST(KvAppend, DuplicateSlotsKeepTheLaterToken) {
  small_setup s;
  ropescale::kv_append(ropescale::dense_view(s.k.data(), s.T, s.H, s.D),
                       ropescale::dense_view(s.v.data(), s.T, s.H, s.D), s.kc.view(), s.vc.view(),
                       slot_mapping::list(s.slots.data(), s.T));
  // Tokens 0 and 1 both name slot 3: token 1's values are stored.
  for (std::int64_t h = 0; h < s.H; ++h) {
    for (std::int64_t c = 0; c < s.D; ++c) {
      const float want = s.v[idx((1 * s.H + h) * s.D + c)];
      EXPECT_EQ(s.vc.buf[idx(s.vc.offset(3, h, c))].bits, rne_bits<bf16>(want));
    }
  }
}

TEST(KvAppend, TokenRangesOnThreadsEqualOneCall) {
  const std::int64_t T = 64, HQ = 8, HK = 2, D = 128;
  std::mt19937 rng(kSeed + 4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> q(idx(T * HQ * D)), k(idx(T * HK * D)), v(idx(T * HK * D));
  for (auto* b : {&q, &k, &v}) {
    for (float& x : *b) x = u(rng);
  }
  std::vector<std::int64_t> slots(idx(T));
  std::iota(slots.begin(), slots.end(), 0);
  std::shuffle(slots.begin(), slots.end(), rng);
  const test_rows rows = make_rows(D, 1000, T);
  auto run = [&](std::vector<float>& qq, test_cache<bf16>& kc, test_cache<bf16>& vc, std::int64_t b,
                 std::int64_t e) {
    ropescale::apply_options opt;
    opt.token_begin = b;
    opt.token_end = e;
    ropescale::rope_kv_append(ropescale::dense_view(qq.data(), T, HQ, D),
                              ropescale::dense_view(k.data(), T, HK, D),
                              ropescale::dense_view(v.data(), T, HK, D), kc.view(), vc.view(),
                              slot_mapping::list(slots.data(), T), rows.view(),
                              token_positions::range(1000), layout::neox, D, opt);
  };
  std::vector<float> q1 = q, q2 = q;
  test_cache<bf16> k1(8, 16, HK, D, true), v1(8, 16, HK, D, true);
  test_cache<bf16> k2(8, 16, HK, D, true), v2(8, 16, HK, D, true);
  run(q1, k1, v1, 0, -1);
  std::thread a([&] { run(q2, k2, v2, 0, 29); });
  std::thread b([&] { run(q2, k2, v2, 29, T); });
  a.join();
  b.join();
  EXPECT_TRUE(q1 == q2);
  EXPECT_TRUE(k1.bytes() == k2.bytes());
  EXPECT_TRUE(v1.bytes() == v2.bytes());
}

/// One rejected call: the key, a fragment of the message, and every cache byte and Q unchanged.
struct bad_row {
  const char* what;
  const char* key;
  const char* fragment;
  void (*mutate)(small_setup&, paged_cache_view<bf16>&, paged_cache_view<bf16>&,
                 tensor_view<float>&, tensor_view<float>&, tensor_view<float>&, slot_mapping&,
                 cos_sin_view&, std::int64_t&, ropescale::apply_options&);
};

TEST(KvAppend, BadInputLeavesEveryByte) {
  using K = paged_cache_view<bf16>;
  using V = tensor_view<float>;
  using O = ropescale::apply_options;
  const bad_row rows[] = {
      {"slot past the cache", "slot_mapping[3]", "must be -1 (padding) or a slot in [0, 8)",
       [](small_setup& s, K&, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         s.slots[3] = 8;
       }},
      {"slot below -1", "slot_mapping[0]", "got -2",
       [](small_setup& s, K&, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         s.slots[0] = -2;
       }},
      {"slot count", "slot_mapping.count", "must equal the token count (4), got 3",
       [](small_setup&, K&, K&, V&, V&, V&, slot_mapping& m, cos_sin_view&, std::int64_t&, O&) {
         m.count = 3;
       }},
      {"null slots", "slot_mapping.values", "must not be null",
       [](small_setup&, K&, K&, V&, V&, V&, slot_mapping& m, cos_sin_view&, std::int64_t&, O&) {
         m.values = nullptr;
       }},
      {"v tokens", "v.tokens", "must equal q.tokens (4), got 3",
       [](small_setup&, K&, K&, V&, V&, V& v, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         v.tokens = 3;
       }},
      {"k cache heads", "k_cache.heads", "must equal k.heads (2), got 1",
       [](small_setup&, K& kc, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         kc.heads = 1;
       }},
      {"v cache head_dim", "v_cache.head_dim", "must equal v.head_dim (16), got 32",
       [](small_setup&, K&, K& vc, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         vc.head_dim = 32;
       }},
      {"page size mismatch", "v_cache.page_size", "must equal k_cache.page_size (4), got 2",
       [](small_setup&, K&, K& vc, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         vc.page_size = 2;
         vc.page_stride = 2 * vc.slot_stride;
       }},
      {"page size 0", "k_cache.page_size", "must be >= 1, got 0",
       [](small_setup&, K& kc, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         kc.page_size = 0;
       }},
      {"negative pages", "k_cache.pages", "must be >= 0, got -1",
       [](small_setup&, K& kc, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         kc.pages = -1;
       }},
      {"overlapping slots", "k_cache.slot_stride", "strides must not overlap",
       [](small_setup&, K& kc, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         kc.slot_stride = 24;  // < heads · head_dim = 32
       }},
      {"negative stride", "v_cache.head_stride", "must be >= 0, got -16",
       [](small_setup&, K&, K& vc, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         vc.head_stride = -16;
       }},
      {"pages overflow", "k_cache.pages", "overflows int64",
       [](small_setup&, K& kc, K& vc, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         kc.pages = vc.pages = std::int64_t{1} << 62;
       }},
      {"extent overflow", "k_cache.page_stride", "span more elements than an address offset",
       [](small_setup&, K& kc, K& vc, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         kc.pages = vc.pages = 1 << 20;
         kc.page_stride = std::int64_t{1} << 50;
       }},
      {"null cache", "v_cache.data", "must not be null",
       [](small_setup&, K&, K& vc, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         vc.data = nullptr;
       }},
      {"position without a row", "positions[0]", "must have a table row (positions 11 to 17)",
       [](small_setup&, K&, K&, V&, V&, V&, slot_mapping&, cos_sin_view& t, std::int64_t&, O&) {
         t.first_position = 11;
         t.rows = 7;
       }},
      {"odd rotary_dim", "rotary_dim", "must be even",
       [](small_setup&, K&, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t& rd, O&) {
         rd = 15;
       }},
      {"rotary_dim > k.head_dim", "k.head_dim", "must be >= rotary_dim (16), got 8",
       [](small_setup&, K& kc, K&, V&, V& k, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O&) {
         k.head_dim = 8;
         kc.head_dim = 8;
       }},
      {"token_end", "token_end", "must be <= tokens (4), got 5",
       [](small_setup&, K&, K&, V&, V&, V&, slot_mapping&, cos_sin_view&, std::int64_t&, O& o) {
         o.token_end = 5;
       }},
  };
  for (const bad_row& r : rows) {
    SCOPED_TRACE(r.what);
    small_setup s;
    K kc = s.kc.view(), vc = s.vc.view();
    V q = ropescale::dense_view(s.q.data(), s.T, s.H, s.D);
    V k = ropescale::dense_view(s.k.data(), s.T, s.H, s.D);
    V v = ropescale::dense_view(s.v.data(), s.T, s.H, s.D);
    slot_mapping m = slot_mapping::list(s.slots.data(), s.T);
    cos_sin_view table = s.rows.view();
    std::int64_t rotary_dim = s.D;
    ropescale::apply_options opt;
    r.mutate(s, kc, vc, q, k, v, m, table, rotary_dim, opt);
    const auto k_before = s.kc.bytes(), v_before = s.vc.bytes();
    const std::vector<float> q_before = s.q;
    try {
      ropescale::rope_kv_append(q, k, v, kc, vc, m, table, token_positions::range(10), layout::neox,
                                rotary_dim, opt);
      ADD_FAILURE() << "no exception";
    } catch (const ropescale::invalid_parameter& e) {
      EXPECT_EQ(e.key(), r.key);
      EXPECT_NE(std::string(e.what()).find(r.fragment), std::string::npos) << e.what();
      EXPECT_LT(std::string(e.what()).size(), 400u);
    }
    EXPECT_TRUE(s.kc.bytes() == k_before) << "k_cache changed";
    EXPECT_TRUE(s.vc.bytes() == v_before) << "v_cache changed";
    EXPECT_TRUE(s.q == q_before) << "q changed";
    EXPECT_TRUE(s.kc.buf.guards_intact());
    EXPECT_TRUE(s.vc.buf.guards_intact());
  }
}

TEST(KvAppend, BadOutOfPlaceDestination) {
  small_setup s;
  std::vector<float> out(s.q.size() * 2);
  auto dst = ropescale::dense_view(out.data(), s.T, s.H + 1, s.D);
  const std::vector<float> before = out;
  try {
    ropescale::apply_rotary_to(ropescale::dense_view(s.q.data(), s.T, s.H, s.D), dst, s.rows.view(),
                               token_positions::range(10), layout::neox, s.D);
    ADD_FAILURE() << "no exception";
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_EQ(e.key(), "dst.heads");
    EXPECT_NE(std::string(e.what()).find("must equal src.heads (2), got 3"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(out == before);
  ropescale::frequency_table f = s.rows.freq();
  f.mode = ropescale::angle_mode::f32;
  f.inv_freq_hf_f32.assign(f.inv_freq.size(), 0.5f);
  EXPECT_THROW(ropescale::apply_rotary_to(ropescale::dense_view(s.q.data(), s.T, s.H, s.D),
                                          ropescale::dense_view(out.data(), s.T, s.H, s.D), f,
                                          token_positions::range(10), layout::neox, s.D),
               ropescale::invalid_parameter);
  EXPECT_TRUE(out == before);
}

// kv_append checks k's view as rope_kv_append does (it once read a null or malformed k): the
// same key and message from the raising and the try_ form, and every cache byte untouched.
TEST(KvAppend, PlainAppendChecksK) {
  struct row {
    const char* what;
    const char* key;
    const char* fragment;
    void (*mutate)(tensor_view<float>&);
  };
  const row rows[] = {
      {"null k", "k.data", "must not be null for a non-empty view",
       [](tensor_view<float>& k) { k.data = nullptr; }},
      {"overlapping k rows", "k.token_stride", "must be >= head_dim (16) when tokens > 1",
       [](tensor_view<float>& k) { k.token_stride = 8; }},
      {"negative k heads", "k.heads", "must be >= 0, got -1",
       [](tensor_view<float>& k) { k.heads = -1; }},
  };
  for (const row& r : rows) {
    SCOPED_TRACE(r.what);
    small_setup s;
    tensor_view<float> k = ropescale::dense_view(s.k.data(), s.T, s.H, s.D);
    r.mutate(k);
    const auto v = ropescale::dense_view(s.v.data(), s.T, s.H, s.D);
    const slot_mapping m = slot_mapping::list(s.slots.data(), s.T);
    const auto k_before = s.kc.bytes(), v_before = s.vc.bytes();
    const ropescale::error e = ropescale::try_kv_append(k, v, s.kc.view(), s.vc.view(), m);
    EXPECT_EQ(e.key, r.key);
    EXPECT_NE(e.message.find(r.fragment), std::string::npos) << e.message;
    try {
      ropescale::kv_append(k, v, s.kc.view(), s.vc.view(), m);
      ADD_FAILURE() << "no exception";
    } catch (const ropescale::invalid_parameter& x) {
      EXPECT_EQ(x.key(), r.key);
      EXPECT_EQ(std::string(x.what()), e.message);
    }
    EXPECT_TRUE(s.kc.bytes() == k_before) << "k_cache changed";
    EXPECT_TRUE(s.vc.bytes() == v_before) << "v_cache changed";
  }
}

}  // namespace

namespace {

bool same_tensor(const ropescale::simd::append_tensor<float, bf16>& a,
                 const ropescale::simd::append_tensor<float, bf16>& b) {
  return a.src == b.src && a.src_token_stride == b.src_token_stride &&
         a.src_head_stride == b.src_head_stride && a.dst == b.dst &&
         a.dst_token_stride == b.dst_token_stride && a.dst_page_stride == b.dst_page_stride &&
         a.dst_slot_stride == b.dst_slot_stride && a.dst_head_stride == b.dst_head_stride &&
         a.heads == b.heads && a.head_dim == b.head_dim;
}

using test_append_job = ropescale::simd::append_job<float, float, bf16>;

bool same_append_job(const test_append_job& a, const test_append_job& b) {
  return a.token_begin == b.token_begin && a.token_end == b.token_end && a.pairs == b.pairs &&
         a.cos == b.cos && a.sin == b.sin && a.row_stride == b.row_stride &&
         a.positions == b.positions && a.row_offset == b.row_offset &&
         a.range_row0 == b.range_row0 && a.lay == b.lay && a.inverse == b.inverse &&
         a.q.src == b.q.src && a.q.dst == b.q.dst && a.q.heads == b.q.heads &&
         a.q.head_dim == b.q.head_dim && a.q.src_token_stride == b.q.src_token_stride &&
         a.q.src_head_stride == b.q.src_head_stride &&
         a.q.dst_token_stride == b.q.dst_token_stride &&
         a.q.dst_head_stride == b.q.dst_head_stride && same_tensor(a.k, b.k) &&
         same_tensor(a.v, b.v) && a.slots == b.slots && a.page_size == b.page_size &&
         a.inv_freq == b.inv_freq && a.attention == b.attention && a.row == b.row;
}

}  // namespace

// The common-case check of the append entry points (detail::lean_append_job: no messages, one
// pass) accepts only calls the complete, ordered checks (detail::checked_append_job) accept, and
// then fills the same job. Random single and multiple mutations of a valid fused call (Q in
// place, K, V into bf16 caches) and of a valid plain append (no rows), over every argument the
// checks read; the lean pass must also accept most of the valid calls (or it is not the common
// path).
TEST(KvLeanCheck, AcceptsOnlyCallsTheCompleteChecksAccept) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  std::mt19937_64 rng(20261204);
  std::vector<float> buf(4096), rows(256);
  std::vector<bf16> kbuf(4096), vbuf(4096);
  std::vector<std::int64_t> list(8), slot_values(8);
  auto pick = [&](std::initializer_list<std::int64_t> v) {
    return *(v.begin() + static_cast<std::ptrdiff_t>(rng() % v.size()));
  };
  int lean_accepted = 0, full_accepted = 0, rejected = 0;
  for (int trial = 0; trial < 100000; ++trial) {
    // The valid call: Q 3 tokens x 2 heads x 8, K and V 3 x 1 x 8, rotary_dim 4, a 16-row table
    // for positions 5..20, positions 5, 6, 7; caches of 2 pages x 4 slots x 1 head x 8.
    std::int64_t rd = 4;
    layout lay = layout::neox;
    tensor_view<float> q{buf.data(), 3, 2, 8, 16, 8, -1};
    tensor_view<float> k{buf.data() + 48, 3, 1, 8, 16, 8, 1024};
    tensor_view<float> v{buf.data() + 1200, 3, 1, 8, 8, 8, -1};
    // Half the trials start V with K's strides (V of a packed QKV row), with K's extent or none,
    // so the lean check's shortcut for such a V meets the mutations below too.
    if (rng() % 2 == 0) v = tensor_view<float>{v.data, 3, 1, 8, 16, 8, rng() % 2 == 0 ? 1024 : -1};
    paged_cache_view<bf16> kc = paged_cache_view<bf16>::token_major(kbuf.data(), 2, 4, 1, 8);
    paged_cache_view<bf16> vc = paged_cache_view<bf16>::token_major(vbuf.data(), 2, 4, 1, 8);
    cos_sin_view t{rows.data(), rows.data() + 2, 4, 2, 5, 16};
    token_positions pos = token_positions::range(5);
    for (std::size_t i = 0; i < list.size(); ++i) list[i] = 5 + static_cast<std::int64_t>(i);
    for (std::size_t i = 0; i < slot_values.size(); ++i) {
      slot_values[i] = static_cast<std::int64_t>((i * 3) % 8);
    }
    slot_mapping slots = slot_mapping::list(slot_values.data(), 3);
    const bool rotating = rng() % 4 != 0;
    ropescale::apply_options opt;
    opt.inverse = rng() % 2 == 0;
    if (!rotating) q = tensor_view<float>{};
    const int moves = static_cast<int>(rng() % 4);
    for (int m = 0; m < moves; ++m) {
      const auto which = rng() % 3;
      tensor_view<float>& x = which == 0 ? q : which == 1 ? k : v;
      paged_cache_view<bf16>& c = rng() % 2 == 0 ? kc : vc;
      switch (rng() % 26) {
        case 0:
          rd = pick({-2, 0, 1, 2, 3, 6, 8});
          break;
        case 1:
          lay = static_cast<layout>(pick({0, 1, 2, 3, -1}));
          break;
        case 2:
          x.tokens = pick({-1, 0, 1, 2, 4});
          break;
        case 3:
          x.heads = pick({-1, 0, 0, 1, 2});
          break;
        case 4:
          x.head_dim = pick({-1, 0, 2, 3, 4, 7, 16});
          break;
        case 5:
          x.token_stride = pick({-1, 0, 7, 8, 16, 24, kMax / 2});
          break;
        case 6:
          x.head_stride = pick({-1, 0, 4, 8, 16, kMax / 4});
          break;
        case 7:
          x.extent = pick({-1, 0, 23, 24, 40, 48});
          break;
        case 8:
          x.data = rng() % 2 == 0 ? nullptr : buf.data() + pick({0, 8, 16, 40, 48, 52, 200});
          break;
        case 9:
          c.pages = pick({-1, 0, 1, 2, 3, kMax});
          break;
        case 10:
          c.page_size = pick({-1, 0, 1, 2, 4, 8});
          break;
        case 11:
          c.heads = pick({0, 1, 2});
          break;
        case 12:
          c.head_dim = pick({4, 8, 16});
          break;
        case 13:
          c.page_stride = pick({-1, 0, 8, 16, 32, 64, kMax / 2});
          break;
        case 14:
          c.slot_stride = pick({-1, 0, 4, 8, 16});
          break;
        case 15:
          c.head_stride = pick({-1, 0, 4, 8, 32});
          break;
        case 16:
          c.data = rng() % 4 == 0 ? nullptr : (&c == &kc ? vbuf.data() : kbuf.data());
          break;
        case 17:
          slots.count = pick({-1, 0, 1, 2, 3, 4});
          break;
        case 18:
          if (rng() % 4 == 0) slots.values = nullptr;
          break;
        case 19:
          slot_values[rng() % 4] = pick({kMin, -2, -1, 0, 7, 8, 9, kMax});
          break;
        case 20:
          t.rows = pick({-1, 0, 1, 2, 3, 17});
          break;
        case 21:
          t.first_position = pick({kMin, 0, 4, 5, 6, 18, kMax});
          break;
        case 22:
          pos = rng() % 2 == 0 ? token_positions::range(pick({-1, 0, 4, 5, 18, 19}))
                               : token_positions::list(list.data(), pick({0, 2, 3, 4}));
          break;
        case 23:
          list[rng() % 4] = pick({kMin, -1, 4, 5, 20, 21, kMax});
          break;
        case 24:
          opt.token_begin = pick({-1, 0, 1, 2, 3, 4});
          break;
        default:
          opt.token_end = pick({-2, -1, 0, 1, 2, 3, 4});
          break;
      }
    }
    const ropescale::detail::row_source r = ropescale::detail::to_row_source(t);
    const ropescale::detail::row_source* rp = rotating ? &r : nullptr;
    test_append_job lean_job{}, full_job{};
    const bool lean = ropescale::detail::lean_append_job<float, float, bf16>(
        lean_job, q, nullptr, k, v, &kc, &vc, &slots, rp, pos, lay, rd, opt);
    ropescale::error e;
    const bool full = ropescale::detail::checked_append_job<float, float, bf16>(
        full_job, q, nullptr, k, v, &kc, &vc, &slots, rp, pos, lay, rd, opt, &e);
    if (lean) {
      ASSERT_TRUE(full) << "trial " << trial << ": lean accepted, complete checks said "
                        << e.message;
      ASSERT_TRUE(same_append_job(lean_job, full_job)) << "trial " << trial;
      ++lean_accepted;
    }
    if (full) ++full_accepted;
    if (!e.ok()) ++rejected;
  }
  EXPECT_GT(rejected, 30000);
  EXPECT_GT(full_accepted, 20000);
  // Nearly every accepted call here is of the common shape (K and V alike, table rows).
  EXPECT_GT(lean_accepted, full_accepted * 9 / 10);
}

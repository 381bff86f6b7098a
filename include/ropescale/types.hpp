// SPDX-License-Identifier: Apache-2.0
// Storage types and views shared by the kernels and their callers: the 16-bit float storage
// types bf16 and f16 with bit-exact scalar conversions (C++17 has no std::bfloat16_t and clang 14
// has no x86 _Float16, so these are 2-byte structs holding the bits, built from a float or from
// named bits), the rotation layout enum, a
// strided tensor view (which can point into a packed QKV buffer), and the description of the
// positions of a run of tokens (an explicit list, or a contiguous range from a start position).
#ifndef ROPESCALE_TYPES_HPP
#define ROPESCALE_TYPES_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_span)
#include <span>
#endif

#include "ropescale/detail/throw.hpp"

namespace ropescale {

/// How the rotated channels of one head are paired (docs/reference.md §1.3).
///   neox: pair i is (x_i, x_{i+n})     (HF rotate_half, vLLM is_neox_style=True, ggml NEOX)
///   gptj: pair i is (x_{2i}, x_{2i+1}) (interleaved; GLM, ChatGLM, ggml NORMAL)
/// with n = rotary_dim / 2; a ← a·cos − b·sin, b ← b·cos + a·sin.
/// Rotation layouts (docs/reference.md §1.3), n = rotary_dim / 2 pairs per head:
/// - neox: pair i is (x_i, x_{i+n}), results in place;
/// - gptj: pair i is (x_{2i}, x_{2i+1}), results in place;
/// - deinterleaved (HF DeepSeek-V3 with rope_interleave): pair i is (x_{2i}, x_{2i+1}) and its
///   results go to x_i and x_{i+n}, i.e. the even/odd de-interleave of the first 2n channels
///   followed by NeoX; the inverse un-rotates and interleaves back.
enum class layout { neox, gptj, deinterleaved };

/// "neox" / "gptj" / "deinterleaved".
constexpr const char* name(layout l) noexcept {
  return l == layout::neox ? "neox" : l == layout::gptj ? "gptj" : "deinterleaved";
}

namespace detail {

inline std::uint32_t float_bits(float f) noexcept {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float bits_float(std::uint32_t u) noexcept {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// Round-to-nearest-even narrowing of a binary32 to bf16 bits. Overflow rounds to ±inf; a NaN
/// stays a (quiet) NaN with its sign and upper payload bits.
inline std::uint16_t bf16_bits_from_float(float f) noexcept {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(rounded >> 16);
}

/// Round-to-nearest-even narrowing of a binary32 to IEEE binary16 bits, with subnormal results,
/// overflow to ±inf, and NaN kept a quiet NaN (sign and upper payload bits kept), as F16C's
/// VCVTPS2PH does.
inline std::uint16_t f16_bits_from_float(float f) noexcept {
  const std::uint32_t u = float_bits(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
  if (a >= 0x477FF000u) {  // >= 65520 (halfway between max f16 65504 and 2^16) or inf
    return static_cast<std::uint16_t>(sign | 0x7C00u);
  }
  if (a >= 0x38800000u) {  // >= 2^-14: normal result; rebias and round 13 bits away
    const std::uint32_t rebiased = a - (112u << 23);
    const std::uint32_t rounded = rebiased + 0xFFFu + ((rebiased >> 13) & 1u);
    return static_cast<std::uint16_t>(sign | (rounded >> 13));
  }
  if (a < 0x33000000u) {  // < 2^-25: rounds to zero (2^-25 itself is a tie, to even = 0)
    return static_cast<std::uint16_t>(sign);
  }
  // Subnormal result: value / 2^-24 rounded to an integer, ties to even.
  const std::uint32_t exp = a >> 23;  // 102 .. 112
  const std::uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t shift = 126u - exp;  // 14 .. 24
  const std::uint32_t q = mant >> shift;
  const std::uint32_t rem = mant & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  const std::uint32_t r = q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
  return static_cast<std::uint16_t>(sign | r);
}

/// Exact widening of IEEE binary16 bits (normals, subnormals, ±0, ±inf, NaN with payload).
inline float float_from_f16_bits(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1Fu;
  std::uint32_t mant = h & 0x3FFu;
  if (exp == 0x1Fu) return bits_float(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return bits_float(sign);
  // Subnormal: value = mant · 2^-24; normalise into binary32.
  std::uint32_t e = 113;  // biased binary32 exponent of 2^-14
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return bits_float(sign | (e << 23) | ((mant & 0x3FFu) << 13));
}

/// True for the arithmetic types the 16-bit storage types refuse to be built from: every one
/// but float (an integer would be ambiguous between a value and bits; a double would round twice,
/// double → float → 16 bits).
template <class A>
inline constexpr bool refused_source_v = std::is_arithmetic_v<A> && !std::is_same_v<A, float>;

}  // namespace detail

/// bfloat16 storage: the upper 16 bits of an IEEE binary32. Arithmetic happens in float.
///
///     bf16 a{1.5f};                        // from a float, rounded to nearest even
///     bf16 b = bf16::from_bits(0x3FC0);    // from raw bits (1.5)
///     float x = static_cast<float>(a);     // exact widening (also to_float(a))
///
/// Construction from anything but a float does not compile: `bf16{1}` is neither the value 1
/// nor the bits 0x0001 (write `bf16{1.0f}` or `bf16::from_bits(1)`), and a double must be
/// narrowed to float by the caller. A default-constructed bf16 is uninitialised, `bf16{}` is +0.
///
/// Layout guarantee (static_asserted below): standard layout, trivially copyable, sizeof 2,
/// alignof 2, its one member the raw bits in the platform's byte order, so an engine's uint16_t
/// buffer of bf16 bits holds exactly the bytes of the same number of bf16 objects; pass it as
/// `reinterpret_cast<bf16*>(p)` (the common practice; strictly by ISO C++ aliasing rules,
/// allocate the buffer as bf16 and reinterpret the other way, or std::memcpy).
struct bf16 {
  std::uint16_t bits;  ///< raw bits (sign, 8 exponent bits, 7 mantissa bits)

  bf16() = default;
  /// Rounds `value` to the nearest bf16, ties to even (overflow to ±inf, NaN stays NaN).
  explicit bf16(float value) noexcept : bits(detail::bf16_bits_from_float(value)) {}
  template <class A, std::enable_if_t<detail::refused_source_v<A>, int> = 0>
  bf16(A) = delete;  ///< only float converts; use from_bits for raw bits
  /// The bf16 whose raw bits are `raw`.
  static constexpr bf16 from_bits(std::uint16_t raw) noexcept { return bf16(raw, raw_tag{}); }
  /// Exact widening to binary32.
  explicit operator float() const noexcept {
    return detail::bits_float(static_cast<std::uint32_t>(bits) << 16);
  }

 private:
  struct raw_tag {};
  constexpr bf16(std::uint16_t raw, raw_tag) noexcept : bits(raw) {}
};

/// IEEE binary16 storage (half precision). Arithmetic happens in float. The same interface and
/// layout guarantee as bf16: `f16 h{0.5f}` rounds to nearest even (subnormals kept, overflow to
/// ±inf), `f16::from_bits(0x3800)` takes raw bits, `static_cast<float>(h)` widens exactly, and
/// `f16{1}` or `f16{0.5}` does not compile.
struct f16 {
  std::uint16_t bits;  ///< raw bits (sign, 5 exponent bits, 10 mantissa bits)

  f16() = default;
  explicit f16(float value) noexcept : bits(detail::f16_bits_from_float(value)) {}
  template <class A, std::enable_if_t<detail::refused_source_v<A>, int> = 0>
  f16(A) = delete;  ///< only float converts; use from_bits for raw bits
  static constexpr f16 from_bits(std::uint16_t raw) noexcept { return f16(raw, raw_tag{}); }
  explicit operator float() const noexcept { return detail::float_from_f16_bits(bits); }

 private:
  struct raw_tag {};
  constexpr f16(std::uint16_t raw, raw_tag) noexcept : bits(raw) {}
};

static_assert(sizeof(bf16) == 2 && alignof(bf16) == 2 && sizeof(f16) == 2 && alignof(f16) == 2,
              "ropescale: bf16 and f16 must have the size and alignment of std::uint16_t");
static_assert(std::is_standard_layout_v<bf16> && std::is_standard_layout_v<f16> &&
                  std::is_trivially_copyable_v<bf16> && std::is_trivially_copyable_v<f16> &&
                  std::is_trivially_default_constructible_v<bf16> &&
                  std::is_trivially_default_constructible_v<f16>,
              "ropescale: bf16 and f16 must be trivial standard-layout wrappers of their bits");

/// Exact widening: the bf16 bits become the upper half of a binary32.
inline float to_float(bf16 h) noexcept { return static_cast<float>(h); }

/// Round-to-nearest-even narrowing to bf16 (the same as bf16{f}).
inline bf16 to_bf16(float f) noexcept { return bf16(f); }

/// Exact widening of IEEE binary16 (normals, subnormals, ±0, ±inf, NaN with payload).
inline float to_float(f16 h) noexcept { return static_cast<float>(h); }

/// Round-to-nearest-even narrowing to IEEE binary16 (the same as f16{f}).
inline f16 to_f16(float f) noexcept { return f16(f); }

/// Element types the kernels accept.
template <class T>
inline constexpr bool is_element_type_v =
    std::is_same_v<T, float> || std::is_same_v<T, bf16> || std::is_same_v<T, f16>;

/// Converts a storage value to float (identity for float).
template <class T>
inline float load_as_float(const T& v) noexcept {
  static_assert(is_element_type_v<T>, "ropescale: element type must be float, bf16 or f16");
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else {
    return to_float(v);
  }
}

/// Rounds a float to the storage type T (RNE for bf16/f16; identity for float).
template <class T>
inline T store_from_float(float f) noexcept {
  static_assert(is_element_type_v<T>, "ropescale: element type must be float, bf16 or f16");
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else if constexpr (std::is_same_v<T, bf16>) {
    return to_bf16(f);
  } else {
    return to_f16(f);
  }
}

/// A strided [tokens][heads][head_dim] view. Strides are in elements; the channel stride is 1.
/// Element (t, h, c) lives at data[t·token_stride + h·head_stride + c].
///
/// Prefer the named factories below, which compute the strides and record the buffer size:
/// dense_view (a [tokens][heads][head_dim] buffer), head_major_view ([heads][tokens][head_dim])
/// and packed_qkv_views (one [Q heads | K heads | V heads] row per token). Brace-initialising the
/// members by position (`tensor_view<float>{p, T, H, D, token_stride, head_stride}`) compiles, but
/// nothing then catches swapped strides that stay inside address arithmetic; set `extent` too.
///
/// `extent` is the number of elements of the buffer from `data` on (negative: unknown, not
/// checked). The kernel entry points (apply_rotary, apply_rotary_on_the_fly) check, before
/// writing anything, that the view's last element (tokens−1)·token_stride +
/// (heads−1)·head_stride + head_dim − 1 lies below `extent`, that no two (token, head) rows of
/// the view share an element, and that q and k share no rotated element (apply.hpp).
template <class T>
struct tensor_view {
  T* data = nullptr;
  std::int64_t tokens = 0;
  std::int64_t heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t token_stride = 0;
  std::int64_t head_stride = 0;
  std::int64_t extent = -1;  ///< elements of the buffer from data on; < 0: unknown
};

/// A dense [tokens][heads][head_dim] view (token_stride = heads·head_dim, head_stride = head_dim)
/// without a buffer size: nothing can check that the buffer holds it. Prefer the form below.
template <class T>
constexpr tensor_view<T> dense_view(T* data, std::int64_t tokens, std::int64_t heads,
                                    std::int64_t head_dim) noexcept {
  return tensor_view<T>{data, tokens, heads, head_dim, heads * head_dim, head_dim, -1};
}

namespace detail {

/// min(n, INT64_MAX) as int64: a buffer size that no view can exceed anyway.
constexpr std::int64_t clamp_elements(std::size_t n) noexcept {
  return n > static_cast<std::size_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(n);
}

/// a·b for a, b >= 0; false when it overflows int64 (portable: no compiler builtin).
constexpr bool mul_nonneg(std::int64_t a, std::int64_t b, std::int64_t& out) noexcept {
  if (a != 0 && b > INT64_MAX / a) return false;
  out = a * b;
  return true;
}

/// Checks a factory's shape (every count >= 0) and that `needed` = the product of `factors`
/// elements fit in the buffer; throws invalid_parameter naming the factory otherwise.
inline std::int64_t check_factory_shape(
    const char* factory, std::size_t elements,
    std::initializer_list<std::pair<const char*, std::int64_t>> factors) {
  std::int64_t needed = 1;
  bool overflow = false;
  std::string product, names;
  for (const auto& f : factors) {
    if (f.second < 0)
      throw_invalid_value(std::string(factory) + "." + f.first, "must be >= 0", f.second);
    if (!product.empty()) {
      product += "*";
      names += "*";
    }
    product += std::to_string(f.second);
    names += f.first;
    overflow = overflow || !mul_nonneg(needed, f.second, needed);
  }
  const std::int64_t have = clamp_elements(elements);
  if (overflow || needed > have) {
    throw_invalid(
        std::string(factory) + ".elements",
        "must be >= " + names + " = " + product +
            (overflow ? std::string(" (overflows int64)") : " = " + std::to_string(needed)),
        std::to_string(elements));
  }
  return needed;
}

}  // namespace detail

/// A dense [tokens][heads][head_dim] view of a buffer of `elements` values starting at `data`
/// (for example `dense_view(q.data(), q.size(), tokens, heads, head_dim)`). Throws
/// invalid_parameter (key `dense_view.elements` or `dense_view.<count>`) when a count is negative
/// or tokens·heads·head_dim exceeds `elements`.
template <class T>
inline tensor_view<T> dense_view(T* data, std::size_t elements, std::int64_t tokens,
                                 std::int64_t heads, std::int64_t head_dim) {
  detail::check_factory_shape("dense_view", elements,
                              {{"tokens", tokens}, {"heads", heads}, {"head_dim", head_dim}});
  return tensor_view<T>{
      data, tokens, heads, head_dim, heads * head_dim, head_dim, detail::clamp_elements(elements)};
}

/// A head-major [heads][tokens][head_dim] view (token_stride = head_dim, head_stride =
/// tokens·head_dim), the layout of many KV caches, of a buffer of `elements` values. Throws like
/// dense_view (key prefix `head_major_view`).
template <class T>
inline tensor_view<T> head_major_view(T* data, std::size_t elements, std::int64_t tokens,
                                      std::int64_t heads, std::int64_t head_dim) {
  detail::check_factory_shape("head_major_view", elements,
                              {{"heads", heads}, {"tokens", tokens}, {"head_dim", head_dim}});
  return tensor_view<T>{
      data, tokens, heads, head_dim, head_dim, tokens * head_dim, detail::clamp_elements(elements)};
}

/// The Q, K and V views of a packed QKV buffer: per token one row of q_heads query heads, then
/// kv_heads key heads, then kv_heads value heads, each head_dim values (the output of a fused QKV
/// projection; GQA when kv_heads < q_heads). token_stride = (q_heads + 2·kv_heads)·head_dim.
template <class T>
struct qkv_views {
  tensor_view<T> q, k, v;
};

/// Splits a packed [tokens][q_heads + 2·kv_heads][head_dim] buffer of `elements` values:
///     auto [q, k, v] = ropescale::packed_qkv_views(qkv.data(), qkv.size(), tokens, 32, 8, 128);
///     ropescale::apply_rotary(q, k, *rows, positions, ropescale::layout::neox, 128);
/// Throws invalid_parameter (key `packed_qkv_views.elements` or `packed_qkv_views.<count>`) when a
/// count is negative or the buffer is smaller than tokens·(q_heads + 2·kv_heads)·head_dim.
template <class T>
inline qkv_views<T> packed_qkv_views(T* data, std::size_t elements, std::int64_t tokens,
                                     std::int64_t q_heads, std::int64_t kv_heads,
                                     std::int64_t head_dim) {
  if (q_heads < 0) detail::throw_invalid_value("packed_qkv_views.q_heads", "must be >= 0", q_heads);
  if (kv_heads < 0) {
    detail::throw_invalid_value("packed_qkv_views.kv_heads", "must be >= 0", kv_heads);
  }
  // q_heads + 2·kv_heads cannot overflow unless a count exceeds 2^61: check it as a product.
  std::int64_t kv2 = 0, row_heads = 0;
  if (!detail::mul_nonneg(kv_heads, 2, kv2) || q_heads > INT64_MAX - kv2) {
    detail::throw_invalid_value("packed_qkv_views.kv_heads",
                                "must keep q_heads + 2*kv_heads in int64", kv_heads);
  }
  row_heads = q_heads + kv2;
  detail::check_factory_shape(
      "packed_qkv_views", elements,
      {{"tokens", tokens}, {"(q_heads+2*kv_heads)", row_heads}, {"head_dim", head_dim}});
  const std::int64_t n = detail::clamp_elements(elements);
  const std::int64_t stride = row_heads * head_dim;
  const std::int64_t k_off = q_heads * head_dim;
  const std::int64_t v_off = (q_heads + kv_heads) * head_dim;
  // With tokens == 0 the buffer may be empty, and a null data stays null for the entry point to
  // reject: the views then keep data as it is (no offset arithmetic).
  const bool empty = tokens == 0 || data == nullptr;
  return qkv_views<T>{tensor_view<T>{data, tokens, q_heads, head_dim, stride, head_dim, n},
                      tensor_view<T>{empty ? data : data + k_off, tokens, kv_heads, head_dim,
                                     stride, head_dim, empty ? n : n - k_off},
                      tensor_view<T>{empty ? data : data + v_off, tokens, kv_heads, head_dim,
                                     stride, head_dim, empty ? n : n - v_off}};
}

#if defined(__cpp_lib_span)
/// std::span forms of the factories above (C++20): the span supplies data and size.
template <class T, std::size_t E>
inline tensor_view<T> dense_view(std::span<T, E> buffer, std::int64_t tokens, std::int64_t heads,
                                 std::int64_t head_dim) {
  return dense_view(buffer.data(), buffer.size(), tokens, heads, head_dim);
}
template <class T, std::size_t E>
inline tensor_view<T> head_major_view(std::span<T, E> buffer, std::int64_t tokens,
                                      std::int64_t heads, std::int64_t head_dim) {
  return head_major_view(buffer.data(), buffer.size(), tokens, heads, head_dim);
}
template <class T, std::size_t E>
inline qkv_views<T> packed_qkv_views(std::span<T, E> buffer, std::int64_t tokens,
                                     std::int64_t q_heads, std::int64_t kv_heads,
                                     std::int64_t head_dim) {
  return packed_qkv_views(buffer.data(), buffer.size(), tokens, q_heads, kv_heads, head_dim);
}
#endif

/// The positions of the tokens of a call: either an explicit list (values[t] for token t; count
/// must equal the number of tokens) or, when values is null, the contiguous range start, start+1,
/// ….
struct token_positions {
  const std::int64_t* values = nullptr;
  std::int64_t count = 0;
  std::int64_t start = 0;

  /// Token t sits at position start + t.
  static constexpr token_positions range(std::int64_t start_position) noexcept {
    return token_positions{nullptr, 0, start_position};
  }
  /// Token t sits at position values[t], t < count.
  static constexpr token_positions list(const std::int64_t* v, std::int64_t n) noexcept {
    return token_positions{v, n, 0};
  }
  /// Position of token t (no bounds check).
  constexpr std::int64_t operator[](std::int64_t t) const noexcept {
    return values != nullptr ? values[t] : start + t;
  }
};

}  // namespace ropescale

#endif  // ROPESCALE_TYPES_HPP

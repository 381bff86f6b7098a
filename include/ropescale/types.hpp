// SPDX-License-Identifier: Apache-2.0
// Storage types and views shared by the kernels and their callers: the 16-bit float storage
// types bf16 and f16 with bit-exact scalar conversions (C++17 has no std::bfloat16_t and clang 14
// has no x86 _Float16, so these are plain structs holding the bits), the rotation layout enum, a
// strided tensor view (which can point into a packed QKV buffer), and the description of the
// positions of a run of tokens (an explicit list, or a contiguous range from a start position).
#ifndef ROPESCALE_TYPES_HPP
#define ROPESCALE_TYPES_HPP

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace ropescale {

/// bfloat16 storage: the upper 16 bits of an IEEE binary32. Arithmetic happens in float.
struct bf16 {
  std::uint16_t bits;
};

/// IEEE binary16 storage (half precision). Arithmetic happens in float.
struct f16 {
  std::uint16_t bits;
};

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

}  // namespace detail

/// Exact widening: the bf16 bits become the upper half of a binary32.
inline float to_float(bf16 h) noexcept {
  return detail::bits_float(static_cast<std::uint32_t>(h.bits) << 16);
}

/// Round-to-nearest-even narrowing to bf16. Overflow rounds to ±inf; a NaN stays a (quiet) NaN
/// with its sign and upper payload bits.
inline bf16 to_bf16(float f) noexcept {
  const std::uint32_t u = detail::float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) {
    return bf16{static_cast<std::uint16_t>((u >> 16) | 0x0040u)};
  }
  const std::uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);
  return bf16{static_cast<std::uint16_t>(rounded >> 16)};
}

/// Exact widening of IEEE binary16 (normals, subnormals, ±0, ±inf, NaN with payload).
inline float to_float(f16 h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h.bits & 0x8000u) << 16;
  const std::uint32_t exp = (h.bits >> 10) & 0x1Fu;
  std::uint32_t mant = h.bits & 0x3FFu;
  if (exp == 0x1Fu) return detail::bits_float(sign | 0x7F800000u | (mant << 13));
  if (exp != 0) return detail::bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
  if (mant == 0) return detail::bits_float(sign);
  // Subnormal: value = mant · 2^-24; normalise into binary32.
  std::uint32_t e = 113;  // biased binary32 exponent of 2^-14
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return detail::bits_float(sign | (e << 23) | ((mant & 0x3FFu) << 13));
}

/// Round-to-nearest-even narrowing to IEEE binary16, with subnormal results, overflow to ±inf,
/// and NaN kept a quiet NaN (sign and upper payload bits kept), as F16C's VCVTPS2PH does.
inline f16 to_f16(float f) noexcept {
  const std::uint32_t u = detail::float_bits(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) {
    return f16{static_cast<std::uint16_t>(sign | 0x7E00u | ((a >> 13) & 0x3FFu))};
  }
  if (a >= 0x477FF000u) {  // >= 65520 (halfway between max f16 65504 and 2^16) or inf
    return f16{static_cast<std::uint16_t>(sign | 0x7C00u)};
  }
  if (a >= 0x38800000u) {  // >= 2^-14: normal result; rebias and round 13 bits away
    const std::uint32_t rebiased = a - (112u << 23);
    const std::uint32_t rounded = rebiased + 0xFFFu + ((rebiased >> 13) & 1u);
    return f16{static_cast<std::uint16_t>(sign | (rounded >> 13))};
  }
  if (a < 0x33000000u) {  // < 2^-25: rounds to zero (2^-25 itself is a tie, to even = 0)
    return f16{static_cast<std::uint16_t>(sign)};
  }
  // Subnormal result: value / 2^-24 rounded to an integer, ties to even.
  const std::uint32_t exp = a >> 23;                 // 102 .. 112
  const std::uint32_t mant = (a & 0x7FFFFFu) | 0x800000u;
  const std::uint32_t shift = 126u - exp;            // 14 .. 24
  const std::uint32_t q = mant >> shift;
  const std::uint32_t rem = mant & ((1u << shift) - 1u);
  const std::uint32_t half = 1u << (shift - 1u);
  const std::uint32_t r = q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
  return f16{static_cast<std::uint16_t>(sign | r)};
}

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
/// Element (t, h, c) lives at data[t·token_stride + h·head_stride + c]. Views into a packed QKV
/// buffer use the packed row length as token_stride and head_dim as head_stride.
template <class T>
struct tensor_view {
  T* data = nullptr;
  std::int64_t tokens = 0;
  std::int64_t heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t token_stride = 0;
  std::int64_t head_stride = 0;
};

/// A dense [tokens][heads][head_dim] view (token_stride = heads·head_dim, head_stride = head_dim).
template <class T>
constexpr tensor_view<T> dense_view(T* data, std::int64_t tokens, std::int64_t heads,
                                    std::int64_t head_dim) noexcept {
  return tensor_view<T>{data, tokens, heads, head_dim, heads * head_dim, head_dim};
}

/// The positions of the tokens of a call: either an explicit list (values[t] for token t; count
/// must equal the number of tokens) or, when values is null, the contiguous range start, start+1, ….
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

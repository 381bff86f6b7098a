// SPDX-License-Identifier: Apache-2.0
// The narrow boundary between apply.hpp and the per-ISA kernels: plain pointers, extents,
// strides and enums, already validated by the public entry point (kernels trust them).
#ifndef ROPESCALE_SIMD_KERNEL_ARGS_HPP
#define ROPESCALE_SIMD_KERNEL_ARGS_HPP

#include <cstdint>

#include "ropescale/types.hpp"

namespace ropescale::simd {

/// One in-place rotation call over tokens [token_begin, token_end) of Q and (optionally) K.
/// Token t uses table row r(t) = positions[t] - row_offset, or range_row0 + t when positions is
/// null; the row's cos values are cos[r·row_stride + i] and its sin values sin[r·row_stride + i],
/// i < pairs. Only channels [0, 2·pairs) of each head are read or written.
/// A plain aggregate without default member initialisers on purpose: detail::make_rotate_job
/// assigns every field, and zero-initialising the struct first (g++ emits `rep stos`) cost
/// ~10 ns per call, a tenth of an in-cache decode.
/// Calls moving at least this many bytes of rotated channels stream a token's heads in one
/// sequential sweep even when its cos/sin row does not fit the vector registers (see
/// rotate-inl.hpp); smaller calls, which run from cache, keep the row in registers. Tests lower
/// it (per executable) by defining ROPESCALE_STREAM_MIN_BYTES before including ropescale.
#ifndef ROPESCALE_STREAM_MIN_BYTES
#define ROPESCALE_STREAM_MIN_BYTES (std::int64_t{8} << 20)
#endif
inline constexpr std::int64_t stream_min_bytes = ROPESCALE_STREAM_MIN_BYTES;

/// The deinterleaved layout permutes a head's rotated channels through a scratch copy on the
/// kernel's stack (rotate-inl.hpp), so its rotary_dim is bounded (apply.hpp checks it).
inline constexpr std::int64_t max_deinterleaved_rotary_dim = 2048;

template <class T>
struct rotate_job {
  T* q;
  std::int64_t q_heads;
  std::int64_t q_token_stride;
  std::int64_t q_head_stride;
  T* k;
  std::int64_t k_heads;
  std::int64_t k_token_stride;
  std::int64_t k_head_stride;
  std::int64_t token_begin;
  std::int64_t token_end;
  std::int64_t pairs;
  const float* cos;
  const float* sin;
  std::int64_t row_stride;
  const std::int64_t* positions;
  std::int64_t row_offset;
  std::int64_t range_row0;
  layout lay;
  bool inverse;
};

}  // namespace ropescale::simd

#endif  // ROPESCALE_SIMD_KERNEL_ARGS_HPP

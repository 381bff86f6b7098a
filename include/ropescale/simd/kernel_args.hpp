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
template <class T>
struct rotate_job {
  T* q = nullptr;
  std::int64_t q_heads = 0;
  std::int64_t q_token_stride = 0;
  std::int64_t q_head_stride = 0;
  T* k = nullptr;
  std::int64_t k_heads = 0;
  std::int64_t k_token_stride = 0;
  std::int64_t k_head_stride = 0;
  std::int64_t token_begin = 0;
  std::int64_t token_end = 0;
  std::int64_t pairs = 0;
  const float* cos = nullptr;
  const float* sin = nullptr;
  std::int64_t row_stride = 0;
  const std::int64_t* positions = nullptr;
  std::int64_t row_offset = 0;
  std::int64_t range_row0 = 0;
  layout lay = layout::neox;
  bool inverse = false;
};

}  // namespace ropescale::simd

#endif  // ROPESCALE_SIMD_KERNEL_ARGS_HPP

// SPDX-License-Identifier: Apache-2.0
// The narrow boundary between apply.hpp and the per-ISA kernels: plain pointers, extents,
// strides and enums, already validated by the public entry point (kernels trust them).
#ifndef ROPESCALE_SIMD_KERNEL_ARGS_HPP
#define ROPESCALE_SIMD_KERNEL_ARGS_HPP

#include <atomic>
#include <cstdint>

#include "ropescale/config.hpp"
#include "ropescale/types.hpp"

namespace ropescale::simd {

/// Calls moving at least this many bytes of rotated channels stream a token's heads in one
/// sequential sweep even when its cos/sin row does not fit the vector registers (see
/// rotate-inl.hpp); smaller calls, which run from cache, keep the row in registers. One
/// process-wide value (an inline variable: the same object in every TU), default 8 MiB; tests
/// lower it with set_stream_min_bytes() to reach the streaming path with small tensors.
inline std::atomic<std::int64_t> stream_min_bytes_value{std::int64_t{8} << 20};
inline std::int64_t stream_min_bytes() noexcept {
  return stream_min_bytes_value.load(std::memory_order_relaxed);
}
inline void set_stream_min_bytes(std::int64_t bytes) noexcept {
  stream_min_bytes_value.store(bytes, std::memory_order_relaxed);
}

/// KV appends (kv_append.hpp) that write at least this many bytes of K and V into the caches
/// store them with non-temporal stores (simd/append-inl.hpp, append_streams): a prefill chunk
/// whose lines would leave the last-level cache before attention reads them. Default 8 MiB, a
/// quarter of a 32 MiB L3 (4096 tokens × 8 heads × 128 of a 16-bit cache stream; 512 tokens of
/// an f32 cache, 4 MiB, stay in L3, where plain stores measured ~1.5× faster than streaming:
/// docs/kv_append.md); the same kind of process-wide value as stream_min_bytes; tests set 0 to
/// reach the path.
inline std::atomic<std::int64_t> kv_stream_min_bytes_value{std::int64_t{8} << 20};
inline std::int64_t kv_stream_min_bytes() noexcept {
  return kv_stream_min_bytes_value.load(std::memory_order_relaxed);
}
inline void set_kv_stream_min_bytes(std::int64_t bytes) noexcept {
  kv_stream_min_bytes_value.store(bytes, std::memory_order_relaxed);
}

/// The deinterleaved layout permutes a head's rotated channels through a scratch copy on the
/// kernel's stack (rotate-inl.hpp), so its rotary_dim is bounded (apply.hpp checks it).
inline constexpr std::int64_t max_deinterleaved_rotary_dim = 2048;

/// What every kernel job shares: the token range [token_begin, token_end), the rotated pairs
/// per head, where token t's cos/sin row is, the layout and the direction. Token t uses table
/// row r(t) = positions[t] - row_offset, or range_row0 + t when positions is null; the row's cos
/// values are cos[r·row_stride + i] and its sin values sin[r·row_stride + i], i < pairs.
/// The jobs are plain aggregates without default member initialisers on purpose: the entry
/// points assign every field (zero-initialising a job first cost ~10 ns per call, a tenth of a
/// decode).
struct row_args {
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

/// One in-place rotation call over tokens [token_begin, token_end) of Q and (optionally) K, with
/// the rows of row_args. Only channels [0, 2·pairs) of each head are read or written.
template <class T>
struct rotate_job : row_args {
  T* q;
  std::int64_t q_heads;
  std::int64_t q_token_stride;
  std::int64_t q_head_stride;
  T* k;
  std::int64_t k_heads;
  std::int64_t k_token_stride;
  std::int64_t k_head_stride;
};

/// One tensor written out of place by an append job: element (t, h, c) of the source,
/// src[t·src_token_stride + h·src_head_stride + c], goes to dst[d(t) + h·dst_head_stride + c]
/// with d(t) = t·dst_token_stride, or, when the job has slots, the slot's
/// page·dst_page_stride + offset·dst_slot_stride. Channels [0, head_dim) are written; heads == 0
/// means the tensor is absent.
template <class S, class D>
struct append_tensor {
  const S* src;
  std::int64_t src_token_stride;
  std::int64_t src_head_stride;
  D* dst;
  std::int64_t dst_token_stride;
  std::int64_t dst_page_stride;
  std::int64_t dst_slot_stride;
  std::int64_t dst_head_stride;
  std::int64_t heads;
  std::int64_t head_dim;
};

/// log2 of x, a power of two >= 1 (its trailing zero count).
inline int log2_of_power_of_two(std::int64_t x) noexcept {
#if ROPESCALE_HAS_BUILTIN(__builtin_ctzll)
  return __builtin_ctzll(static_cast<unsigned long long>(x));
#else
  int n = 0;
  while (x > 1) {
    x >>= 1;
    ++n;
  }
  return n;
#endif
}

/// Out-of-place rotation and paged KV append over tokens [token_begin, token_end) (kv_append.hpp):
/// Q is rotated into q.dst (q.dst == q.src: in place) at d(t) = t·dst_token_stride; K is rotated
/// and V copied into their destinations at the token's slot (slots[t] < 0: K and V skipped), or
/// at t·dst_token_stride when slots is null. pairs == 0 copies K like V. Rows come from the table
/// (row_args) or, when inv_freq is set, are computed per token into row (2·pairs floats).
template <class S, class QD, class C>
struct append_job : row_args {
  append_tensor<S, QD> q;
  append_tensor<S, C> k;
  append_tensor<S, C> v;
  const std::int64_t* slots;
  std::int64_t page_size;
  const double* inv_freq;
  double attention;
  float* row;
};

}  // namespace ropescale::simd

#endif  // ROPESCALE_SIMD_KERNEL_ARGS_HPP

// SPDX-License-Identifier: Apache-2.0
// An independent GGUF writer for the tests, written from ggml's format description
// (docs/gguf.md in ggml): "GGUF" magic, u32 version, u64 tensor count, u64 metadata count, the
// key/value pairs (u64-length strings, u32 value types, arrays as u32 element type + u64 count),
// the tensor infos (name, u32 n_dims, u64 dims, u32 ggml type, u64 offset relative to the data
// section), padding to general.alignment (32 by default), then the tensor data, each tensor
// padded to the alignment. It shares no code with include/ropescale/gguf.hpp, and it can write
// broken files on purpose (raw bytes, wrong counts, truncation) for the bad-file tables.
#ifndef ROPESCALE_TESTS_SUPPORT_GGUF_WRITER_HPP
#define ROPESCALE_TESTS_SUPPORT_GGUF_WRITER_HPP

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace ropescale_test {

class gguf_writer {
 public:
  // GGUF value type ids (ggml docs/gguf.md).
  enum : std::uint32_t {
    t_u8 = 0,
    t_i8 = 1,
    t_u16 = 2,
    t_i16 = 3,
    t_u32 = 4,
    t_i32 = 5,
    t_f32 = 6,
    t_bool = 7,
    t_string = 8,
    t_array = 9,
    t_u64 = 10,
    t_i64 = 11,
    t_f64 = 12
  };
  // ggml tensor type ids used by the tests.
  enum : std::uint32_t { ggml_f32 = 0, ggml_f16 = 1, ggml_q4_0 = 2, ggml_q8_0 = 8, ggml_bf16 = 30 };

  std::uint32_t version = 3;
  std::uint32_t alignment = 32;  // used for padding; add general.alignment yourself to declare it

  // Encoders: append little-endian values to a byte vector.
  static void put_u8(std::vector<unsigned char>& b, std::uint8_t v) { b.push_back(v); }
  static void put_u32(std::vector<unsigned char>& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  static void put_u64(std::vector<unsigned char>& b, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
  }
  static void put_f32(std::vector<unsigned char>& b, float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    put_u32(b, bits);
  }
  static void put_f64(std::vector<unsigned char>& b, double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    put_u64(b, bits);
  }
  static void put_str(std::vector<unsigned char>& b, const std::string& s) {
    put_u64(b, s.size());
    b.insert(b.end(), s.begin(), s.end());
  }

  /// A key with a raw, already encoded value (type id + payload bytes).
  void kv_raw(const std::string& key, std::uint32_t type,
              const std::vector<unsigned char>& payload) {
    put_str(kv_, key);
    put_u32(kv_, type);
    kv_.insert(kv_.end(), payload.begin(), payload.end());
    ++n_kv_;
  }
  void kv_u32(const std::string& key, std::uint32_t v) {
    std::vector<unsigned char> p;
    put_u32(p, v);
    kv_raw(key, t_u32, p);
  }
  void kv_u64(const std::string& key, std::uint64_t v) {
    std::vector<unsigned char> p;
    put_u64(p, v);
    kv_raw(key, t_u64, p);
  }
  void kv_i32(const std::string& key, std::int32_t v) {
    std::vector<unsigned char> p;
    put_u32(p, static_cast<std::uint32_t>(v));
    kv_raw(key, t_i32, p);
  }
  void kv_f32(const std::string& key, float v) {
    std::vector<unsigned char> p;
    put_f32(p, v);
    kv_raw(key, t_f32, p);
  }
  void kv_f64(const std::string& key, double v) {
    std::vector<unsigned char> p;
    put_f64(p, v);
    kv_raw(key, t_f64, p);
  }
  void kv_bool(const std::string& key, bool v) {
    kv_raw(key, t_bool, {static_cast<unsigned char>(v)});
  }
  void kv_str(const std::string& key, const std::string& v) {
    std::vector<unsigned char> p;
    put_str(p, v);
    kv_raw(key, t_string, p);
  }
  void kv_u32_array(const std::string& key, const std::vector<std::uint32_t>& v) {
    std::vector<unsigned char> p;
    put_u32(p, t_u32);
    put_u64(p, v.size());
    for (std::uint32_t x : v) put_u32(p, x);
    kv_raw(key, t_array, p);
  }
  void kv_str_array(const std::string& key, const std::vector<std::string>& v) {
    std::vector<unsigned char> p;
    put_u32(p, t_string);
    put_u64(p, v.size());
    for (const std::string& x : v) put_str(p, x);
    kv_raw(key, t_array, p);
  }

  /// A tensor with explicit type, dims and data bytes; offset = running offset unless given.
  void tensor_raw(const std::string& name, std::uint32_t type,
                  const std::vector<std::uint64_t>& dims, const std::vector<unsigned char>& data,
                  long long offset_override = -1) {
    put_str(info_, name);
    put_u32(info_, static_cast<std::uint32_t>(dims.size()));
    for (std::uint64_t d : dims) put_u64(info_, d);
    put_u32(info_, type);
    put_u64(info_,
            offset_override >= 0 ? static_cast<std::uint64_t>(offset_override) : data_.size());
    data_.insert(data_.end(), data.begin(), data.end());
    while (data_.size() % alignment != 0) data_.push_back(0);
    ++n_tensors_;
  }
  void tensor_f32(const std::string& name, const std::vector<float>& values) {
    std::vector<unsigned char> d;
    for (float v : values) put_f32(d, v);
    tensor_raw(name, ggml_f32, {values.size()}, d);
  }

  /// The file bytes. count overrides (for broken files) replace the true counts.
  std::vector<unsigned char> bytes(long long n_tensors_override = -1,
                                   long long n_kv_override = -1) const {
    std::vector<unsigned char> b = {'G', 'G', 'U', 'F'};
    put_u32(b, version);
    put_u64(b,
            n_tensors_override >= 0 ? static_cast<std::uint64_t>(n_tensors_override) : n_tensors_);
    put_u64(b, n_kv_override >= 0 ? static_cast<std::uint64_t>(n_kv_override) : n_kv_);
    b.insert(b.end(), kv_.begin(), kv_.end());
    b.insert(b.end(), info_.begin(), info_.end());
    if (n_tensors_ != 0) {
      while (b.size() % alignment != 0) b.push_back(0);
      b.insert(b.end(), data_.begin(), data_.end());
    }
    return b;
  }

  static void write_file(const std::string& path, const std::vector<unsigned char>& b) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  void write(const std::string& path) const { write_file(path, bytes()); }

 private:
  std::vector<unsigned char> kv_, info_, data_;
  std::uint64_t n_kv_ = 0, n_tensors_ = 0;
};

}  // namespace ropescale_test

#endif  // ROPESCALE_TESTS_SUPPORT_GGUF_WRITER_HPP

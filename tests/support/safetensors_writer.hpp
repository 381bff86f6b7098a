// SPDX-License-Identifier: Apache-2.0
// Test-side safetensors writer, independent of the library's reader: builds well-formed images
// from (name, dtype, shape, bytes) entries, and raw images from a hand-written header so tests can
// craft every malformed case. Also encodes values as little-endian F32/F64 and BF16/F16 bits.
#ifndef ROPESCALE_TESTS_SUPPORT_SAFETENSORS_WRITER_HPP
#define ROPESCALE_TESTS_SUPPORT_SAFETENSORS_WRITER_HPP

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ropescale_test {

using bytes = std::vector<unsigned char>;

struct st_entry {
  std::string name;
  std::string dtype;  // "F32", "BF16", ...
  std::vector<std::int64_t> shape;
  bytes data;
};

inline void put_le(bytes& out, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xffu));
}

inline bytes f32_bytes(const std::vector<float>& v) {
  bytes out;
  for (float f : v) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    put_le(out, u, 4);
  }
  return out;
}

inline bytes f64_bytes(const std::vector<double>& v) {
  bytes out;
  for (double d : v) {
    std::uint64_t u;
    std::memcpy(&u, &d, 8);
    put_le(out, u, 8);
  }
  return out;
}

inline bytes u16_bytes(const std::vector<std::uint16_t>& v) {
  bytes out;
  for (auto h : v) put_le(out, h, 2);
  return out;
}

/// bf16 bits of a float that is exactly representable in bf16 (low 16 bits zero); throws otherwise.
inline std::uint16_t bf16_exact(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if (u & 0xffffu) throw std::logic_error("bf16_exact: value not representable");
  return static_cast<std::uint16_t>(u >> 16);
}

/// bf16 bits of a finite float, rounded to nearest even.
inline std::uint16_t bf16_round(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  const std::uint32_t lsb = (u >> 16) & 1u;
  u += 0x7fffu + lsb;
  return static_cast<std::uint16_t>(u >> 16);
}

/// Exact bf16 bits -> double, written independently of the library (sign, exponent, mantissa).
inline double bf16_value(std::uint16_t h) {
  const int sign = h >> 15, e = (h >> 7) & 0xff, m = h & 0x7f;
  double v;
  if (e == 0xff)
    v = m ? NAN : INFINITY;
  else if (e == 0)
    v = std::ldexp(m, -133);
  else
    v = std::ldexp(128 + m, e - 134);
  return sign ? -v : v;
}

/// Header JSON text (no padding) for entries laid out back to back in order.
inline std::string st_header(const std::vector<st_entry>& entries,
                             const std::string& metadata_json = "") {
  std::string h = "{";
  bool first = true;
  if (!metadata_json.empty()) {
    h += "\"__metadata__\":" + metadata_json;
    first = false;
  }
  std::uint64_t offset = 0;
  for (const auto& e : entries) {
    if (!first) h += ",";
    first = false;
    h += "\"" + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":[";
    for (std::size_t i = 0; i < e.shape.size(); ++i)
      h += (i ? "," : "") + std::to_string(e.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(offset) + "," +
         std::to_string(offset + e.data.size()) + "]}";
    offset += e.data.size();
  }
  return h + "}";
}

/// Image from a header text and a data buffer. The header is padded with spaces to a multiple of
/// 8 bytes when `pad`; `declared_length` overrides the 8-byte prefix (to craft bad lengths).
inline bytes st_raw(const std::string& header, const bytes& data, bool pad = true,
                    std::int64_t declared_length = -1) {
  std::string h = header;
  if (pad)
    while ((8 + h.size()) % 8) h += ' ';
  bytes out;
  put_le(out, declared_length >= 0 ? static_cast<std::uint64_t>(declared_length) : h.size(), 8);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

/// Well-formed image of `entries`.
inline bytes st_image(const std::vector<st_entry>& entries, const std::string& metadata_json = "") {
  bytes data;
  for (const auto& e : entries) data.insert(data.end(), e.data.begin(), e.data.end());
  return st_raw(st_header(entries, metadata_json), data);
}

inline void write_bytes(const std::filesystem::path& p, const bytes& b) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

inline void write_text(const std::filesystem::path& p, const std::string& s) {
  write_bytes(p, bytes(s.begin(), s.end()));
}

/// Scratch directory for files written by tests (ROPESCALE_TEST_TMPDIR), one subfolder per name.
inline std::filesystem::path scratch_dir(const std::string& name) {
  const char* env = std::getenv("ROPESCALE_TEST_TMPDIR");
#ifdef ROPESCALE_TEST_TMPDIR
  std::filesystem::path base = env ? env : ROPESCALE_TEST_TMPDIR;
#else
  std::filesystem::path base = env ? env : std::filesystem::temp_directory_path();
#endif
  auto dir = base / name;
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace ropescale_test

#endif  // ROPESCALE_TESTS_SUPPORT_SAFETENSORS_WRITER_HPP

// SPDX-License-Identifier: Apache-2.0
// A small, defensive, header-only reader for GGUF files (ggml's model file format, versions 2 and
// 3, little-endian; docs/gguf.md §1): the metadata key/value pairs (every value type, arrays of
// arrays included), the tensor infos, and the few small F32 tensors RoPE needs
// (rope_freqs.weight, rope_factors_long.weight, rope_factors_short.weight). Only the header is
// parsed when a file is opened; a tensor's bytes are read on request with one seek, so a
// multi-gigabyte model costs a few megabytes. Every declared count and length is compared with
// the bytes that remain before anything is allocated or looped over, products are overflow-safe,
// and the caps below bound memory (well under 1 GB) and time (linear in the header's size) for
// any input. Every error is a ropescale::invalid_parameter
// "<field or key>: <expectation>, got <value> (<file>)" with names quoted, bounded and
// control bytes escaped (detail/quote.hpp).
#ifndef ROPESCALE_GGUF_HPP
#define ROPESCALE_GGUF_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "ropescale/detail/file_io.hpp"
#include "ropescale/detail/quote.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/hf_config.hpp"
#include "ropescale/method.hpp"
#include "ropescale/types.hpp"

namespace ropescale {
namespace gguf {

/// Metadata value types (ggml docs/gguf.md, `gguf_metadata_value_type`).
enum class value_type : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

/// The format's name of a value type ("u32", "f32", "string", "array", ...).
inline constexpr std::string_view to_string(value_type t) noexcept {
  switch (t) {
    case value_type::u8:
      return "u8";
    case value_type::i8:
      return "i8";
    case value_type::u16:
      return "u16";
    case value_type::i16:
      return "i16";
    case value_type::u32:
      return "u32";
    case value_type::i32:
      return "i32";
    case value_type::f32:
      return "f32";
    case value_type::boolean:
      return "bool";
    case value_type::string:
      return "string";
    case value_type::array:
      return "array";
    case value_type::u64:
      return "u64";
    case value_type::i64:
      return "i64";
    case value_type::f64:
      return "f64";
  }
  return "?";
}

/// Resource caps (documented in docs/gguf.md §1). A file that exceeds a hard cap is rejected; the
/// "kept" caps only decide what is stored (larger arrays and strings are validated and skipped).
struct limits {
  static constexpr std::uint64_t max_metadata_entries = std::uint64_t{1} << 16;
  static constexpr std::uint64_t max_tensors = std::uint64_t{1} << 20;
  static constexpr std::uint64_t max_key_bytes = 1024;
  static constexpr std::uint64_t max_tensor_name_bytes = 63;  // ggml: GGML_MAX_NAME - 1
  static constexpr std::uint32_t max_tensor_dims = 4;         // ggml: GGML_MAX_DIMS
  static constexpr int max_array_depth = 8;
  /// Arrays with more elements are validated but their elements are not stored.
  static constexpr std::uint64_t max_kept_array_elements = std::uint64_t{1} << 16;
  /// Total array elements stored for one file.
  static constexpr std::uint64_t max_kept_elements_total = std::uint64_t{1} << 20;
  /// Strings longer than this keep only a prefix of this length (string_truncated).
  static constexpr std::uint64_t max_kept_string_bytes = std::uint64_t{1} << 20;
  /// Total string bytes stored for one file (beyond it strings keep an empty prefix).
  static constexpr std::uint64_t max_kept_string_bytes_total = std::uint64_t{64} << 20;
  /// Largest tensor read_f32 returns (RoPE factor tensors hold rotary_dim/2 values).
  static constexpr std::uint64_t max_read_elements = std::uint64_t{1} << 20;
};

/// One metadata value. Scalars fill the member of their kind; strings fill text (a prefix when
/// string_truncated); arrays fill element_type, count and, when kept, elements.
struct value {
  value_type type = value_type::u8;
  std::uint64_t uint_value = 0;  ///< u8, u16, u32, u64 (and bool as 0/1)
  std::int64_t int_value = 0;    ///< i8, i16, i32, i64
  double float_value = 0.0;      ///< f32 (exact widening) and f64
  bool bool_value = false;       ///< bool
  std::string text;              ///< string (prefix if string_truncated)
  std::uint64_t string_length = 0;
  bool string_truncated = false;
  value_type element_type = value_type::u8;  ///< array
  std::uint64_t count = 0;                   ///< array length
  std::vector<value> elements;               ///< array elements, when elements_kept
  bool elements_kept = false;

  bool is_unsigned() const noexcept {
    return type == value_type::u8 || type == value_type::u16 || type == value_type::u32 ||
           type == value_type::u64;
  }
  bool is_signed() const noexcept {
    return type == value_type::i8 || type == value_type::i16 || type == value_type::i32 ||
           type == value_type::i64;
  }
  bool is_float() const noexcept { return type == value_type::f32 || type == value_type::f64; }
  /// A non-negative integer of any integer type, else nullopt.
  std::optional<std::uint64_t> as_count() const noexcept {
    if (is_unsigned()) return uint_value;
    if (is_signed() && int_value >= 0) return static_cast<std::uint64_t>(int_value);
    return std::nullopt;
  }
  /// Any number (integer or float) as double, else nullopt.
  std::optional<double> as_number() const noexcept {
    if (is_float()) return float_value;
    if (is_unsigned()) return static_cast<double>(uint_value);
    if (is_signed()) return static_cast<double>(int_value);
    return std::nullopt;
  }
};

/// A key/value pair in file order.
struct metadata_entry {
  std::string key;
  gguf::value value;
};

/// ggml tensor element types the reader knows (block size and bytes per block).
struct tensor_type_info {
  std::uint32_t id;
  const char* name;
  std::uint32_t block_size;
  std::uint32_t type_size;
};

/// The ggml tensor types (ggml.h `enum ggml_type`); removed ids (4, 5, 31–33, 36–38) are absent.
inline constexpr tensor_type_info tensor_types[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
};

/// The type table entry of id, or nullptr for an unknown id.
inline const tensor_type_info* find_tensor_type(std::uint32_t id) noexcept {
  for (const tensor_type_info& t : tensor_types) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

/// One tensor info: name, dimensions (ggml order: dims[0] is the contiguous one), type, offset
/// relative to the data section, and its size in bytes.
struct tensor_info {
  std::string name;
  std::vector<std::uint64_t> dims;
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
  /// Product of dims (1 for no dims).
  std::uint64_t elements() const noexcept {
    std::uint64_t n = 1;
    for (std::uint64_t d : dims) n *= d;  // bounded by the reader's overflow check
    return n;
  }
};

namespace detail {

/// Printable form of a name or string from the file: single-quoted, control bytes and invalid
/// UTF-8 escaped, at most `limit` bytes of text, then "... (N bytes)" (detail/quote.hpp).
inline std::string quote_name(std::string_view s, std::size_t limit = 80) {
  return ropescale::detail::quote_text(s, limit);
}

/// "key 'llama.rope.freq_base'" for messages.
inline std::string key_where(std::string_view key) { return "key " + quote_name(key); }
using ropescale::detail::tensor_where;

/// Throws invalid_parameter "<where>: <expectation>, got <got> (<label>)".
[[noreturn]] inline void gguf_fail(const std::string& label, const std::string& where,
                                   const std::string& expectation, const std::string& got) {
  ropescale::detail::throw_message(where, expectation + ", got " + got + " (" + label + ")");
}

/// Sequential little-endian reader over a memory buffer or a file (64 KiB buffered), with the
/// bounds check of every read in one place.
class byte_reader {
 public:
  byte_reader(const unsigned char* data, std::uint64_t size, std::string label)
      : mem_(data), size_(size), label_(std::move(label)) {}
  byte_reader(std::ifstream* in, std::uint64_t size, std::string label)
      : in_(in), size_(size), label_(std::move(label)) {}

  std::uint64_t pos() const noexcept { return pos_; }
  std::uint64_t size() const noexcept { return size_; }
  std::uint64_t remaining() const noexcept { return size_ - pos_; }
  const std::string& label() const noexcept { return label_; }

  /// Fails unless n bytes remain ("truncated").
  void need(std::uint64_t n, const std::string& where) const {
    if (n > remaining()) {
      gguf_fail(label_, where,
                "the file is truncated: needs " + std::to_string(n) + " bytes at offset " +
                    std::to_string(pos_),
                std::to_string(remaining()) + " bytes left");
    }
  }

  void read(void* out, std::uint64_t n, const std::string& where) {
    need(n, where);
    auto* dst = static_cast<unsigned char*>(out);
    if (mem_ != nullptr) {
      if (n != 0) std::memcpy(dst, mem_ + pos_, static_cast<std::size_t>(n));
      pos_ += n;
      return;
    }
    while (n > 0) {
      if (pos_ < buf_start_ || pos_ >= buf_start_ + buf_.size()) refill(where);
      const std::uint64_t at = pos_ - buf_start_;
      const std::uint64_t take = std::min<std::uint64_t>(n, buf_.size() - at);
      std::memcpy(dst, buf_.data() + at, static_cast<std::size_t>(take));
      dst += take;
      pos_ += take;
      n -= take;
    }
  }

  void skip(std::uint64_t n, const std::string& where) {
    need(n, where);
    pos_ += n;
  }

  std::uint64_t uint(int bytes, const std::string& where) {
    unsigned char b[8];
    read(b, static_cast<std::uint64_t>(bytes), where);
    return ropescale::detail::load_le(b, bytes);
  }
  std::uint32_t u32(const std::string& where) { return static_cast<std::uint32_t>(uint(4, where)); }
  std::uint64_t u64(const std::string& where) { return uint(8, where); }

 private:
  void refill(const std::string& where) {
    const std::uint64_t n = std::min<std::uint64_t>(std::uint64_t{1} << 16, size_ - pos_);
    buf_.resize(static_cast<std::size_t>(n));
    in_->clear();
    in_->seekg(static_cast<std::streamoff>(pos_));
    in_->read(reinterpret_cast<char*>(buf_.data()), static_cast<std::streamsize>(n));
    if (!*in_ || static_cast<std::uint64_t>(in_->gcount()) != n) {
      gguf_fail(label_, where, "the file must stay readable while it is parsed",
                "a short read at offset " + std::to_string(pos_));
    }
    buf_start_ = pos_;
  }

  const unsigned char* mem_ = nullptr;
  std::ifstream* in_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t pos_ = 0;
  std::vector<unsigned char> buf_;
  std::uint64_t buf_start_ = 0;
  std::string label_;
};

/// Bytes of one element of a fixed-size value type (0 for string and array).
inline std::uint64_t fixed_value_size(value_type t) noexcept {
  switch (t) {
    case value_type::u8:
    case value_type::i8:
    case value_type::boolean:
      return 1;
    case value_type::u16:
    case value_type::i16:
      return 2;
    case value_type::u32:
    case value_type::i32:
    case value_type::f32:
      return 4;
    case value_type::u64:
    case value_type::i64:
    case value_type::f64:
      return 8;
    case value_type::string:
    case value_type::array:
      return 0;
  }
  return 0;
}

/// Smallest encoding of one element of type t (strings: the 8-byte length; arrays: type + count).
inline std::uint64_t min_value_size(value_type t) noexcept {
  if (t == value_type::string) return 8;
  if (t == value_type::array) return 12;
  return fixed_value_size(t);
}

inline std::optional<value_type> parse_value_type(std::uint32_t raw) noexcept {
  if (raw > static_cast<std::uint32_t>(value_type::f64)) return std::nullopt;
  return static_cast<value_type>(raw);
}

/// Parser state shared by every value of one file (storage budgets).
struct parse_budget {
  std::uint64_t kept_elements = 0;
  std::uint64_t kept_string_bytes = 0;
};

inline void parse_value(byte_reader& r, value& v, value_type t, const std::string& where, int depth,
                        parse_budget& budget, bool keep);

inline void parse_scalar(byte_reader& r, value& v, value_type t, const std::string& where) {
  v.type = t;
  const std::uint64_t size = fixed_value_size(t);
  const std::uint64_t raw = r.uint(static_cast<int>(size), where);
  switch (t) {
    case value_type::u8:
    case value_type::u16:
    case value_type::u32:
    case value_type::u64:
      v.uint_value = raw;
      break;
    case value_type::i8:
      // The i8 value is sign-extended on purpose.
      v.int_value = static_cast<std::int8_t>(  // NOLINT(bugprone-signed-char-misuse)
          static_cast<std::uint8_t>(raw));
      break;
    case value_type::i16:
      v.int_value = static_cast<std::int16_t>(static_cast<std::uint16_t>(raw));
      break;
    case value_type::i32:
      v.int_value = static_cast<std::int32_t>(static_cast<std::uint32_t>(raw));
      break;
    case value_type::i64:
      v.int_value = static_cast<std::int64_t>(raw);
      break;
    case value_type::f32: {
      const auto bits = static_cast<std::uint32_t>(raw);
      float f;
      std::memcpy(&f, &bits, sizeof f);
      v.float_value = static_cast<double>(f);
      break;
    }
    case value_type::f64: {
      double d;
      std::memcpy(&d, &raw, sizeof d);
      v.float_value = d;
      break;
    }
    case value_type::boolean:
      if (raw > 1) gguf_fail(r.label(), where, "a bool must be 0 or 1", std::to_string(raw));
      v.bool_value = raw == 1;
      v.uint_value = raw;
      break;
    case value_type::string:
    case value_type::array:
      break;
  }
}

/// A string: u64 length (checked against the bytes left), then the bytes. Keeps at most
/// limits::max_kept_string_bytes of it (and nothing once the file's string budget is spent).
inline void parse_string(byte_reader& r, value& v, const std::string& where, parse_budget& budget,
                         bool keep) {
  v.type = value_type::string;
  const std::uint64_t n = r.u64(where);
  if (n > r.remaining()) {
    gguf_fail(r.label(), where,
              "a string length must fit in the " + std::to_string(r.remaining()) +
                  " bytes left in the file",
              std::to_string(n));
  }
  v.string_length = n;
  std::uint64_t take = keep ? std::min(n, limits::max_kept_string_bytes) : 0;
  take = std::min(take, limits::max_kept_string_bytes_total - budget.kept_string_bytes);
  v.text.resize(static_cast<std::size_t>(take));
  if (take != 0) r.read(&v.text[0], take, where);
  r.skip(n - take, where);
  budget.kept_string_bytes += take;
  v.string_truncated = take != n;
}

inline void parse_array(byte_reader& r, value& v, const std::string& where, int depth,
                        parse_budget& budget, bool keep) {
  v.type = value_type::array;
  if (depth >= limits::max_array_depth) {
    gguf_fail(r.label(), where,
              "arrays may nest at most " + std::to_string(limits::max_array_depth) + " deep",
              "deeper nesting");
  }
  const std::uint32_t raw_type = r.u32(where);
  const auto et = parse_value_type(raw_type);
  if (!et) {
    gguf_fail(r.label(), where, "an array element type must be a GGUF value type (0..12)",
              std::to_string(raw_type));
  }
  v.element_type = *et;
  const std::uint64_t n = r.u64(where);
  // Every element takes at least min_value_size bytes: compare before looping or allocating.
  const std::uint64_t min_size = min_value_size(*et);
  if (n > r.remaining() / min_size) {
    gguf_fail(r.label(), where,
              "an array of " + std::string(to_string(*et)) + " must fit in the " +
                  std::to_string(r.remaining()) + " bytes left in the file",
              std::to_string(n) + " elements");
  }
  v.count = n;
  const bool keep_elements = keep && n <= limits::max_kept_array_elements &&
                             n <= limits::max_kept_elements_total - budget.kept_elements;
  const std::uint64_t fixed = fixed_value_size(*et);
  if (!keep_elements && fixed != 0 && *et != value_type::boolean) {
    r.skip(n * fixed, where);  // n * fixed <= remaining, checked above
    return;
  }
  if (keep_elements) {
    budget.kept_elements += n;
    v.elements.resize(static_cast<std::size_t>(n));
    v.elements_kept = true;
  }
  value scratch;
  for (std::uint64_t k = 0; k < n; ++k) {
    value& e = keep_elements ? v.elements[static_cast<std::size_t>(k)] : scratch;
    parse_value(r, e, *et, where, depth + 1, budget, keep_elements);
    if (!keep_elements) scratch = value{};
  }
}

inline void parse_value(byte_reader& r, value& v, value_type t, const std::string& where, int depth,
                        parse_budget& budget, bool keep) {
  if (t == value_type::string) {
    parse_string(r, v, where, budget, keep);
  } else if (t == value_type::array) {
    parse_array(r, v, where, depth, budget, keep);
  } else {
    parse_scalar(r, v, t, where);
  }
}

inline std::string hex_bytes(const unsigned char* p, std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0) s += ' ';
    s += hex[p[i] >> 4];
    s += hex[p[i] & 15];
  }
  return s;
}

}  // namespace detail

/// A parsed GGUF header: metadata, tensor infos, alignment and where the data section starts.
/// Copyable; reads of tensor data reopen the file (or use the owned buffer). Const members are
/// thread-safe.
class file {
 public:
  /// Opens `path` and parses the header. Only regular files are accepted (a FIFO or device is
  /// rejected before it is opened). Throws invalid_parameter naming the file and the field.
  static file open(const std::filesystem::path& path) {
    const std::string label = path.string();
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || !std::filesystem::exists(status)) {
      detail::gguf_fail(label, "file", "must exist", ec ? ec.message() : "no such file");
    }
    if (!std::filesystem::is_regular_file(status)) {
      detail::gguf_fail(label, "file", "must be a regular file", "another kind of file");
    }
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) detail::gguf_fail(label, "file", "must have a size", ec.message());
    std::ifstream in(path, std::ios::binary);
    if (!in) detail::gguf_fail(label, "file", "must be readable", "open failed");
    file f;
    f.label_ = label;
    f.path_ = path;
    f.size_ = static_cast<std::uint64_t>(size);
    detail::byte_reader r(&in, f.size_, label);
    f.parse(r);
    return f;
  }

  /// Copies `size` bytes at `data` and parses them as a GGUF image; `label` names it in errors.
  static file from_buffer(const void* data, std::size_t size, std::string label = "<buffer>") {
    file f;
    f.label_ = std::move(label);
    const auto* p = static_cast<const unsigned char*>(data);
    f.buffer_ = std::make_shared<const std::vector<unsigned char>>(p, p + size);
    f.size_ = size;
    detail::byte_reader r(f.buffer_->data(), f.size_, f.label_);
    f.parse(r);
    return f;
  }

  /// The path or label used in error messages.
  const std::string& label() const noexcept { return label_; }
  /// 2 or 3.
  std::uint32_t version() const noexcept { return version_; }
  /// general.alignment (32 when absent).
  std::uint64_t alignment() const noexcept { return alignment_; }
  /// File offset of the data section (header end padded to the alignment).
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  /// File size in bytes.
  std::uint64_t size() const noexcept { return size_; }
  /// Metadata in file order.
  const std::vector<metadata_entry>& metadata() const noexcept { return metadata_; }
  /// Tensor infos in file order.
  const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }

  /// The value of `key`, or nullptr.
  const value* find(std::string_view key) const noexcept {
    const auto it = std::lower_bound(
        key_index_.begin(), key_index_.end(), key,
        [this](std::size_t i, std::string_view k) { return metadata_[i].key < k; });
    if (it == key_index_.end() || metadata_[*it].key != key) return nullptr;
    return &metadata_[*it].value;
  }

  /// The tensor called `name`, or nullptr.
  const tensor_info* find_tensor(std::string_view name) const noexcept {
    const auto it = std::lower_bound(
        tensor_index_.begin(), tensor_index_.end(), name,
        [this](std::size_t i, std::string_view n) { return tensors_[i].name < n; });
    if (it == tensor_index_.end() || tensors_[*it].name != name) return nullptr;
    return &tensors_[*it];
  }

  /// The values of F32 tensor `name` (ggml order), read with one seek. Throws if the tensor is
  /// missing, not F32, or has more than limits::max_read_elements elements.
  std::vector<float> read_f32(std::string_view name) const {
    const tensor_info* t = find_tensor(name);
    const std::string where = detail::tensor_where(name);
    if (t == nullptr) detail::gguf_fail(label_, where, "must exist", "no such tensor");
    if (t->type != 0) {
      const tensor_type_info* ti = find_tensor_type(t->type);
      detail::gguf_fail(label_, where, "must have type F32", ti != nullptr ? ti->name : "?");
    }
    const std::uint64_t n = t->elements();
    if (n > limits::max_read_elements) {
      detail::gguf_fail(
          label_, where,
          "must have at most " + std::to_string(limits::max_read_elements) + " elements to be read",
          std::to_string(n));
    }
    std::vector<unsigned char> raw(static_cast<std::size_t>(n * 4));
    read_bytes(data_offset_ + t->offset, raw.size(), raw.data(), where);
    std::vector<float> out(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < out.size(); ++i) {
      const auto bits =
          static_cast<std::uint32_t>(ropescale::detail::load_le(raw.data() + 4 * i, 4));
      std::memcpy(&out[i], &bits, sizeof(float));
    }
    return out;
  }

 private:
  file() = default;

  void read_bytes(std::uint64_t offset, std::size_t n, unsigned char* out,
                  const std::string& where) const {
    if (n == 0) return;
    if (buffer_) {
      std::memcpy(out, buffer_->data() + offset, n);  // offset + n <= size_: checked at parse
      return;
    }
    std::ifstream in(path_, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(out), static_cast<std::streamsize>(n));
    if (!in || static_cast<std::size_t>(in.gcount()) != n) {
      detail::gguf_fail(label_, where, "must be readable",
                        "a short read (the file changed since it was opened)");
    }
  }

  void parse(detail::byte_reader& r) {
    using detail::gguf_fail;
    // Header: magic, version, tensor count, metadata count.
    unsigned char magic[4] = {0, 0, 0, 0};
    if (r.size() < 4) {
      gguf_fail(label_, "magic", "must be \"GGUF\" (a GGUF file starts with 4 magic bytes)",
                std::to_string(r.size()) + " bytes in the file");
    }
    r.read(magic, 4, "magic");
    if (std::memcmp(magic, "GGUF", 4) != 0) {
      gguf_fail(label_, "magic", "must be \"GGUF\" (47 47 55 46)", detail::hex_bytes(magic, 4));
    }
    version_ = r.u32("version");
    if (version_ != 2 && version_ != 3) {
      std::string why = std::to_string(version_);
      if (version_ == 1) why += " (GGUF v1, 32-bit counts: not supported)";
      if ((version_ & 0xffffu) == 0 && version_ != 0) why += " (a big-endian file?)";
      gguf_fail(label_, "version", "must be 2 or 3", why);
    }
    const std::uint64_t n_tensors = r.u64("tensor_count");
    const std::uint64_t n_kv = r.u64("metadata_kv_count");
    const auto check_count = [&](const char* field, std::uint64_t n, std::uint64_t cap,
                                 std::uint64_t min_bytes) {
      if (n > cap) {
        gguf_fail(label_, field, "must be at most " + std::to_string(cap), std::to_string(n));
      }
      if (n > r.remaining() / min_bytes) {
        gguf_fail(label_, field,
                  "must fit in the " + std::to_string(r.remaining()) + " bytes left (" +
                      std::to_string(min_bytes) + " bytes each at least; a truncated file?)",
                  std::to_string(n));
      }
    };
    check_count("metadata_kv_count", n_kv, limits::max_metadata_entries, 13);
    check_count("tensor_count", n_tensors, limits::max_tensors, 24);

    // Metadata.
    detail::parse_budget budget;
    metadata_.resize(static_cast<std::size_t>(n_kv));
    for (std::size_t k = 0; k < metadata_.size(); ++k) {
      metadata_entry& e = metadata_[k];
      const std::string entry_where = "metadata entry " + std::to_string(k);
      const std::uint64_t key_len = r.u64(entry_where);
      if (key_len == 0 || key_len > limits::max_key_bytes || key_len > r.remaining()) {
        gguf_fail(label_, entry_where,
                  "a key length must be in [1, " + std::to_string(limits::max_key_bytes) +
                      "] and fit in the bytes left",
                  std::to_string(key_len));
      }
      e.key.resize(static_cast<std::size_t>(key_len));
      r.read(&e.key[0], key_len, entry_where);
      const std::string where = detail::key_where(e.key);
      const std::uint32_t raw_type = r.u32(where);
      const auto t = detail::parse_value_type(raw_type);
      if (!t) gguf_fail(label_, where, "a value type must be 0..12", std::to_string(raw_type));
      detail::parse_value(r, e.value, *t, where, 0, budget, true);
    }
    key_index_.resize(metadata_.size());
    for (std::size_t i = 0; i < key_index_.size(); ++i) key_index_[i] = i;
    std::sort(key_index_.begin(), key_index_.end(),
              [this](std::size_t a, std::size_t b) { return metadata_[a].key < metadata_[b].key; });
    for (std::size_t i = 1; i < key_index_.size(); ++i) {
      if (metadata_[key_index_[i]].key == metadata_[key_index_[i - 1]].key) {
        gguf_fail(label_, detail::key_where(metadata_[key_index_[i]].key), "must appear once",
                  "a duplicate key");
      }
    }

    // general.alignment: u32, a power of two (ggml's rule).
    if (const value* a = find("general.alignment")) {
      if (a->type != value_type::u32 || a->uint_value == 0 ||
          (a->uint_value & (a->uint_value - 1)) != 0) {
        gguf_fail(label_, detail::key_where("general.alignment"), "must be a u32 power of two",
                  a->type == value_type::u32 ? std::to_string(a->uint_value)
                                             : "a " + std::string(to_string(a->type)));
      }
      alignment_ = a->uint_value;
    }

    // Tensor infos.
    tensors_.resize(static_cast<std::size_t>(n_tensors));
    std::uint64_t running = 0;  // ggml: offsets follow each other, each padded to the alignment
    for (std::size_t k = 0; k < tensors_.size(); ++k) {
      tensor_info& t = tensors_[k];
      const std::string info_where = "tensor info " + std::to_string(k);
      const std::uint64_t name_len = r.u64(info_where);
      if (name_len > limits::max_tensor_name_bytes || name_len > r.remaining()) {
        gguf_fail(label_, info_where,
                  "a tensor name must be at most " + std::to_string(limits::max_tensor_name_bytes) +
                      " bytes",
                  std::to_string(name_len) + " bytes");
      }
      t.name.resize(static_cast<std::size_t>(name_len));
      if (name_len != 0) r.read(&t.name[0], name_len, info_where);
      const std::string where = detail::tensor_where(t.name);
      const std::uint32_t n_dims = r.u32(where);
      if (n_dims > limits::max_tensor_dims) {
        gguf_fail(label_, where, "must have at most 4 dimensions", std::to_string(n_dims));
      }
      t.dims.resize(n_dims);
      std::uint64_t elements = 1;
      for (std::uint32_t j = 0; j < n_dims; ++j) {
        const std::uint64_t d = r.u64(where);
        const std::uint64_t cap = static_cast<std::uint64_t>(INT64_MAX);
        if (d > cap || (d != 0 && elements > cap / d)) {
          gguf_fail(label_, where, "the element count must fit in int64",
                    "dimension " + std::to_string(j) + " = " + std::to_string(d));
        }
        t.dims[j] = d;
        elements *= d;
      }
      t.type = r.u32(where);
      const tensor_type_info* ti = find_tensor_type(t.type);
      if (ti == nullptr)
        gguf_fail(label_, where, "must have a known ggml type", std::to_string(t.type));
      const std::uint64_t d0 = n_dims != 0 ? t.dims[0] : 1;
      if (d0 % ti->block_size != 0) {
        gguf_fail(label_, where,
                  "dimension 0 must be a multiple of the " + std::string(ti->name) +
                      " block size " + std::to_string(ti->block_size),
                  std::to_string(d0));
      }
      // bytes = elements / block_size * type_size, overflow-checked.
      const std::uint64_t blocks = elements / ti->block_size;
      if (blocks > UINT64_MAX / ti->type_size) {
        gguf_fail(label_, where, "the byte size must fit in 64 bits",
                  std::to_string(elements) + " elements");
      }
      t.bytes = blocks * ti->type_size;
      t.offset = r.u64(where);
      if (t.offset != running) {
        gguf_fail(label_, where,
                  "the data offset must follow the previous tensor's (" + std::to_string(running) +
                      ", padded to the alignment " + std::to_string(alignment_) + ")",
                  std::to_string(t.offset));
      }
      const std::uint64_t padded = pad(t.bytes);
      if (padded < t.bytes || running > UINT64_MAX - padded) {
        gguf_fail(label_, where, "the data section must fit in 64 bits",
                  std::to_string(t.bytes) + " bytes");
      }
      running += padded;
    }
    tensor_index_.resize(tensors_.size());
    for (std::size_t i = 0; i < tensor_index_.size(); ++i) tensor_index_[i] = i;
    std::sort(tensor_index_.begin(), tensor_index_.end(),
              [this](std::size_t a, std::size_t b) { return tensors_[a].name < tensors_[b].name; });
    for (std::size_t i = 1; i < tensor_index_.size(); ++i) {
      if (tensors_[tensor_index_[i]].name == tensors_[tensor_index_[i - 1]].name) {
        gguf_fail(label_, detail::tensor_where(tensors_[tensor_index_[i]].name), "must appear once",
                  "a duplicate tensor name");
      }
    }

    // Data section: starts at the header end padded to the alignment; every tensor inside it.
    data_offset_ = pad(r.pos());
    if (data_offset_ < r.pos())
      gguf_fail(label_, "data section", "must fit in 64 bits", "overflow");
    for (const tensor_info& t : tensors_) {
      if (t.bytes == 0) continue;
      if (data_offset_ > size_ || t.offset > size_ - data_offset_ ||
          t.bytes > size_ - data_offset_ - t.offset) {
        gguf_fail(label_, detail::tensor_where(t.name),
                  "the tensor data must lie inside the file (" + std::to_string(size_) + " bytes)",
                  "bytes [" + std::to_string(data_offset_ + t.offset) + ", +" +
                      std::to_string(t.bytes) + ")");
      }
    }
  }

  std::uint64_t pad(std::uint64_t x) const noexcept {
    const std::uint64_t rem = x % alignment_;
    return rem == 0 ? x : x + (alignment_ - rem);  // may wrap: callers compare with x
  }

  std::string label_;
  std::filesystem::path path_;
  std::shared_ptr<const std::vector<unsigned char>> buffer_;
  std::uint64_t size_ = 0;
  std::uint32_t version_ = 0;
  std::uint64_t alignment_ = 32;
  std::uint64_t data_offset_ = 0;
  std::vector<metadata_entry> metadata_;
  std::vector<std::size_t> key_index_;
  std::vector<tensor_info> tensors_;
  std::vector<std::size_t> tensor_index_;
};

/// True iff `path` is a regular file starting with the GGUF magic (the CLIs choose the loader by
/// magic, not by extension). Never throws; false for unreadable paths.
inline bool has_gguf_magic(const std::filesystem::path& path) noexcept {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char m[4] = {0, 0, 0, 0};
  in.read(m, 4);
  return in && std::memcmp(m, "GGUF", 4) == 0;
}

}  // namespace gguf

namespace gguf {
namespace detail {

/// Architectures llama.cpp rotates with GPT-J pairs (LLAMA_ROPE_TYPE_NORM in its
/// llama_model_rope_type; a llama GGUF holds Q/K weights permuted by the converter). glm4 is
/// NORM unless the file declares M-RoPE sections (then, like the M-RoPE archs below, NeoX).
inline constexpr const char* norm_pairing_archs[] = {
    "llama",         "llada",         "llama4",       "deci",       "baichuan",      "starcoder",
    "internlm2",     "minicpm",       "xverse",       "command-r",  "cohere2",       "cohere2moe",
    "olmo",          "arctic",        "deepseek",     "deepseek2",  "deepseek2-ocr", "deepseek32",
    "deepseek4",     "muse-glimmer",  "plm",          "chatglm",    "granite",       "granitemoe",
    "granitehybrid", "graniteswitch", "chameleon",    "bailingmoe", "neo-bert",      "smollm3",
    "arcee",         "ernie4_5",      "ernie4_5-moe", "mistral3",   "eagle3",        "mistral4",
    "llama-embed",   "maincoder",     "glm-dsa",      "nanbeige",   "glm4"};
/// Architectures llama.cpp rotates with NeoX pairs (LLAMA_ROPE_TYPE_NEOX).
// clang-format off
inline constexpr const char* neox_pairing_archs[] = {
    "falcon", "falcon-h1", "grok", "dbrx", "bert", "jina-bert-v3", "modern-bert", "nomic-bert",
    "nomic-bert-moe", "eurobert", "stablelm", "bitnet", "qwen", "qwen2", "dream", "qwen2moe",
    "qwen3", "qwen3moe", "llada-moe", "rnd1", "olmo2", "olmoe", "phi2", "phi3", "phimoe", "plamo",
    "plamo2", "plamo3", "gemma", "gemma2", "gemma3", "gemma3n", "gemma4", "gemma4-assistant",
    "gemma-embedding", "starcoder2", "openelm", "gptneox", "codeshell", "orion", "nemotron",
    "exaone", "exaone4", "exaone-moe", "minicpm3", "bailingmoe2", "dots1", "hunyuan-moe", "jais2",
    "gpt-oss", "hunyuan-dense", "hy_v3", "lfm2", "lfm2moe", "smallthinker", "seed_oss", "grovemoe",
    "apertus", "minimax-m2", "minimax-m3", "cogvlm", "pangu-embedded", "afmoe", "laguna",
    "qwen3next", "mimo2", "step35", "talkie", "mellum", "glm4moe", "hunyuan_vl"};
// clang-format on
/// Architectures llama.cpp rotates with multi-section RoPE (LLAMA_ROPE_TYPE_MROPE / IMROPE). Its
/// pairs are NeoX's, and for text positions (every section at the same position) the rotation
/// is NeoX's; ropescale encodes that and says so in a diagnostic.
inline constexpr const char* mrope_archs[] = {"qwen2vl", "paddleocr", "qwen3vl", "qwen3vlmoe",
                                              "qwen35",  "qwen35moe", "qwen3tts"};

inline bool in_list(std::string_view arch, const char* const* begin, const char* const* end) {
  return std::any_of(begin, end, [arch](const char* a) { return arch == a; });
}

/// Reads the RoPE keys of one file with llama.cpp's types, defaults and error rules.
class rope_keys {
 public:
  rope_keys(const file& f, std::vector<std::string>& diagnostics)
      : f_(f), diagnostics_(diagnostics) {}

  [[noreturn]] void fail(const std::string& key, const std::string& expectation,
                         const std::string& got) const {
    gguf_fail(f_.label(), key_where(key), expectation, got);
  }

  static std::string type_text(const value& v) { return "a " + std::string(to_string(v.type)); }

  std::optional<std::string> string(const std::string& key) const {
    const value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    if (v->type != value_type::string) fail(key, "must be a string", type_text(*v));
    if (v->string_truncated)
      fail(key, "must be a short string", std::to_string(v->string_length) + " bytes");
    return v->text;
  }

  /// An integer key (llama.cpp: u32). Any non-negative integer type is accepted, with a
  /// diagnostic when it is not u32 (docs/gguf.md §3 rule 8). Per-layer arrays give element 0.
  std::optional<std::uint64_t> count(const std::string& key, bool allow_array = false) const {
    const value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    const value* e = v;
    if (v->type == value_type::array && allow_array) {
      if (!v->elements_kept || v->count == 0)
        fail(key, "must be a non-empty per-layer array", std::to_string(v->count) + " elements");
      e = &v->elements[0];
      for (const value& x : v->elements) {
        if (x.as_count() != e->as_count()) {
          diagnostics_.push_back(key + ": varies per layer; layer 0's value " +
                                 (e->as_count() ? std::to_string(*e->as_count()) : "?") +
                                 " is used");
          break;
        }
      }
    }
    const auto n = e->as_count();
    if (!n) {
      fail(key, "must be a non-negative integer (u32)",
           e->is_signed() ? std::to_string(e->int_value) : type_text(*e));
    }
    if (e->type != value_type::u32) {
      diagnostics_.push_back(key + ": stored as " + std::string(to_string(e->type)) +
                             "; llama.cpp requires u32 and would reject the file (read as " +
                             std::to_string(*n) + ")");
    }
    return n;
  }

  /// A float key (llama.cpp: f32). f64 is accepted with a diagnostic.
  std::optional<double> number(const std::string& key) const {
    const value* v = f_.find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_float()) fail(key, "must be a number (f32)", type_text(*v));
    if (v->type != value_type::f32) {
      diagnostics_.push_back(key +
                             ": stored as f64; llama.cpp requires f32 and would reject the file");
    }
    return v->float_value;
  }

  /// A factor tensor: F32, exactly `pairs` values (ggml dims [pairs]), each finite and > 0.
  std::optional<std::vector<double>> factors(const std::string& name, std::int64_t pairs) const {
    const tensor_info* t = f_.find_tensor(name);
    if (t == nullptr) return std::nullopt;
    const std::string where = tensor_where(name);
    const tensor_type_info* ti = find_tensor_type(t->type);
    if (t->type != 0)
      gguf_fail(f_.label(), where, "must have type F32", ti != nullptr ? ti->name : "?");
    std::string shape = "[";
    for (std::size_t k = 0; k < t->dims.size(); ++k)
      shape += (k ? ", " : "") + std::to_string(t->dims[k]);
    shape += "]";
    const bool ok = !t->dims.empty() && t->dims[0] == static_cast<std::uint64_t>(pairs) &&
                    t->elements() == static_cast<std::uint64_t>(pairs);
    if (!ok) {
      gguf_fail(f_.label(), where,
                "must hold rope.dimension_count / 2 = " + std::to_string(pairs) + " values", shape);
    }
    const std::vector<float> raw = f_.read_f32(name);
    std::vector<double> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const double x = static_cast<double>(raw[i]);
      if (!std::isfinite(x) || !(x > 0.0)) {
        gguf_fail(f_.label(), where + "[" + std::to_string(i) + "]", "must be a finite number > 0",
                  ropescale::detail::format_double(x));
      }
      out[i] = x;
    }
    return out;
  }

 private:
  const file& f_;
  std::vector<std::string>& diagnostics_;
};

}  // namespace detail
}  // namespace gguf

/// Largest rotary dimension a GGUF file may declare (real models use <= 512).
inline constexpr std::uint64_t gguf_max_rotary_dim = 65536;

/// The RoPE a GGUF file encodes, with llama.cpp's semantics on the stored values (docs/gguf.md
/// §1–§3): base rope.freq_base (10000), rotary dims rope.dimension_count (else
/// attention.key_length, else embedding_length / attention.head_count), scaling type
/// none/linear/yarn/longrope (absent = linear; factor 0 or absent = none; legacy
/// rope.scale_linear), rope_freqs.weight as per-pair divisors, LongRoPE long/short factor tensors
/// (long iff S > original context), the YaRN attention factor netted as llama.cpp does, and the
/// pairing llama.cpp uses for the architecture (NORM → gptj, NEOX → neox). head_dim is what the
/// model's config.json reports (DeepSeek2's MLA: the rope head dim). L is context_length.
/// Throws invalid_parameter naming the key and the file.
inline loaded_config load_gguf(const gguf::file& f) {
  using gguf::detail::gguf_fail;
  using gguf::detail::key_where;
  loaded_config out{ropescale::method(default_rope<double>(default_rope_params{{2, 10000.0, 1.0}})),
                    {},
                    0,
                    layout::neox};
  std::vector<std::string>& diag = out.diagnostics;
  gguf::detail::rope_keys keys(f, diag);

  const auto arch_opt = keys.string("general.architecture");
  if (!arch_opt)
    gguf_fail(f.label(), key_where("general.architecture"), "must be present", "nothing");
  const std::string& arch = *arch_opt;
  if (arch.empty())
    gguf_fail(f.label(), key_where("general.architecture"), "must be non-empty", "''");
  const std::string pre = arch + ".";
  const bool deepseek2 = arch == "deepseek2";

  // Pairing (llama_model_rope_type).
  using gguf::detail::in_list;
  const auto listed = [&](const auto& list) {
    return in_list(arch, std::begin(list), std::end(list));
  };
  const bool sections = (arch == "glm4" || arch == "glm4moe" || arch == "hunyuan_vl") &&
                        f.find(pre + "rope.dimension_sections") != nullptr;
  if (sections || listed(gguf::detail::mrope_archs)) {
    diag.push_back("general.architecture " + gguf::detail::quote_name(arch) +
                   " uses multi-section RoPE (M-RoPE): NeoX pairs, text positions only "
                   "(docs/gguf.md §2)");
  } else if (listed(gguf::detail::norm_pairing_archs)) {
    out.layout = layout::gptj;
  } else if (!listed(gguf::detail::neox_pairing_archs)) {
    diag.push_back("general.architecture " + gguf::detail::quote_name(arch) +
                   " is not in ropescale's pairing table; NeoX pairs assumed (docs/gguf.md §2)");
  }

  // Dimensions.
  const auto ctx = keys.count(pre + "context_length");
  if (!ctx || *ctx == 0 || *ctx > static_cast<std::uint64_t>(detail::max_integer_key)) {
    keys.fail(pre + "context_length", "must be present and in [1, 2^53]",
              ctx ? std::to_string(*ctx) : "nothing");
  }
  out.max_position_embeddings = static_cast<std::int64_t>(*ctx);
  const auto n_embd = keys.count(pre + "embedding_length");
  const auto n_head = keys.count(pre + "attention.head_count", true);
  const auto key_length = keys.count(pre + "attention.key_length");
  std::uint64_t head_k = 0;
  std::string head_k_key;
  if (key_length) {
    head_k = *key_length;
    head_k_key = pre + "attention.key_length";
  } else {
    if (!n_embd)
      keys.fail(pre + "embedding_length", "must be present (no attention.key_length)", "nothing");
    if (!n_head)
      keys.fail(pre + "attention.head_count", "must be present (no attention.key_length)",
                "nothing");
    if (*n_head == 0) keys.fail(pre + "attention.head_count", "must be >= 1", "0");
    head_k = *n_embd / *n_head;
    head_k_key = pre + "embedding_length / attention.head_count";
  }
  if (n_head && *n_head == 0) keys.fail(pre + "attention.head_count", "must be >= 1", "0");
  if (head_k == 0 || head_k > gguf_max_rotary_dim * 16) {
    keys.fail(head_k_key,
              "must give a head dimension in [1, " + std::to_string(gguf_max_rotary_dim * 16) + "]",
              std::to_string(head_k));
  }
  const auto dim_count = keys.count(pre + "rope.dimension_count");
  const std::uint64_t n_rot = dim_count.value_or(head_k);
  const std::string n_rot_key = dim_count ? pre + "rope.dimension_count" : head_k_key;
  if (n_rot == 0 || n_rot % 2 != 0 || n_rot > gguf_max_rotary_dim) {
    keys.fail(
        n_rot_key,
        "must be an even rotary dimension in [2, " + std::to_string(gguf_max_rotary_dim) + "]",
        std::to_string(n_rot));
  }
  std::uint64_t head_dim = head_k;
  if (deepseek2) {
    head_dim = n_rot;  // MLA: the rope part of each head (HF v5 qk_rope_head_dim)
    if (key_length && *key_length != n_rot) {
      diag.push_back(pre + "attention.key_length = " + std::to_string(*key_length) +
                     " is MLA's full key width; head_dim reports the rope head dim " +
                     std::to_string(n_rot) + " (rope.dimension_count), as HF's config does");
    }
  } else if (n_rot > head_k) {
    keys.fail(n_rot_key, "must be <= the head dimension " + std::to_string(head_k),
              std::to_string(n_rot));
  }
  const std::int64_t pairs = static_cast<std::int64_t>(n_rot / 2);

  // Base.
  const double base = keys.number(pre + "rope.freq_base").value_or(10000.0);
  if (!std::isfinite(base) || !(base > 1.0)) {
    keys.fail(pre + "rope.freq_base", "must be a finite number > 1",
              ropescale::detail::format_double(base));
  }
  if (!f.find(pre + "rope.freq_base") && arch == "gptneox") {
    diag.push_back(
        pre +
        "rope.freq_base absent: base 10000 (llama.cpp's default; its GPT-NeoX converter never "
        "writes rotary_emb_base, docs/gguf.md §3 rule 5)");
  }

  // Scaling type and factor.
  const auto type_opt = keys.string(pre + "rope.scaling.type");
  const std::string type = type_opt.value_or("linear");
  if (type != "none" && type != "linear" && type != "yarn" && type != "longrope") {
    keys.fail(pre + "rope.scaling.type", "must be one of none, linear, yarn, longrope",
              gguf::detail::quote_name(type));
  }
  std::optional<double> factor = keys.number(pre + "rope.scaling.factor");
  std::string factor_key = pre + "rope.scaling.factor";
  if (!factor) {
    factor = keys.number(pre + "rope.scale_linear");
    if (factor) factor_key = pre + "rope.scale_linear";
  } else if (f.find(pre + "rope.scale_linear")) {
    diag.push_back(pre + "rope.scale_linear ignored: rope.scaling.factor is present");
  }
  double s = 1.0;
  if (factor) {
    if (!std::isfinite(*factor) || *factor < 0.0) {
      keys.fail(factor_key, "must be a finite number >= 0 (0 = no scaling)",
                ropescale::detail::format_double(*factor));
    }
    if (*factor != 0.0) s = *factor;
  }
  if (type == "none" && s != 1.0) {
    diag.push_back(factor_key + " = " + ropescale::detail::format_double(s) +
                   " ignored: rope.scaling.type is none (llama.cpp forces freq_scale 1, "
                   "docs/gguf.md §3 rule 9)");
    s = 1.0;
  }
  if (s < 1.0) {
    diag.push_back(factor_key + " = " + ropescale::detail::format_double(s) +
                   " < 1 compresses positions (HF rejects factors < 1; llama.cpp applies it)");
  }
  const bool yarn = type == "yarn";

  const auto l0 = keys.count(pre + "rope.scaling.original_context_length");
  if (l0 && (*l0 == 0 || *l0 > static_cast<std::uint64_t>(detail::max_integer_key))) {
    keys.fail(pre + "rope.scaling.original_context_length", "must be in [1, 2^53]",
              std::to_string(*l0));
  }
  const std::int64_t n_ctx_orig = static_cast<std::int64_t>(l0.value_or(*ctx));

  const double attn = keys.number(pre + "rope.scaling.attn_factor").value_or(1.0);
  if (!std::isfinite(attn) || !(attn > 0.0)) {
    keys.fail(pre + "rope.scaling.attn_factor", "must be a finite number > 0",
              ropescale::detail::format_double(attn));
  }
  double log_mul = keys.number(pre + "rope.scaling.yarn_log_multiplier").value_or(0.0);
  if (!std::isfinite(log_mul) || log_mul < 0.0) {
    keys.fail(pre + "rope.scaling.yarn_log_multiplier", "must be a finite number >= 0",
              ropescale::detail::format_double(log_mul));
  }
  if (deepseek2) log_mul /= 0.1;  // llama.cpp: the converter stores 0.1 * mscale_all_dim

  // Factor tensors.
  const auto freqs = keys.factors("rope_freqs.weight", pairs);
  const auto longf = keys.factors("rope_factors_long.weight", pairs);
  const auto shortf = keys.factors("rope_factors_short.weight", pairs);
  if (longf.has_value() != shortf.has_value()) {
    gguf_fail(f.label(),
              gguf::detail::tensor_where(longf ? "rope_factors_short.weight"
                                               : "rope_factors_long.weight"),
              "must be present with its LongRoPE twin", "missing");
  }

  ggml_rope_params p;
  p.head_dim = static_cast<std::int64_t>(head_dim);
  p.rope_theta = base;
  p.rotary_dim = static_cast<std::int64_t>(n_rot);
  p.partial_rotary_factor = static_cast<double>(n_rot) / static_cast<double>(head_dim);
  p.factor = s;
  p.yarn = yarn && s != 1.0;
  p.original_context = n_ctx_orig;
  if (freqs) {
    p.freq_factors = *freqs;
    if (longf)
      diag.push_back(
          "rope_factors_long/short.weight ignored: rope_freqs.weight takes precedence (llama.cpp)");
  } else if (longf) {
    p.long_factors = *longf;
    p.short_factors = *shortf;
    diag.push_back(
        "LongRoPE: the factors depend on the context; without a sequence length the short factors "
        "are reported (HF's load-time table), long ones for S > " +
        std::to_string(n_ctx_orig) +
        "; llama.cpp picks by context size, its default n_ctx_train = " + std::to_string(*ctx) +
        (*ctx > static_cast<std::uint64_t>(n_ctx_orig) ? " (long)" : " (short)") +
        " (docs/gguf.md §3 rule 3)");
  }
  p.attention_factor = attn;
  if (p.yarn) {
    p.attention_factor = ggml_yarn_attention_factor(s, log_mul, deepseek2) * attn;
    if (deepseek2 && log_mul != 0.0) {
      const double m = 1.0 + 0.1 * log_mul * std::log(s);
      p.softmax_scale_multiplier = m * m;
    }
    diag.push_back(
        "YaRN: correction range floored/ceiled (GGUF has no truncate key), betas 32/1 "
        "(docs/gguf.md §3 rule 6)");
    for (const char* k : {"rope.scaling.yarn_beta_fast", "rope.scaling.yarn_beta_slow",
                          "rope.scaling.yarn_ext_factor"}) {
      if (f.find(pre + k))
        diag.push_back(pre + k + " ignored (llama.cpp's common loader does not read it)");
    }
    if (f.find(pre + "rope.scaling.yarn_attn_factor")) {
      diag.push_back(
          pre +
          "rope.scaling.yarn_attn_factor ignored: llama.cpp recomputes the YaRN attention "
          "factor (docs/gguf.md §3 rule 6)");
    }
    if (deepseek2) {
      diag.push_back(
          "deepseek2: mscale is not stored; llama.cpp assumes mscale = mscale_all_dim = " +
          ropescale::detail::format_double(log_mul) + " (docs/gguf.md §3 rule 4)");
    }
  }
  if (freqs) {
    p.rope_type = "llama3";
    if (s != 1.0)
      diag.push_back("rope_freqs.weight combined with " + factor_key + " = " +
                     ropescale::detail::format_double(s) + " (both applied, as llama.cpp does)");
  } else if (longf) {
    p.rope_type = "longrope";
  } else if (s == 1.0) {
    p.rope_type = "default";
  } else {
    p.rope_type = p.yarn ? "yarn" : "linear";
  }
  // Every value was checked above except the table itself (ggml_rope checks each entry is in
  // (0, 2^32]); its keys are named here as the file's key or tensor.
  const auto rewrite = [&](ropescale::error& e) {
    const std::string key = e.key;
    const std::string name = key.substr(0, key.find('['));
    std::string where;
    if (name == "factor") {
      where = gguf::detail::key_where(factor_key);
    } else if (name == "freq_factors") {
      where = gguf::detail::tensor_where("rope_freqs.weight");
    } else if (name == "long_factors") {
      where = gguf::detail::tensor_where("rope_factors_long.weight");
    } else if (name == "short_factors") {
      where = gguf::detail::tensor_where("rope_factors_short.weight");
    } else {
      return;
    }
    e = ropescale::detail::with_key(e, where + key.substr(name.size()), " (" + f.label() + ")");
  };
  const ropescale::detail::error_scope scope(rewrite);
  out.method = ropescale::method(ggml_rope<double>(p));
  return out;
}

/// Opens a GGUF file and loads its RoPE (see load_gguf). Only the header and the factor tensors
/// are read.
inline loaded_config load_gguf_file(const std::filesystem::path& path) {
  return load_gguf(gguf::file::open(path));
}

}  // namespace ropescale

#endif  // ROPESCALE_GGUF_HPP

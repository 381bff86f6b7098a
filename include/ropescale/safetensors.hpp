// SPDX-License-Identifier: Apache-2.0
// A small, defensive, header-only reader for the safetensors format (docs/reference.md §6): 8 bytes
// of little-endian header length N, an N-byte JSON object describing every tensor (dtype, shape and
// byte range relative to the data buffer), then the data buffer. The header is validated in full
// when a file or buffer is opened (lengths, types, dtypes, shapes, offsets, overlaps), so later
// reads never leave the buffer and no allocation size comes from an unchecked header number.
// Tensors read as float or double from F32, F16, BF16 (exact conversions) and F64. Files are not
// loaded whole: only the header and the requested tensors' bytes are read. Sharded checkpoints
// are found through `model.safetensors.index.json`. Every error is a ropescale::invalid_parameter
// whose message names the file and the tensor or field.
#ifndef ROPESCALE_SAFETENSORS_HPP
#define ROPESCALE_SAFETENSORS_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ropescale/detail/file_io.hpp"
#include "ropescale/detail/json.hpp"
#include "ropescale/detail/quote.hpp"
#include "ropescale/detail/throw.hpp"
#include "ropescale/types.hpp"

namespace ropescale {
namespace safetensors {

/// Element types of the safetensors format (docs/reference.md §6). Only f32, f16, bf16 and f64 are
/// readable as floating point; the others are validated (sizes, offsets) but not converted.
enum class dtype : std::uint8_t {
  boolean,
  u8,
  i8,
  f8_e4m3,
  f8_e5m2,
  i16,
  u16,
  f16,
  bf16,
  i32,
  u32,
  f32,
  i64,
  u64,
  f64
};

/// Size in bytes of one element of `t`.
inline constexpr std::uint64_t element_size(dtype t) noexcept {
  switch (t) {
    case dtype::boolean:
    case dtype::u8:
    case dtype::i8:
    case dtype::f8_e4m3:
    case dtype::f8_e5m2:
      return 1;
    case dtype::i16:
    case dtype::u16:
    case dtype::f16:
    case dtype::bf16:
      return 2;
    case dtype::i32:
    case dtype::u32:
    case dtype::f32:
      return 4;
    case dtype::i64:
    case dtype::u64:
    case dtype::f64:
      return 8;
  }
  return 0;
}

/// The format's spelling of `t` ("F32", "BF16", ...).
inline constexpr std::string_view to_string(dtype t) noexcept {
  switch (t) {
    case dtype::boolean:
      return "BOOL";
    case dtype::u8:
      return "U8";
    case dtype::i8:
      return "I8";
    case dtype::f8_e4m3:
      return "F8_E4M3";
    case dtype::f8_e5m2:
      return "F8_E5M2";
    case dtype::i16:
      return "I16";
    case dtype::u16:
      return "U16";
    case dtype::f16:
      return "F16";
    case dtype::bf16:
      return "BF16";
    case dtype::i32:
      return "I32";
    case dtype::u32:
      return "U32";
    case dtype::f32:
      return "F32";
    case dtype::i64:
      return "I64";
    case dtype::u64:
      return "U64";
    case dtype::f64:
      return "F64";
  }
  return "?";
}

/// Parses a dtype string exactly as the format spells it (case-sensitive); nullopt if unknown.
inline std::optional<dtype> parse_dtype(std::string_view s) noexcept {
  constexpr dtype all[] = {dtype::boolean, dtype::u8,  dtype::i8,  dtype::f8_e4m3, dtype::f8_e5m2,
                           dtype::i16,     dtype::u16, dtype::f16, dtype::bf16,    dtype::i32,
                           dtype::u32,     dtype::f32, dtype::i64, dtype::u64,     dtype::f64};
  for (dtype t : all)
    if (to_string(t) == s) return t;
  return std::nullopt;
}

/// True for the dtypes read_float/read_double convert (F32, F16, BF16, F64).
inline constexpr bool is_readable_float(dtype t) noexcept {
  return t == dtype::f32 || t == dtype::f16 || t == dtype::bf16 || t == dtype::f64;
}

/// Header entry of one tensor, validated: `end - begin == elements * element_size(type)` and
/// `end` lies inside the data buffer.
struct tensor_info {
  std::string name;
  dtype type = dtype::f32;
  std::vector<std::int64_t> shape;  // empty = scalar (1 element)
  std::uint64_t elements = 0;
  std::uint64_t begin = 0;  // byte offsets relative to the start of the data buffer
  std::uint64_t end = 0;
};

/// A tensor converted to Real, row-major (C order), with its shape.
template <class Real>
struct tensor {
  std::vector<std::int64_t> shape;
  std::vector<Real> values;
};

/// Largest header the reader accepts (the reference implementation's cap).
inline constexpr std::uint64_t max_header_size = 100'000'000;
/// Caps on the header's JSON (docs/limits.md): real headers nest 3 levels and hold about nine
/// values per tensor; 2^21 values (over 200 000 tensors) bound the parsed tree's memory.
inline constexpr ropescale::detail::json_caps header_json_caps{16, std::size_t{1} << 21};
/// Largest tensor read_float/read_double convert (bytes of the converted values); raw reads
/// (read_bytes) are capped at the same size. A bigger tensor is refused before any allocation.
inline constexpr std::uint64_t max_read_bytes = std::uint64_t{512} << 20;
/// Largest model.safetensors.index.json the reader accepts (large MoE indexes are ~10 MB).
inline constexpr std::uint64_t max_index_size = std::uint64_t{32} << 20;
/// Caps on the index's JSON (two values per weight_map entry).
inline constexpr ropescale::detail::json_caps index_json_caps{16, std::size_t{1} << 21};

/// Shape as text, "[2, 3]".
inline std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace detail {

/// Throws invalid_parameter("<label>: <where>: <what>") with key `where`; the label (a path) and
/// `where` (which may hold a tensor name from the file) are escaped and bounded.
[[noreturn]] inline void fail(const std::string& label, const std::string& where,
                              const std::string& what) {
  std::string msg = ropescale::detail::escape_text(label);
  msg.append(": ");
  if (!where.empty()) msg.append(ropescale::detail::escape_text(where)).append(": ");
  msg.append(what);
  ropescale::detail::throw_parameter_error(where, msg);
}

using ropescale::detail::tensor_where;

inline double f64_from_bits(std::uint64_t bits) noexcept {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

/// Reads a JSON value as a non-negative integer that fits in 63 bits; nullopt otherwise.
inline std::optional<std::uint64_t> json_index(const nlohmann::json& v) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return std::nullopt;
    return u;
  }
  if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (i < 0) return std::nullopt;
    return static_cast<std::uint64_t>(i);
  }
  return std::nullopt;
}

/// Where the bytes come from: an owned memory buffer, or a file read on demand (opened once,
/// read with positioned reads, so copies of a `file` may read concurrently).
struct byte_source {
  std::vector<unsigned char> buffer;                        // memory mode
  std::shared_ptr<const ropescale::detail::input_file> in;  // file mode when !in_memory
  bool in_memory = true;
  std::uint64_t size = 0;  // total size in bytes

  void read(const std::string& label, std::uint64_t offset, std::uint64_t count,
            unsigned char* out) const {
    if (offset > size || count > size - offset)
      fail(label, "", "internal: read past the end of the data");  // unreachable after validation
    if (count == 0) return;
    if (in_memory) {
      std::memcpy(out, buffer.data() + offset, static_cast<std::size_t>(count));
      return;
    }
    in->read_at(offset, static_cast<std::size_t>(count), out);
  }
};

}  // namespace detail

/// One safetensors file or memory buffer with a fully validated header.
class file {
 public:
  /// Opens `path`, reads and validates the header (docs/reference.md §6). Only the header is read
  /// now. Throws invalid_parameter naming the path and the offending tensor/field.
  static file open(const std::filesystem::path& path) {
    file f;
    f.label_ = path.string();
    f.src_ = std::make_shared<detail::byte_source>();
    f.src_->in_memory = false;
    f.src_->in = std::make_shared<const ropescale::detail::input_file>(
        ropescale::detail::input_file::open(path, "safetensors file"));
    f.src_->size = f.src_->in->size();
    f.parse();
    return f;
  }

  /// Takes ownership of an in-memory safetensors image. `label` names it in error messages.
  static file from_buffer(std::vector<unsigned char> bytes, std::string label = "<buffer>") {
    file f;
    f.label_ = std::move(label);
    f.src_ = std::make_shared<detail::byte_source>();
    f.src_->size = bytes.size();
    f.src_->buffer = std::move(bytes);
    f.parse();
    return f;
  }

  /// Copies `size` bytes at `data` and parses them as a safetensors image.
  static file from_buffer(const void* data, std::size_t size, std::string label = "<buffer>") {
    const auto* p = static_cast<const unsigned char*>(data);
    return from_buffer(std::vector<unsigned char>(p, p + size), std::move(label));
  }

  /// The path or label used in error messages.
  const std::string& label() const noexcept { return label_; }
  /// All tensors, sorted by name.
  const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }
  /// `__metadata__` (empty if absent).
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /// Size of the data buffer in bytes (file size - 8 - header length).
  std::uint64_t data_size() const noexcept { return data_size_; }

  /// Whether a tensor called `name` exists.
  bool contains(std::string_view name) const noexcept { return find(name) != nullptr; }

  /// Header entry of `name`; throws invalid_parameter ("missing tensor") if absent.
  const tensor_info& info(std::string_view name) const {
    const tensor_info* t = find(name);
    if (!t) detail::fail(label_, detail::tensor_where(name), "missing tensor");
    return *t;
  }

  /// Header entry of `name`, which must exist and have a dtype read_float/read_double convert;
  /// throws invalid_parameter otherwise (lets a caller check shape and dtype before reading).
  const tensor_info& float_info(std::string_view name) const {
    const tensor_info& t = info(name);
    if (!is_readable_float(t.type))
      detail::fail(label_, detail::tensor_where(name),
                   "dtype " + std::string(to_string(t.type)) +
                       " cannot be read as floating point (F32, F16, BF16 or F64 expected)");
    return t;
  }

  /// Raw little-endian bytes of `name` (exactly end - begin bytes).
  std::vector<unsigned char> read_bytes(std::string_view name) const {
    const tensor_info& t = info(name);
    if (t.end - t.begin > max_read_bytes)
      detail::fail(label_, detail::tensor_where(name),
                   std::to_string(t.end - t.begin) +
                       " bytes exceed the reader's cap of 512 MiB (docs/limits.md)");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(t.end - t.begin));
    src_->read(label_, data_start_ + t.begin, t.end - t.begin, bytes.data());
    return bytes;
  }

  /// Tensor `name` converted to float: exact from F32, F16 and BF16; F64 rounds to nearest.
  /// Throws for a missing tensor or another dtype.
  tensor<float> read_float(std::string_view name) const { return read_as<float>(name); }

  /// Tensor `name` converted exactly to double from F32, F16, BF16 or F64.
  tensor<double> read_double(std::string_view name) const { return read_as<double>(name); }

 private:
  file() = default;

  const tensor_info* find(std::string_view name) const noexcept {
    auto it = std::lower_bound(tensors_.begin(), tensors_.end(), name,
                               [](const tensor_info& t, std::string_view n) { return t.name < n; });
    if (it == tensors_.end() || it->name != name) return nullptr;
    return &*it;
  }

  template <class Real>
  tensor<Real> read_as(std::string_view name) const {
    const tensor_info& t = float_info(name);
    const std::uint64_t es = element_size(t.type);
    if (t.elements > max_read_bytes / sizeof(Real))
      detail::fail(label_, detail::tensor_where(name),
                   std::to_string(t.elements) + " elements exceed the reader's cap of " +
                       std::to_string(max_read_bytes / sizeof(Real)) + " (512 MiB as " +
                       (sizeof(Real) == 4 ? "float" : "double") + ", docs/limits.md)");
    tensor<Real> out;
    out.shape = t.shape;
    out.values.resize(static_cast<std::size_t>(t.elements));
    // Converted in chunks, so the raw bytes never need a second buffer of the tensor's size.
    constexpr std::size_t chunk_elements = 1 << 16;
    std::vector<unsigned char> bytes(
        static_cast<std::size_t>(std::min<std::uint64_t>(t.elements, chunk_elements) * es));
    for (std::size_t first = 0; first < out.values.size(); first += chunk_elements) {
      const std::size_t count = std::min(chunk_elements, out.values.size() - first);
      src_->read(label_, data_start_ + t.begin + first * es, count * es, bytes.data());
      for (std::size_t j = 0; j < count; ++j) {
        const unsigned char* p = bytes.data() + j * es;
        Real& v = out.values[first + j];
        switch (t.type) {
          case dtype::f32:
            v = static_cast<Real>(ropescale::detail::bits_float(
                static_cast<std::uint32_t>(ropescale::detail::load_le(p, 4))));
            break;
          case dtype::f16:
            v = static_cast<Real>(to_float(
                f16::from_bits(static_cast<std::uint16_t>(ropescale::detail::load_le(p, 2)))));
            break;
          case dtype::bf16:
            v = static_cast<Real>(to_float(
                bf16::from_bits(static_cast<std::uint16_t>(ropescale::detail::load_le(p, 2)))));
            break;
          default:  // f64
            v = static_cast<Real>(detail::f64_from_bits(ropescale::detail::load_le(p, 8)));
            break;
        }
      }
    }
    return out;
  }

  void parse() {
    const std::uint64_t size = src_->size;
    if (size < 8)
      detail::fail(
          label_, "header",
          "file is " + std::to_string(size) + " bytes, shorter than the 8-byte length prefix");
    unsigned char prefix[8];
    src_->read(label_, 0, 8, prefix);
    const std::uint64_t n = ropescale::detail::load_le(prefix, 8);
    if (n > max_header_size)
      detail::fail(label_, "header",
                   "header length " + std::to_string(n) + " exceeds the 100 MB sanity cap");
    if (n > size - 8)
      detail::fail(label_, "header",
                   "header length " + std::to_string(n) + " exceeds the " +
                       std::to_string(size - 8) + " bytes after the length prefix");
    if (n < 2)
      detail::fail(label_, "header",
                   "header length " + std::to_string(n) + " is too short for a JSON object");
    std::string text(static_cast<std::size_t>(n), '\0');
    src_->read(label_, 8, n, reinterpret_cast<unsigned char*>(text.data()));
    data_start_ = 8 + n;
    data_size_ = size - 8 - n;
    if (text[0] != '{')
      detail::fail(label_, "header", "header does not start with '{' (not a JSON object)");
    const nlohmann::json h = ropescale::detail::parse_json_text(
        text, ropescale::detail::escape_text(label_) + ": header", header_json_caps);
    if (!h.is_object()) detail::fail(label_, "header", "header is not a JSON object");

    for (auto it = h.begin(); it != h.end(); ++it) {
      const std::string& key = it.key();
      const nlohmann::json& v = it.value();
      if (key == "__metadata__") {
        if (!v.is_object())
          detail::fail(label_, "__metadata__",
                       "must be an object of strings, got " + ropescale::detail::json_text(v));
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string())
            detail::fail(label_, "__metadata__." + m.key(),
                         "must be a string, got " + ropescale::detail::json_text(m.value()));
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      tensors_.push_back(parse_entry(key, v));
    }
    std::sort(tensors_.begin(), tensors_.end(),
              [](const tensor_info& a, const tensor_info& b) { return a.name < b.name; });

    // Overlap check on non-empty byte ranges (gaps are tolerated).
    std::vector<const tensor_info*> by_offset;
    for (const auto& t : tensors_)
      if (t.end > t.begin) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const tensor_info* a, const tensor_info* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
      const tensor_info& prev = *by_offset[i - 1];
      const tensor_info& cur = *by_offset[i];
      if (cur.begin < prev.end)
        detail::fail(label_, detail::tensor_where(cur.name),
                     "data_offsets [" + std::to_string(cur.begin) + ", " + std::to_string(cur.end) +
                         "] overlap tensor '" + prev.name + "' [" + std::to_string(prev.begin) +
                         ", " + std::to_string(prev.end) + "]");
    }
  }

  tensor_info parse_entry(const std::string& name, const nlohmann::json& v) const {
    const std::string where = detail::tensor_where(name);
    if (!v.is_object())
      detail::fail(label_, where,
                   "entry must be an object with dtype, shape and data_offsets, got " +
                       ropescale::detail::json_text(v));
    tensor_info t;
    t.name = name;
    const auto dt = v.find("dtype");
    if (dt == v.end()) detail::fail(label_, where, "missing field 'dtype'");
    if (!dt->is_string())
      detail::fail(label_, where,
                   "dtype must be a string, got " + ropescale::detail::json_text(*dt));
    const auto parsed = parse_dtype(dt->get_ref<const std::string&>());
    if (!parsed) detail::fail(label_, where, "unknown dtype " + ropescale::detail::json_text(*dt));
    t.type = *parsed;

    const auto sh = v.find("shape");
    if (sh == v.end()) detail::fail(label_, where, "missing field 'shape'");
    if (!sh->is_array())
      detail::fail(label_, where,
                   "shape must be an array, got " + ropescale::detail::json_text(*sh));
    std::uint64_t elements = 1;
    bool overflow = false;
    t.shape.reserve(std::min<std::size_t>(sh->size(), 64));
    for (const auto& dim : *sh) {
      const auto u = detail::json_index(dim);
      if (!u)
        detail::fail(label_, where,
                     "shape entries must be non-negative integers below 2^63, got " +
                         ropescale::detail::json_text(dim));
      t.shape.push_back(static_cast<std::int64_t>(*u));
      if (*u != 0 && elements > std::numeric_limits<std::uint64_t>::max() / *u) overflow = true;
      elements = overflow ? elements : elements * *u;
    }
    const bool has_zero = std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end();
    if (has_zero) {
      elements = 0;
    } else if (overflow ||
               elements > std::numeric_limits<std::uint64_t>::max() / element_size(t.type)) {
      detail::fail(label_, where, "shape " + shape_string(t.shape) + " overflows 64-bit byte size");
    }
    t.elements = elements;
    const std::uint64_t bytes = elements * element_size(t.type);

    const auto off = v.find("data_offsets");
    if (off == v.end()) detail::fail(label_, where, "missing field 'data_offsets'");
    if (!off->is_array() || off->size() != 2)
      detail::fail(label_, where,
                   "data_offsets must be two non-negative integers, got " +
                       ropescale::detail::json_text(*off));
    const auto b = detail::json_index((*off)[0]);
    const auto e = detail::json_index((*off)[1]);
    if (!b || !e)
      detail::fail(label_, where,
                   "data_offsets must be two non-negative integers, got " +
                       ropescale::detail::json_text(*off));
    if (*b > *e)
      detail::fail(label_, where,
                   "data_offsets begin " + std::to_string(*b) + " > end " + std::to_string(*e));
    if (*e > data_size_)
      detail::fail(label_, where,
                   "data_offsets end " + std::to_string(*e) + " is past the data buffer (" +
                       std::to_string(data_size_) + " bytes)");
    if (*e - *b != bytes)
      detail::fail(label_, where,
                   "data_offsets span " + std::to_string(*e - *b) + " bytes but shape " +
                       shape_string(t.shape) + " of " + std::string(to_string(t.type)) + " needs " +
                       std::to_string(bytes));
    t.begin = *b;
    t.end = *e;
    return t;
  }

  std::string label_;
  std::shared_ptr<detail::byte_source> src_;
  std::vector<tensor_info> tensors_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t data_start_ = 0;
  std::uint64_t data_size_ = 0;
};

/// Throws invalid_parameter naming the tensor and the flat index of the first non-finite value.
template <class Real>
inline void require_finite(const std::string& label, std::string_view name,
                           const std::vector<Real>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]))
      detail::fail(label, detail::tensor_where(name),
                   "non-finite value " + ropescale::detail::format_value(v[i]) + " at flat index " +
                       std::to_string(i));
}

/// A checkpoint: one .safetensors file, or several shards listed by a
/// `model.safetensors.index.json` (`weight_map`: tensor name -> shard file in the same directory).
class checkpoint {
 public:
  /// `path` is a .safetensors file, an index .json file, or a directory holding
  /// `model.safetensors.index.json` or `model.safetensors`. Shard names must be plain file names
  /// (no '/', '\\' or ".."); shards are opened when a tensor in them is read.
  static checkpoint open(const std::filesystem::path& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    checkpoint c;
    fs::path p = path;
    if (fs::is_directory(p, ec)) {
      if (fs::is_regular_file(p / "model.safetensors.index.json", ec)) {
        p = p / "model.safetensors.index.json";
      } else if (fs::is_regular_file(p / "model.safetensors", ec)) {
        p = p / "model.safetensors";
      } else {
        detail::fail(path.string(), "",
                     "directory holds neither model.safetensors.index.json nor model.safetensors");
      }
    }
    if (p.extension() == ".json") {
      c.load_index(p);
    } else {
      c.single_ = std::make_shared<file>(file::open(p));
    }
    return c;
  }

  /// Wraps an already opened file.
  static checkpoint from_file(file f) {
    checkpoint c;
    c.single_ = std::make_shared<file>(std::move(f));
    return c;
  }

  /// Whether the checkpoint lists `name` (for an index: in its weight_map).
  bool contains(std::string_view name) const {
    if (single_) return single_->contains(name);
    return weight_map_.find(std::string(name)) != weight_map_.end();
  }

  /// The file that holds `name` (opening and validating its shard); throws "missing tensor"
  /// when the name is not listed or the listed shard does not hold it.
  file file_for(std::string_view name) const {
    if (single_) {
      single_->info(name);  // throws if missing
      return *single_;
    }
    const auto it = weight_map_.find(std::string(name));
    if (it == weight_map_.end())
      detail::fail(index_label_, detail::tensor_where(name), "missing tensor (not in weight_map)");
    file shard = file::open(directory_ / it->second);
    shard.info(name);  // the shard must really hold it
    return shard;
  }

  /// Tensor `name` as double (see file::read_double).
  tensor<double> read_double(std::string_view name) const {
    return file_for(name).read_double(name);
  }
  /// Tensor `name` as float (see file::read_float).
  tensor<float> read_float(std::string_view name) const { return file_for(name).read_float(name); }
  /// Label (path) of the file that holds `name`, for messages.
  std::string label_for(std::string_view name) const { return file_for(name).label(); }

 private:
  void load_index(const std::filesystem::path& p) {
    index_label_ = p.string();
    directory_ = p.parent_path();
    const std::string text = ropescale::detail::input_file::open(p, "checkpoint index")
                                 .read_all(max_index_size, "32 MiB (docs/limits.md)");
    const nlohmann::json j =
        ropescale::detail::parse_json_text(text, index_label_, index_json_caps);
    if (!j.is_object()) detail::fail(index_label_, "", "index is not a JSON object");
    const auto wm = j.find("weight_map");
    if (wm == j.end() || !wm->is_object())
      detail::fail(index_label_, "weight_map",
                   "must be an object mapping tensor names to shard files");
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string())
        detail::fail(index_label_, "weight_map." + it.key(),
                     "shard must be a string, got " + ropescale::detail::json_text(it.value()));
      const std::string& shard = it.value().get_ref<const std::string&>();
      const bool bad = shard.empty() || shard.find('/') != std::string::npos ||
                       shard.find('\\') != std::string::npos ||
                       shard.find("..") != std::string::npos ||
                       shard.find('\0') != std::string::npos || shard == ".";
      if (bad)
        detail::fail(index_label_, "weight_map." + it.key(),
                     "shard must be a plain file name in the index's directory (no separators or "
                     "'..'), got \"" +
                         shard + "\"");
      weight_map_[it.key()] = shard;
    }
  }

  std::shared_ptr<file> single_;
  std::string index_label_;
  std::filesystem::path directory_;
  std::map<std::string, std::string> weight_map_;
};

}  // namespace safetensors
}  // namespace ropescale

#endif  // ROPESCALE_SAFETENSORS_HPP

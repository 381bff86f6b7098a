// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the safetensors reader (docs/reference.md §6), shared by the libFuzzer binary
// (fuzz_safetensors.cpp) and the ctest replay (tests/test_fuzz_regressions.cpp).
// Input = the bytes of a .safetensors file, opened with file::from_buffer; every tensor the
// header lists is then read raw and, for float dtypes, as float and double. An input starting
// with '{' is instead written as a model.safetensors.index.json next to a fixed valid shard and
// opened through checkpoint::open (sharded path), reading up to 16 listed tensors.
// Allowed outcome for bad bytes: std::invalid_argument. Invariants checked on success: sizes
// agree with the header, conversions keep element counts, finite checks name the tensor.
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_SAFETENSORS_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_SAFETENSORS_HPP

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "fuzz/fuzz_scratch.hpp"
#include "ropescale/safetensors.hpp"

namespace ropescale_fuzz {

namespace st = ropescale::safetensors;

inline void exercise_file(const st::file& f) {
  std::uint64_t total_bytes = 0;
  for (const st::tensor_info& t : f.tensors()) {
    ROPESCALE_FUZZ_CHECK(t.begin <= t.end && t.end <= f.data_size());
    ROPESCALE_FUZZ_CHECK(t.end - t.begin == t.elements * st::element_size(t.type));
    total_bytes += t.end - t.begin;
    const std::vector<unsigned char> raw = f.read_bytes(t.name);
    ROPESCALE_FUZZ_CHECK(raw.size() == t.end - t.begin);
    if (st::is_readable_float(t.type)) {
      const st::tensor<double> d = f.read_double(t.name);
      const st::tensor<float> s = f.read_float(t.name);
      ROPESCALE_FUZZ_CHECK(d.values.size() == t.elements && s.values.size() == t.elements);
      ROPESCALE_FUZZ_CHECK(d.shape == t.shape);
      try {
        st::require_finite(f.label(), t.name, d.values);
      } catch (const std::invalid_argument& e) {
        // Names with control bytes, quotes or backslashes appear escaped, long ones bounded:
        // only a plain short name must appear verbatim.
        const bool plain =
            t.name.size() <= 64 && std::all_of(t.name.begin(), t.name.end(), [](char ch) {
              return ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'';
            });
        ROPESCALE_FUZZ_CHECK(!plain || std::strstr(e.what(), t.name.c_str()) != nullptr);
      }
    } else {
      bool threw = false;
      try {
        (void)f.read_double(t.name);
      } catch (const std::invalid_argument&) {
        threw = true;
      }
      ROPESCALE_FUZZ_CHECK(threw);
    }
  }
  // Ranges do not overlap, so the non-empty tensors fit in the data buffer together.
  ROPESCALE_FUZZ_CHECK(total_bytes <= f.data_size());
}

inline void exercise_index(const std::uint8_t* data, std::size_t size) {
  static const bool shard_written = [] {
    // Two F32 tensors "a" [2] and "b" [] in a shard the index may point at.
    const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}})";
    std::vector<unsigned char> bytes(8, 0);
    for (int i = 0; i < 8; ++i)
      bytes[i] = static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff);
    bytes.insert(bytes.end(), header.begin(), header.end());
    const float values[3] = {1.0f, -2.0f, 0.5f};
    const auto* v = reinterpret_cast<const unsigned char*>(values);
    bytes.insert(bytes.end(), v, v + sizeof values);
    write_scratch("model-00001-of-00001.safetensors", bytes.data(), bytes.size());
    return true;
  }();
  (void)shard_written;
  const auto path = write_scratch("model.safetensors.index.json", data, size);
  const st::checkpoint c = st::checkpoint::open(path);
  // The harness finds the listed names itself; the library must agree that they are listed.
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, false);
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) return;
  int budget = 16;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end() && budget > 0;
       ++it, --budget) {
    ROPESCALE_FUZZ_CHECK(c.contains(it.key()));
    try {
      const st::tensor<double> t = c.read_double(it.key());
      std::uint64_t count = 1;
      for (std::int64_t dim : t.shape) count *= static_cast<std::uint64_t>(dim);
      ROPESCALE_FUZZ_CHECK(t.values.size() == count);
    } catch (const std::invalid_argument&) {
    }
  }
}

/// Fuzz entry: returns 0; throws nothing but what indicates a bug.
inline int run_safetensors(const std::uint8_t* data, std::size_t size) {
  try {
    if (size > 0 && data[0] == '{') {
      exercise_index(data, size);
    } else {
      exercise_file(st::file::from_buffer(data, size, "fuzz.safetensors"));
    }
  } catch (const std::invalid_argument& e) {
    check_error_message(e.what());  // rejected input: the documented outcome
  }
  return 0;
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_SAFETENSORS_HPP

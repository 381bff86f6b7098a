// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the GGUF reader and loader (include/ropescale/gguf.hpp), shared by the libFuzzer
// binary (fuzz_gguf.cpp) and the ctest replay (tests/test_fuzz_regressions.cpp).
// Input = the bytes of a .gguf file, parsed with file::from_buffer. On success every F32 tensor
// of at most 4096 values is read, and the RoPE loader runs; a loaded method's tables are
// evaluated (absent S, S = L0 and S = L0 + 1). Allowed outcome for bad bytes:
// std::invalid_argument. Invariants checked on success: tensors lie inside the buffer, offsets
// respect the alignment, kept arrays have their declared length, loaded tables are finite and
// positive with rotary_dim/2 entries, and error messages carry no control bytes.
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_GGUF_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_GGUF_HPP

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz/fuzz_common.hpp"
#include "ropescale/gguf.hpp"

namespace ropescale_fuzz {

namespace gg = ropescale::gguf;

inline void check_value(const gg::value& v) {
  if (v.type == gg::value_type::array && v.elements_kept) {
    ROPESCALE_FUZZ_CHECK(v.elements.size() == v.count);
    for (const gg::value& e : v.elements) {
      ROPESCALE_FUZZ_CHECK(e.type == v.element_type);
      check_value(e);
    }
  }
  if (v.type == gg::value_type::string) {
    ROPESCALE_FUZZ_CHECK(v.text.size() <= v.string_length);
    ROPESCALE_FUZZ_CHECK(v.string_truncated == (v.text.size() != v.string_length));
  }
}

inline void check_message(const char* what) {
  for (const char* p = what; *p != '\0'; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    ROPESCALE_FUZZ_CHECK(u >= 0x20 && u != 0x7f);
  }
}

inline void exercise_gguf(const gg::file& f) {
  ROPESCALE_FUZZ_CHECK(f.version() == 2 || f.version() == 3);
  ROPESCALE_FUZZ_CHECK(f.data_offset() % f.alignment() == 0);
  for (const gg::metadata_entry& e : f.metadata()) {
    ROPESCALE_FUZZ_CHECK(f.find(e.key) == &e.value);
    check_value(e.value);
  }
  for (const gg::tensor_info& t : f.tensors()) {
    ROPESCALE_FUZZ_CHECK(f.find_tensor(t.name) == &t);
    ROPESCALE_FUZZ_CHECK(t.offset % f.alignment() == 0);
    if (t.bytes != 0) ROPESCALE_FUZZ_CHECK(f.data_offset() + t.offset + t.bytes <= f.size());
    if (t.type == 0 && t.elements() <= 4096) {
      ROPESCALE_FUZZ_CHECK(f.read_f32(t.name).size() == t.elements());
    }
  }
  const ropescale::loaded_config c = ropescale::load_gguf(f);
  const ropescale::method& m = c.method;
  ROPESCALE_FUZZ_CHECK(m.rotary_dim() >= 2 && m.rotary_dim() <= m.head_dim());
  const std::int64_t L = c.max_position_embeddings;
  ROPESCALE_FUZZ_CHECK(L >= 1);
  if (m.pairs() > 4096) return;  // tables of huge synthetic heads: validated, not evaluated
  for (const std::optional<std::int64_t> S :
       {std::optional<std::int64_t>{}, std::optional<std::int64_t>{L},
        std::optional<std::int64_t>{L + 1}}) {
    const std::vector<double> w = m.inv_freq(S);
    ROPESCALE_FUZZ_CHECK(static_cast<std::int64_t>(w.size()) == m.pairs());
    for (double x : w) ROPESCALE_FUZZ_CHECK(x > 0.0 && x <= 4294967296.0);  // docs/limits.md
    const double a = m.attention_factor(S);
    ROPESCALE_FUZZ_CHECK(std::isfinite(a) && a > 0.0);
  }
}

/// Fuzz entry: returns 0; throws nothing but what indicates a bug.
inline int run_gguf(const std::uint8_t* data, std::size_t size) {
  try {
    exercise_gguf(gg::file::from_buffer(data, size, "fuzz.gguf"));
  } catch (const std::invalid_argument& e) {
    check_message(e.what());  // rejected input: the documented outcome
  }
  return 0;
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_GGUF_HPP

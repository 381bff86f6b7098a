// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: GGUF file bytes (see fuzz_gguf.hpp and tests/fuzz/README.md).
#include "fuzz/fuzz_gguf.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ropescale_fuzz::run_gguf(data, size);
}

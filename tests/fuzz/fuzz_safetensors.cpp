// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: safetensors file bytes (see fuzz_safetensors.hpp and tests/fuzz/README.md).
#include "fuzz/fuzz_safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ropescale_fuzz::run_safetensors(data, size);
}

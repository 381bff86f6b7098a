// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: config.json text (see fuzz_config.hpp and tests/fuzz/README.md).
#include "fuzz/fuzz_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ropescale_fuzz::run_config(data, size);
}

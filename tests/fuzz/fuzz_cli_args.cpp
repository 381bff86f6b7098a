// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: ropescale-inspect command lines (see fuzz_cli_args.hpp and
// tests/fuzz/README.md).
#include "fuzz/fuzz_cli_args.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ropescale_fuzz::run_cli_args(data, size);
}

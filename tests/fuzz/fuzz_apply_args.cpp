// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arguments of apply_rotary / apply_rotary_on_the_fly (see fuzz_apply_args.hpp).
#include "fuzz/fuzz_apply_args.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return ropescale_fuzz::run_apply_args(data, size);
}

// SPDX-License-Identifier: Apache-2.0
// Per-ISA test suites: every kernel family's tests are instantiated once per ropescale::isa
// (listed as Suite.Case/avx2 by ctest) and skip visibly, naming the ISA, where the CPU or build
// lacks it, so a missing ISA never passes silently.
#ifndef ROPESCALE_TEST_SUPPORT_ISA_TYPES_HPP
#define ROPESCALE_TEST_SUPPORT_ISA_TYPES_HPP

#include <gtest/gtest.h>

#include <string>

#include "ropescale/isa.hpp"

namespace ropescale_test {

/// Fixture of a per-ISA suite (TEST_P; GetParam() is the ISA): skips, naming the ISA, when
/// !available(GetParam()).
class IsaTest : public ::testing::TestWithParam<ropescale::isa> {
 protected:
  void SetUp() override {
    if (!ropescale::available(GetParam())) {
      GTEST_SKIP() << "CPU or build lacks " << ropescale::name(GetParam());
    }
  }
};

/// Test-name suffix: the ISA's name ("scalar", "avx2", "avx512", "neon").
inline std::string isa_param_name(const ::testing::TestParamInfo<ropescale::isa>& info) {
  return ropescale::name(info.param);
}

}  // namespace ropescale_test

/// Instantiates the TEST_P suite `Suite` (an IsaTest) once per ISA: cases are listed as
/// Suite.Case/avx2 (and so named by ctest).
#define ROPESCALE_TEST_EVERY_ISA(Suite)                                                       \
  INSTANTIATE_TEST_SUITE_P(                                                                   \
      , Suite,                                                                                \
      ::testing::Values(ropescale::isa::scalar, ropescale::isa::avx2, ropescale::isa::avx512, \
                        ropescale::isa::avx512bf16, ropescale::isa::neon),                    \
      ::ropescale_test::isa_param_name)

#endif  // ROPESCALE_TEST_SUPPORT_ISA_TYPES_HPP

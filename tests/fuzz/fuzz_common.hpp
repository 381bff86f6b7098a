// SPDX-License-Identifier: Apache-2.0
// Shared by the fuzz entry headers (tests/fuzz/fuzz_<target>.hpp): the one rule every target
// follows. Bad input must surface as std::invalid_argument (ropescale::invalid_parameter derives
// from it); the entry functions catch exactly that. Any other exception escapes (libFuzzer reports
// it as a crash, the ctest replay as a failure), and a broken invariant on a *successful* call
// aborts through ROPESCALE_FUZZ_CHECK with a message naming the invariant.
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_COMMON_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_COMMON_HPP

#include <cstdio>
#include <cstdlib>

namespace ropescale_fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
  std::abort();
}

}  // namespace ropescale_fuzz

#define ROPESCALE_FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::ropescale_fuzz::check_failed(#cond, __FILE__, __LINE__))

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_COMMON_HPP

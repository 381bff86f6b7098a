// SPDX-License-Identifier: Apache-2.0
// Shared by the fuzz entry headers (tests/fuzz/fuzz_<target>.hpp): the one rule every target
// follows. Bad input must surface as std::invalid_argument (ropescale::invalid_parameter derives
// from it); the entry functions catch exactly that. Any other exception escapes (libFuzzer reports
// it as a crash, the ctest replay as a failure), and a broken invariant on a *successful* call
// aborts through ROPESCALE_FUZZ_CHECK with a message naming the invariant.
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_COMMON_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_COMMON_HPP

#include <cstddef>
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

namespace ropescale_fuzz {

/// A rejection message is safe to print (docs/limits.md): one line of at most a few KiB with no
/// control byte, whatever the input echoed into it.
inline void check_error_message(const char* what) {
  std::size_t n = 0;
  for (const char* p = what; *p != '\0'; ++p, ++n) {
    const auto u = static_cast<unsigned char>(*p);
    ROPESCALE_FUZZ_CHECK(u >= 0x20 && u != 0x7f);
  }
  ROPESCALE_FUZZ_CHECK(n <= 4096);
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_COMMON_HPP

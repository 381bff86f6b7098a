// SPDX-License-Identifier: Apache-2.0
// A per-process scratch directory for fuzz entry functions that must hand the library a path
// (sharded checkpoint indexes, CLEX weights). Created on first use under the system temp
// directory (or $ROPESCALE_TEST_TMPDIR), named after the process id so parallel fuzzing jobs do
// not collide, and removed at exit.
#ifndef ROPESCALE_TESTS_FUZZ_FUZZ_SCRATCH_HPP
#define ROPESCALE_TESTS_FUZZ_FUZZ_SCRATCH_HPP

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace ropescale_fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* env = std::getenv("ROPESCALE_TEST_TMPDIR");
    std::filesystem::path base =
        env && *env ? std::filesystem::path(env) : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("ropescale-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

/// Writes `size` bytes to scratch_dir()/name (replacing it) and returns the path.
inline std::filesystem::path write_scratch(const std::string& name, const void* data,
                                           std::size_t size) {
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  return p;
}

}  // namespace ropescale_fuzz

#endif  // ROPESCALE_TESTS_FUZZ_FUZZ_SCRATCH_HPP

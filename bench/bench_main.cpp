// SPDX-License-Identifier: Apache-2.0
// ropescale-bench entry point: records build facts as run context so a JSON result says what
// was measured. See docs/benchmarks.md for how to run and read it.
#include <benchmark/benchmark.h>

#include "bench_context.hpp"

int main(int argc, char** argv) {
#ifdef NDEBUG
  benchmark::AddCustomContext("ropescale_build", "release");
#else
  benchmark::AddCustomContext("ropescale_build", "debug (numbers are not meaningful)");
#endif
#if defined(__clang__)
  benchmark::AddCustomContext("ropescale_compiler", "clang " __clang_version__);
#elif defined(__GNUC__)
  benchmark::AddCustomContext("ropescale_compiler", "g++ " __VERSION__);
#endif
  ropescale_bench::add_context();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

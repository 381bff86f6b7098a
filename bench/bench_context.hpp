// SPDX-License-Identifier: Apache-2.0
// Extra run context for ropescale-bench: which ISA the kernels (and the memory floor) run with,
// the best one this CPU offers, and every ISA's availability, so a JSON result says what was
// measured. ROPESCALE_ISA=<isa> in the environment forces the active ISA for the whole run.
#ifndef ROPESCALE_BENCH_CONTEXT_HPP
#define ROPESCALE_BENCH_CONTEXT_HPP

#include <benchmark/benchmark.h>

#include <string>

#include "ropescale/isa.hpp"

namespace ropescale_bench {
inline void add_context() {
  using ropescale::isa;
  std::string active;
  try {
    active = ropescale::name(ropescale::active_isa());
  } catch (const std::exception& e) {
    active = std::string("error: ") + e.what();
  }
  benchmark::AddCustomContext("ropescale_active_isa", active);
  benchmark::AddCustomContext("ropescale_best_isa", ropescale::name(ropescale::best_isa()));
  std::string avail;
  for (isa i : {isa::scalar, isa::avx2, isa::avx512, isa::avx512bf16, isa::neon}) {
    if (!ropescale::available(i)) continue;
    if (!avail.empty()) avail += ",";
    avail += ropescale::name(i);
  }
  benchmark::AddCustomContext("ropescale_available_isas", avail);
}
}  // namespace ropescale_bench

#endif

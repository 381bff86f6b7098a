// SPDX-License-Identifier: Apache-2.0
// Extra run context (active ISA etc.), filled in by the kernel benchmarks' owner.
#ifndef ROPESCALE_BENCH_CONTEXT_HPP
#define ROPESCALE_BENCH_CONTEXT_HPP

namespace ropescale_bench {
inline void add_context() {}
}  // namespace ropescale_bench

#endif

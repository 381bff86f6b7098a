#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What including ropescale costs a user's translation unit, relative to Eigen, in one run.

Compiles (g++ -O2 -std=c++17 -c, or $CXX) small TUs that a user would write:
  eigen         <Eigen/Dense>, a matrix product and an LU solve (the yardstick)
  apply_f32     <ropescale/apply.hpp>, apply_rotary<float> (header-only use)
  apply_3types  the same for float, bf16 and f16
  user_f32 / user_3types  the same two TUs in separately compiled mode
                (ROPESCALE_SEPARATE_KERNELS defined: kernels are declared, not compiled, here)
  kernels_tu    the one TU that compiles the kernels in that mode (ROPESCALE_KERNELS_TU),
                reported but not a limit (an engine pays it once)
Every TU is compiled --runs times (default 3), interleaved round-robin so machine drift hits all
alike; the minimum wall time of each is reported with its ratio to eigen, and the limits of
docs/architecture.md ("Compile cost") are checked: apply_f32 <= 1.0x, apply_3types <= 2.5x,
user_3types <= 0.5x. Exit status 1 if a limit is missed.

Usage: python3 bench/compile_cost.py [--runs N] [--cxx g++] [--json out.json]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EIGEN = r"""
#include <Eigen/Dense>
Eigen::MatrixXd product(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) { return a * b; }
Eigen::VectorXd solve(const Eigen::MatrixXd& a, const Eigen::VectorXd& b) {
  return a.partialPivLu().solve(b);
}
"""

APPLY = r"""
#include <cstdint>
#include <ropescale/apply.hpp>
template <class T>
void rotate(T* q, T* k, std::int64_t tokens, const ropescale::cos_sin_rows& rows,
            std::int64_t first_position) {
  ropescale::apply_rotary(ropescale::dense_view(q, tokens, 32, 128),
                          ropescale::dense_view(k, tokens, 8, 128), rows,
                          ropescale::token_positions::range(first_position),
                          ropescale::layout::neox, 128);
}
template void rotate<float>(float*, float*, std::int64_t, const ropescale::cos_sin_rows&,
                            std::int64_t);
"""

MORE_TYPES = r"""
template void rotate<ropescale::bf16>(ropescale::bf16*, ropescale::bf16*, std::int64_t,
                                      const ropescale::cos_sin_rows&, std::int64_t);
template void rotate<ropescale::f16>(ropescale::f16*, ropescale::f16*, std::int64_t,
                                     const ropescale::cos_sin_rows&, std::int64_t);
"""

KERNELS_TU = "#define ROPESCALE_KERNELS_TU\n#include <ropescale/apply.hpp>\n"

SOURCES = {
    "eigen": EIGEN,
    "apply_f32": APPLY,
    "apply_3types": APPLY + MORE_TYPES,
    "user_f32": "#define ROPESCALE_SEPARATE_KERNELS\n" + APPLY,
    "user_3types": "#define ROPESCALE_SEPARATE_KERNELS\n" + APPLY + MORE_TYPES,
    "kernels_tu": KERNELS_TU,
}

LIMITS = {"apply_f32": 1.0, "apply_3types": 2.5, "user_3types": 0.5}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cxx", default=os.environ.get("CXX", "g++"))
    ap.add_argument("--json", help="also write the timings here")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="ropescale-compile-cost-")
    try:
        paths = {}
        for name, src in SOURCES.items():
            paths[name] = os.path.join(work, name + ".cpp")
            with open(paths[name], "w") as f:
                f.write(src)
        flags = ["-O2", "-std=c++17", "-I", os.path.join(ROOT, "include"),
                 "-I", "/usr/include/eigen3", "-c"]
        best = {name: float("inf") for name in SOURCES}
        for run in range(args.runs):
            for name in SOURCES:
                cmd = [args.cxx, *flags, paths[name], "-o", os.path.join(work, name + ".o")]
                start = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, text=True)
                elapsed = time.perf_counter() - start
                if done.returncode != 0:
                    sys.stderr.write(f"error: {name} does not compile:\n{done.stderr[:4000]}\n")
                    return 2
                best[name] = min(best[name], elapsed)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    version = subprocess.run([args.cxx, "--version"], capture_output=True, text=True).stdout
    print(f"compiler: {version.splitlines()[0] if version else args.cxx}; -O2 -std=c++17 -c; "
          f"min of {args.runs} interleaved runs")
    base = best["eigen"]
    ok = True
    print(f"{'TU':<14}{'seconds':>9}{'x eigen':>9}  limit")
    for name in SOURCES:
        ratio = best[name] / base
        limit = LIMITS.get(name)
        verdict = ""
        if limit is not None:
            verdict = f"<= {limit:.1f}  {'ok' if ratio <= limit else 'MISSED'}"
            ok = ok and ratio <= limit
        print(f"{name:<14}{best[name]:9.2f}{ratio:9.2f}  {verdict}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": best, "ratio_to_eigen": {k: v / base for k, v in best.items()}},
                      f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

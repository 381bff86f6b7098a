#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Ratio table from one ropescale-bench JSON run (docs/performance.md §9-§10).

Usage: python3 bench/ratios.py bench.json

Takes the `median` aggregate rows (or the plain rows when the run had no repetitions), matches
each kernel with BM_InPlaceFloor at the same args, and prints bytes/s ratios, the elements/s
ratios of GPT-J and bf16 against NeoX f32, and the coefficient of variation of each row.
"""
import json
import sys

SHAPES = ["tokens:1/heads:32/dim:128", "tokens:512/heads:8/dim:128",
          "tokens:4096/heads:32/dim:128"]
SHAPE_TITLES = ["1x32x128", "512x8x128", "4096x32x128"]
KERNELS = ["BM_ApplyNeox_f32", "BM_ApplyGptj_f32", "BM_ApplyNeox_bf16", "BM_DecodeOnTheFly_f32"]
FLOOR = "BM_InPlaceFloor"


def load(path):
    with open(path) as f:
        doc = json.load(f)
    rows, cvs, plain = {}, {}, {}
    for b in doc.get("benchmarks", []):
        name = b.get("run_name", b["name"])
        agg = b.get("aggregate_name")
        if agg == "median":
            rows[name] = b
        elif agg == "cv":
            cvs[name] = b
        elif agg is None and b.get("run_type", "iteration") == "iteration":
            plain.setdefault(name, b)
    if not rows:
        rows = plain
    return doc.get("context", {}), rows, cvs


def fmt(x):
    return "   —   " if x is None else f"{x:7.3f}"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    ctx, rows, cvs = load(sys.argv[1])
    print(f"host: {ctx.get('host_name', '?')}  cpus: {ctx.get('num_cpus', '?')}  "
          f"isa: {ctx.get('ropescale_active_isa', '?')}  build: {ctx.get('ropescale_build', '?')}  "
          f"compiler: {ctx.get('ropescale_compiler', '?')}")

    def get(name, shape, key):
        b = rows.get(f"{name}/{shape}")
        return None if b is None else b.get(key)

    def ratio(num, den):
        return None if num is None or den is None or den == 0 else num / den

    header = f"{'benchmark':<48}" + "".join(f"{t:>14}" for t in SHAPE_TITLES)
    print(header)
    print("-" * len(header))
    for k in KERNELS:
        cells = [ratio(get(k, s, "bytes_per_second"), get(FLOOR, s, "bytes_per_second"))
                 for s in SHAPES]
        if all(c is None for c in cells):
            continue
        print(f"{k + ' / floor (bytes/s)':<48}" + "".join(f"{fmt(c):>14}" for c in cells))
    for k in ["BM_ApplyGptj_f32", "BM_ApplyNeox_bf16"]:
        cells = [ratio(get(k, s, "items_per_second"), get("BM_ApplyNeox_f32", s, "items_per_second"))
                 for s in SHAPES]
        if all(c is None for c in cells):
            continue
        print(f"{k + ' / NeoX f32 (elements/s)':<48}" + "".join(f"{fmt(c):>14}" for c in cells))
    print()
    print(f"{'median time (ns) / cv':<48}" + "".join(f"{t:>14}" for t in SHAPE_TITLES))
    for k in [FLOOR] + KERNELS:
        cells = []
        for s in SHAPES:
            b = rows.get(f"{k}/{s}")
            if b is None:
                cells.append("—")
                continue
            cv = cvs.get(f"{k}/{s}")
            cvtxt = f"{100 * cv['cpu_time']:.1f}%" if cv else "?"
            cells.append(f"{b['cpu_time']:.0f} {cvtxt}")
        if all(c == "—" for c in cells):
            continue
        print(f"{k:<48}" + "".join(f"{c:>14}" for c in cells))


if __name__ == "__main__":
    main()

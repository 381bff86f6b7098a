#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Ratio table from one ropescale-bench JSON run (docs/benchmarks.md §9-§10).

Usage: python3 bench/ratios.py bench.json

Takes the `median` aggregate rows (or the plain rows when the run had no repetitions), matches
each kernel with BM_InPlaceFloor at the same args, and prints bytes/s ratios, the elements/s
ratios of GPT-J and bf16 against NeoX f32, and the coefficient of variation of each row.
Then the fused RoPE + KV append table (docs/kv_append.md), as time ratios at the same args:
fused speed / floor speed (BM_KvAppendFloor time / BM_RopeKvAppend time, target >= 0.85 at 512
and 4096 tokens, >= 0.70 at 1), rotate-then-append time / fused time (target >= 1.3 at 512 and
4096) with its ceiling, rotate-then-append time / floor time (the fused call moves the floor's
bytes plus the cos/sin rows), and floor speed / memcpy speed for f32_f32 (target >= 0.8).
"""
import json
import sys

SHAPES = ["tokens:1/heads:32/dim:128", "tokens:512/heads:8/dim:128",
          "tokens:4096/heads:32/dim:128"]
SHAPE_TITLES = ["1x32x128", "512x8x128", "4096x32x128"]
KERNELS = ["BM_ApplyNeox_f32", "BM_ApplyGptj_f32", "BM_ApplyNeox_bf16", "BM_DecodeOnTheFly_f32"]
FLOOR = "BM_InPlaceFloor"
KV_SHAPES = ["tokens:1/heads:8/dim:128", "tokens:512/heads:8/dim:128",
             "tokens:4096/heads:8/dim:128"]
KV_TITLES = ["1x8x128", "512x8x128", "4096x8x128"]
KV_PAIRS = ["f32_f32", "f32_bf16", "f32_f16", "bf16_bf16"]


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
    time_table(rows, cvs, [FLOOR] + KERNELS, SHAPES, SHAPE_TITLES)
    kv_table(rows, cvs)


def time_table(rows, cvs, names, shapes, titles):
    """Median CPU time and its coefficient of variation per benchmark and shape."""
    print()
    print(f"{'median time (ns) / cv':<48}" + "".join(f"{t:>14}" for t in titles))
    for k in names:
        cells = []
        for s in shapes:
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


def kv_table(rows, cvs):
    def time(name, shape):
        b = rows.get(f"{name}/{shape}")
        return None if b is None else b.get("cpu_time")

    def ratio(num, den):
        return None if num is None or den is None or den == 0 else num / den

    lines = []
    for p in KV_PAIRS:
        fused, floor, split = (f"BM_RopeKvAppend_{p}", f"BM_KvAppendFloor_{p}",
                               f"BM_RopeThenKvAppend_{p}")
        lines.append((f"{fused} / floor (speed)",
                      [ratio(time(floor, s), time(fused, s)) for s in KV_SHAPES]))
        lines.append((f"{split} / fused (time)",
                      [ratio(time(split, s), time(fused, s)) for s in KV_SHAPES]))
        # The fused call moves the floor's bytes plus the cos/sin rows, so at sizes bound by
        # memory it is no faster than the floor: this ratio is the ceiling of the one above.
        lines.append((f"  ceiling: {split} / floor",
                      [ratio(time(split, s), time(floor, s)) for s in KV_SHAPES]))
    lines.append(("BM_KvAppendFloor_f32_f32 / BM_KvMemcpy (speed)",
                  [ratio(time("BM_KvMemcpy", s), time("BM_KvAppendFloor_f32_f32", s))
                   for s in KV_SHAPES]))
    if all(all(c is None for c in cells) for _, cells in lines):
        return
    print()
    header = f"{'fused RoPE + KV append':<48}" + "".join(f"{t:>14}" for t in KV_TITLES)
    print(header)
    print("-" * len(header))
    for title, cells in lines:
        if all(c is None for c in cells):
            continue
        print(f"{title:<48}" + "".join(f"{fmt(c):>14}" for c in cells))
    names = ["BM_KvMemcpy"] + [f"{k}_{p}" for p in KV_PAIRS
                               for k in ("BM_KvAppendFloor", "BM_RopeKvAppend",
                                         "BM_RopeThenKvAppend")]
    time_table(rows, cvs, names, KV_SHAPES, KV_TITLES)

if __name__ == "__main__":
    main()

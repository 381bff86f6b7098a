#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the crafted seed corpus for fuzz_safetensors (tests/fuzz/corpus/safetensors/).

Each seed is a small safetensors file built by hand from docs/reference.md §6: valid files of every dtype,
the CLEX tensor set (F32, F16, BF16), scalars, zero-sized tensors, a padded header and
__metadata__, plus files that break exactly one rule (so the fuzzer starts next to every
rejection branch). Deterministic; re-run after editing:  python3 tests/fuzz/make_seeds.py
"""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "safetensors")
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
         "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
CLEX = "model.clex_layer."


def f32(v):
    return struct.pack("<f", v)


def f16(v):
    return struct.pack("<e", v)


def bf16(v):
    return struct.pack("<f", v)[2:]  # truncation is exact for the values used here


def encode(values, dtype):
    enc = {"F32": f32, "F16": f16, "BF16": bf16, "F64": lambda v: struct.pack("<d", v)}[dtype]
    return b"".join(enc(v) for v in values)


def build(tensors, metadata=None, pad_to=8, header_override=None, length_override=None):
    """tensors: list of (name, dtype, shape, raw bytes). Returns the file bytes."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = header_override if header_override is not None else json.dumps(header, separators=(",", ":"))
    text = text.encode()
    if pad_to:
        text += b" " * ((-(8 + len(text))) % pad_to)
    n = len(text) if length_override is None else length_override
    return struct.pack("<Q", n) + text + data


def clex_tensors(n, p, dtype, theta=10000.0):
    d = 2 * n
    up = [((i * 7 + 3) % 11 - 5) * 0.01 for i in range(n * p * d)]
    down = [((i * 5 + 1) % 13 - 6) * 0.01 for i in range(p * d * n)]
    inv = [theta ** (-2.0 * k / d) for k in range(n)]
    return [(CLEX + "proj_func.ode_up_proj", dtype, [n, p * d], encode(up, dtype)),
            (CLEX + "proj_func.ode_down_proj", dtype, [p * d, n], encode(down, dtype)),
            (CLEX + "inv_freq", dtype, [n], encode(inv, dtype))]


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {}
    seeds["valid_f32_vector"] = build([("w", "F32", [4], encode([1.0, -2.0, 0.5, 3.25], "F32"))])
    for dt, size in SIZES.items():
        seeds["valid_dtype_" + dt.lower()] = build([("t", dt, [2, 3], bytes(range(6 * size)))])
    for dt in ("F32", "F16", "BF16"):
        seeds["clex_n4_p1_" + dt.lower()] = build(clex_tensors(4, 1, dt))
    seeds["clex_n2_p2_bf16_meta"] = build(clex_tensors(2, 2, "BF16"), metadata={"format": "pt"})
    seeds["clex_no_inv_freq_f32"] = build(clex_tensors(4, 1, "F32")[:2])
    seeds["scalar_and_empty"] = build([("s", "F32", [], f32(1.5)), ("z", "F16", [0, 5], b""),
                                       ("b", "BF16", [1], bf16(2.0))])
    seeds["f16_specials"] = build([("h", "F16", [6], bytes.fromhex("0100" "ff03" "007c" "00fc" "017c" "0080"))])
    seeds["unpadded_header"] = build([("w", "F32", [1], f32(1.0))], pad_to=0)
    # One broken rule each.
    seeds["bad_short_file"] = b"\x08\x00\x00"
    seeds["bad_header_len_past_end"] = build([("w", "F32", [1], f32(1.0))], length_override=1 << 20)
    seeds["bad_header_len_huge"] = build([("w", "F32", [1], f32(1.0))], length_override=(1 << 64) - 1)
    seeds["bad_header_not_object"] = build([], header_override="[1,2,3]")
    seeds["bad_header_not_json"] = build([], header_override='{"w": {"dtype": "F32", ')
    seeds["bad_header_not_utf8"] = struct.pack("<Q", 4) + b'{"\xff"' + b"}"
    seeds["bad_unknown_dtype"] = build([], header_override='{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}') + f32(1.0)
    seeds["bad_negative_shape"] = build([], header_override='{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}') + f32(1.0)
    seeds["bad_float_shape"] = build([], header_override='{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}') + f32(1.0)
    seeds["bad_shape_overflow"] = build([], header_override='{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}') + bytes(8)
    seeds["bad_offsets_reversed"] = build([], header_override='{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}') + bytes(8)
    seeds["bad_offsets_past_end"] = build([], header_override='{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}') + f32(1.0)
    seeds["bad_offsets_size_mismatch"] = build([], header_override='{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}') + bytes(8)
    seeds["bad_offsets_overlap"] = build([], header_override='{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}') + bytes(12)
    seeds["bad_missing_field"] = build([], header_override='{"w":{"dtype":"F32","data_offsets":[0,4]}}') + f32(1.0)
    seeds["bad_metadata_not_strings"] = build([("w", "F32", [1], f32(1.0))], metadata={"format": 3})
    seeds["bad_clex_nan"] = build([(CLEX + "proj_func.ode_up_proj", "F32", [2, 4], encode([float("nan")] * 8, "F32")),
                                   (CLEX + "proj_func.ode_down_proj", "F32", [4, 2], encode([0.0] * 8, "F32"))])
    for name, blob in seeds.items():
        with open(os.path.join(OUT, name + ".safetensors"), "wb") as f:
            f.write(blob)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the crafted seed corpus for fuzz_gguf (tests/fuzz/corpus/gguf/).

Each seed is a small GGUF file built from ggml's format description (docs/gguf.md): model-like
files for every RoPE case the loader knows (Llama-2, Llama-3.1 rope_freqs, Qwen2.5 YaRN, Qwen3,
Phi-3 LongRoPE, DeepSeek-V3, GPT-NeoX partial rotary, legacy scale_linear), every metadata value
type with nested arrays, v2 with a 64-byte alignment, and files that break exactly one rule.
Deterministic; re-run after editing:  python3 tests/fuzz/make_gguf_seeds.py
"""
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "gguf")
T = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8,
     "arr": 9, "u64": 10, "i64": 11, "f64": 12}
FMT = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i", "f32": "<f",
       "bool": "<B", "u64": "<Q", "i64": "<q", "f64": "<d"}


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def payload(kind, v):
    if kind == "str":
        return gstr(v)
    if kind == "arr":
        et, items = v
        out = struct.pack("<IQ", T[et], len(items))
        return out + b"".join(payload(et, x) for x in items)
    return struct.pack(FMT[kind], v)


def gguf(kvs, tensors=(), version=3, alignment=32):
    """kvs: list of (key, kind, value); tensors: list of (name, ggml type, dims, data bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, kind, v in kvs:
        out += gstr(key) + struct.pack("<I", T[kind]) + payload(kind, v)
    data, infos = b"", b""
    for name, gt, dims, raw in tensors:
        infos += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", gt, len(data))
        data += raw + b"\0" * ((-len(raw)) % alignment)
    out += infos
    if tensors:
        out += b"\0" * ((-len(out)) % alignment) + data
    return out


def f32s(vals):
    return b"".join(struct.pack("<f", v) for v in vals)


def model(arch, embd, heads, ctx, extra=(), tensors=(), **kw):
    kvs = [("general.architecture", "str", arch), (arch + ".context_length", "u32", ctx),
           (arch + ".embedding_length", "u32", embd), (arch + ".attention.head_count", "u32", heads)]
    kvs += [(arch + "." + k, kind, v) for k, kind, v in extra]
    return gguf(kvs, tensors, **kw)


def llama3_freqs(base, dim, factor=8.0, low=1.0, high=4.0, l0=8192):
    out = []
    for i in range(0, dim, 2):
        freq = 1.0 / base ** (i / dim)
        wl = 2 * math.pi / freq
        if wl < l0 / high:
            out.append(1.0)
        elif wl > l0 / low:
            out.append(factor)
        else:
            smooth = (l0 / wl - low) / (high - low)
            out.append(1.0 / ((1 - smooth) / factor + smooth))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    s = {}
    s["llama2"] = model("llama", 256, 4, 4096, [("rope.dimension_count", "u32", 64), ("rope.freq_base", "f32", 10000.0)])
    s["llama31_rope_freqs"] = model("llama", 256, 4, 131072, [("rope.dimension_count", "u32", 64), ("rope.freq_base", "f32", 500000.0)],
                                    [("rope_freqs.weight", 0, [32], f32s(llama3_freqs(500000.0, 64)))])
    s["qwen25_yarn"] = model("qwen2", 256, 4, 131072, [("rope.freq_base", "f32", 1e6), ("rope.scaling.type", "str", "yarn"),
                                                      ("rope.scaling.factor", "f32", 4.0), ("rope.scaling.original_context_length", "u32", 32768)])
    s["qwen3_key_length"] = model("qwen3", 128, 4, 40960, [("attention.key_length", "u32", 64), ("rope.freq_base", "f32", 1e6)])
    pairs = 24
    s["phi3_longrope"] = model("phi3", 192, 4, 131072, [("rope.dimension_count", "u32", 48), ("rope.scaling.original_context_length", "u32", 4096),
                                                        ("rope.scaling.attn_factor", "f32", math.sqrt(1 + math.log(32) / math.log(4096)))],
                               [("rope_factors_long.weight", 0, [pairs], f32s([1.0 + i for i in range(pairs)])),
                                ("rope_factors_short.weight", 0, [pairs], f32s([1.0 + 0.01 * i for i in range(pairs)]))])
    s["deepseek2_yarn"] = model("deepseek2", 256, 4, 163840, [("attention.key_length", "u32", 576), ("rope.dimension_count", "u32", 64),
                                                             ("rope.scaling.type", "str", "yarn"), ("rope.scaling.factor", "f32", 40.0),
                                                             ("rope.scaling.original_context_length", "u32", 4096),
                                                             ("rope.scaling.yarn_log_multiplier", "f32", 0.1)])
    s["gptneox_partial"] = model("gptneox", 256, 4, 2048, [("rope.dimension_count", "u32", 16)])
    s["legacy_scale_linear"] = model("llama", 256, 4, 8192, [("rope.scale_linear", "f32", 2.0)])
    s["type_none_factor"] = model("llama", 256, 4, 8192, [("rope.scaling.type", "str", "none"), ("rope.scaling.factor", "f32", 4.0)])
    s["per_layer_heads"] = model("llama", 256, 4, 8192, [("attention.head_count_kv", "arr", ("u32", [2, 2, 1]))])
    s["all_types_v2_align64"] = gguf([("general.alignment", "u32", 64)] + [(k, k, {"str": "x", "bool": 1, "f32": 0.5, "f64": 0.25}.get(k, 1))
                                      for k in FMT if k != "bool"] + [("bool", "bool", 1), ("s", "str", "text"),
                                     ("nested", "arr", ("arr", [("u8", [1, 2]), ("str", ["a", "b"])]))],
                                     [("t", 8, [32, 2], bytes(68)), ("rope_freqs.weight", 0, [2], f32s([1, 2]))], version=2, alignment=64)
    # One broken rule each.
    s["bad_magic"] = b"GGUG" + s["llama2"][4:]
    s["bad_version1"] = b"GGUF" + struct.pack("<I", 1) + s["llama2"][8:]
    s["bad_truncated"] = s["llama31_rope_freqs"][:-70]
    s["bad_kv_count"] = s["llama2"][:16] + struct.pack("<Q", 1 << 40) + s["llama2"][24:]
    s["bad_base_nan"] = model("llama", 256, 4, 4096, [("rope.freq_base", "f32", float("nan"))])
    s["bad_odd_dims"] = model("llama", 256, 4, 4096, [("rope.dimension_count", "u32", 63)])
    s["bad_zero_heads"] = model("llama", 256, 0, 4096)
    s["bad_freqs_length"] = model("llama", 256, 4, 4096, [], [("rope_freqs.weight", 0, [31], f32s([1.0] * 31))])
    s["bad_freqs_f16"] = model("llama", 256, 4, 4096, [], [("rope_freqs.weight", 1, [32], bytes(64))])
    s["bad_scaling_type"] = model("llama", 256, 4, 4096, [("rope.scaling.type", "str", "dynamic")])
    for name, blob in s.items():
        with open(os.path.join(OUT, name + ".gguf"), "wb") as f:
            f.write(blob)
    print(f"wrote {len(s)} seeds to {OUT}")


if __name__ == "__main__":
    main()

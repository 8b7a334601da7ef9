#!/usr/bin/env python3
"""make_corpus.py - regenerate the GGUF fuzz seed corpus (tests/fuzz/corpus/gguf/).

Three small valid files (< 50 KB each), deterministic:
  g3-tiny-q4_0.gguf   gemma3 text model from mkgguf (Q4_0 / Q8_0 / F32 tensors, SPM vocab)
  g4-tiny-q8_0.gguf   gemma4 text model from mkgguf (per-layer arrays, bool array, merges)
  all-types.gguf      every metadata value type and array element type, alignment 64, tensors of
                      many GGML types and ranks (1-D to 4-D, one empty)
  probe-key.gguf      holds the key the harness probes as absent ("fuzz.absent"), so that the
                      harness's own guard is exercised from the first run

Usage: make_corpus.py [--mkgguf PATH/TO/mkgguf.py]   (default: <repo>/../shared/tools/mkgguf.py)
Needs Python 3 and numpy (run with /usr/bin/python3).
"""
import argparse
import importlib.util
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(HERE, "gguf")

TINY = ["--n-embd", "32", "--n-layer", "2", "--n-head", "2", "--n-head-kv", "1", "--head-dim", "16",
        "--sliding-window", "4", "--quiet"]


def load_mkgguf(path):
    spec = importlib.util.spec_from_file_location("mkgguf", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def all_types(m, path):
    w = m.GGUFWriter()
    w.str("general.architecture", "gemma3")
    w.u32("general.alignment", 64)
    for i, t in enumerate([m.T_U8, m.T_I8, m.T_U16, m.T_I16, m.T_U32, m.T_I32, m.T_U64, m.T_I64]):
        w.scalar(f"scalar.int{i}", t, 1 + i if t in (m.T_U8, m.T_U16, m.T_U32, m.T_U64) else -1 - i)
    w.f32("scalar.f32", 0.5)
    w.scalar("scalar.f64", m.T_F64, -2.25)
    w.bool("scalar.bool", True)
    w.str("scalar.str", "h\u00e9llo")
    w.str("scalar.empty", "")
    for name, t, vals in [("u8", m.T_U8, [0, 255]), ("i8", m.T_I8, [-128, 127]), ("u16", m.T_U16, [1, 65535]),
                          ("i16", m.T_I16, [-2, 2]), ("u32", m.T_U32, [8, 8, 16]), ("i32", m.T_I32, [-1, 0, 1]),
                          ("u64", m.T_U64, [2**63 + 1]), ("i64", m.T_I64, [-(2**40)]), ("f32", m.T_F32, [0.5, -1e30]),
                          ("f64", m.T_F64, [1e300]), ("bool", m.T_BOOL, [True, False, True]), ("empty", m.T_U32, [])]:
        w.arr(f"array.{name}", t, vals)
    w.arr("array.str", m.T_STR, ["", "a", "\u2581world", "<|turn>"])
    w.arr("array.str_empty", m.T_STR, [])
    tensors = [("f32_1d", [5], "F32"), ("f16_2d", [6, 2], "F16"), ("bf16", [4], "BF16"),
               ("q4_0", [32, 2], "Q4_0"), ("q8_0_3d", [32, 1, 2], "Q8_0"), ("q4_k", [256], "Q4_K"),
               ("q6_k", [256], "Q6_K"), ("iq4_nl", [32], "IQ4_NL"), ("f32_4d", [2, 1, 2, 2], "F32"),
               ("empty", [0, 4], "F32")]
    for i, (name, ne, tname) in enumerate(tensors):
        _, blk, bpb = m.GGML_TYPES[tname]
        n = 1
        for d in ne:
            n *= d
        nbytes = n // blk * bpb
        w.tensor(name, ne, tname, lambda nbytes=nbytes, i=i: [bytes((i * 7 + j) & 0xFF for j in range(nbytes))])
    m.GGUF_ALIGN = 64  # the writer pads with this module constant
    try:
        w.write(path)
    finally:
        m.GGUF_ALIGN = 32


def probe_key(m, path):
    w = m.GGUFWriter()
    w.str("general.architecture", "gemma3")
    w.scalar("fuzz.absent", m.T_I32, 3)
    w.write(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mkgguf", default=os.path.join(REPO, "..", "shared", "tools", "mkgguf.py"))
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    py = sys.executable
    subprocess.run([py, args.mkgguf, "--arch", "gemma3", *TINY, "--n-ff", "64", "--vocab", "synthetic:400",
                    "--swa-period", "2", "--dtype", "q4_0", "--out", os.path.join(OUT, "g3-tiny-q4_0.gguf")], check=True)
    subprocess.run([py, args.mkgguf, "--arch", "gemma4", *TINY, "--n-ff", "32,64", "--vocab", "synthetic-g4:400",
                    "--swa-pattern", "SF", "--dtype", "q8_0", "--out", os.path.join(OUT, "g4-tiny-q8_0.gguf")], check=True)
    mkgguf = load_mkgguf(args.mkgguf)
    all_types(mkgguf, os.path.join(OUT, "all-types.gguf"))
    probe_key(mkgguf, os.path.join(OUT, "probe-key.gguf"))
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        assert size < 50_000, f"{f} is {size} bytes; seeds must stay small"
        print(f"{f}: {size} bytes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reference bytes for tests/unit/quant_ggml_test.cc, from llama.cpp's own quantizer.

Calls ggml_quantize_chunk (no importance matrix, i.e. quantize_row_*_ref) in llama.cpp's
libggml-base.so on the deterministic input the test builds (same LCG, same float32 steps)
and prints, per type, the FNV-1a 64 hash of the whole output and the hex of its first block.

  /usr/bin/python3 tools/quant_ref_blocks.py /work/llama.cpp/build/bin/libggml-base.so
"""
import ctypes
import sys

import numpy as np

TYPES = {"F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22),
         "Q5_1": (7, 32, 24), "Q8_0": (8, 32, 34), "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176),
         "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}
N_PER_ROW = 2048  # 8 super-blocks, each with its own pattern
N_ROWS = 3        # row r uses seed 1 + r


def lcg_uniform(seed, n):
    """u in [0, 1) with 24 random bits, as the test's Lcg::Next."""
    s = seed
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        out[i] = np.float32((s >> 40) & 0xFFFFFF) / np.float32(16777216.0)
    return out


def make_row(seed):
    u = lcg_uniform(seed, N_PER_ROW)
    f = np.float32
    x = np.empty(N_PER_ROW, dtype=np.float32)
    for sb in range(8):
        v = u[sb * 256:(sb + 1) * 256]
        s = (f(2) * v - f(1))          # [-1, 1)
        if sb == 0: y = s
        elif sb == 1: y = s * f(0.001)
        elif sb == 2: y = s * f(1000)
        elif sb == 3: y = np.zeros(256, dtype=np.float32)
        elif sb == 4: y = f(0.25) + v * f(0.5)   # all positive: min > 0 paths
        elif sb == 5: y = -v                      # all <= 0
        elif sb == 6:
            y = s.copy(); y[7] = f(50)            # one outlier
        else: y = s * f(1e-20)                    # below GROUP_MAX_EPS scales
        x[sb * 256:(sb + 1) * 256] = y.astype(np.float32)
    return x


def fnv1a64(b):
    h = 0xcbf29ce484222325
    for c in b:
        h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    lib = ctypes.CDLL(sys.argv[1])
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    x = np.concatenate([make_row(1 + r) for r in range(N_ROWS)]).astype(np.float32)
    for name, (tid, bs, ts) in TYPES.items():
        out = ctypes.create_string_buffer(N_ROWS * N_PER_ROW // bs * ts)
        n = lib.ggml_quantize_chunk(tid, x.ctypes.data, out, 0, N_ROWS, N_PER_ROW, None)
        b = out.raw[:n]
        first = b[:ts if bs > 1 else 16]
        print(f'{{"{name}", 0x{fnv1a64(b):016x}ull, "{first.hex()}"}},')


if __name__ == "__main__":
    main()

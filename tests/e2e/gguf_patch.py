#!/usr/bin/env python3
"""Copies a GGUF file with one field patched in place (sizes unchanged), for e2e tests of how
gemrun reports bad model files.

usage: gguf_patch.py IN OUT OP...
  key-type KEY TYPE         change a scalar key's type tag (same size: u32 <-> i32 <-> f32)
  key-u32 KEY VALUE         set a u32/i32 scalar key's value
  tensor-ne NAME DIM VALUE  set dimension DIM of a tensor (keep the byte size within its slot)
  array-count KEY COUNT     shrink a string array's element count (the file keeps its bytes:
                            only for the last metadata key or a count that the parser re-reads)
"""
import struct
import sys

TYPES = {"u8": 0, "i8": 1, "u16": 2, "i16": 3, "u32": 4, "i32": 5, "f32": 6, "bool": 7, "str": 8,
         "arr": 9, "u64": 10, "i64": 11, "f64": 12}
SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def parse(b):
    """Offsets of every key's type tag and value, and of every tensor's dims."""
    assert b[:4] == b"GGUF", "not a GGUF file"
    pos = 8
    n_t, n_kv = struct.unpack_from("<QQ", b, pos)
    pos += 16

    def string(p):
        n = struct.unpack_from("<Q", b, p)[0]
        return b[p + 8:p + 8 + n].decode("utf-8", "replace"), p + 8 + n

    def skip_value(t, p):
        if t == 8:
            return string(p)[1]
        if t == 9:
            et, n = struct.unpack_from("<IQ", b, p)
            p += 12
            for _ in range(n):
                p = skip_value(et, p)
            return p
        return p + SIZE[t]

    keys = {}
    for _ in range(n_kv):
        k, pos = string(pos)
        t = struct.unpack_from("<I", b, pos)[0]
        keys[k] = (pos, t, pos + 4)
        pos = skip_value(t, pos + 4)
    tensors = {}
    for _ in range(n_t):
        name, pos = string(pos)
        nd = struct.unpack_from("<I", b, pos)[0]
        tensors[name] = pos + 4
        pos += 4 + 8 * nd + 4 + 8
    return keys, tensors


def main():
    src, dst, ops = sys.argv[1], sys.argv[2], sys.argv[3:]
    b = bytearray(open(src, "rb").read())
    keys, tensors = parse(b)
    while ops:
        op = ops.pop(0)
        if op == "key-type":
            k, t = ops.pop(0), TYPES[ops.pop(0)]
            tag, old, _ = keys[k]
            assert SIZE.get(old) == SIZE.get(t), f"{k}: sizes differ"
            struct.pack_into("<I", b, tag, t)
        elif op == "key-u32":
            k, v = ops.pop(0), int(ops.pop(0))
            _, t, val = keys[k]
            assert t in (4, 5), f"{k} is type {t}, not u32/i32"
            struct.pack_into("<I" if t == 4 else "<i", b, val, v)
        elif op == "tensor-ne":
            name, d, v = ops.pop(0), int(ops.pop(0)), int(ops.pop(0))
            struct.pack_into("<Q", b, tensors[name] + 8 * d, v)
        else:
            sys.exit(f"unknown op {op}")
    open(dst, "wb").write(b)


if __name__ == "__main__":
    main()

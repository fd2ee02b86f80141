#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Splits a model folder's model.safetensors into N shards plus
model.safetensors.index.json, the way save_pretrained writes large
checkpoints, so the tests can prove a sharded copy loads and computes
exactly like the original. Every other file of the folder is copied as is.
Standard library only.

usage: split_safetensors.py SRC_DIR DST_DIR N_SHARDS
"""
import json
import os
import shutil
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", None)
    data = blob[8 + n:]
    tensors = []
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors.append((name, t["dtype"], t["shape"], data[b:e]))
    return meta, tensors


def write_safetensors(path, tensors, meta):
    header, chunks, off = {}, [], 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps F32 data 4-byte aligned, as safetensors does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        p = os.path.join(src, name)
        if name != "model.safetensors" and os.path.isfile(p):
            shutil.copy(p, os.path.join(dst, name))
        elif os.path.isdir(p):
            shutil.copytree(p, os.path.join(dst, name), dirs_exist_ok=True)
    meta, tensors = read_safetensors(os.path.join(src, "model.safetensors"))
    total = sum(len(t[3]) for t in tensors)
    # Contiguous runs of tensors of about total / n bytes each, in header order.
    shards, cur, size = [], [], 0
    for t in tensors:
        cur.append(t)
        size += len(t[3])
        if size >= total * (len(shards) + 1) / n and len(shards) < n - 1:
            shards.append(cur)
            cur = []
    shards.append(cur)
    weight_map = {}
    for i, part in enumerate(shards):
        fname = "model-%05d-of-%05d.safetensors" % (i + 1, len(shards))
        write_safetensors(os.path.join(dst, fname), part, {"format": "pt"})
        for t in part:
            weight_map[t[0]] = fname
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(dst, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


if __name__ == "__main__":
    main()

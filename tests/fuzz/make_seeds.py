#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the libFuzzer seed corpora under tests/fuzz/corpus/<target>/ from
tests/fixtures (standard library only; deterministic; rerun after editing):

    python3 tests/fuzz/make_seeds.py

codec: 2-byte prefix (route index, model index) + a request body, for every
route; wordpiece/bpe/sentencepiece: 1 option byte + text (0xFF splits a pair);
tokenizer_files: 1 selector byte + a SentencePiece model (pieces, trainer
spec and a small piece of the precompiled character map, so each seed stays a
few KB), vocab.json, vocab.json NUL merges.txt, or a (small) tokenizer.json;
hf_config: every fixture's config.json. safetensors seeds are the fixtures
themselves (run.sh passes tests/fixtures/safetensors_valid and
tests/fixtures/invalid/safetensors).
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures")
OUT = os.path.join(HERE, "corpus")

# server/request.h enum route order; fuzz_codec.c's model order
ROUTES = ["embed", "embed_all", "predict", "tokenize", "rerank", "similarity", "decode",
          "openai", "predict_tokens", "embed_sparse"]
MODELS = ["bert", "bert-seqcls", "bert-tokcls", "bert-rerank"]

BODIES = {
    "embed": [{"inputs": "What is Deep Learning?"}, {"inputs": ["a", "b c"], "normalize": False},
              {"inputs": "x " * 200, "truncate": True, "truncation_direction": "left"},
              {"inputs": [[101, 2023, 102], "text"], "dimensions": 8, "prompt_name": "query"}],
    "embed_all": [{"inputs": ["hello", "world"]}],
    "predict": [{"inputs": "I like you."}, {"inputs": ["premise", "hypothesis"]},
                {"inputs": [["a"], ["b", "c"]], "raw_scores": True}],
    "tokenize": [{"inputs": "Hello, world! Ünïcödé 日本語", "add_special_tokens": False},
                 {"inputs": ["[CLS] x [MASK]", ""]}],
    "rerank": [{"query": "q", "texts": ["a", "b"], "return_text": True, "raw_scores": False}],
    "similarity": [{"inputs": {"source_sentence": "a", "sentences": ["b", "c"]}}],
    "decode": [{"ids": [101, 7592, 102]}, {"ids": [[1, 2], [3]], "skip_special_tokens": False}],
    "openai": [{"input": "hello", "model": "m", "encoding_format": "base64", "dimensions": 8},
               {"input": ["a", "b"], "encoding_format": "float"}],
    "predict_tokens": [{"inputs": "Hello Sarah in Paris", "aggregation_strategy": "simple",
                        "ignore_labels": ["O"]}, {"inputs": ["x"], "aggregation_strategy": "max"}],
    "embed_sparse": [{"inputs": "sparse"}],
}

TEXTS = [
    "Hello, world!", "What is Deep Learning?", "Ünïcödé àccents ÅÄÖ", "日本語のテキスト",
    "don't stop-believing...", "  leading and trailing  ", "[CLS] [SEP] [MASK] <s> </s> <mask>",
    "a" * 150, "emoji 😀👍 mixed", "tab\tnew\nline\rreturn", "\u2581piece\u2581marks",
]


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(b, i):
    x = s = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return x, i


def fields(b):
    i, out = 0, []
    while i < len(b):
        key, i = read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, j = read_varint(b, i)
            out.append((f, wt, b[i:j]))
            i = j
        elif wt == 2:
            n, i = read_varint(b, i)
            out.append((f, wt, b[i:i + n]))
            i += n
        elif wt == 5:
            out.append((f, wt, b[i:i + 4]))
            i += 4
        else:
            out.append((f, wt, b[i:i + 8]))
            i += 8
    return out


def encode(fs):
    out = bytearray()
    for f, wt, v in fs:
        out += varint(f << 3 | wt)
        out += varint(len(v)) + v if wt == 2 else v
    return bytes(out)


def small_spm(path, charsmap_bytes):
    """The model's pieces and trainer spec; its normalizer keeps only the
    first charsmap_bytes of the precompiled map, trie size patched to fit."""
    top = []
    for f, wt, v in fields(open(path, "rb").read()):
        if f == 3:
            norm = []
            for nf, nwt, nv in fields(v):
                if nf == 2 and charsmap_bytes is not None:
                    if charsmap_bytes == 0:
                        continue
                    cut = bytearray(nv[:charsmap_bytes])
                    cut[0:4] = struct.pack("<I", (charsmap_bytes - 4) * 3 // 4 & ~3)
                    nv = bytes(cut)
                norm.append((nf, nwt, nv))
            v = encode(norm)
        top.append((f, wt, v))
    return encode(top)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for r, route in enumerate(ROUTES):
        for k, body in enumerate(BODIES[route]):
            for m, model in enumerate(MODELS):
                data = bytes([r, m]) + json.dumps(body, ensure_ascii=False).encode()
                write("codec", f"{route}_{k}_{model}", data)
    for target in ("wordpiece", "bpe", "sentencepiece"):
        for k, text in enumerate(TEXTS):
            for opt in (0x04, 0x0C | 0x40, 0x1D | 0x20):
                write(target, f"text_{k}_{opt:02x}", bytes([opt]) + text.encode())
        write(target, "pair", bytes([0x05]) + b"first text\xffsecond text")
    for flavour, folder, model in ((0, "albert", "spiece.model"),
                                   (1, "xlm-roberta", "sentencepiece.bpe.model")):
        path = os.path.join(FIX, folder, model)
        write("tokenizer_files", f"spm_{folder}_nomap", bytes([flavour]) + small_spm(path, 0))
        write("tokenizer_files", f"spm_{folder}_map", bytes([flavour]) + small_spm(path, 2048))
    vocab = open(os.path.join(FIX, "roberta", "vocab.json"), "rb").read()
    merges = open(os.path.join(FIX, "roberta", "merges.txt"), "rb").read()
    for folder in ("bert", "electra", "roberta"):  # tokenizer.json, the small ones
        tj = open(os.path.join(FIX, folder, "tokenizer.json"), "rb").read()
        write("tokenizer_files", f"tokenizer_json_{folder}", bytes([4]) + tj)
    write("tokenizer_files", "vocab_json", bytes([2]) + vocab)
    write("tokenizer_files", "bpe_vocab_merges", bytes([3]) + vocab + b"\0" + merges)
    for folder in sorted(os.listdir(FIX)):
        cfg = os.path.join(FIX, folder, "config.json")
        if os.path.isfile(cfg):
            write("hf_config", folder, open(cfg, "rb").read())


if __name__ == "__main__":
    main()

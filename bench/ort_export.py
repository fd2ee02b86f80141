#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Exports bench_core's random-weight folders to ONNX for the onnxruntime peer.

For each shape, <dir>/<shape>/model.onnx is written from the same model.safetensors that
bench_core and torch_peer.py read, with the forward pass of bench/torch_peer.py's Encoder
(Hugging Face transformers 4.31's BertModel / DistilBertModel / AlbertModel /
MobileBertModel without the pooler) traced by Debian's python3-torch `torch.onnx.export`.
Inputs: input_ids and attention_mask, (batch, sequence) int64, both axes dynamic; output:
last_hidden_state (batch, sequence, hidden). An existing model.onnx newer than its
model.safetensors is kept.

Run with Debian's torch: /usr/bin/python3 bench/ort_export.py [--dir DIR] [--shapes ...]
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_peer import Encoder, FamilyEncoder  # noqa: E402  (the peer's forward pass)


class ExportEncoder(Encoder):
    """The peer's Encoder with LayerNorm's normalized_shape as a constant: the traced
    x.shape[-1] is a graph value, which the ONNX LayerNormalization export rejects."""

    def _ln(self, x, name, eps=None):
        w = self.w[name + ".weight"]
        return F.layer_norm(x, (w.shape[0],), w, self.w[name + ".bias"],
                            self.eps if eps is None else eps)


class ExportFamilyEncoder(FamilyEncoder):
    """The same for MPNet, DeBERTa-v2 and ModernBERT (the peer's FamilyEncoder)."""

    def _ln(self, x, name):
        w = self.w[name + ".weight"]
        return F.layer_norm(x, (w.shape[0],), w, self.w.get(name + ".bias"), self.eps)


FAMILIES = ("mpnet", "deberta-v2", "modernbert")


def make_export_encoder(folder):
    with open(os.path.join(folder, "config.json")) as f:
        kind = json.load(f)["model_type"]
    return ExportFamilyEncoder(folder) if kind in FAMILIES else ExportEncoder(folder)


class Wrapped(torch.nn.Module):
    """torch.onnx.export traces a Module: this one holds no parameters of its own, the
    Encoder's weight tensors become the graph's initializers."""

    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, input_ids, attention_mask):
        return self.enc.forward(input_ids, attention_mask)


def export(folder, opset):
    out = os.path.join(folder, "model.onnx")
    src = os.path.join(folder, "model.safetensors")
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out, False
    enc = make_export_encoder(folder)
    ids = torch.randint(5, 1000, (2, 9), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    tmp = out + ".tmp"
    # torch 1.13 has no ONNX symbolic for aten::logical_not (ModernBERT's window mask);
    # bitwise_not of a bool tensor is the same and exports as Not.
    logical_not = torch.Tensor.logical_not
    torch.Tensor.logical_not = torch.Tensor.bitwise_not
    try:
        with torch.inference_mode():
            torch.onnx.export(Wrapped(enc), (ids, mask), tmp, opset_version=opset,
                              input_names=["input_ids", "attention_mask"],
                              output_names=["last_hidden_state"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "attention_mask": {0: "batch", 1: "sequence"},
                                            "last_hidden_state": {0: "batch", 1: "sequence"}},
                              do_constant_folding=True)
    finally:
        torch.Tensor.logical_not = logical_not
    os.replace(tmp, out)
    return out, True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR") or "bench/out")
    ap.add_argument("--shapes",
                    default="minilm-l6,distilbert-base,bert-base,albert-base,mobilebert")
    ap.add_argument("--opset", type=int, default=14)
    a = ap.parse_args()
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    failed = 0
    for shape in [s for s in a.shapes.split(",") if s]:
        try:
            path, written = export(os.path.join(a.dir, shape), a.opset)
        except Exception as e:  # noqa: BLE001  (one shape's export must not stop the rest)
            print(f"{shape}: not exported ({type(e).__name__}: {str(e).splitlines()[0]}); "
                  "the onnxruntime peer skips it", flush=True)
            failed += 1
            continue
        print(f"{shape}: {path} ({'exported' if written else 'up to date'}, "
              f"{os.path.getsize(path) / 2**20:.1f} MiB)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch peer for bench_core: the same folders, the same workloads, in eager PyTorch.

Reads the random-weight Hugging Face folders and workloads/<shape>.json that bench_core
wrote (bench/out or $BENCH_DIR), builds BertModel / DistilBertModel / AlbertModel /
MobileBertModel's forward pass with torch ops exactly as Hugging Face transformers 4.31
writes it (modeling_bert.py, modeling_distilbert.py, modeling_albert.py,
modeling_mobilebert.py: padded batch, additive / masked_fill attention mask, exact-erf
GELU, tanh GELU (gelu_new) for ALBERT, ReLU and NoNorm for MobileBERT, post-norm), and
times it under torch.inference_mode() the way a PyTorch user runs a batch: every sequence
padded to the longest one.

Before timing it proves it computes the same function as smolserve:
  * on the shipped fixtures (tests/fixtures/{bert,distilbert,albert,mobilebert}) it must
    reproduce Hugging Face's own last_hidden_state from expected.json within 1e-4;
  * on each benchmark shape it must reproduce the last_hidden_state smolserve wrote for
    the check batch in workloads/<shape>.json.

Run with Debian's torch: /usr/bin/python3 bench/torch_peer.py (needs python3-torch).
"""

import argparse
import ctypes
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

FIXTURE_TOL = 1e-4
CHECK_TOL = 1e-4


# --- weights -------------------------------------------------------------------------

def load_safetensors(path):
    """{name: float32 tensor} sharing one bytearray with the file's contents."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    n_header = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n_header])
    base = 8 + n_header
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {t['dtype']}; the peer reads F32 only")
        begin, end = t["data_offsets"]
        n = (end - begin) // 4
        out[name] = torch.frombuffer(data, dtype=torch.float32, count=n,
                                     offset=base + begin).view(t["shape"])
    return out


def gelu_new(x):
    """transformers' NewGELUActivation (activations.py): GELU's tanh approximation."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                       (x + 0.044715 * torch.pow(x, 3.0))))


# ACT2FN as transformers 4.31 maps the names these checkpoints use.
ACTIVATIONS = {"gelu": F.gelu, "gelu_new": gelu_new, "relu": F.relu}


class Encoder:
    """BertModel, DistilBertModel, AlbertModel or MobileBertModel (no pooler):
    last_hidden_state only."""

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        self.kind = cfg["model_type"]
        w = load_safetensors(os.path.join(folder, "model.safetensors"))
        prefix = self.kind + "."
        w = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in w.items()}
        self.w = w
        if self.kind == "distilbert":
            self.hidden = cfg.get("dim", 768)
            self.n_heads = cfg.get("n_heads", 12)
            self.n_layers = cfg.get("n_layers", 6)
            self.eps = 1e-12  # modeling_distilbert.py hard-codes it
            act = cfg.get("activation", "gelu")
        elif self.kind in ("bert", "albert", "mobilebert"):
            # defaults of BertConfig / AlbertConfig / MobileBertConfig
            defaults = {"bert": (768, 12, 12, "gelu"), "albert": (4096, 64, 12, "gelu_new"),
                        "mobilebert": (512, 4, 24, "relu")}[self.kind]
            self.hidden = cfg.get("hidden_size", defaults[0])
            self.n_heads = cfg.get("num_attention_heads", defaults[1])
            self.n_layers = cfg.get("num_hidden_layers", defaults[2])
            self.eps = cfg.get("layer_norm_eps", 1e-12)
            act = cfg.get("hidden_act", defaults[3])
        else:
            raise ValueError(f"{folder}: model_type {self.kind} is not bert, distilbert, albert "
                             "or mobilebert")
        if act not in ACTIVATIONS:
            raise ValueError(f"{folder}: activation {act}: the peer implements "
                             f"{', '.join(ACTIVATIONS)}")
        self.act = ACTIVATIONS[act]
        self.head_dim = self.hidden // self.n_heads
        if self.kind == "albert":
            self.n_groups = cfg.get("num_hidden_groups", 1)
            self.inner = cfg.get("inner_group_num", 1)
        if self.kind == "mobilebert":
            self.use_bottleneck = cfg.get("use_bottleneck", True)
            self.true_hidden = (cfg.get("true_hidden_size", cfg.get("intra_bottleneck_size", 128))
                                if self.use_bottleneck else self.hidden)
            self.head_dim = self.true_hidden // self.n_heads
            self.n_ffn = cfg.get("num_feedforward_networks", 4)
            self.bottleneck_attention = cfg.get("use_bottleneck_attention", False)
            self.kq_shared = cfg.get("key_query_shared_bottleneck", True)
            self.trigram = cfg.get("trigram_input", True)
            self.no_norm = cfg.get("normalization_type", "no_norm") == "no_norm"
            self.embedding_size = cfg.get("embedding_size", 128)

    def _ln(self, x, name, eps=None):
        return F.layer_norm(x, (x.shape[-1],), self.w[name + ".weight"], self.w[name + ".bias"],
                            self.eps if eps is None else eps)

    def _lin(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _heads(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    def _ext_mask(self, mask, dtype):
        # get_extended_attention_mask: (1 - mask) * finfo.min, added to the scores.
        return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def _attention(self, q, k, v, ext):
        """softmax(q k^T / sqrt(d) + mask) v over (batch, n, width) projections, as
        BertSelfAttention / AlbertAttention / MobileBertSelfAttention write it."""
        b, n, _ = q.shape
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + ext, dim=-1)
        return torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous().view(b, n, -1)

    def forward(self, ids, mask, type_ids=None):
        """ids, mask, type_ids: (batch, seq) int64. Returns (batch, seq, hidden)."""
        if type_ids is None:
            type_ids = torch.zeros_like(ids)
        if self.kind == "mobilebert":
            return self._mobilebert(ids, mask, type_ids)
        n = ids.shape[1]
        w = self.w
        pos = torch.arange(n, dtype=torch.long).unsqueeze(0)
        x = F.embedding(ids, w["embeddings.word_embeddings.weight"])
        if self.kind == "distilbert":
            x = x + F.embedding(pos, w["embeddings.position_embeddings.weight"])
        else:  # BertEmbeddings (AlbertEmbeddings copies it): word + type, then + position
            x = x + F.embedding(type_ids, w["embeddings.token_type_embeddings.weight"])
            x = x + F.embedding(pos, w["embeddings.position_embeddings.weight"])
        x = self._ln(x, "embeddings.LayerNorm")
        if self.kind == "bert":
            return self._bert_layers(x, mask)
        if self.kind == "albert":
            return self._albert_layers(x, mask)
        return self._distilbert_layers(x, mask)

    def _bert_layers(self, x, mask):
        ext = self._ext_mask(mask, x.dtype)
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            ctx = self._attention(self._lin(x, p + "attention.self.query"),
                                  self._lin(x, p + "attention.self.key"),
                                  self._lin(x, p + "attention.self.value"), ext)
            x = self._ln(self._lin(ctx, p + "attention.output.dense") + x,
                         p + "attention.output.LayerNorm")
            inter = self.act(self._lin(x, p + "intermediate.dense"))
            x = self._ln(self._lin(inter, p + "output.dense") + x, p + "output.LayerNorm")
        return x

    def _albert_layers(self, x, mask):
        # AlbertTransformer: project the embeddings, then layer i runs group
        # i // (layers / groups); each group is inner_group_num AlbertLayers.
        ext = self._ext_mask(mask, x.dtype)
        x = self._lin(x, "encoder.embedding_hidden_mapping_in")
        for i in range(self.n_layers):
            g = int(i / (self.n_layers / self.n_groups))
            for j in range(self.inner):
                p = f"encoder.albert_layer_groups.{g}.albert_layers.{j}."
                ctx = self._attention(self._lin(x, p + "attention.query"),
                                      self._lin(x, p + "attention.key"),
                                      self._lin(x, p + "attention.value"), ext)
                a = self._ln(x + self._lin(ctx, p + "attention.dense"), p + "attention.LayerNorm")
                ffn = self._lin(self.act(self._lin(a, p + "ffn")), p + "ffn_output")
                x = self._ln(ffn + a, p + "full_layer_layer_norm")
        return x

    def _distilbert_layers(self, x, mask):
        b, n, h = x.shape
        masked = (mask == 0).view(b, 1, 1, n)
        for i in range(self.n_layers):
            p = f"transformer.layer.{i}."
            q = self._heads(self._lin(x, p + "attention.q_lin")) / math.sqrt(self.head_dim)
            k = self._heads(self._lin(x, p + "attention.k_lin"))
            v = self._heads(self._lin(x, p + "attention.v_lin"))
            scores = torch.matmul(q, k.transpose(2, 3))
            scores = scores.masked_fill(masked.expand_as(scores), torch.finfo(scores.dtype).min)
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
            ctx = ctx.transpose(1, 2).contiguous().view(b, n, h)
            x = self._ln(self._lin(ctx, p + "attention.out_lin") + x, p + "sa_layer_norm")
            ffn = self._lin(F.gelu(self._lin(x, p + "ffn.lin1")), p + "ffn.lin2")
            x = self._ln(ffn + x, p + "output_layer_norm")
        return x

    # --- MobileBERT (modeling_mobilebert.py) ---

    def _mb_norm(self, x, name, eps=None):
        """NORM2FN[normalization_type]: NoNorm is x * weight + bias; LayerNorm's eps is
        layer_norm_eps where the module passes it, else nn.LayerNorm's 1e-5."""
        if self.no_norm:
            return x * self.w[name + ".weight"] + self.w[name + ".bias"]
        return self._ln(x, name, eps)

    def _mobilebert(self, ids, mask, type_ids):
        w = self.w
        n = ids.shape[1]
        pos = torch.arange(n, dtype=torch.long).unsqueeze(0)
        # MobileBertEmbeddings: trigram [next, this, previous] with zero padding at the
        # ends of the padded batch, embedding_transformation, + position + type, norm.
        x = F.embedding(ids, w["embeddings.word_embeddings.weight"])
        if self.trigram:
            x = torch.cat([F.pad(x[:, 1:], [0, 0, 0, 1, 0, 0], value=0.0), x,
                           F.pad(x[:, :-1], [0, 0, 1, 0, 0, 0], value=0.0)], dim=2)
        if self.trigram or self.embedding_size != self.hidden:
            x = self._lin(x, "embeddings.embedding_transformation")
        x = (x + F.embedding(pos, w["embeddings.position_embeddings.weight"])
             + F.embedding(type_ids, w["embeddings.token_type_embeddings.weight"]))
        x = self._mb_norm(x, "embeddings.LayerNorm", 1e-5)
        ext = self._ext_mask(mask, x.dtype)
        for i in range(self.n_layers):
            x = self._mobilebert_layer(x, ext, f"encoder.layer.{i}.")
        return x

    def _mobilebert_layer(self, x, ext, p):
        # Bottleneck: (query, key, value, layer_input) tensors.
        if self.use_bottleneck:
            layer_input = self._mb_norm(self._lin(x, p + "bottleneck.input.dense"),
                                        p + "bottleneck.input.LayerNorm")
            if self.bottleneck_attention:
                q_in = k_in = v_in = layer_input
            elif self.kq_shared:
                q_in = k_in = self._mb_norm(self._lin(x, p + "bottleneck.attention.dense"),
                                            p + "bottleneck.attention.LayerNorm")
                v_in = x
            else:
                q_in = k_in = v_in = x
        else:
            q_in = k_in = v_in = layer_input = x
        ctx = self._attention(self._lin(q_in, p + "attention.self.query"),
                              self._lin(k_in, p + "attention.self.key"),
                              self._lin(v_in, p + "attention.self.value"), ext)
        a = self._mb_norm(self._lin(ctx, p + "attention.output.dense") + layer_input,
                          p + "attention.output.LayerNorm")
        for j in range(self.n_ffn - 1):  # FFNLayer
            f = f"{p}ffn.{j}."
            inter = self.act(self._lin(a, f + "intermediate.dense"))
            a = self._mb_norm(self._lin(inter, f + "output.dense") + a, f + "output.LayerNorm")
        inter = self.act(self._lin(a, p + "intermediate.dense"))
        # MobileBertOutput (its norm takes no eps), then OutputBottleneck.
        out = self._mb_norm(self._lin(inter, p + "output.dense") + a, p + "output.LayerNorm",
                            1e-5)
        if not self.use_bottleneck:
            return out
        return self._mb_norm(self._lin(out, p + "output.bottleneck.dense") + x,
                             p + "output.bottleneck.LayerNorm")


class FamilyEncoder:
    """MPNetModel, DebertaV2Model or ModernBertModel (no pooler): last_hidden_state only,
    with torch ops as transformers writes them (modeling_mpnet.py and
    modeling_deberta_v2.py of v4.31, modeling_modernbert.py of the v4.48 line, eager
    attention): a padded batch and its attention mask, as a PyTorch user runs it."""

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            cfg = json.load(f)
        self.cfg = cfg
        self.kind = cfg["model_type"]
        prefix = {"mpnet": "mpnet.", "deberta-v2": "deberta.", "modernbert": "model."}[self.kind]
        w = load_safetensors(os.path.join(folder, "model.safetensors"))
        self.w = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in w.items()}
        self.hidden = cfg["hidden_size"]
        self.n_heads = cfg["num_attention_heads"]
        self.n_layers = cfg["num_hidden_layers"]
        self.head_dim = self.hidden // self.n_heads
        act = cfg.get("hidden_activation" if self.kind == "modernbert" else "hidden_act", "gelu")
        if act not in ACTIVATIONS:
            raise ValueError(f"{folder}: activation {act}")
        self.act = ACTIVATIONS[act]
        default_eps = {"mpnet": 1e-12, "deberta-v2": 1e-7, "modernbert": 1e-5}[self.kind]
        self.eps = cfg.get("norm_eps" if self.kind == "modernbert" else "layer_norm_eps",
                           default_eps)

    def _ln(self, x, name):
        return F.layer_norm(x, (x.shape[-1],), self.w[name + ".weight"],
                            self.w.get(name + ".bias"), self.eps)

    def _lin(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias"))

    def _heads(self, x):
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(self, ids, mask, type_ids=None):
        return {"mpnet": self._mpnet, "deberta-v2": self._deberta,
                "modernbert": self._modernbert}[self.kind](ids, mask)

    # --- MPNet ---

    @staticmethod
    def _mpnet_bucket(relative_position, num_buckets=32, max_distance=128):
        ret = 0
        n = -relative_position
        num_buckets //= 2
        ret += (n < 0).to(torch.long) * num_buckets
        n = torch.abs(n)
        max_exact = num_buckets // 2
        is_small = n < max_exact
        val_if_large = max_exact + (torch.log(n.float() / max_exact) /
                                    math.log(max_distance / max_exact) *
                                    (num_buckets - max_exact)).to(torch.long)
        val_if_large = torch.min(val_if_large, torch.full_like(val_if_large, num_buckets - 1))
        return ret + torch.where(is_small, n, val_if_large)

    def _mpnet(self, ids, mask):
        w = self.w
        b, n = ids.shape
        keep = ids.ne(1).int()  # create_position_ids_from_input_ids, padding_idx 1
        pos = (torch.cumsum(keep, dim=1).type_as(keep) * keep).long() + 1
        x = (F.embedding(ids, w["embeddings.word_embeddings.weight"]) +
             F.embedding(pos, w["embeddings.position_embeddings.weight"]))
        x = self._ln(x, "embeddings.LayerNorm")
        ctx_pos = torch.arange(n, dtype=torch.long)[:, None]
        rel = torch.arange(n, dtype=torch.long)[None, :] - ctx_pos
        bias = F.embedding(self._mpnet_bucket(rel), w["encoder.relative_attention_bias.weight"])
        bias = bias.permute([2, 0, 1]).unsqueeze(0)
        ext = (1.0 - mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            q, k, v = (self._heads(self._lin(x, p + "attention.attn." + t)) for t in "qkv")
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
            probs = torch.softmax(scores + bias + ext, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous().view(b, n, -1)
            x = self._ln(self._lin(ctx, p + "attention.attn.o") + x, p + "attention.LayerNorm")
            inter = self.act(self._lin(x, p + "intermediate.dense"))
            x = self._ln(self._lin(inter, p + "output.dense") + x, p + "output.LayerNorm")
        return x

    # --- DeBERTa-v2 ---

    @staticmethod
    def _log_bucket(relative_pos, bucket_size, max_position):
        sign = torch.sign(relative_pos)
        mid = bucket_size // 2
        abs_pos = torch.where((relative_pos < mid) & (relative_pos > -mid),
                              torch.tensor(mid - 1).type_as(relative_pos),
                              torch.abs(relative_pos))
        log_pos = torch.ceil(torch.log(abs_pos / mid) /
                             torch.log(torch.tensor((max_position - 1) / mid)) * (mid - 1)) + mid
        return torch.where(abs_pos <= mid, relative_pos.type_as(log_pos), log_pos * sign)

    def _deberta(self, ids, mask):
        cfg, w = self.cfg, self.w
        b, n = ids.shape
        pos_att = cfg.get("pos_att_type") or []
        if (cfg.get("position_biased_input", True) or cfg.get("type_vocab_size", 0) > 0 or
                not cfg.get("relative_attention") or not cfg.get("share_att_key") or
                sorted(pos_att if isinstance(pos_att, list) else pos_att.split("|")) !=
                ["c2p", "p2c"]):
            raise ValueError("the peer runs DeBERTa-v3's settings only")
        x = self._ln(F.embedding(ids, w["embeddings.word_embeddings.weight"]),
                     "embeddings.LayerNorm") * mask.unsqueeze(2).to(torch.float32)
        max_rel = cfg.get("max_relative_positions", -1)
        if max_rel < 1:
            max_rel = cfg.get("max_position_embeddings", 512)
        buckets = cfg.get("position_buckets", -1)
        span = buckets if buckets > 0 else max_rel
        rel = torch.arange(n)[:, None] - torch.arange(n)[None, :]
        if buckets > 0:
            rel = self._log_bucket(rel, buckets, max_rel)
        rel = rel.to(torch.long)
        rel_emb = w["encoder.rel_embeddings.weight"]
        if "layer_norm" in cfg.get("norm_rel_ebd", "none"):
            rel_emb = self._ln(rel_emb, "encoder.LayerNorm")
        rel_emb = rel_emb[0:2 * span, :].unsqueeze(0)
        att_mask = (mask[:, None, None, :] * mask[:, None, :, None]).bool()
        scale = torch.sqrt(torch.tensor(self.head_dim, dtype=torch.float) * 3)
        c2p_pos = torch.clamp(rel + span, 0, 2 * span - 1)
        p2c_pos = torch.clamp(-rel + span, 0, 2 * span - 1)
        bh = b * self.n_heads

        def heads(t):
            return self._heads(t).reshape(-1, t.shape[1], self.head_dim)

        for i in range(self.n_layers):
            p = f"encoder.layer.{i}."
            q = heads(self._lin(x, p + "attention.self.query_proj"))
            k = heads(self._lin(x, p + "attention.self.key_proj"))
            v = heads(self._lin(x, p + "attention.self.value_proj"))
            pos_q = heads(self._lin(rel_emb, p + "attention.self.query_proj")).repeat(b, 1, 1)
            pos_k = heads(self._lin(rel_emb, p + "attention.self.key_proj")).repeat(b, 1, 1)
            scores = torch.bmm(q, k.transpose(-1, -2)) / scale
            c2p = torch.gather(torch.bmm(q, pos_k.transpose(-1, -2)), -1,
                               c2p_pos.expand([bh, n, n]))
            p2c = torch.gather(torch.bmm(k, pos_q.transpose(-1, -2)), -1,
                               p2c_pos.expand([bh, n, n])).transpose(-1, -2)
            scores = (scores + (c2p / scale + p2c / scale)).view(b, self.n_heads, n, n)
            probs = torch.softmax(scores.masked_fill(~att_mask, torch.finfo(x.dtype).min), -1)
            probs = probs.masked_fill(~att_mask, 0)
            ctx = torch.bmm(probs.view(-1, n, n), v).view(b, self.n_heads, n, self.head_dim)
            ctx = ctx.permute(0, 2, 1, 3).contiguous().view(b, n, -1)
            x = self._ln(self._lin(ctx, p + "attention.output.dense") + x,
                         p + "attention.output.LayerNorm")
            inter = self.act(self._lin(x, p + "intermediate.dense"))
            x = self._ln(self._lin(inter, p + "output.dense") + x, p + "output.LayerNorm")
        return x

    # --- ModernBERT ---

    def _rope(self, theta, n):
        inv = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() /
                               self.head_dim))
        freqs = (inv[None, :, None] @ torch.arange(n).float()[None, None, :]).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    @staticmethod
    def _rotate(x, cos, sin):
        half = x.shape[-1] // 2
        return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

    def _modernbert(self, ids, mask):
        cfg, w = self.cfg, self.w
        b, n = ids.shape
        x = self._ln(F.embedding(ids, w["embeddings.tok_embeddings.weight"]), "embeddings.norm")
        fmin = torch.finfo(x.dtype).min
        glob = (1.0 - mask[:, None, None, :].to(x.dtype)) * fmin
        rows = torch.arange(n).unsqueeze(0)
        window = (torch.abs(rows - rows.T) <= cfg.get("local_attention", 128) // 2)
        local = glob.masked_fill(window.logical_not()[None, None], fmin)
        ropes = {t: self._rope(cfg.get(t, d), n) for t, d in
                 (("global_rope_theta", 160000.0), ("local_rope_theta", 10000.0))}
        every = cfg.get("global_attn_every_n_layers", 3)
        for i in range(self.n_layers):
            p = f"layers.{i}."
            is_global = i % every == 0
            cos, sin = ropes["global_rope_theta" if is_global else "local_rope_theta"]
            h = x if i == 0 else self._ln(x, p + "attn_norm")
            qkv = self._lin(h, p + "attn.Wqkv").view(b, n, 3, self.n_heads, self.head_dim)
            q, k, v = qkv.transpose(3, 1).unbind(dim=2)
            q, k = self._rotate(q, cos[:, None], sin[:, None]), self._rotate(k, cos[:, None],
                                                                             sin[:, None])
            scores = torch.matmul(q, k.transpose(2, 3)) * self.head_dim ** -0.5
            probs = torch.softmax(scores + (glob if is_global else local), dim=-1)
            ctx = torch.matmul(probs, v).transpose(1, 2).contiguous().view(b, n, -1)
            x = x + self._lin(ctx, p + "attn.Wo")
            inp, gate = self._lin(self._ln(x, p + "mlp_norm"), p + "mlp.Wi").chunk(2, dim=-1)
            x = x + self._lin(self.act(inp) * gate, p + "mlp.Wo")
        return self._ln(x, "final_norm")


def make_encoder(folder):
    """Encoder or FamilyEncoder, by config.json's model_type."""
    with open(os.path.join(folder, "config.json")) as f:
        kind = json.load(f)["model_type"]
    return FamilyEncoder(folder) if kind in ("mpnet", "deberta-v2", "modernbert") \
        else Encoder(folder)


def pad_batch(seqs, type_seqs=None):
    """Right-pads id lists with 0 ([PAD]) as a tokenizer(padding=True) would."""
    n = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), n, dtype=torch.long)
    mask = torch.zeros(len(seqs), n, dtype=torch.long)
    types = torch.zeros(len(seqs), n, dtype=torch.long) if type_seqs is not None else None
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, :len(s)] = 1
        if types is not None:
            types[i, :len(s)] = torch.tensor(type_seqs[i], dtype=torch.long)
    return ids, mask, types


def split(workload):
    """Workload {"lengths", "ids"} (packed) -> list of id lists."""
    seqs, at = [], 0
    for n in workload["lengths"]:
        seqs.append(workload["ids"][at:at + n])
        at += n
    return seqs


# --- checks ----------------------------------------------------------------------------

def check_fixture(folder):
    """Max |torch - Hugging Face| over every case of folder/expected.json, run as one
    padded batch (so the attention mask is exercised)."""
    enc = make_encoder(folder)
    with open(os.path.join(folder, "expected.json")) as f:
        cases = json.load(f)["cases"]
    ids, mask, types = pad_batch([c["input_ids"] for c in cases],
                                 [c.get("token_type_ids") or [0] * len(c["input_ids"])
                                  for c in cases])
    with torch.inference_mode():
        out = enc.forward(ids, mask, types)
    worst = 0.0
    for i, c in enumerate(cases):
        ref = torch.tensor(c["last_hidden_state"]["data"]).view(
            c["last_hidden_state"]["shape"])
        worst = max(worst, (out[i, :ref.shape[0]] - ref).abs().max().item())
    return worst, len(cases)


def check_against_smolserve(enc, check, hidden):
    """Max |torch - smolserve| on the check batch bench_core wrote."""
    seqs = split(check)
    ids, mask, _ = pad_batch(seqs)
    with torch.inference_mode():
        out = enc.forward(ids, mask)
    ref = torch.tensor(check["last_hidden_state"]).view(-1, hidden)
    worst, at = 0.0, 0
    for i, s in enumerate(seqs):
        worst = max(worst, (out[i, :len(s)] - ref[at:at + len(s)]).abs().max().item())
        at += len(s)
    return worst


# --- timing ----------------------------------------------------------------------------

def time_workload(enc, workload, seconds, min_iters):
    seqs = split(workload)
    ids, mask, _ = pad_batch(seqs)
    times = []
    with torch.inference_mode():
        enc.forward(ids, mask)  # warm-up
        start = time.perf_counter()
        while len(times) < min_iters or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            enc.forward(ids, mask)
            times.append(time.perf_counter() - t0)
    n_real = sum(workload["lengths"])
    med = statistics.median(times)
    return {"n_seqs": len(seqs), "n_tokens": n_real, "n_padded": ids.numel(),
            "iters": len(times), "median_ms": 1e3 * med, "min_ms": 1e3 * min(times),
            "max_ms": 1e3 * max(times), "tokens_per_s": n_real / med}


def blas_info():
    """Which BLAS torch's process has loaded, and OpenBLAS's kernel and threads if so."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            if "blas" in os.path.basename(path) or "mkl" in os.path.basename(path):
                libs.add(path)
    info = {"libs": sorted(libs), "corename": None, "openblas_threads": None}
    for lib in sorted(libs):
        try:
            h = ctypes.CDLL(lib)
            h.openblas_get_corename.restype = ctypes.c_char_p
            info["corename"] = h.openblas_get_corename().decode()
            info["openblas_threads"] = h.openblas_get_num_threads()
            info["openblas_lib"] = lib
            break
        except (OSError, AttributeError):
            continue
    return info


def set_openblas_threads(n):
    for lib in blas_info()["libs"]:
        try:
            ctypes.CDLL(lib).openblas_set_num_threads(n)
        except (OSError, AttributeError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=os.environ.get("BENCH_DIR") or "bench/out")
    ap.add_argument("--shapes",
                    default="minilm-l6,distilbert-base,bert-base,albert-base,mobilebert,"
                    "mpnet-base,deberta-v3-base,modernbert-base")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--min-iters", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch and OpenBLAS threads (default: CPUs this process may use)")
    ap.add_argument("--fixtures", nargs="*", default=[],
                    help="fixture folders to check against expected.json first")
    ap.add_argument("--check-only", action="store_true", help="run the checks, time nothing")
    ap.add_argument("--json", action="store_true", help="end with one line of JSON")
    a = ap.parse_args()

    n_threads = a.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(n_threads)
    set_openblas_threads(n_threads)
    blas = blas_info()
    cfg = torch.__config__.show()
    blas_setting = next((p.strip().split(":")[-1].strip() for p in cfg.replace("\n", ",").split(",")
                         if "BLAS_INFO" in p), "?")
    print(f"torch {torch.__version__} ({blas_setting}; loaded {', '.join(blas['libs'])}); "
          f"OpenBLAS core {blas['corename']} (OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}), {blas['openblas_threads']} "
          f"OpenBLAS threads, torch.get_num_threads() {torch.get_num_threads()}")

    failed = False
    checks = {}
    for folder in a.fixtures:
        worst, n = check_fixture(folder)
        ok = worst <= FIXTURE_TOL
        failed |= not ok
        checks[folder.rstrip("/")] = worst  # a path: never a shape's name
        print(f"check {folder}: {n} cases vs Hugging Face expected.json, max |diff| "
              f"{worst:.2e} ({'ok' if ok else 'FAIL'}, tolerance {FIXTURE_TOL:g})")

    results = []
    for shape in [s for s in a.shapes.split(",") if s]:
        with open(os.path.join(a.dir, "workloads", shape + ".json")) as f:
            wl = json.load(f)
        enc = make_encoder(os.path.join(a.dir, shape))
        worst = check_against_smolserve(enc, wl["check"], wl["hidden"])
        ok = worst <= CHECK_TOL
        failed |= not ok
        checks[shape] = worst
        print(f"check {shape}: {sum(wl['check']['lengths'])} tokens vs smolserve, max |diff| "
              f"{worst:.2e} ({'ok' if ok else 'FAIL'}, tolerance {CHECK_TOL:g})")
        if a.check_only:
            continue
        for w in wl["workloads"]:
            r = time_workload(enc, w, a.seconds, a.min_iters)
            r.update(shape=shape, workload=w["name"])
            results.append(r)
            print(f"{shape:16} {w['name']:16} {r['n_tokens']:6d} tokens ({r['n_padded']} "
                  f"padded) median {r['median_ms']:9.1f} ms {r['tokens_per_s']:8.0f} tokens/s "
                  f"({r['iters']} runs)", flush=True)
        del enc

    if a.json:
        print(json.dumps({"tool": "torch_peer", "torch": torch.__version__,
                          "blas_info": blas_setting, "blas": blas,
                          "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
                          "threads": torch.get_num_threads(), "checks": checks,
                          "checks_ok": not failed, "results": results}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

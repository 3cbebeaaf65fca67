#!/usr/bin/env python3
"""PyTorch reference for `pnpm bench -- --compare-torch` (development only, never in CI).

The same Qwen3-style decoder, shapes and steps as bench/run.ts, in eager PyTorch on the CPU:
prefill, KV-cached greedy decoding at batch 1 and 8, a training step (forward + backward +
Adam), and decoding with a forced exit at the first exitable layer (exited tokens still compute
K/V in later layers). Prints one JSON object {"metric|unit": value} on its last line.
Usage: python3 torch_reference.py '{"config": {...}, "batch": 16, "seqLen": 128, "steps": 3, "decodeTokens": 32}'
"""
import json
import math
import sys
import time

import torch
import torch.nn.functional as F

args = json.loads(sys.argv[1])
cfg = args["config"]
torch.set_num_threads(args.get("threads", 2))
torch.manual_seed(0)

C = cfg["hidden_size"]
H = cfg["num_attention_heads"]
K = cfg["num_key_value_heads"]
D = cfg.get("head_dim") or C // H
Fdim = cfg["intermediate_size"]
V = cfg["vocab_size"]
L = cfg["num_hidden_layers"]
eps = cfg.get("rms_norm_eps", 1e-6)
theta = cfg.get("rope_theta", 10000.0)
exits = cfg.get("early_exit_layers") or [l for l in range(1, L) if l % 5 == 0]


SDPA = getattr(F, "scaled_dot_product_attention", None)


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(C, H * D, bias=False)
        self.k = torch.nn.Linear(C, K * D, bias=False)
        self.v = torch.nn.Linear(C, K * D, bias=False)
        self.o = torch.nn.Linear(H * D, C, bias=False)
        self.qn = torch.nn.Parameter(torch.ones(D))
        self.kn = torch.nn.Parameter(torch.ones(D))
        self.n1 = torch.nn.Parameter(torch.ones(C))
        self.n2 = torch.nn.Parameter(torch.ones(C))
        self.gate = torch.nn.Linear(C, Fdim, bias=False)
        self.up = torch.nn.Linear(C, Fdim, bias=False)
        self.down = torch.nn.Linear(Fdim, C, bias=False)

    def kv(self, x, cos, sin):
        B, T, _ = x.shape
        xn = rms(x, self.n1)
        k = rope(rms(self.k(xn).view(B, T, K, D), self.kn), cos, sin).transpose(1, 2)
        v = self.v(xn).view(B, T, K, D).transpose(1, 2)
        return xn, k, v

    def forward(self, x, cos, sin, cache=None, kv_only=False):
        B, T, _ = x.shape
        xn, k, v = self.kv(x, cos, sin)
        if cache is not None:
            k = torch.cat([cache[0], k], 2)
            v = torch.cat([cache[1], v], 2)
        if kv_only:
            return x, (k, v)
        q = rope(rms(self.q(xn).view(B, T, H, D), self.qn), cos, sin).transpose(1, 2)
        kk = k.repeat_interleave(H // K, 1)
        vv = v.repeat_interleave(H // K, 1)
        if SDPA is not None:
            att = SDPA(q, kk, vv, is_causal=cache is None and T > 1)
        else:  # torch 1.13 has no scaled_dot_product_attention
            scores = q @ kk.transpose(-1, -2) / math.sqrt(D)
            if cache is None and T > 1:
                scores = scores + torch.full((T, T), float("-inf")).triu(1)
            att = scores.softmax(-1) @ vv
        x = x + self.o(att.transpose(1, 2).reshape(B, T, H * D))
        xn = rms(x, self.n2)
        return x + self.down(F.silu(self.gate(xn)) * self.up(xn)), (k, v)


def rope(x, cos, sin):
    x1, x2 = x.chunk(2, -1)
    return x * cos + torch.cat([-x2, x1], -1) * sin


inv = 1.0 / theta ** (torch.arange(0, D, 2).float() / D)


def tables(start, T):
    ang = torch.arange(start, start + T).float()[:, None] * inv[None]
    emb = torch.cat([ang, ang], -1)
    return emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, C)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(L)])
        self.norm = torch.nn.Parameter(torch.ones(C))

    def forward(self, ids, cache=None, start=0, exit_at=None):
        x = self.emb(ids)
        cos, sin = tables(start, ids.shape[1])
        new = []
        frozen = False
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, cos, sin, None if cache is None else cache[i], kv_only=frozen)
            new.append(kv)
            if exit_at is not None and i + 1 == exit_at:
                frozen = True
        return rms(x, self.norm) @ self.emb.weight.t(), new


def make_train_step(model, ids, optimizer=None):
    """One step on the next-token loss of ids: forward + backward, and the optimizer's update when
    one is given (without one, the gradients are cleared before each backward)."""

    def step():
        logits, _ = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1))
        if optimizer is None:
            model.zero_grad(set_to_none=True)
        else:
            optimizer.zero_grad()
        loss.backward()
        if optimizer is not None:
            optimizer.step()

    return step


def main():
    global model, ids, opt
    model = Model()
    B, T, steps, n_new = args["batch"], args["seqLen"], args["steps"], args["decodeTokens"]
    out = {}
    ids = torch.randint(0, V, (B, T))
    with torch.no_grad():
        model(ids)
        t0 = time.perf_counter()
        for _ in range(steps):
            model(ids)
        out[f"prefill {B}×{T}|tokens/s"] = steps * B * T / (time.perf_counter() - t0)


    def decode(batch, exit_at=None):
        with torch.no_grad():
            prompt = torch.randint(0, V, (batch, 16))
            logits, cache = model(prompt)
            tok = logits[:, -1].argmax(-1, keepdim=True)
            pos = 16
            t0 = time.perf_counter()
            for _ in range(n_new):
                logits, cache = model(tok, cache, pos, exit_at)
                tok = logits[:, -1].argmax(-1, keepdim=True)
                pos += 1
            return batch * n_new / (time.perf_counter() - t0)


    # Best of 3 after a warm-up, as bench/run.ts measures our side.
    for batch in (1, 8):
        decode(batch)
        out[f"decode batch {batch} (KV cache)|tokens/s"] = max(decode(batch) for _ in range(3))
    decode(1, exits[0])
    out[f"decode batch 1, exit at layer {exits[0]}|tokens/s"] = max(decode(1, exits[0]) for _ in range(3))

    train_step = make_train_step(model, ids, torch.optim.Adam(model.parameters(), lr=1e-3))

    train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    elapsed = time.perf_counter() - t0
    out[f"train step {B}×{T}|tokens/s"] = steps * B * T / elapsed
    out[f"train step {B}×{T}|ms/step"] = 1000 * elapsed / steps
    print(json.dumps(out))


if __name__ == "__main__":
    main()

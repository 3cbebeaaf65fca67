#!/usr/bin/env python3
"""PyTorch side of `pnpm bench:scaling --compare-torch` (development only, never in CI).

One model at one thread count: the decoder of torch_reference.py (same shapes, eager mode), run
as bench/scaling.ts runs ours. Prints one JSON line per measurement as it goes
({"metric": ..., "value": ..., "unit": ...}), so a row cut off by its time limit keeps what it
measured, and a last line {"peakRssBytes": ...}.
Usage: python3 torch_scaling.py '{"config": {...}, "threads": 1, "plan": {...}}'
  (the plan is bench/scaling.ts's: prefill/train shapes, steps, decode batches × contexts, steps
  per decode, and the metrics to skip because our side cannot run them.)
Also: python3 torch_scaling.py --info  → the interpreter's torch version and build (one JSON line).
"""
import json
import os
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")  # "Failed to initialize NumPy": numpy is not needed here

if len(sys.argv) > 1 and sys.argv[1] == "--info":
    import torch

    print(json.dumps({
        "version": torch.__version__,
        "executable": sys.executable,
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
        "mkl": bool(torch.backends.mkl.is_available()),
        "config": torch.__config__.show(),
        "threads": torch.get_num_threads(),
    }))
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import torch_reference as ref  # noqa: E402  (reads the same JSON argument: config, threads)

args = ref.args
plan = args["plan"]
skip = set(plan.get("skip", []))
torch.manual_seed(0)


def emit(metric, value, unit):
    print(json.dumps({"metric": metric, "value": value, "unit": unit}), flush=True)


model = ref.Model()
V, K, D, L = ref.V, ref.K, ref.D, ref.L

pb, pt, psteps = plan["prefill"]["batch"], plan["prefill"]["seqLen"], plan["prefill"]["steps"]
name = f"prefill {pb}×{pt}"
if name not in skip:
    ids = torch.randint(0, V, (pb, pt))
    with torch.no_grad():
        model(ids)
        best = float("inf")
        for _ in range(psteps):
            t0 = time.perf_counter()
            model(ids)
            best = min(best, time.perf_counter() - t0)
    emit(name, pb * pt / best, "tokens/s")


def decode(batch, context, n):
    # The context is already in the KV cache (random keys/values: the step's cost does not depend
    # on their values); time n decode steps after it, best of `repeats`.
    cache = [(torch.randn(batch, K, context, D), torch.randn(batch, K, context, D)) for _ in range(L)]
    tok = torch.randint(0, V, (batch, 1))
    best = float("inf")
    with torch.no_grad():
        model(tok, cache, context)  # warm-up
        for _ in range(plan["decode"]["repeats"]):
            c, pos = cache, context
            t0 = time.perf_counter()
            for _ in range(n):
                logits, c = model(tok, c, pos)
                tok = logits[:, -1].argmax(-1, keepdim=True)
                pos += 1
            best = min(best, time.perf_counter() - t0)
    return batch * n / best


for context in plan["decode"]["contexts"]:
    for batch in plan["decode"]["batches"]:
        name = f"decode batch {batch}, context {context}"
        if name in skip:
            continue
        emit(name, decode(batch, context, plan["decode"]["steps"]), "tokens/s")

tb, tt, tsteps = plan["train"]["batch"], plan["train"]["seqLen"], plan["train"]["steps"]
name = f"train step {tb}×{tt}"
if name not in skip:
    ids = torch.randint(0, V, (tb, tt))
    train_step = ref.make_train_step(model, ids, torch.optim.Adam(model.parameters(), lr=1e-3))

    train_step()  # warm-up
    best = float("inf")
    for _ in range(tsteps):
        t0 = time.perf_counter()
        train_step()
        best = min(best, time.perf_counter() - t0)
    emit(name, tb * tt / best, "tokens/s")

print(json.dumps({"peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}), flush=True)

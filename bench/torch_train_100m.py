#!/usr/bin/env python3
"""PyTorch side of bench/train-100m.ts (dev only): forward + backward of the 100m scaling model at
2 x 256, best of 2 after a warm-up. Usage: OMP_NUM_THREADS=N MKL_NUM_THREADS=N python torch_train_100m.py N"""
import json, sys, time, os, resource
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
cfg = {"model_type": "qwen3", "vocab_size": 32000, "hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12, "num_key_value_heads": 4, "head_dim": 64, "rope_theta": 1000000, "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "max_position_embeddings": 4096}
threads = int(sys.argv[1])
sys.argv = [sys.argv[0], json.dumps({"config": cfg, "threads": threads, "batch": 2, "seqLen": 256, "steps": 2, "decodeTokens": 1})]
import torch
import torch_reference as ref
torch.set_num_threads(threads)
torch.manual_seed(0)
model = ref.Model()
ids = torch.randint(0, ref.V, (2, 256))
step = ref.make_train_step(model, ids)  # forward + backward, no optimizer (as bench/train-100m.ts)
step()
best = 1e9
for _ in range(2):
    t0 = time.perf_counter(); step(); best = min(best, time.perf_counter() - t0)
print(json.dumps({"side": "torch", "threads": threads, "what": "forward+backward", "msPerStep": best * 1000, "tokensPerSecond": 512 / best, "rssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

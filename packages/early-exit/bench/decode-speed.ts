// Batch-1 decode speed with early exits vs full depth: wall-clock per token when every token
// exits at layer e (K/V-only work in layers e+1..L), plus the FLOPs the accounting predicts.
//
//   npx tsx packages/early-exit/bench/decode-speed.ts                 # ~1.6M-param Qwen3 (d 128, 8 layers)
//   npx tsx packages/early-exit/bench/decode-speed.ts --model DIR      # a local Hugging Face folder
//   npx tsx packages/early-exit/bench/decode-speed.ts --tokens 64 --backend wasm
import { parseArgs } from "node:util";
import { initBackend, type BackendChoice } from "@eecot/tensor-core";
import { initQwenParams, loadQwenModel, parseQwenConfig, type QwenModel } from "@eecot/transformer";
import { accountCompute, EarlyExitModel, tracesOfGeneration } from "../src/index.js";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    tokens: { type: "string", default: "64" },
    repeats: { type: "string", default: "3" },
    backend: { type: "string", default: "wasm" },
  },
});
await initBackend({ backend: values.backend as BackendChoice, quiet: true });

const config = parseQwenConfig({
  model_type: "qwen3", vocab_size: 512, hidden_size: 128, intermediate_size: 384, num_hidden_layers: 8,
  num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, rope_theta: 10000, rms_norm_eps: 1e-6,
  tie_word_embeddings: true, max_position_embeddings: 2048,
});
const base: QwenModel = values.model ? await loadQwenModel(values.model) : { config, params: initQwenParams(config, 1), directory: "(random init)" };
const L = base.config.numLayers;
const model = EarlyExitModel.create(base, { exitEvery: Math.max(1, Math.floor(L / 4)) });
const maxNewTokens = Number(values.tokens);
const prompt = [[1, 2, 3, 4, 5, 6, 7, 8]];

async function timePerToken(forcedExitLayer: number | null): Promise<{ msPerToken: number; flopsSaved: number }> {
  const options = { maxNewTokens, temperature: 0, mode: "none" as const, forcedExitLayer };
  const result = await model.generate(prompt, options); // warm-up
  const best: number[] = [];
  for (let r = 0; r < Number(values.repeats); r++) {
    const start = performance.now();
    await model.generate(prompt, options);
    best.push((performance.now() - start) / maxNewTokens);
  }
  // generate() merges the LoRA adapters into the projection weights (merged-lora.ts), so they cost nothing per token.
  const account = accountCompute(base.config, tracesOfGeneration(result), { lora: model.config.lora, includeLora: false });
  return { msPerToken: Math.min(...best), flopsSaved: account.savedFraction };
}

console.log(`model ${base.directory}: L = ${L}, C = ${base.config.hiddenSize}, E = [${model.exitLayers.join(", ")}], ${maxNewTokens} tokens at batch 1, backend ${values.backend}`);
const full = await timePerToken(null);
console.log(`exit layer | ms/token | wall-clock saved | FLOPs saved (accounting)`);
console.log(`${String(L).padStart(10)} | ${full.msPerToken.toFixed(2).padStart(8)} | ${"0%".padStart(16)} | ${(100 * full.flopsSaved).toFixed(1).padStart(5)}%`);
for (const e of [...model.exitLayers].reverse()) {
  const run = await timePerToken(e);
  const saved = 1 - run.msPerToken / full.msPerToken;
  console.log(`${String(e).padStart(10)} | ${run.msPerToken.toFixed(2).padStart(8)} | ${(100 * saved).toFixed(1).padStart(15)}% | ${(100 * run.flopsSaved).toFixed(1).padStart(5)}%`);
}
model.dispose();

// Per-kernel profile of the training step (forward + backward + Adam), of KV-cached decoding and
// of early-exit decoding (full depth; every token exits at the first exitable layer, the later
// layers only computing keys/values; full depth with the exit heads evaluated) on the
// ~1.6M-parameter config (batch 16 × 128 for training; batch 1 for decoding):
//   npx -y pnpm@10 exec tsx bench/profile.ts [--backend wasm] [--top 15]
import { parseArgs } from "node:util";
import { initBackend, tf, type BackendChoice } from "@eecot/tensor-core";
import { generateTokens, initQwenParams, languageModelLoss, parseQwenConfig, trainableVariables } from "@eecot/transformer";
import { EarlyExitModel } from "@eecot/early-exit";
import { TWO_M_CONFIG } from "./models.js";

const { values } = parseArgs({ options: { backend: { type: "string", default: "wasm" }, top: { type: "string", default: "15" } } });
await initBackend({ backend: values.backend as BackendChoice });
const config = parseQwenConfig(TWO_M_CONFIG, "bench 2m config");
const params = initQwenParams(config, 1);
const variables = trainableVariables(config, params);
const B = 16;
const T = 128;
let seed = 7;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const ids = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(random() * config.vocabSize)));
const ones = ids.map((row) => row.map(() => 1));
const optimizer = tf.train.adam(1e-3);
const trainStep = () => {
  const cost = optimizer.minimize(() => languageModelLoss(params, config, { ids, attentionMask: ones, lossMask: ones }), true, variables);
  cost!.dataSync();
  cost!.dispose();
};

async function profile(label: string, run: () => unknown | Promise<unknown>, tokens: number): Promise<void> {
  await run(); // warm-up
  const start = performance.now();
  await run();
  const wall = performance.now() - start;
  const info = await tf.profile(async () => {
    await run();
  });
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const kernel of info.kernels) {
    const entry = byKernel.get(kernel.name) ?? { ms: 0, calls: 0 };
    entry.ms += Number(kernel.kernelTimeMs);
    entry.calls++;
    byKernel.set(kernel.name, entry);
  }
  const total = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
  console.log(`\n${label}: ${wall.toFixed(0)} ms wall (${((tokens / wall) * 1000).toFixed(0)} tokens/s), ${total.toFixed(0)} ms in ${info.kernels.length} kernels`);
  console.log(`${"kernel".padEnd(24)} ${"ms".padStart(8)} ${"share".padStart(6)} ${"calls".padStart(6)}`);
  for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top))) {
    console.log(`${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ${((100 * e.ms) / total).toFixed(1).padStart(5)}% ${String(e.calls).padStart(6)}`);
  }
}

await profile(`training step ${B}×${T}`, trainStep, B * T);
const prompt = [ids[0]!.slice(0, 16)];
await profile("decode batch 1, 32 tokens", () => generateTokens(params, config, prompt, { maxNewTokens: 32 }), 32);
const earlyExit = EarlyExitModel.create({ config, params, directory: "bench 2m config" }, {});
const exitLayer = earlyExit.exitLayers[0]!;
const exitOptions = (forcedExitLayer: number | null) => ({ maxNewTokens: 32, temperature: 0, mode: "none" as const, forcedExitLayer });
await profile("early-exit decode batch 1, 32 tokens, full depth", () => earlyExit.generate(prompt, exitOptions(null)), 32);
await profile(`early-exit decode batch 1, 32 tokens, every token exits at layer ${exitLayer}`, () => earlyExit.generate(prompt, exitOptions(exitLayer)), 32);
// Fresh heads (p = sigmoid(−4) below the 0.1 gate): every head evaluated and read, no exits.
await profile("early-exit decode batch 1, 32 tokens, full depth, heads evaluated", () => earlyExit.generate(prompt, { ...exitOptions(null), mode: "sample" }), 32);
earlyExit.dispose();

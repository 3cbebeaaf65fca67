// `pnpm bench`: throughput of the decoder on the active backend(s), printed as a table.
//
//   pnpm bench                      # wasm, both models
//   pnpm bench --backends wasm,cpu --models fixture,2m --steps 5
//   pnpm bench --compare-torch   # also run bench/torch_reference.py (dev only: the highest torch of $EECOT_TORCH_PYTHON, python3, /usr/bin/python3)
//   pnpm bench --json out.json   # also write the numbers as JSON
//
// Measures, per model and backend: prefill tokens/s, KV-cached decode tokens/s at batch 1 and 8
// (decode steps only, best of 3),
// a full training step (forward + backward + Adam) in tokens/s, early-exit decoding (forced
// exit at the first exitable layer vs full depth), and peak RSS.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { initBackend, tf, type BackendChoice } from "@eecot/tensor-core";
import { generateTokens, initQwenParams, LanguageModelTrainer, qwenForward } from "@eecot/transformer";
import { benchModelConfigs, type BenchModel } from "./models.js";
import { earlyExitDecodeBench } from "./early-exit-bench.js";
import { pickTorchPython, torchBuildSummary } from "./torch-python.js";

const { values } = parseArgs({
  options: {
    backends: { type: "string", default: process.env.EECOT_BACKEND ?? "auto" },
    models: { type: "string", default: "fixture,2m" },
    steps: { type: "string", default: "3" },
    "decode-tokens": { type: "string", default: "32" },
    "compare-torch": { type: "boolean", default: false },
    json: { type: "string" },
  },
  allowPositionals: true,
});

interface Row {
  model: string;
  backend: string;
  metric: string;
  value: number;
  unit: string;
  torch?: number;
}

const rows: Row[] = [];
let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

function time<T>(fn: () => T): { result: T; ms: number } {
  const start = performance.now();
  const result = fn();
  return { result, ms: performance.now() - start };
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - start };
}

function randomIds(rng: () => number, batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, () => Array.from({ length }, () => Math.floor(rng() * vocab)));
}

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function benchModel(model: BenchModel, backend: string, steps: number, decodeTokens: number): Promise<void> {
  const { config, params, name, train } = model;
  const rng = lcg(1);
  const record = (metric: string, value: number, unit: string) => {
    rows.push({ model: name, backend, metric, value, unit });
    sampleRss();
  };

  // Prefill: one forward over B × T tokens, logits for the last position only.
  const prefillIds = randomIds(rng, train.batch, train.seqLen, config.vocabSize);
  tf.dispose(qwenForward(params, config, prefillIds, { lastPositionOnly: true }).logits!); // warm-up
  const prefill = time(() => {
    for (let i = 0; i < steps; i++) {
      const out = qwenForward(params, config, prefillIds, { lastPositionOnly: true });
      out.logits!.dataSync();
      out.logits!.dispose();
    }
  });
  record(`prefill ${train.batch}×${train.seqLen}`, (steps * train.batch * train.seqLen) / (prefill.ms / 1000), "tokens/s");

  // KV-cached decoding at batch 1 and 8 (greedy; all rows run to the limit). Decode steps only,
  // as the PyTorch reference times them: (1 + N tokens) − (1 token) is N steps without the
  // prompt's prefill; best of 3 after a full warm-up (V8 compiles hot code in the background).
  for (const batch of [1, 8]) {
    const prompts = randomIds(rng, batch, 16, config.vocabSize);
    const generate = (maxNewTokens: number) => timeAsync(() => generateTokens(params, config, prompts, { maxNewTokens, stopTokenIds: [] }));
    await generate(decodeTokens + 1); // warm-up
    let best = Infinity;
    for (let r = 0; r < 3; r++) best = Math.min(best, (await generate(decodeTokens + 1)).ms - (await generate(1)).ms);
    record(`decode batch ${batch} (KV cache)`, (batch * decodeTokens) / (best / 1000), "tokens/s");
  }

  // Training step: forward + backward + Adam on B × T tokens.
  const trainParams = initQwenParams(config, 7);
  const trainer = new LanguageModelTrainer(trainParams, config, { learningRate: 1e-3, minLearningRate: 1e-4, warmupSteps: 1, totalSteps: 100, weightDecay: 0, beta1: 0.9, beta2: 0.95, maxGradNorm: 1 });
  const ids = randomIds(rng, train.batch, train.seqLen, config.vocabSize);
  const ones = ids.map((r) => r.map(() => 1));
  const batch = { ids, attentionMask: ones, lossMask: ones };
  await trainer.trainStep(batch); // warm-up
  const before = tf.memory().numTensors;
  const trainTime = await timeAsync(async () => {
    for (let i = 0; i < steps; i++) await trainer.trainStep(batch);
  });
  const leaked = tf.memory().numTensors - before;
  record(`train step ${train.batch}×${train.seqLen}`, (steps * train.batch * train.seqLen) / (trainTime.ms / 1000), "tokens/s");
  record(`train step ${train.batch}×${train.seqLen}`, trainTime.ms / steps, "ms/step");
  if (leaked !== 0) record("tensors leaked per train step", leaked / steps, "tensors");
  trainer.optimizer.dispose();
  tf.dispose(trainer.variables);

  for (const row of await earlyExitDecodeBench(model, decodeTokens)) record(row.metric, row.value, row.unit);
}

function torchReference(models: BenchModel[], steps: number, decodeTokens: number): Map<string, number> {
  const script = fileURLToPath(new URL("./torch_reference.py", import.meta.url));
  const results = new Map<string, number>();
  // The highest torch of $EECOT_TORCH_PYTHON, python3 and /usr/bin/python3 (Debian's python3-torch).
  const torch = pickTorchPython((line) => console.log(line));
  if (!torch) {
    console.log("compare-torch: no python can import torch (set EECOT_TORCH_PYTHON to a venv with torch 2.x, or install Debian's python3-torch; dev only); skipping the PyTorch comparison");
    return results;
  }
  console.log(`compare-torch: PyTorch ${torch.version} (${torch.executable}); ${torchBuildSummary(torch)}; 2 threads`);
  const python = torch.python;
  for (const model of models) {
    const out = spawnSync(python, [script, JSON.stringify({ config: model.hfConfig, batch: model.train.batch, seqLen: model.train.seqLen, steps, decodeTokens })], {
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "2", OPENBLAS_NUM_THREADS: "1", MKL_NUM_THREADS: "2" },
    });
    if (out.status !== 0) {
      console.log(`compare-torch: reference failed for ${model.name}: ${out.stderr.trim().split("\n").at(-1)}`);
      continue;
    }
    const parsed = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as Record<string, number>;
    for (const [metric, value] of Object.entries(parsed)) results.set(`${model.name}|${metric}`, value);
  }
  return results;
}

async function main(): Promise<void> {
  const backends = values.backends!.split(",") as BackendChoice[];
  const steps = Number(values.steps);
  const decodeTokens = Number(values["decode-tokens"]);
  const wanted = values.models!.split(",");
  for (const backend of backends) {
    await initBackend({ backend, log: (line) => console.log(line) });
    const models = await benchModelConfigs(wanted);
    for (const model of models) {
      console.log(`bench: ${model.name} (${model.parameterCount.toLocaleString()} parameters) on ${backend}`);
      await benchModel(model, backend, steps, decodeTokens);
      model.dispose();
    }
  }
  if (values["compare-torch"]) {
    const models = await benchModelConfigs(wanted);
    const torch = torchReference(models, steps, decodeTokens);
    for (const row of rows) {
      const ref = torch.get(`${row.model}|${row.metric}|${row.unit}`);
      if (ref !== undefined) row.torch = ref;
    }
    models.forEach((m) => m.dispose());
  }
  const header = ["model", "backend", "metric", "value", "unit", "PyTorch", "ratio"];
  const table = rows.map((r) => [
    r.model,
    r.backend,
    r.metric,
    r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(2),
    r.unit,
    r.torch === undefined ? "" : r.torch >= 100 ? r.torch.toFixed(0) : r.torch.toFixed(2),
    r.torch === undefined ? "" : (r.unit === "ms/step" ? r.torch / r.value : r.value / r.torch).toFixed(2) + "×",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log("\n" + line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of table) console.log(line(r));
  console.log(`\npeak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB; ratio = ours / PyTorch (higher is better)`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ rows, peakRssBytes: peakRss }, null, 2));
}

await main();

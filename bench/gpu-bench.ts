// GPU benchmark: a Qwen3-architecture decoder with random weights (default: the shapes of
// Qwen3-0.6B) on the active backend: weight upload, prefill and KV-cached decode tokens/s, and a
// LoRA training step (forward + backward + Adam, log-probabilities over the vocabulary in
// chunks). Prints the memory estimate first and refuses when it clearly will not fit.
//
//   npx tsx bench/gpu-bench.ts                                  # EECOT_BACKEND or auto
//   npx tsx bench/gpu-bench.ts --backend webgpu --preset qwen3-1.7b --json out.json
//   npx tsx bench/gpu-bench.ts --backend webgpu --preset tiny   # seconds, for a software GPU
//   npx tsx bench/gpu-bench.ts --backend wasm --train-only --train-length 128   # only the LoRA step (peak wasm heap)
//   npx tsx bench/gpu-bench.ts --probe                          # the WebGPU adapter, then exit
//   npx tsx bench/gpu-bench.ts --check-fixtures DIR             # fixture logits + greedy decode on the backend (for bundles without vitest)
//   npx tsx bench/gpu-bench.ts --tf-flag WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64   # a tfjs environment flag (repeatable)
//
// Called by bench/gpu-check.sh. Random weights: the numbers measure speed, not quality.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  assertMemoryFits,
  BACKEND_CHOICES,
  formatBytes,
  initBackend,
  probeWebgpu,
  frozenChunkedTokenLogProbs,
  tf,
  vocabularyChunkColumns,
  webgpuBufferPoolStats,
  wasmHeapBytes,
  linear,
  MemoryEstimateError,
  type BackendChoice,
} from "@eecot/tensor-core";
import {
  disposeCache,
  parseQwenConfig,
  paramTensors,
  qwenForward,
  rmsNorm,
  type LinearParams,
  type ProjectionAdapter,
  type ProjectionName,
  type QwenConfig,
  type QwenLayerParams,
  type QwenParams,
} from "@eecot/transformer";

/** Hugging Face config.json fields of the benchmarked shapes. */
const PRESETS: Record<string, Record<string, unknown>> = {
  // Qwen/Qwen3-0.6B: 596M parameters (0.44B without the tied embedding).
  "qwen3-0.6b": { hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, vocab_size: 151_936 },
  // Qwen/Qwen3-1.7B: 2.03B parameters (1.4B without the tied embedding).
  "qwen3-1.7b": { hidden_size: 2048, intermediate_size: 6144, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, vocab_size: 151_936 },
  // Seconds on a software GPU (lavapipe): checks the script end to end.
  tiny: { hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32, vocab_size: 4096 },
};

const { values: args } = parseArgs({
  options: {
    backend: { type: "string" },
    preset: { type: "string", default: "qwen3-0.6b" },
    layers: { type: "string" },
    batch: { type: "string", default: "1" },
    prompt: { type: "string", default: "128" },
    decode: { type: "string", default: "32" },
    "train-length": { type: "string", default: "128" },
    "train-steps": { type: "string", default: "3" },
    "lora-rank": { type: "string", default: "16" },
    "logits-chunk-mb": { type: "string", default: "64" },
    force: { type: "boolean", default: false },
    "train-only": { type: "boolean", default: false },
    probe: { type: "boolean", default: false },
    "check-fixtures": { type: "string" },
    json: { type: "string" },
    "tf-flag": { type: "string", multiple: true },
  },
});

function integerArg(name: keyof typeof args, min = 1): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got ${String(args[name])}`);
  return value;
}

if (args.probe) {
  // Only report the WebGPU adapter (bench/gpu-check.sh): exit 0 hardware, 3 software, 1 none.
  const probe = await probeWebgpu();
  console.log(`gpu-bench: ${JSON.stringify(probe)}`);
  process.exit(probe.available ? (probe.adapter.software ? 3 : 0) : 1);
}

if (args["check-fixtures"] !== undefined) process.exit(await checkFixtures(args["check-fixtures"]));

/**
 * The core of test/gpu/webgpu.test.ts without vitest (a single-file bundle has none): for each
 * tiny fixture in `dir`, the len-17 logits against PyTorch's (≤ 1e-4) and the greedy
 * continuation through the KV cache. Returns the exit status.
 */
async function checkFixtures(dir: string): Promise<number> {
  const { readFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { loadQwenModel, disposeModel, generateTokens } = await import("@eecot/transformer");
  await initBackend({ backend: (args.backend ?? process.env.EECOT_BACKEND ?? "webgpu") as BackendChoice, log: (line) => console.log(line) });
  let failures = 0;
  for (const name of ["qwen3-tiny-f32", "qwen2-tiny-f32"]) {
    const expected = JSON.parse(readFileSync(join(dir, name, "expected.json"), "utf8")) as { cases: { name: string; input_ids: number[]; logits?: number[][]; greedy_continuation?: { generated_ids?: number[] } | number[] }[] };
    const model = await loadQwenModel(join(dir, name));
    const c = expected.cases.find((k) => k.name === "len17")!;
    const out = qwenForward(model.params, model.config, [c.input_ids]);
    const logits = (await out.logits!.data()) as Float32Array;
    tf.dispose(out.logits!);
    const want = c.logits!.flat();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(logits[i]! - want[i]!));
    const greedy = expected.cases.find((k) => k.greedy_continuation);
    let greedyOk = true;
    if (greedy) {
      const g = greedy.greedy_continuation!;
      const tokens = Array.isArray(g) ? g : g.generated_ids!;
      const result = await generateTokens(model.params, model.config, [greedy.input_ids], { maxNewTokens: tokens.length, temperature: 0 });
      greedyOk = JSON.stringify(result.tokens[0]) === JSON.stringify(tokens);
    }
    disposeModel(model);
    const ok = worst < 1e-4 && greedyOk;
    if (!ok) failures++;
    console.log(`gpu-bench: fixture ${name}: len17 logits max |Δ| vs PyTorch ${worst.toExponential(2)}${greedy ? `, greedy continuation ${greedyOk ? "reproduced" : "DIFFERS"}` : ""}: ${ok ? "ok" : "FAILED"}`);
  }
  return failures === 0 ? 0 : 1;
}

const preset = PRESETS[args.preset!];
if (!preset) throw new Error(`--preset ${args.preset}: expected one of ${Object.keys(PRESETS).join(", ")}`);
const backendChoice = (args.backend ?? process.env.EECOT_BACKEND ?? "auto") as BackendChoice;
if (!BACKEND_CHOICES.includes(backendChoice)) throw new Error(`--backend ${backendChoice}: expected one of ${BACKEND_CHOICES.join(", ")}`);
const config: QwenConfig = parseQwenConfig(
  {
    model_type: "qwen3",
    rope_theta: 1_000_000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: true,
    max_position_embeddings: 40_960,
    ...preset,
    ...(args.layers ? { num_hidden_layers: integerArg("layers") } : {}),
  },
  `preset ${args.preset}`,
);
const batch = integerArg("batch");
const promptLength = integerArg("prompt");
const decodeTokens = integerArg("decode");
const trainLength = integerArg("train-length", 2);
const trainSteps = integerArg("train-steps");
const loraRank = integerArg("lora-rank");
const logitsChunkBytes = Number(args["logits-chunk-mb"]) * 2 ** 20;
if (!(logitsChunkBytes > 0)) throw new Error(`--logits-chunk-mb must be > 0, got ${args["logits-chunk-mb"]}`);
const LORA_PROJECTIONS: readonly ProjectionName[] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

// ---------------------------------------------------------------------------------------------
// Start-up: backend, memory estimate

const results: Record<string, unknown> = {};
const report = (key: string, value: unknown, text: string) => {
  results[key] = value;
  console.log(`gpu-bench: ${text}`);
};
const info = await initBackend({ backend: backendChoice, log: (line) => console.log(line) });
results.backend = info;
// --tf-flag NAME=VALUE (repeatable): tfjs environment flags, e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64.
const tfFlags: Record<string, number | boolean> = {};
for (const entry of args["tf-flag"] ?? []) {
  const [name, text] = entry.split("=");
  if (!name || text === undefined) throw new Error(`--tf-flag must be NAME=VALUE, got "${entry}"`);
  const value = text === "true" ? true : text === "false" ? false : Number(text);
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`--tf-flag ${name}: "${text}" is not a number, true or false`);
  tf.env().set(name, value);
  tfFlags[name] = value;
}
if (Object.keys(tfFlags).length > 0) report("tfFlags", tfFlags, `tfjs flags ${JSON.stringify(tfFlags)}`);
if (process.env.EECOT_WEBGPU_POOL_MB) report("webgpuPoolMb", Number(process.env.EECOT_WEBGPU_POOL_MB), `buffer pool limit EECOT_WEBGPU_POOL_MB=${process.env.EECOT_WEBGPU_POOL_MB}`);
const loraParameters = config.numLayers * LORA_PROJECTIONS.reduce((sum, p) => sum + loraRank * projectionWidths(p).reduce((a, b) => a + b, 0), 0);
const estimate = refuseIfTooBig(() => assertMemoryFits(
  config,
  { batchSize: batch, sequenceLength: args["train-only"] ? trainLength : Math.max(promptLength + decodeTokens, trainLength), positionsPerCall: args["train-only"] ? trainLength : Math.max(promptLength, trainLength), trainableParameters: loraParameters, logitsForEveryPosition: true, logitsChunkColumns: vocabularyChunkColumns(config.hiddenSize, config.vocabSize, logitsChunkBytes, batch * trainLength) },
  info,
  { log: (line) => console.log(line), force: args.force, subject: `preset ${args.preset}` },
));

/** Runs the check; a clear refusal ends the bench with status 2 instead of a stack trace. */
function refuseIfTooBig<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof MemoryEstimateError)) throw error;
    console.error(`gpu-bench: ${error.message} (--force runs it anyway)`);
    process.exit(2);
  }
}
results.parameters = estimate.parameters;
results.estimateBytes = estimate.totalBytes;

// ---------------------------------------------------------------------------------------------
// Random weights, made in JS with a fast generator and uploaded once

/** Uniform values with standard deviation `std` (xorshift32; seeded, fast enough for 10⁹ values). */
function randomValues(size: number, std: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  const scale = (std * Math.sqrt(12)) / 4_294_967_296;
  let state = seed * 2_654_435_761 || 1;
  for (let i = 0; i < size; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = ((state >>> 0) - 2_147_483_648) * scale;
  }
  return out;
}

function projectionWidths(projection: ProjectionName): [number, number] {
  const { hiddenSize: C, numHeads: H, numKvHeads: K, headDim: D, intermediateSize: F } = config;
  if (projection === "q_proj") return [C, H * D];
  if (projection === "k_proj" || projection === "v_proj") return [C, K * D];
  if (projection === "o_proj") return [H * D, C];
  if (projection === "down_proj") return [F, C];
  return [C, F];
}

function randomParams(): QwenParams {
  let seed = 1;
  const matrix = (rows: number, cols: number, std = 0.02): tf.Tensor2D => tf.tensor2d(randomValues(rows * cols, std, seed++), [rows, cols]);
  const projection = (name: ProjectionName): LinearParams => ({ weightT: matrix(...projectionWidths(name)), bias: null });
  const ones = (n: number) => tf.ones([n]) as tf.Tensor1D;
  const layers: QwenLayerParams[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    layers.push({
      inputLayernorm: ones(config.hiddenSize),
      qProj: projection("q_proj"),
      kProj: projection("k_proj"),
      vProj: projection("v_proj"),
      oProj: projection("o_proj"),
      qNorm: ones(config.headDim),
      kNorm: ones(config.headDim),
      postAttentionLayernorm: ones(config.hiddenSize),
      gateProj: projection("gate_proj"),
      upProj: projection("up_proj"),
      downProj: projection("down_proj"),
    });
  }
  const embedTokens = matrix(config.vocabSize, config.hiddenSize);
  const lmHeadT = tf.tidy(() => tf.transpose(embedTokens)) as tf.Tensor2D; // tied, as the loader keeps it
  return { embedTokens, layers, norm: ones(config.hiddenSize), lmHeadT };
}

const seconds = (start: number) => (performance.now() - start) / 1000;
const randomIds = (rows: number, length: number, seed: number) => {
  let state = seed;
  return Array.from({ length: rows }, () => Array.from({ length }, () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) % config.vocabSize));
};

let start = performance.now();
const params = randomParams();
// Upload now (tensors made from arrays are uploaded lazily) and wait for the device.
await tf.tidy(() => tf.addN(paramTensors(params).map((t) => tf.sum(t)))).data(); // one sum over every weight
const gpuBytes = (tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number }).numBytesInGPU;
const heapAfterUpload = wasmHeapBytes();
if (heapAfterUpload !== null) console.log(`gpu-bench: wasm heap ${formatBytes(heapAfterUpload)} after the upload, ${formatBytes(tf.memory().numBytes)} in tensors`);
report("uploadSeconds", seconds(start), `weights made and uploaded in ${seconds(start).toFixed(1)} s${gpuBytes ? ` (${formatBytes(gpuBytes)} on the device)` : ""}`);

// ---------------------------------------------------------------------------------------------
// Prefill and decode

if (!args["train-only"]) await prefillAndDecode();

async function prefillAndDecode(): Promise<void> {
  const prompts = randomIds(batch, promptLength, 7);
  async function prefill(): Promise<number> {
    const t = performance.now();
    const out = qwenForward(params, config, prompts, { useCache: true, lastPositionOnly: true });
    await out.logits!.data();
    tf.dispose(out.logits!);
    disposeCache(out.cache);
    return seconds(t);
  }
  report("prefillWarmupSeconds", await prefill(), "prefill warm-up done (shader compilation)");
  const prefillSeconds = Math.min(await prefill(), await prefill());
  report("prefillTokensPerSecond", (batch * promptLength) / prefillSeconds, `prefill ${batch}×${promptLength}: ${((batch * promptLength) / prefillSeconds).toFixed(1)} tokens/s (${(prefillSeconds * 1000).toFixed(0)} ms)`);

  async function decode(tokens: number): Promise<number> {
    const first = qwenForward(params, config, prompts, { useCache: true, lastPositionOnly: true });
    await first.logits!.data();
    tf.dispose(first.logits!);
    let cache = first.cache;
    const t = performance.now();
    let next = prompts.map((row) => [row[row.length - 1]!]);
    for (let step = 0; step < tokens; step++) {
      const out = qwenForward(params, config, next, { cache, useCache: true, lastPositionOnly: true });
      disposeCache(cache);
      cache = out.cache;
      const logits = (await out.logits!.data()) as Float32Array; // [B*V]: greedy, on the host
      tf.dispose(out.logits!);
      next = Array.from({ length: batch }, (_, b) => {
        let best = 0;
        for (let v = 1; v < config.vocabSize; v++) if (logits[b * config.vocabSize + v]! > logits[b * config.vocabSize + best]!) best = v;
        return [best];
      });
    }
    disposeCache(cache);
    return seconds(t);
  }
  await decode(2); // warm-up
  const decodeSeconds = await decode(decodeTokens);
  report("decodeTokensPerSecond", (batch * decodeTokens) / decodeSeconds, `decode ${batch}×${decodeTokens} after ${promptLength}: ${((batch * decodeTokens) / decodeSeconds).toFixed(2)} tokens/s (${((decodeSeconds / decodeTokens) * 1000).toFixed(1)} ms/step)`);
}

// ---------------------------------------------------------------------------------------------
// LoRA training step: every projection adapted (rank r), frozen base, chunked log-probs

const lora = new Map<string, { aT: tf.Variable; bT: tf.Variable }>();
for (let l = 0; l < config.numLayers; l++) {
  for (const p of LORA_PROJECTIONS) {
    const [inWidth, outWidth] = projectionWidths(p);
    lora.set(`${l}.${p}`, {
      aT: tf.variable(tf.tensor2d(randomValues(inWidth * loraRank, 1 / Math.sqrt(inWidth), 1000 + l), [inWidth, loraRank])),
      bT: tf.variable(tf.tensor2d(randomValues(loraRank * outWidth, 0.01, 2000 + l), [loraRank, outWidth])), // non-zero so every path has gradients
    });
  }
}
const adapter: ProjectionAdapter = {
  delta(layerIndex, projection, input) {
    const w = lora.get(`${layerIndex}.${projection}`);
    return w ? (tf.mul(linear(linear(input, w.aT as tf.Tensor2D), w.bT as tf.Tensor2D), 2) as tf.Tensor2D) : null; // α / r = 2
  },
};
const loraVariables = [...lora.values()].flatMap((w) => [w.aT, w.bT]);
report("loraParameters", loraParameters, `LoRA rank ${loraRank} on ${LORA_PROJECTIONS.length} projections × ${config.numLayers} layers: ${loraParameters.toLocaleString()} trainable parameters`);
const chunkColumns = vocabularyChunkColumns(config.hiddenSize, config.vocabSize, logitsChunkBytes, batch * (trainLength - 1));
const chunkCount = Math.ceil(config.vocabSize / chunkColumns);
const trainIds = randomIds(batch, trainLength, 11);
const targets = trainIds.flatMap((row) => row.slice(1));
const optimizer = tf.train.adam(1e-4);

function loraLoss(): tf.Scalar {
  return tf.tidy(() => {
    const out = qwenForward(params, config, trainIds, { skipLogits: true, outputHiddenStates: true, adapter });
    const last = out.hiddenStates[out.hiddenStates.length - 1]!; // [B, T, C]
    const C = config.hiddenSize;
    const inputs = tf.reshape(tf.slice(last, [0, 0, 0], [batch, trainLength - 1, C]), [batch * (trainLength - 1), C]) as tf.Tensor2D;
    const normed = rmsNorm(inputs, params.norm, config.rmsNormEps) as tf.Tensor2D;
    const heap = wasmHeapBytes();
    if (heap !== null) console.log(`gpu-bench: wasm heap ${formatBytes(heap)} after the decoder's forward pass, ${formatBytes(tf.memory().numBytes)} in tensors`);
    return tf.neg(tf.mean(frozenChunkedTokenLogProbs(normed, params.lmHeadT, chunkColumns, targets))) as tf.Scalar; // blocks sliced per use (no copy of the head)
  });
}
async function trainStep(): Promise<{ loss: number; seconds: number }> {
  const t = performance.now();
  const { value, grads } = tf.variableGrads(loraLoss, loraVariables);
  optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
  const loss = (await value.data())[0]!;
  await loraVariables[0]!.data(); // the update has run
  tf.dispose([value, ...Object.values(grads)]);
  const heap = wasmHeapBytes();
  if (heap !== null) console.log(`gpu-bench: wasm heap ${formatBytes(heap)} after the step, ${formatBytes(tf.memory().numBytes)} in tensors`);
  return { loss, seconds: seconds(t) };
}
const warm = await trainStep();
report("trainWarmupSeconds", warm.seconds, `LoRA step warm-up: loss ${warm.loss.toFixed(4)} in ${warm.seconds.toFixed(2)} s (vocabulary in ${chunkCount} chunks of ≤ ${chunkColumns})`);
const steps: { loss: number; seconds: number }[] = [];
for (let i = 0; i < trainSteps; i++) steps.push(await trainStep());
const stepSeconds = Math.min(...steps.map((s) => s.seconds));
report("trainStepSeconds", stepSeconds, `LoRA step ${batch}×${trainLength}: ${(stepSeconds * 1000).toFixed(0)} ms, ${((batch * trainLength) / stepSeconds).toFixed(1)} tokens/s; losses ${steps.map((s) => s.loss.toFixed(4)).join(", ")}`);

const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number; numBytesAllocatedInGPU?: number };
results.memory = { numTensors: memory.numTensors, numBytesInGPU: memory.numBytesInGPU, numBytesAllocatedInGPU: memory.numBytesAllocatedInGPU, pool: webgpuBufferPoolStats(), rssBytes: process.memoryUsage().rss };
console.log(`gpu-bench: memory ${memory.numBytesInGPU !== undefined ? `${formatBytes(memory.numBytesInGPU)} in use on the GPU, ${formatBytes(memory.numBytesAllocatedInGPU ?? 0)} allocated; ` : ""}host RSS ${formatBytes(process.memoryUsage().rss)}`);

optimizer.dispose();
tf.dispose(loraVariables);
tf.dispose(paramTensors(params));
if (args.json) {
  writeFileSync(`${args.json}.tmp`, `${JSON.stringify({ preset: args.preset, config, batch, promptLength, decodeTokens, trainLength, loraRank, ...results }, null, 2)}\n`);
  const { renameSync } = await import("node:fs");
  renameSync(`${args.json}.tmp`, args.json);
  console.log(`gpu-bench: wrote ${args.json}`);
}

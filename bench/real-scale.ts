// Real-scale timings for one checkpoint folder (made by `eecot make-checkpoint --preset ...`):
// load time and device memory, early-exit decoding tokens/s at several batch sizes, one stage-1
// step (teacher + chunked KL, LoRA + heads) and RLOO steps at the paper's settings (8 prompts ×
// k = 4, up to 512 new tokens) through the same `rlooStep` that `eecot rl` runs, with the
// projected time of 380 steps. One line per measurement, and a JSON file with --json.
//
//   npx tsx bench/real-scale.ts --model DIR [--backend webgpu] [--batches 1,8,32,64] [--decode 16]
//       [--stage1-length 256] [--rl-steps 3] [--prompts 8] [--k 4] [--max-new-tokens 512] [--json out.json]
//
// Called by bench/gpu-real-scale.sh. Random weights: the numbers measure time and memory only.
import { renameSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { assertMemoryFits, BACKEND_CHOICES, formatBytes, initBackend, MemoryEstimateError, tf, type BackendChoice } from "@eecot/tensor-core";
import { loadQwenModel, loadTokenizer, readQwenConfig } from "@eecot/transformer";
import { EarlyExitModel, EarlyExitPolicy } from "@eecot/early-exit";
import { AdamGroup, distillStep, type PrescribedPass } from "@eecot/distill";
import { createRlooOptimizers, resolveRlooConfig, rlooStep } from "@eecot/rloo";
import { loadDataSpec, rewardForExample } from "@eecot/datasets";

const { values: args } = parseArgs({
  options: {
    model: { type: "string" },
    backend: { type: "string" },
    batches: { type: "string", default: "1,8,32,64" },
    prompt: { type: "string", default: "64" },
    decode: { type: "string", default: "16" },
    "stage1-length": { type: "string", default: "256" },
    "stage1-sequences": { type: "string", default: "2" },
    "exit-samples": { type: "string", default: "4" },
    "rl-steps": { type: "string", default: "3" },
    prompts: { type: "string", default: "8" },
    k: { type: "string", default: "4" },
    "max-new-tokens": { type: "string", default: "512" },
    "projected-steps": { type: "string", default: "380" },
    force: { type: "boolean", default: false },
    json: { type: "string" },
  },
});

function integerArg(name: keyof typeof args, min = 1): number {
  const value = Number(args[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got ${String(args[name])}`);
  return value;
}
if (!args.model) throw new Error("--model DIR is required (a folder from `eecot make-checkpoint`)");
const backendChoice = (args.backend ?? process.env.EECOT_BACKEND ?? "auto") as BackendChoice;
if (!BACKEND_CHOICES.includes(backendChoice)) throw new Error(`--backend ${backendChoice}: expected one of ${BACKEND_CHOICES.join(", ")}`);
const batches = args.batches!.split(",").map((s) => Number(s.trim()));
if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batches must be positive integers, got ${args.batches}`);
const promptLength = integerArg("prompt");
const decodeTokens = integerArg("decode", 2);
const stage1Length = integerArg("stage1-length", 2);
const stage1Sequences = integerArg("stage1-sequences");
const exitSamples = integerArg("exit-samples");
const rlSteps = integerArg("rl-steps", 0);
const prompts = integerArg("prompts");
const k = integerArg("k", 2);
const maxNewTokens = integerArg("max-new-tokens");
const projectedSteps = integerArg("projected-steps");

const results: Record<string, unknown> = { model: args.model };
const report = (key: string, value: unknown, text: string) => {
  results[key] = value;
  console.log(`real-scale: ${text}`);
  if (args.json) {
    writeFileSync(`${args.json}.tmp`, `${JSON.stringify(results, null, 2)}\n`); // partial results survive a timeout
    renameSync(`${args.json}.tmp`, args.json);
  }
};
const seconds = (start: number) => (performance.now() - start) / 1000;
/** Device bytes in use: the GPU's on webgpu, the heap's tensors elsewhere. */
const deviceBytes = () => {
  const memory = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  return memory.numBytesInGPU ?? memory.numBytes;
};
/** Deterministic token ids in [1000, 1000 + span) (ordinary vocabulary, no special tokens). */
const ids = (rows: number, length: number, seed: number, span = 20_000) =>
  Array.from({ length: rows }, (_, r) => Array.from({ length }, (_, t) => 1000 + ((seed * 7919 + r * 104_729 + t * 1_299_709) % span)));

const info = await initBackend({ backend: backendChoice, log: (line) => console.log(line) });
results.backend = info;
const config = await readQwenConfig(args.model);
const rows = prompts * k;
try {
  // The largest workload here: the RL step's rollouts and their backward pass.
  const estimate = assertMemoryFits(
    config,
    { batchSize: Math.max(rows, ...batches), sequenceLength: 128 + maxNewTokens, positionsPerCall: 128 + maxNewTokens, logitsChunkColumns: 4096, trainableParameters: 5_000_000 },
    info,
    { log: (line) => console.log(line), force: args.force, subject: args.model },
  );
  results.estimateBytes = estimate.totalBytes;
} catch (error) {
  if (!(error instanceof MemoryEstimateError)) throw error;
  console.error(`real-scale: ${error.message} (--force runs it anyway)`);
  process.exit(2);
}

// Load: safetensors → device, synchronised by reading one value back.
let start = performance.now();
const base = await loadQwenModel(args.model);
await base.params.norm.data();
report("loadSeconds", seconds(start), `loaded ${args.model} (${config.numLayers} layers, hidden ${config.hiddenSize}, vocab ${config.vocabSize}) in ${seconds(start).toFixed(1)} s; ${formatBytes(deviceBytes())} on the device`);
results.deviceBytesAfterLoad = deviceBytes();
const tokenizer = await loadTokenizer(args.model);
const model = EarlyExitModel.create(base); // fresh exit heads and LoRA, as `--fresh-heads`

// Early-exit decoding (sampled exits, KV cache): a 1-token call and a (1 + decode)-token call;
// the difference is `decode` steps without the prefill.
const decodeRates: Record<string, number> = {};
for (const batch of batches) {
  const rowsOfIds = ids(batch, promptLength, batch);
  const run = async (tokens: number) => {
    const t = performance.now();
    await model.generate(rowsOfIds, { maxNewTokens: tokens, temperature: 1, seed: 1, stopTokenIds: [], padTokenId: 0, mode: "sample" });
    return seconds(t);
  };
  await run(2); // warm-up: shader compilation for this batch size
  const prefillOnly = await run(1);
  const full = await run(1 + decodeTokens);
  const perStep = Math.max(1e-9, (full - prefillOnly) / decodeTokens);
  decodeRates[batch] = batch / perStep;
  report(`decode.${batch}`, decodeRates[batch], `decode batch ${batch} after ${promptLength}: ${(batch / perStep).toFixed(1)} tokens/s (${(perStep * 1000).toFixed(0)} ms/step; prefill + 1 token ${prefillOnly.toFixed(2)} s); ${formatBytes(deviceBytes())} on the device`);
}

// One stage-1 step: `stage1Sequences` trajectories of `stage1Length` tokens (half prompt), each
// with `exitSamples` sampled exit paths, teacher and KL in vocabulary chunks (the default).
const layers = [...model.exitLayers, model.numLayers];
const half = Math.floor(stage1Length / 2);
const sequences = ids(stage1Sequences, stage1Length, 3).map((row) => ({ promptTokens: row.slice(0, half), tokens: row.slice(half) }));
const pass: PrescribedPass = {
  sequences,
  exitLayers: sequences.map((s, b) => Array.from({ length: exitSamples }, (_, j) => s.tokens.map((_, t) => layers[(b * 31 + j * 7 + t * 13) % layers.length]!))),
};
const groups = model.trainableVariables();
const adam = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
const optimizers = { lora: new AdamGroup(groups.lora, 1e-5, adam), heads: new AdamGroup(groups.heads, 1e-5, adam) };
const stage1 = async () => {
  const t = performance.now();
  const result = await distillStep(model, optimizers, [pass], { klDirection: "reverse", maxGradientNorm: 1 });
  return { seconds: seconds(t), loss: result.loss };
};
await stage1(); // warm-up
const step1 = await stage1();
const stage1Tokens = stage1Sequences * stage1Length * exitSamples; // positions through the student
report(
  "stage1",
  { seconds: step1.seconds, tokensPerSecond: stage1Tokens / step1.seconds, sequences: stage1Sequences, length: stage1Length, exitSamples },
  `stage-1 step (${stage1Sequences} sequences × ${stage1Length} tokens × ${exitSamples} exit samples): ${step1.seconds.toFixed(2)} s, ${(stage1Tokens / step1.seconds).toFixed(0)} student tokens/s (${((stage1Sequences * stage1Length) / step1.seconds).toFixed(0)} sequence tokens/s); loss ${step1.loss.toFixed(4)}; ${formatBytes(deviceBytes())} on the device`,
);
optimizers.lora.dispose();
optimizers.heads.dispose();

// RLOO steps at the paper's settings, through rlooStep (what `eecot rl` runs per step).
if (rlSteps > 0) {
  const examples = loadDataSpec(`gsm-synthetic:${prompts * rlSteps}`).examples;
  const rewardOf = new Map(examples.map((e) => [e.prompt, rewardForExample(e)]));
  const policy = new EarlyExitPolicy(model, { codec: tokenizer, stopTokenIds: tokenizer.eosTokenIds, padTokenId: tokenizer.padTokenId ?? 0 });
  const rlConfig = resolveRlooConfig({ promptsPerStep: prompts, samplesPerPrompt: k, maxNewTokens, exitPenalty: 1.5, klCoefficient: 0.05, learningRates: { lora: 1e-5, heads: 1e-5 } });
  const rlOptimizers = createRlooOptimizers(policy, rlConfig);
  const stepTimes: number[] = [];
  for (let step = 0; step < rlSteps; step++) {
    const t = performance.now();
    const metrics = await rlooStep(
      { policy, config: rlConfig, taskReward: (prompt, completion, reference) => rewardOf.get(prompt)!(completion, reference), optimizers: rlOptimizers },
      { examples: examples.slice(step * prompts, (step + 1) * prompts).map((e) => ({ prompt: e.prompt, reference: e.reference })), seed: 100 + step, step: step + 1 },
    );
    stepTimes.push(seconds(t));
    const generated = metrics.meanLength * rows;
    report(
      `rl.${step + 1}`,
      { seconds: stepTimes.at(-1), meanLength: metrics.meanLength },
      `RL step ${step + 1} (${prompts} prompts × k ${k}, ≤ ${maxNewTokens} new tokens, mean length ${metrics.meanLength.toFixed(0)}): ${stepTimes.at(-1)!.toFixed(1)} s (${(generated / stepTimes.at(-1)!).toFixed(0)} generated tokens/s incl. scoring and update); ${formatBytes(deviceBytes())} on the device`,
    );
  }
  // The first step also compiles shaders for the rollout shapes: project from the later ones when there are.
  const steady = stepTimes.length > 1 ? stepTimes.slice(1) : stepTimes;
  const perStep = steady.reduce((a, b) => a + b, 0) / steady.length;
  report("rlProjection", { secondsPerStep: perStep, steps: projectedSteps, hours: (perStep * projectedSteps) / 3600 }, `RL: ${perStep.toFixed(1)} s/step → ${projectedSteps} steps ≈ ${((perStep * projectedSteps) / 3600).toFixed(2)} h`);
  rlOptimizers.lora.dispose();
  rlOptimizers.heads.dispose();
  policy.dispose();
}
report("peakDeviceBytes", deviceBytes(), `device memory at the end: ${formatBytes(deviceBytes())}; host RSS ${formatBytes(process.memoryUsage().rss)}`);

// `pnpm bench:scaling`: ours (wasm) against PyTorch as the model grows, at each thread count.
//
//   pnpm bench:scaling                                   # 2m, 25m at 1 and 2 threads, ours only
//   pnpm bench:scaling --models 2m,25m,100m,0.6b --threads 1,2 --compare-torch \
//       --json scaling.json --markdown scaling.md
//   (--row-timeout S overrides every row's time limit; --quick: fewer steps, for a smoke run)
//
// Per model × thread count, each side in its own child process (peak memory per row; a crash or
// a heap refusal ends that row only): training tokens/s (8 × 256, forward + backward + Adam, all
// parameters), prefill tokens/s, decode tokens/s at batch 1 and 8 with 128 and 2,048 tokens
// already in the KV cache (random keys/values: a step's cost does not depend on their values;
// N decode steps timed, best of a few), peak RSS (and our wasm heap), and on the small models the
// early-exit wall-clock saving at 50% exits against its FLOP saving. A row the wasm 4 GiB heap
// cannot hold (tensor-core's estimateMemory) is reported as stopped, with the bytes it needs,
// instead of run; one that fails on memory anyway is reported the same way.
import { spawn } from "node:child_process";
import { execSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { estimateMemory, initBackend, kernelThreads, tf, wasmHeapBytes, type MemoryWorkload } from "@eecot/tensor-core";
import { disposeCache, initQwenParams, LanguageModelTrainer, parseQwenConfig, paramTensors, qwenForward, type KvCache, type QwenConfig, type QwenParams } from "@eecot/transformer";
import { TWO_M_CONFIG, type BenchModel } from "./models.js";
import { earlyExitDecodeBench } from "./early-exit-bench.js";
import { pickTorchPython, torchBuildSummary, TORCH_SCALING_SCRIPT, type TorchPython } from "./torch-python.js";

const WASM_HEAP_LIMIT = 4 * 2 ** 30;

interface Plan {
  readonly prefill: { readonly batch: number; readonly seqLen: number; readonly steps: number };
  readonly train: { readonly batch: number; readonly seqLen: number; readonly steps: number };
  readonly decode: { readonly batches: readonly number[]; readonly contexts: readonly number[]; readonly steps: number; readonly repeats: number };
  /** Early-exit decode tokens (0: not measured). */
  readonly earlyExitTokens: number;
  /** Metrics the other side cannot run (the PyTorch side skips what the wasm heap stopped). */
  readonly skip?: readonly string[];
}

interface ScalingModel {
  readonly name: string;
  readonly hf: Record<string, unknown>;
  readonly plan: Plan;
  /** Time limit of one child process (one side, one thread count), seconds. */
  readonly timeoutS: number;
}

const qwen3 = (over: Record<string, unknown>) => ({ model_type: "qwen3", rope_theta: 1_000_000, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 4096, ...over });
const decode = (steps: number, repeats: number) => ({ batches: [1, 8], contexts: [128, 2048], steps, repeats });

export const SCALING_MODELS: readonly ScalingModel[] = [
  {
    name: "2m",
    hf: { ...TWO_M_CONFIG, max_position_embeddings: 4096 },
    plan: { prefill: { batch: 8, seqLen: 256, steps: 3 }, train: { batch: 8, seqLen: 256, steps: 3 }, decode: decode(16, 3), earlyExitTokens: 32 },
    timeoutS: 240,
  },
  {
    name: "25m",
    hf: qwen3({ vocab_size: 8192, hidden_size: 512, intermediate_size: 1408, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 64, early_exit_layers: [2, 4, 6] }),
    plan: { prefill: { batch: 8, seqLen: 256, steps: 2 }, train: { batch: 8, seqLen: 256, steps: 2 }, decode: decode(8, 2), earlyExitTokens: 8 },
    timeoutS: 300,
  },
  {
    name: "100m",
    hf: qwen3({ vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 64 }),
    plan: { prefill: { batch: 8, seqLen: 256, steps: 1 }, train: { batch: 8, seqLen: 256, steps: 1 }, decode: decode(4, 2), earlyExitTokens: 0 },
    timeoutS: 420,
  },
  {
    // The Qwen3-0.6B shape, random weights. Prefill at 1 × 256 (8 × 256 is ~2.4 TFLOP a pass).
    name: "0.6b",
    hf: qwen3({ vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128 }),
    plan: { prefill: { batch: 1, seqLen: 256, steps: 1 }, train: { batch: 8, seqLen: 256, steps: 1 }, decode: decode(2, 1), earlyExitTokens: 0 },
    timeoutS: 420,
  },
];

/** One measurement line of a child (either side). */
interface Measurement {
  readonly metric: string;
  readonly value?: number;
  readonly unit?: string;
  /** Why there is no value: the wasm heap (with the bytes needed), an error, the time limit. */
  readonly stopped?: string;
}

// ---------------------------------------------------------------- child: our side, one model

const emit = (m: Measurement | Record<string, unknown>) => process.stdout.write(JSON.stringify(m) + "\n");

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const randomIds = (rng: () => number, batch: number, length: number, vocab: number): number[][] => Array.from({ length: batch }, () => Array.from({ length }, () => Math.floor(rng() * vocab)));

function shapeOf(config: QwenConfig) {
  return { ...config, qkNorm: config.qkNorm, attentionBias: config.attentionBias };
}

/** The metric names of a plan, in the order they are measured. */
export function planMetrics(plan: Plan): string[] {
  const names = [`prefill ${plan.prefill.batch}×${plan.prefill.seqLen}`];
  for (const context of plan.decode.contexts) for (const batch of plan.decode.batches) names.push(`decode batch ${batch}, context ${context}`);
  names.push(`train step ${plan.train.batch}×${plan.train.seqLen}`);
  return names;
}

/** The workload of each metric, for the heap estimate. */
function workloads(plan: Plan, parameters: number): Map<string, Partial<MemoryWorkload>> {
  const map = new Map<string, Partial<MemoryWorkload>>();
  map.set(`prefill ${plan.prefill.batch}×${plan.prefill.seqLen}`, { batchSize: plan.prefill.batch, sequenceLength: plan.prefill.seqLen });
  for (const context of plan.decode.contexts)
    for (const batch of plan.decode.batches) map.set(`decode batch ${batch}, context ${context}`, { batchSize: batch, sequenceLength: context + plan.decode.steps + 1, positionsPerCall: 1 });
  map.set(`train step ${plan.train.batch}×${plan.train.seqLen}`, { batchSize: plan.train.batch, sequenceLength: plan.train.seqLen, logitsForEveryPosition: true, trainableParameters: parameters });
  return map;
}

const isMemoryError = (error: unknown) => /memory|heap|allocat|out of bounds|Aborted|RangeError/i.test(String((error as Error)?.message ?? error));

async function oursChild(model: ScalingModel, threads: number): Promise<void> {
  await initBackend({ backend: "wasm", threads, quiet: true });
  const config = parseQwenConfig(model.hf, `bench:scaling ${model.name} config`);
  const plan = model.plan;
  let params: QwenParams | null = initQwenParams(config, 3);
  const parameterCount = paramTensors(params).filter((t) => t !== params!.lmHeadT).reduce((s, t) => s + t.size, 0);
  emit({ parameters: parameterCount, threads: kernelThreads() });
  const estimates = workloads(plan, parameterCount);
  const rng = lcg(1);

  const measure = async (metric: string, fn: () => Promise<number>, unit = "tokens/s") => {
    // Predicted only from what must be resident (weights, the tied head's copy, the KV cache,
    // gradients and Adam moments); activations are estimate-dependent, so such rows are run and
    // a real out-of-memory failure is reported instead.
    const estimate = estimateMemory(shapeOf(config), { ...estimates.get(metric), packedWeightCopies: true });
    const floor = estimate.weightBytes + estimate.tiedHeadCopyBytes + estimate.kvCacheBytes + estimate.optimizerBytes;
    if (floor > WASM_HEAP_LIMIT) return emit({ metric, stopped: `stopped by the wasm 4 GiB heap (needs ≥ ${gib(floor)})` });
    try {
      emit({ metric, value: await fn(), unit });
    } catch (error) {
      const message = String((error as Error)?.message ?? error).split("\n")[0]!;
      emit({ metric, stopped: isMemoryError(error) ? `stopped by the wasm 4 GiB heap (estimate ~${gib(estimate.totalBytes)}: ${message})` : `failed: ${message}` });
    }
  };

  const p = plan.prefill;
  await measure(`prefill ${p.batch}×${p.seqLen}`, async () => {
    const ids = randomIds(rng, p.batch, p.seqLen, config.vocabSize);
    const pass = async () => {
      const start = performance.now();
      const out = qwenForward(params!, config, ids, { lastPositionOnly: true });
      await out.logits!.data();
      out.logits!.dispose();
      return performance.now() - start;
    };
    await pass(); // warm-up
    let best = Infinity;
    for (let i = 0; i < p.steps; i++) best = Math.min(best, await pass());
    return (p.batch * p.seqLen) / (best / 1000);
  });

  const { numLayers: L, numKvHeads: K, headDim: D, vocabSize: V } = config;
  for (const context of plan.decode.contexts) {
    for (const batch of plan.decode.batches) {
      await measure(`decode batch ${batch}, context ${context}`, async () => {
        const initial: KvCache = {
          layers: Array.from({ length: L }, () => ({ keysT: tf.randomNormal([batch * K, D, context]) as tf.Tensor3D, values: tf.randomNormal([batch * K, context, D]) as tf.Tensor3D })),
          keyPadding: Array.from({ length: batch }, () => new Array<number>(context).fill(1)),
          nextPosition: new Array<number>(batch).fill(context),
        };
        const run = async (steps: number) => {
          let cache = initial;
          let input = randomIds(rng, batch, 1, V);
          const start = performance.now();
          for (let s = 0; s < steps; s++) {
            const out = qwenForward(params!, config, input, { cache, useCache: true, lastPositionOnly: true });
            if (cache !== initial) disposeCache(cache);
            cache = out.cache!;
            const logits = (await out.logits!.data()) as Float32Array;
            out.logits!.dispose();
            input = Array.from({ length: batch }, (_, b) => {
              let arg = 0;
              for (let v = 1; v < V; v++) if (logits[b * V + v]! > logits[b * V + arg]!) arg = v;
              return [arg];
            });
          }
          const ms = performance.now() - start;
          if (cache !== initial) disposeCache(cache);
          return ms;
        };
        try {
          await run(plan.decode.steps); // warm-up
          let best = Infinity;
          for (let r = 0; r < plan.decode.repeats; r++) best = Math.min(best, await run(plan.decode.steps));
          return (batch * plan.decode.steps) / (best / 1000);
        } finally {
          disposeCache(initial);
        }
      });
    }
  }

  if (plan.earlyExitTokens > 0) {
    const bench: BenchModel = { name: model.name, config, params, hfConfig: model.hf, train: plan.train, parameterCount, dispose: () => {} };
    for (const row of await earlyExitDecodeBench(bench, plan.earlyExitTokens)) {
      if (row.metric.startsWith("50%") || row.metric.startsWith("wall-clock")) emit({ metric: `early exit: ${row.metric}`, value: row.value, unit: row.unit });
    }
  }

  tf.dispose(paramTensors(params));
  params = null;
  const t = plan.train;
  await measure(`train step ${t.batch}×${t.seqLen}`, async () => {
    const trainer = new LanguageModelTrainer(initQwenParams(config, 7), config, { learningRate: 1e-3, minLearningRate: 1e-4, warmupSteps: 1, totalSteps: 100, weightDecay: 0, beta1: 0.9, beta2: 0.95, maxGradNorm: 1 });
    try {
      const ids = randomIds(rng, t.batch, t.seqLen, config.vocabSize);
      const ones = ids.map((r) => r.map(() => 1));
      const batch = { ids, attentionMask: ones, lossMask: ones };
      await trainer.trainStep(batch); // warm-up
      let best = Infinity;
      for (let i = 0; i < t.steps; i++) {
        const start = performance.now();
        await trainer.trainStep(batch);
        best = Math.min(best, performance.now() - start);
      }
      return (t.batch * t.seqLen) / (best / 1000);
    } finally {
      trainer.optimizer.dispose();
      tf.dispose(trainer.variables);
    }
  });
  emit({ peakRssBytes: process.resourceUsage().maxRSS * 1024, wasmHeapBytes: wasmHeapBytes() });
}

// ---------------------------------------------------------------- parent

interface SideResult {
  readonly measurements: Map<string, Measurement>;
  readonly peakRssBytes?: number;
  readonly wasmHeapBytes?: number | null;
  readonly parameters?: number;
  readonly wallS: number;
  /** Why the child ended early (time limit, exit code), if it did. */
  readonly ended?: string;
}

function runChild(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutS: number, label: string): Promise<SideResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const measurements = new Map<string, Measurement>();
    let extra: Record<string, unknown> = {};
    let buffer = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutS * 1000);
    child.stdout.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line.startsWith("{")) continue;
        const parsed = JSON.parse(line) as Measurement & Record<string, unknown>;
        if (typeof parsed.metric === "string") {
          measurements.set(parsed.metric, parsed);
          const shown = parsed.value !== undefined ? `${format(parsed.value)} ${parsed.unit}` : parsed.stopped;
          console.log(`  ${label}: ${parsed.metric}: ${shown} (${((performance.now() - start) / 1000).toFixed(0)} s)`);
        } else extra = { ...extra, ...parsed };
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const wallS = (performance.now() - start) / 1000;
      const lastError = stderr.trim().split("\n").filter((l) => l.trim()).at(-1) ?? "";
      const ended = timedOut ? `time limit (${timeoutS} s)` : code !== 0 ? `exit ${code ?? signal}${lastError ? `: ${lastError.slice(0, 160)}` : ""}` : undefined;
      if (ended) console.log(`  ${label}: ended early: ${ended}`);
      resolve({ measurements, wallS, ended, peakRssBytes: extra.peakRssBytes as number | undefined, wasmHeapBytes: extra.wasmHeapBytes as number | null | undefined, parameters: extra.parameters as number | undefined });
    });
  });
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const format = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

interface TableRow {
  model: string;
  parameters: number | null;
  metric: string;
  unit: string;
  threads: number;
  ours: number | null;
  torch: number | null;
  oursNote?: string;
  torchNote?: string;
}

const missing = (side: SideResult | undefined, metric: string): string => {
  if (!side) return "not run";
  const m = side.measurements.get(metric);
  if (m?.stopped) return m.stopped;
  return side.ended ? `not measured (${side.ended.startsWith("time") ? side.ended : "crashed: " + side.ended})` : "not measured";
};

function cell(value: number | null, note: string | undefined): string {
  return value !== null ? format(value) : (note ?? "");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: "string", default: "2m,25m" },
      threads: { type: "string", default: "1,2" },
      "compare-torch": { type: "boolean", default: false },
      "row-timeout": { type: "string" },
      quick: { type: "boolean", default: false },
      "train-batch": { type: "string" },
      json: { type: "string" },
      markdown: { type: "string" },
      child: { type: "string" },
    },
  });
  if (values.child) {
    const { model, threads } = JSON.parse(values.child) as { model: ScalingModel; threads: number };
    await oursChild(model, threads);
    process.exit(0);
  }
  const wanted = values.models!.split(",").map((s) => s.trim());
  const models = wanted.map((name) => {
    let found = SCALING_MODELS.find((m) => m.name === name);
    if (!found) throw new Error(`bench:scaling: --models: unknown model "${name}" (use ${SCALING_MODELS.map((m) => m.name).join(", ")})`);
    if (values["train-batch"] !== undefined) {
      // A smaller training batch where 8 × 256 does not fit the wasm heap (100m: ~4.4 GiB at 8 × 256).
      const batch = Number(values["train-batch"]);
      if (!Number.isInteger(batch) || batch < 1) throw new Error(`bench:scaling: --train-batch must be a positive integer, got "${values["train-batch"]}"`);
      found = { ...found, plan: { ...found.plan, train: { ...found.plan.train, batch } } };
    }
    if (!values.quick) return found;
    const plan = found.plan;
    return { ...found, plan: { ...plan, prefill: { ...plan.prefill, steps: 1 }, train: { ...plan.train, steps: 1 }, decode: { ...plan.decode, steps: Math.min(plan.decode.steps, 4), repeats: 1 }, earlyExitTokens: Math.min(plan.earlyExitTokens, 8) } };
  });
  const threadList = values.threads!.split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench:scaling: --threads: "${s}" is not a positive integer (e.g. --threads 1,2)`);
    return n;
  });
  const rowTimeout = values["row-timeout"] === undefined ? null : Number(values["row-timeout"]);
  if (rowTimeout !== null && !(rowTimeout > 0)) throw new Error(`bench:scaling: --row-timeout must be a positive number of seconds, got "${values["row-timeout"]}"`);

  const commit = (() => {
    try {
      return execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  })();
  const startedAt = new Date().toISOString();
  const loadStart = loadavg();
  const torch: TorchPython | null = values["compare-torch"] ? pickTorchPython((l) => console.log(l)) : null;
  if (values["compare-torch"] && !torch) console.log("compare-torch: no candidate imports torch (set EECOT_TORCH_PYTHON to a python with torch 2.x); ours only");
  const torchLine = torch ? `PyTorch ${torch.version} (${torch.executable}); ${torchBuildSummary(torch)}` : "PyTorch: not run";
  console.log(`bench:scaling: commit ${commit}, ${startedAt}, load ${loadStart.map((l) => l.toFixed(2)).join(" ")}, ${cpus().length} × ${cpus()[0]?.model ?? "?"}, node ${process.version}`);
  console.log(torchLine);

  const self = fileURLToPath(import.meta.url);
  const tsx = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
  const results: { model: ScalingModel; threads: number; ours: SideResult; torch?: SideResult }[] = [];
  for (const model of models) {
    for (const threads of threadList) {
      const timeoutS = rowTimeout ?? model.timeoutS;
      console.log(`${model.name}, ${threads} thread(s), time limit ${timeoutS} s per side`);
      const threadEnv = { OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), EECOT_THREADS: String(threads) };
      const ours = await runChild(tsx, [self, "--child", JSON.stringify({ model, threads })], { ...process.env, ...threadEnv }, timeoutS, "ours");
      let torchSide: SideResult | undefined;
      if (torch) {
        const skip = [...ours.measurements.values()].filter((m) => m.stopped?.startsWith("stopped by the wasm")).map((m) => m.metric);
        const arg = JSON.stringify({ config: model.hf, threads, plan: { ...model.plan, skip } });
        torchSide = await runChild(torch.python, [TORCH_SCALING_SCRIPT, arg], { ...process.env, ...threadEnv }, timeoutS, "PyTorch");
        for (const metric of skip) torchSide.measurements.set(metric, { metric, stopped: "not run (ours stopped)" });
      }
      results.push({ model, threads, ours, torch: torchSide });
    }
  }
  const loadEnd = loadavg();

  // Table rows: every metric, then peak memory.
  const rows: TableRow[] = [];
  for (const { model, threads, ours, torch: t } of results) {
    const metrics = [...planMetrics(model.plan), ...[...ours.measurements.keys()].filter((k) => k.startsWith("early exit"))];
    for (const metric of metrics) {
      const o = ours.measurements.get(metric);
      const p = t?.measurements.get(metric);
      rows.push({
        model: model.name,
        parameters: ours.parameters ?? null,
        metric,
        unit: o?.unit ?? p?.unit ?? "tokens/s",
        threads,
        ours: o?.value ?? null,
        torch: p?.value ?? null,
        oursNote: o?.value === undefined ? missing(ours, metric) : undefined,
        torchNote: p?.value === undefined ? (metric.startsWith("early exit") ? "—" : t ? missing(t, metric) : "") : undefined,
      });
    }
    const heap = ours.wasmHeapBytes ? `, wasm heap ${gib(ours.wasmHeapBytes)}` : "";
    rows.push({ model: model.name, parameters: ours.parameters ?? null, metric: "peak memory", unit: "MiB (RSS)", threads, ours: ours.peakRssBytes ? ours.peakRssBytes / 2 ** 20 : null, torch: t?.peakRssBytes ? t.peakRssBytes / 2 ** 20 : null, oursNote: ours.peakRssBytes ? undefined : "not measured", torchNote: t && !t.peakRssBytes ? "not measured" : undefined });
    if (heap) rows.at(-1)!.oursNote = heap;
  }
  const ratio = (r: TableRow) => (r.ours !== null && r.torch !== null && r.unit === "tokens/s" ? `${(r.ours / r.torch).toFixed(2)}×` : "");
  const header = ["model", "params", "threads", "metric", "unit", "ours", "PyTorch", "ours/PyTorch"];
  const cells = rows.map((r) => [r.model, r.parameters?.toLocaleString("en-US") ?? "?", String(r.threads), r.metric, r.unit, cell(r.ours, r.oursNote) + (r.metric === "peak memory" && r.oursNote && r.ours !== null ? r.oursNote : ""), cell(r.torch, r.torchNote), ratio(r)]);

  // Growth: each metric against the first model (at the same threads), context 2048 vs 128, threads max vs 1.
  const growth: string[] = [];
  const value = (model: string, threads: number, metric: string, side: "ours" | "torch") => rows.find((r) => r.model === model && r.threads === threads && r.metric === metric)?.[side] ?? null;
  const ratioText = (a: number | null, b: number | null) => (a !== null && b !== null ? `${(a / b).toFixed(2)}×` : "—");
  const first = results[0];
  for (const { model, threads, ours } of results) {
    const parts: string[] = [];
    if (first && model.name !== first.model.name && ours.parameters && first.ours.parameters) {
      const metric = "train step 8×256";
      parts.push(`params ${(ours.parameters / first.ours.parameters).toFixed(1)}× ${first.model.name}; train tokens/s ours ${ratioText(value(model.name, threads, metric, "ours"), value(first.model.name, threads, metric, "ours"))}, PyTorch ${ratioText(value(model.name, threads, metric, "torch"), value(first.model.name, threads, metric, "torch"))} of ${first.model.name}'s`);
    }
    for (const batch of model.plan.decode.batches) {
      const long = `decode batch ${batch}, context ${model.plan.decode.contexts.at(-1)}`;
      const short = `decode batch ${batch}, context ${model.plan.decode.contexts[0]}`;
      parts.push(`decode b${batch} context ${model.plan.decode.contexts.at(-1)}/${model.plan.decode.contexts[0]}: ours ${ratioText(value(model.name, threads, long, "ours"), value(model.name, threads, short, "ours"))}, PyTorch ${ratioText(value(model.name, threads, long, "torch"), value(model.name, threads, short, "torch"))}`);
    }
    if (threads !== threadList[0]) {
      const t0 = threadList[0]!;
      const speed = (metric: string, side: "ours" | "torch") => ratioText(value(model.name, threads, metric, side), value(model.name, t0, metric, side));
      const train = `train step ${model.plan.train.batch}×${model.plan.train.seqLen}`;
      const prefill = `prefill ${model.plan.prefill.batch}×${model.plan.prefill.seqLen}`;
      parts.push(`${threads} vs ${t0} thread(s): train ours ${speed(train, "ours")} PyTorch ${speed(train, "torch")}; prefill ours ${speed(prefill, "ours")} PyTorch ${speed(prefill, "torch")}; decode b1 ctx 128 ours ${speed("decode batch 1, context 128", "ours")} PyTorch ${speed("decode batch 1, context 128", "torch")}`);
    }
    growth.push(`${model.name} @ ${threads}t: ${parts.join("; ")}`);
  }
  const wall = results.map((r) => `${r.model.name}@${r.threads}t ours ${r.ours.wallS.toFixed(0)} s${r.torch ? ` / PyTorch ${r.torch.wallS.toFixed(0)} s` : ""}`).join(", ");
  const headerLines = [
    `commit ${commit}; started ${startedAt}, ended ${new Date().toISOString()}; load average at start ${loadStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadEnd.map((l) => l.toFixed(2)).join(" ")}`,
    `machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}; node ${process.version}; ours: tfjs-wasm + the project's SIMD kernels (setKernelThreads = threads)`,
    `${torchLine}; torch.set_num_threads = OMP/MKL_NUM_THREADS = threads`,
    `rows: ${wall}`,
  ];

  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i]!)).join("  ");
  console.log("\n" + headerLines.join("\n") + "\n");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
  console.log("\ngrowth:\n" + growth.map((g) => "  " + g).join("\n"));
  console.log("ratio = ours / PyTorch (tokens/s; higher is better). Decode: context tokens already in the KV cache, decode steps only.");

  if (values.json) writeFileSync(values.json, JSON.stringify({ commit, startedAt, loadStart, loadEnd, torch: torch ? { ...torch, summary: torchBuildSummary(torch) } : null, threads: threadList, rows, growth, wall }, null, 2) + "\n");
  if (values.markdown) writeFileSync(values.markdown, markdownTable(headerLines, header, cells, growth));
}

/** The table as markdown (for bench/README.md). */
export function markdownTable(headerLines: readonly string[], header: readonly string[], cells: readonly (readonly string[])[], growth: readonly string[]): string {
  const escape = (s: string) => s.replace(/\|/g, "\\|");
  return [
    ...headerLines.map((l) => `- ${l}`),
    "",
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...cells.map((r) => `| ${r.map(escape).join(" | ")} |`),
    "",
    "Growth:",
    "",
    ...growth.map((g) => `- ${g}`),
    "",
  ].join("\n");
}

await main();

// How much memory a decoder will need, printed before loading, and a polite refusal when it
// clearly will not fit: parameters × 4 bytes + KV cache + activations (+ logits, + optimizer
// state when training). The numbers follow this codebase, not an ideal implementation:
// - tied embeddings are held twice (the table [V, C] for lookups and its transpose [C, V] as
//   the unembedding);
// - qwenForward runs in one tf.tidy, so every layer's intermediates live until it returns;
// - attention materialises scores [B, H, T, S] (plus mask-added and softmax copies);
// - on wasm, a weight over SIMD_FORWARD_MAX_WEIGHTS elements (the unembedding; for C ≥ 1536 the
//   MLP and attention projections too) multiplied by XNNPACK_MIN_ROWS rows or more goes through
//   tfjs-wasm's XNNPACK, which keeps a packed copy of that weight for as long as the weight
//   lives; fewer rows (decoding a few sequences) stream the weight in place, with no copy;
// - logits in vocabulary chunks kept as blocks (stage 1) hold a second copy of the unembedding;
//   sliced per use (the policy's log-probs) they do not.
// Legend: B batch, T positions per call, S key positions (cache + T), C hidden, H / K query /
// kv heads, D head dim, F ffn width, V vocabulary, L layers.
import { totalmem } from "node:os";
import { SIMD_FORWARD_MAX_WEIGHTS, XNNPACK_MIN_ROWS } from "./kernels/mat-mul-2d.js";

/** Architecture numbers the estimate needs (transformer's QwenConfig satisfies this). */
export interface DecoderShape {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly tieWordEmbeddings: boolean;
  readonly attentionBias?: boolean;
  readonly qkNorm?: boolean;
}

/** What will run. */
export interface MemoryWorkload {
  /** Rows processed together, e.g. 1. */
  readonly batchSize: number;
  /** Longest sequence held (prompt + new tokens), the KV cache's length S, e.g. 2048. */
  readonly sequenceLength: number;
  /** Positions per forward call T (the prefill), default sequenceLength. */
  readonly positionsPerCall: number;
  /** Rows of logits per call: 1 per batch row when only the last position is unembedded (generation), else every position. */
  readonly logitsForEveryPosition: boolean;
  /** Vocabulary columns per logits chunk (see chunked-logits.ts); 0 = the whole vocabulary at once. */
  readonly logitsChunkColumns: number;
  /** The chunks are kept as copies of the unembedding (splitVocabularyColumns: stage 1's teacher and KL), not sliced per use (frozenChunkedTokenLogProbs). */
  readonly vocabularyChunkCopy: boolean;
  /** Trainable parameters (LoRA, heads) when training: + gradients and two Adam moments each; 0 = inference. */
  readonly trainableParameters: number;
  /** Bytes per value; 4 (float32) everywhere in this codebase. */
  readonly bytesPerValue: number;
  /** Count XNNPACK's packed copies of large weights (the wasm backend); `assertMemoryFits` sets it from the backend. */
  readonly packedWeightCopies: boolean;
}

export const DEFAULT_MEMORY_WORKLOAD: MemoryWorkload = {
  batchSize: 1,
  sequenceLength: 2048,
  positionsPerCall: 2048,
  logitsForEveryPosition: false,
  logitsChunkColumns: 0,
  vocabularyChunkCopy: false,
  trainableParameters: 0,
  bytesPerValue: 4,
  packedWeightCopies: false,
};

/** Defaults filled in and checked; positionsPerCall defaults to sequenceLength. */
export function resolveMemoryWorkload(overrides: Partial<MemoryWorkload> = {}): MemoryWorkload {
  const workload = { ...DEFAULT_MEMORY_WORKLOAD, positionsPerCall: overrides.sequenceLength ?? DEFAULT_MEMORY_WORKLOAD.sequenceLength, ...overrides };
  const positiveInteger = (key: keyof MemoryWorkload) => {
    const value = workload[key];
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw new Error(`MemoryWorkload: ${key} must be a positive integer, got ${String(value)}`);
  };
  positiveInteger("batchSize");
  positiveInteger("sequenceLength");
  positiveInteger("positionsPerCall");
  positiveInteger("bytesPerValue");
  if (workload.positionsPerCall > workload.sequenceLength) throw new Error(`MemoryWorkload: positionsPerCall (${workload.positionsPerCall}) exceeds sequenceLength (${workload.sequenceLength})`);
  if (!Number.isInteger(workload.logitsChunkColumns) || workload.logitsChunkColumns < 0) throw new Error(`MemoryWorkload: logitsChunkColumns must be a non-negative integer, got ${workload.logitsChunkColumns}`);
  if (!(workload.trainableParameters >= 0)) throw new Error(`MemoryWorkload: trainableParameters must be >= 0, got ${workload.trainableParameters}`);
  return workload;
}

/** The estimate, in bytes unless named otherwise. */
export interface MemoryEstimate {
  /** Parameters of the checkpoint (tied embeddings counted once). */
  readonly parameters: number;
  /** parameters × bytesPerValue. */
  readonly weightBytes: number;
  /** The transposed copy of a tied embedding kept as the unembedding [C, V]; 0 when untied. */
  readonly tiedHeadCopyBytes: number;
  /** Keys and values of all layers: 2 · L · B · K · D · S values. */
  readonly kvCacheBytes: number;
  /** Intermediates of one forward call (all layers, plus the previous cache while it is replaced). */
  readonly activationBytes: number;
  /** Logits of one call ([rows, V], plus one chunk when chunked). */
  readonly logitsBytes: number;
  /** Gradients and Adam moments of the trainable parameters (3 values each). */
  readonly optimizerBytes: number;
  /** XNNPACK's packed copies of the weights over SIMD_FORWARD_MAX_WEIGHTS elements multiplied by XNNPACK_MIN_ROWS rows or more (wasm; 0 unless workload.packedWeightCopies). */
  readonly packedWeightBytes: number;
  /** The unembedding's vocabulary chunks [C, Vc], a copy of it, when the logits are chunked with workload.vocabularyChunkCopy; else 0. */
  readonly vocabularyChunkBytes: number;
  readonly totalBytes: number;
  /** The largest single tensor: it must fit one GPU buffer binding. */
  readonly largestTensor: { readonly name: string; readonly bytes: number };
  readonly workload: MemoryWorkload;
}

/** Parameter count of a Qwen2/Qwen3 decoder. */
export function countParameters(shape: DecoderShape): number {
  const { vocabSize: V, hiddenSize: C, intermediateSize: F, numLayers: L, numHeads: H, numKvHeads: K, headDim: D } = shape;
  const attention = C * H * D + 2 * C * K * D + H * D * C + (shape.attentionBias ? H * D + 2 * K * D : 0) + (shape.qkNorm ? 2 * D : 0);
  const perLayer = attention + 3 * C * F + 2 * C;
  return V * C * (shape.tieWordEmbeddings ? 1 : 2) + L * perLayer + C;
}

/** Estimates memory for a decoder and a workload (see the file comment for what is counted). */
export function estimateMemory(shape: DecoderShape, overrides: Partial<MemoryWorkload> = {}): MemoryEstimate {
  checkShape(shape);
  const workload = resolveMemoryWorkload(overrides);
  const { vocabSize: V, hiddenSize: C, intermediateSize: F, numLayers: L, numHeads: H, numKvHeads: K, headDim: D } = shape;
  const { batchSize: B, sequenceLength: S, positionsPerCall: T, bytesPerValue: bytes } = workload;
  const parameters = countParameters(shape);
  const weightBytes = parameters * bytes;
  const tiedHeadCopyBytes = shape.tieWordEmbeddings ? V * C * bytes : 0;
  const kvCacheBytes = 2 * L * B * K * D * S * bytes;
  // Per layer and call (N = B·T rows): normed inputs, projections, q/k norms and RoPE, transposes,
  // residual sums (6C + 6KD + 7HD + 5F per row) and three [B, H, T, S] score tensors.
  const N = B * T;
  const perLayer = N * (6 * C + 6 * K * D + 7 * H * D + 5 * F) + 3 * B * H * T * S;
  const training = workload.trainableParameters > 0;
  // Training keeps the same intermediates for the backward pass and makes about as many again.
  const activationBytes = (L * perLayer * (training ? 2 : 1) + 2 * L * B * K * D * S) * bytes;
  const logitsRows = workload.logitsForEveryPosition ? N : B;
  const chunk = workload.logitsChunkColumns > 0 ? Math.min(V, workload.logitsChunkColumns) : V;
  const logitsBytes = (logitsRows * V + (chunk < V ? logitsRows * chunk : 0)) * bytes * (training ? 2 : 1);
  const optimizerBytes = 3 * workload.trainableParameters * bytes;
  // Weights multiplied by through XNNPACK (over the SIMD kernel's limit, with enough rows), packed once each.
  const packed = (elements: number, rows: number) => (elements > SIMD_FORWARD_MAX_WEIGHTS && rows >= XNNPACK_MIN_ROWS ? elements : 0);
  const packedPerLayer = packed(C * H * D, N) + 2 * packed(C * K * D, N) + packed(H * D * C, N) + 3 * packed(C * F, N);
  const packedHead = chunk < V ? (packed(C * chunk, logitsRows) > 0 ? C * V : 0) : packed(C * V, logitsRows);
  const packedWeightBytes = workload.packedWeightCopies ? (packedHead + L * packedPerLayer) * bytes : 0;
  const vocabularyChunkBytes = chunk < V && workload.vocabularyChunkCopy ? C * V * bytes : 0;
  const totalBytes = weightBytes + tiedHeadCopyBytes + kvCacheBytes + activationBytes + logitsBytes + optimizerBytes + packedWeightBytes + vocabularyChunkBytes;
  const candidates: { name: string; bytes: number }[] = [
    { name: `embedding table [${V}, ${C}]`, bytes: V * C * bytes },
    { name: chunk < V ? `unembedding chunk [${C}, ${chunk}]` : `unembedding [${C}, ${V}]`, bytes: C * chunk * bytes },
    { name: `MLP weight [${C}, ${F}]`, bytes: C * F * bytes },
    { name: `attention scores [${B}, ${H}, ${T}, ${S}]`, bytes: B * H * T * S * bytes },
    { name: chunk < V ? `logits chunk [${logitsRows}, ${chunk}]` : `logits [${logitsRows}, ${V}]`, bytes: logitsRows * chunk * bytes },
  ];
  const largestTensor = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { parameters, weightBytes, tiedHeadCopyBytes, kvCacheBytes, activationBytes, logitsBytes, optimizerBytes, packedWeightBytes, vocabularyChunkBytes, totalBytes, largestTensor, workload };
}

/** How much memory the active backend may use, when it can be known. */
export interface MemoryBudget {
  /** Bytes available for tensors, or null when the backend cannot tell (a hardware GPU via WebGPU). */
  readonly bytes: number | null;
  /** Where the number comes from, for messages. */
  readonly source: string;
  /** Largest single buffer a shader may bind (webgpu), or null for no such limit. */
  readonly maxTensorBytes: number | null;
  /** When the budget is a hard ceiling of the backend (the wasm heap): the backends that hold more, for the refusal message. */
  readonly largerBackends?: string;
  /**
   * The budget cannot stretch (the wasm32 heap: no swap, no growth past 4 GiB): over it is too big,
   * not tight. Measured: a Qwen3-0.6B LoRA step of 1×128 tokens, estimated 4.40 GiB, ran out of
   * it (the heap was 3.90 GiB after the decoder's forward pass alone).
   */
  readonly hardCeiling?: boolean;
}

/** Where a model that does not fit the wasm heap can run instead (README "Backends"). */
export const LARGER_BACKENDS =
  "backends that can: webgpu on a GPU with enough memory (--backend webgpu), " +
  "tensorflow (--backend tensorflow, with @tensorflow/tfjs-node-gpu or tfjs-node), " +
  "or cpu (--backend cpu; system memory, very slow)";

/** A backend as `initBackend` reports it, plus the webgpu adapter's binding limit when known. */
export interface BudgetBackend {
  readonly name: string;
  readonly software?: boolean;
  readonly maxStorageBufferBindingSize?: number;
}

const WASM32_HEAP_BYTES = 4 * 2 ** 30;

/**
 * The budget for a backend: EECOT_DEVICE_MEMORY_GB when set; wasm: its 4 GiB wasm32 heap (or
 * system memory if smaller); cpu, tensorflow and software webgpu: system memory; hardware
 * webgpu: unknown (WebGPU does not report device memory).
 */
export function memoryBudget(backend: BudgetBackend, systemBytes = totalmem()): MemoryBudget {
  const maxTensorBytes = backend.name === "webgpu" ? (backend.maxStorageBufferBindingSize ?? null) : null;
  const fromEnv = process.env.EECOT_DEVICE_MEMORY_GB?.trim();
  if (fromEnv) {
    const gigabytes = Number(fromEnv);
    if (!(gigabytes > 0)) throw new Error(`EECOT_DEVICE_MEMORY_GB=${fromEnv} is not a positive number of GiB`);
    return { bytes: gigabytes * 2 ** 30, source: `EECOT_DEVICE_MEMORY_GB=${fromEnv}`, maxTensorBytes };
  }
  switch (backend.name) {
    case "wasm":
      return systemBytes < WASM32_HEAP_BYTES
        ? { bytes: systemBytes, source: "system memory", maxTensorBytes }
        : { bytes: WASM32_HEAP_BYTES, source: "the wasm backend's 4 GiB wasm32 heap", maxTensorBytes, largerBackends: LARGER_BACKENDS, hardCeiling: true };
    case "webgpu":
      return backend.software
        ? { bytes: systemBytes, source: "system memory, shared with the software GPU", maxTensorBytes }
        : { bytes: null, source: "unknown GPU memory (WebGPU does not report it; set EECOT_DEVICE_MEMORY_GB)", maxTensorBytes };
    default:
      return { bytes: systemBytes, source: "system memory", maxTensorBytes };
  }
}

/** The verdict on an estimate against a budget. */
export interface MemoryCheck {
  /** fits; tight (over budget by less than 25%: may still work); too-big (clearly not); unknown (no budget). */
  readonly verdict: "fits" | "tight" | "too-big" | "unknown";
  /** One line: the estimate, the budget, and what to do when it does not fit. */
  readonly message: string;
}

/**
 * Compares an estimate with a budget. Too big, clearly: the weights, caches and optimizer state
 * alone exceed the budget, the total exceeds it by more than 25% (at all, for a hard ceiling: the
 * wasm heap), or one tensor exceeds the largest buffer the GPU can bind.
 */
export function checkMemory(estimate: MemoryEstimate, budget: MemoryBudget): MemoryCheck {
  const line = formatMemoryEstimate(estimate);
  if (budget.maxTensorBytes !== null && estimate.largestTensor.bytes > budget.maxTensorBytes) {
    const name = estimate.largestTensor.name;
    const advice = name.startsWith("attention scores")
      ? "use shorter prompts or fewer rows per call"
      : name.startsWith("logits") || name.startsWith("unembedding")
        ? "compute the logits in chunks (splitVocabularyColumns, logitsChunkColumns)"
        : "use a GPU whose WebGPU adapter binds larger buffers, or a smaller model";
    return {
      verdict: "too-big",
      message: `${line}; the ${name} is ${formatBytes(estimate.largestTensor.bytes)} but this GPU binds at most ${formatBytes(budget.maxTensorBytes)} per buffer: this will not fit (${advice})`,
    };
  }
  if (budget.bytes === null) return { verdict: "unknown", message: `${line}; budget: ${budget.source}` };
  const fixed = estimate.weightBytes + estimate.tiedHeadCopyBytes + estimate.kvCacheBytes + estimate.optimizerBytes + estimate.packedWeightBytes + estimate.vocabularyChunkBytes;
  const over = `needs about ${formatBytes(estimate.totalBytes)} but ${budget.source} allows ${formatBytes(budget.bytes)}`;
  if (fixed > budget.bytes) {
    const what = `the weights${estimate.packedWeightBytes ? " (with their packed copies)" : ""}, KV cache${estimate.optimizerBytes ? " and optimizer state" : ""} alone take ${formatBytes(fixed)}`;
    const instead = budget.largerBackends ? `: this model is too large for this backend; ${budget.largerBackends}` : " (use a smaller model or a backend with more memory)";
    return { verdict: "too-big", message: `${line}; this will not fit: it ${over}, and ${what}${instead}` };
  }
  if (estimate.totalBytes > (budget.hardCeiling ? 1 : 1.25) * budget.bytes) {
    return { verdict: "too-big", message: `${line}; this will not fit: it ${over} (use a shorter sequence or batch, a smaller model${budget.largerBackends ? `, or another backend; ${budget.largerBackends}` : ", or a backend with more memory"})` };
  }
  if (estimate.totalBytes > budget.bytes) return { verdict: "tight", message: `${line}; tight: it ${over}; it may still run` };
  return { verdict: "fits", message: `${line}; budget ${formatBytes(budget.bytes)} (${budget.source})` };
}

/** Thrown by `assertMemoryFits` when a model clearly will not fit. */
export class MemoryEstimateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MemoryEstimateError";
  }
}

export interface AssertMemoryOptions {
  /** Where the estimate line goes; default stderr. */
  readonly log?: (line: string) => void;
  /** Print but never refuse. Default false. */
  readonly force?: boolean;
  /**
   * Print the line only when it matters: the verdict is not "fits", or the estimate uses more
   * than half the budget. Default false (always print).
   */
  readonly onlyWhenItMatters?: boolean;
  /** System memory in bytes (tests); default os.totalmem(). */
  readonly systemBytes?: number;
  /** What the refusal names: the checkpoint folder or preset; default "the model". */
  readonly subject?: string;
}

/**
 * Prints the estimate for a decoder on a backend (one line; with `onlyWhenItMatters`, only when
 * it is not an easy fit) and throws MemoryEstimateError when
 * it clearly will not fit (unless `force`). Call before loading the weights.
 */
export function assertMemoryFits(shape: DecoderShape, workload: Partial<MemoryWorkload>, backend: BudgetBackend, options: AssertMemoryOptions = {}): MemoryEstimate {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const estimate = estimateMemory(shape, { packedWeightCopies: backend.name === "wasm", ...workload });
  const budget = memoryBudget(backend, options.systemBytes);
  const check = checkMemory(estimate, budget);
  const easyFit = check.verdict === "fits" && budget.bytes !== null && estimate.totalBytes <= budget.bytes / 2;
  if (!(options.onlyWhenItMatters && easyFit)) log(`eecot: ${check.message}`);
  if (check.verdict === "too-big" && !options.force) throw new MemoryEstimateError(`not loading ${options.subject ?? "the model"}: ${check.message}`);
  return estimate;
}

/** "weights 2.22 GiB + ... = 6.10 GiB" with the parameter count and workload. */
export function formatMemoryEstimate(estimate: MemoryEstimate): string {
  const w = estimate.workload;
  const parts = [`weights ${formatBytes(estimate.weightBytes)}`];
  if (estimate.tiedHeadCopyBytes) parts.push(`tied head copy ${formatBytes(estimate.tiedHeadCopyBytes)}`);
  parts.push(`KV cache ${formatBytes(estimate.kvCacheBytes)}`, `activations ${formatBytes(estimate.activationBytes)}`, `logits ${formatBytes(estimate.logitsBytes)}`);
  if (estimate.optimizerBytes) parts.push(`gradients + Adam ${formatBytes(estimate.optimizerBytes)}`);
  if (estimate.packedWeightBytes) parts.push(`XNNPACK packed weights ${formatBytes(estimate.packedWeightBytes)}`);
  if (estimate.vocabularyChunkBytes) parts.push(`vocabulary chunks ${formatBytes(estimate.vocabularyChunkBytes)}`);
  const params = estimate.parameters >= 1e8 ? `${(estimate.parameters / 1e9).toFixed(2)}B` : `${(estimate.parameters / 1e6).toFixed(1)}M`;
  return `memory estimate for ${params} parameters (batch ${w.batchSize}, ${w.sequenceLength} positions, ${w.positionsPerCall} per call${w.trainableParameters ? ", training" : ""}): ${parts.join(" + ")} = ${formatBytes(estimate.totalBytes)}`;
}

/** Bytes in binary units with three significant digits: "622 MiB", "2.22 GiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toPrecision(3)} ${units[unit]}`;
}

function checkShape(shape: DecoderShape): void {
  for (const key of ["vocabSize", "hiddenSize", "intermediateSize", "numLayers", "numHeads", "numKvHeads", "headDim"] as const) {
    const value = shape[key];
    if (!Number.isInteger(value) || value < 1) throw new Error(`estimateMemory: ${key} must be a positive integer, got ${String(value)}`);
  }
}

// Batched, KV-cached generation with left padding: greedy, temperature and top-p sampling,
// stop tokens, a length limit, and a seed that makes every draw reproducible.
import { tf, Rng } from "@eecot/tensor-core";
import type { QwenConfig } from "./config.js";
import { disposeCache, qwenForward, type KvCache, type ProjectionAdapter, type QwenParams } from "./qwen.js";

/** How to pick each next token. */
export interface SamplingConfig {
  /** 0 = greedy (argmax); otherwise logits are divided by it, e.g. 0.7. */
  readonly temperature: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches topP, e.g. 0.95; 1 = off. */
  readonly topP: number;
}

export interface GenerationConfig extends SamplingConfig {
  /** Stop after this many new tokens, e.g. 128. */
  readonly maxNewTokens: number;
  /** Token ids that end a sequence (kept in the output), e.g. [151645]. */
  readonly stopTokenIds: readonly number[];
  /** Id used for left padding (masked out), e.g. 151643. */
  readonly padTokenId: number;
  /** Seed for the sampler, e.g. 1234. */
  readonly seed: number;
}

export const DEFAULT_GENERATION_CONFIG: GenerationConfig = {
  temperature: 0,
  topP: 1,
  maxNewTokens: 64,
  stopTokenIds: [],
  padTokenId: 0,
  seed: 0,
};

export function resolveGenerationConfig(overrides: Partial<GenerationConfig> = {}): GenerationConfig {
  const config = { ...DEFAULT_GENERATION_CONFIG, ...overrides };
  if (!(config.temperature >= 0)) throw new Error(`temperature must be ≥ 0, got ${config.temperature}`);
  if (!(config.topP > 0 && config.topP <= 1)) throw new Error(`topP must be in (0, 1], got ${config.topP}`);
  if (!Number.isInteger(config.maxNewTokens) || config.maxNewTokens < 0) throw new Error(`maxNewTokens must be a non-negative integer, got ${config.maxNewTokens}`);
  return config;
}

/** Left-pad token rows to a common length; mask is 1 for real tokens. */
export function leftPad(rows: readonly (readonly number[])[], padTokenId: number): { ids: number[][]; mask: number[][] } {
  const width = Math.max(...rows.map((r) => r.length));
  return {
    ids: rows.map((r) => [...Array<number>(width - r.length).fill(padTokenId), ...r]),
    mask: rows.map((r) => [...Array<number>(width - r.length).fill(0), ...r.map(() => 1)]),
  };
}

/** Index of the largest value (first on ties). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** Pick a token from one row of logits. */
export function sampleToken(logits: ArrayLike<number>, sampling: SamplingConfig, rng: Rng): number {
  if (sampling.temperature === 0) return argmax(logits);
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) max = Math.max(max, logits[i]!);
  const probs = new Float64Array(V);
  let total = 0;
  for (let i = 0; i < V; i++) {
    probs[i] = Math.exp((logits[i]! - max) / sampling.temperature);
    total += probs[i]!;
  }
  for (let i = 0; i < V; i++) probs[i]! /= total;
  if (sampling.topP < 1) {
    const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => probs[b]! - probs[a]!);
    let cumulative = 0;
    let cut = V;
    for (let r = 0; r < V; r++) {
      cumulative += probs[order[r]!]!;
      if (cumulative >= sampling.topP) {
        cut = r + 1;
        break;
      }
    }
    const kept = new Float64Array(V);
    for (let r = 0; r < cut; r++) kept[order[r]!] = probs[order[r]!]!;
    return rng.categorical(kept);
  }
  return rng.categorical(probs);
}

/** A prompt plus the requested new tokens would run past the model's context (max_position_embeddings). */
export class ContextLengthError extends Error {
  constructor(
    /** Tokens of the longest prompt. */
    readonly promptLength: number,
    /** New tokens asked for. */
    readonly maxNewTokens: number,
    /** The model's context, config.json's max_position_embeddings. */
    readonly contextLength: number,
    /** How the limit is named to the caller, e.g. "--max-new-tokens". */
    label: string,
  ) {
    super(
      `${label} ${maxNewTokens} with a ${promptLength}-token prompt needs ${promptLength + maxNewTokens} positions, more than the model's context of ${contextLength} (max_position_embeddings in config.json); ` +
        (promptLength < contextLength ? `use ${label} ${contextLength - promptLength} or less` : `the prompt alone fills it`),
    );
    this.name = "ContextLengthError";
  }
}

/**
 * Refuses a generation whose longest prompt plus `maxNewTokens` exceeds the model's context:
 * positions past max_position_embeddings were never trained, and a model without a stop token
 * would otherwise run on for as long as asked.
 */
export function assertFitsContext(config: QwenConfig, promptLength: number, maxNewTokens: number, label = "maxNewTokens"): void {
  if (promptLength + maxNewTokens > config.maxPositionEmbeddings) throw new ContextLengthError(promptLength, maxNewTokens, config.maxPositionEmbeddings, label);
}

export interface GenerationResult {
  /** New tokens per row (stop token included when one was produced). */
  readonly tokens: number[][];
  /** True where the row ended on a stop token. */
  readonly finished: boolean[];
}

/**
 * Generate continuations for token rows. Rows are left-padded and decoded together with one
 * KV cache; each step feeds one token per row.
 */
export async function generateTokens(
  params: QwenParams,
  config: QwenConfig,
  prompts: readonly (readonly number[])[],
  generation: Partial<GenerationConfig> = {},
  adapter?: ProjectionAdapter,
): Promise<GenerationResult> {
  const options = resolveGenerationConfig(generation);
  const rng = new Rng(options.seed);
  const B = prompts.length;
  const { ids, mask } = leftPad(prompts, options.padTokenId);
  assertFitsContext(config, ids[0]?.length ?? 0, options.maxNewTokens);
  const tokens: number[][] = prompts.map(() => []);
  const finished = prompts.map(() => false);
  let cache: KvCache | null = null;
  let input = ids;
  let inputMask = mask;
  for (let step = 0; step < options.maxNewTokens; step++) {
    const out = qwenForward(params, config, input, { attentionMask: inputMask, cache, useCache: true, lastPositionOnly: true, adapter });
    disposeCache(cache);
    cache = out.cache;
    const logits = (await out.logits!.data()) as Float32Array; // [B*1*V]
    tf.dispose(out.logits!);
    const V = config.vocabSize;
    const next: number[] = [];
    for (let b = 0; b < B; b++) {
      if (finished[b]) {
        next.push(options.padTokenId);
        continue;
      }
      const token = sampleToken(logits.subarray(b * V, (b + 1) * V), options, rng);
      tokens[b]!.push(token);
      if (options.stopTokenIds.includes(token)) finished[b] = true;
      next.push(token);
    }
    if (finished.every(Boolean)) break;
    input = next.map((t) => [t]);
    inputMask = finished.map((f) => [f ? 0 : 1]);
  }
  disposeCache(cache);
  return { tokens, finished };
}

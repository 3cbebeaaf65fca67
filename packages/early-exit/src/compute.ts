// Per-token compute accounting of early-exit decoding (METHOD.md §4): layers used and FLOPs
// actually spent, against the base model at full depth.
//
// Legend: C hidden, F ffn width, H query heads, K kv heads, D head dim, V vocab, L layers,
// r LoRA rank, n = keys the token attends to (context length, itself included).
// A multiply-add is 2 FLOPs. Per generated token, per decoder layer:
//
//   full layer      F(n) = 8C + 4·C·H·D + 4·C·K·D + 4·H·D·n + 6·C·F
//                          (2 RMSNorms 4C each; q 2CHD; k+v 4CKD; QKᵀ and weights·V 4HDn;
//                           o 2HDC; gate+up+down 6CF)
//   K/V-only layer  G    = 4C + 4·C·K·D        (input RMSNorm + k/v projections of the frozen residual)
//   readout         R    = 4C + 2·C·V          (final RMSNorm + unembedding, once per token)
//   exit head       X    = 4·C² + 4C           (W1 [2C, C], W2 [1, 2C]), per head evaluated
//   LoRA            2·r·(in + out) per adapted projection run (k/v only in K/V-only layers)
//
//   spent(x, n) = x·F(n) + (L − x)·G + R + heads·X + LoRA
//   full(n)     = L·F(n) + R                   (the base model: no heads, no LoRA)
//
// Ignored: biases, RoPE, qk-norm, softmax, activations, residual adds, the prompt (prefill runs
// at full depth either way). With `includeLora: false` and heads = |{e ∈ E : e ≤ x}| this is
// exactly @eecot/eval's `countFlops`.
import type { ProjectionName, QwenConfig } from "@eecot/transformer";
import { projectionShape } from "./lora.js";

/** What was run for one generated token. */
export interface TokenTrace {
  /** Exit layer x (1..L). */
  readonly exitLayer: number;
  /** Keys the position that emitted the token attends to, itself included: promptLength + t for the t-th new token (0-based), emitted by position promptLength − 1 + t. */
  readonly contextLength: number;
  /** Exit heads evaluated for this token (sampled exits: heads at e ≤ x; none/forced modes: 0). */
  readonly headsEvaluated: number;
}

export interface ComputeOptions {
  /** LoRA rank and adapted projections (omit for no adapters). */
  readonly lora?: { readonly rank: number; readonly targetModules: readonly ProjectionName[] };
  /** Count the LoRA FLOPs (default true when `lora` is given). */
  readonly includeLora?: boolean;
}

export interface ComputeAccount {
  readonly tokenCount: number;
  /** Σ_t x_t: layers whose attention and MLP ran. */
  readonly layersUsed: number;
  /** tokenCount · L. */
  readonly layersFullDepth: number;
  /** 1 − layersUsed / layersFullDepth (= ALS). */
  readonly averageLayerSavings: number;
  readonly flopsSpent: number;
  readonly flopsFullDepth: number;
  /** Part of flopsSpent in exit heads. */
  readonly flopsExitHeads: number;
  /** Part of flopsSpent in LoRA adapters. */
  readonly flopsLora: number;
  /** flopsFullDepth − flopsSpent (negative when heads and LoRA cost more than the exits save). */
  readonly flopsSaved: number;
  readonly savedFraction: number;
}

/** Per-token FLOPs of one base decoder layer: full, and K/V-only (exited token). */
export function layerFlops(config: QwenConfig, contextLength: number): { full: number; keyValueOnly: number } {
  const { hiddenSize: C, intermediateSize: F, numHeads: H, numKvHeads: K, headDim: D } = config;
  return {
    full: 8 * C + 4 * C * H * D + 4 * C * K * D + 4 * H * D * contextLength + 6 * C * F,
    keyValueOnly: 4 * C + 4 * C * K * D,
  };
}

/** FLOPs of final RMSNorm + unembedding for one token. */
export function readoutFlops(config: QwenConfig): number {
  return 4 * config.hiddenSize + 2 * config.hiddenSize * config.vocabSize;
}

/** FLOPs of one exit head for one token. */
export function exitHeadFlops(config: QwenConfig): number {
  return 4 * config.hiddenSize * config.hiddenSize + 4 * config.hiddenSize;
}

/** LoRA FLOPs per token of one layer: run fully, and K/V-only. */
export function loraLayerFlops(config: QwenConfig, lora: { rank: number; targetModules: readonly ProjectionName[] }): { full: number; keyValueOnly: number } {
  let full = 0;
  let keyValueOnly = 0;
  for (const projection of lora.targetModules) {
    const [inputs, outputs] = projectionShape(config, projection);
    const flops = 2 * lora.rank * (inputs + outputs);
    full += flops;
    if (projection === "k_proj" || projection === "v_proj") keyValueOnly += flops;
  }
  return { full, keyValueOnly };
}

/** FLOPs spent by tokens with the given traces, against the base model at full depth. */
export function accountCompute(config: QwenConfig, tokens: readonly TokenTrace[], options: ComputeOptions = {}): ComputeAccount {
  const L = config.numLayers;
  const readout = readoutFlops(config);
  const head = exitHeadFlops(config);
  const lora = options.lora && options.includeLora !== false ? loraLayerFlops(config, options.lora) : { full: 0, keyValueOnly: 0 };
  let layersUsed = 0;
  let flopsSpent = 0;
  let flopsFullDepth = 0;
  let flopsExitHeads = 0;
  let flopsLora = 0;
  tokens.forEach((token, i) => {
    const { exitLayer: x, contextLength: n, headsEvaluated } = token;
    if (!Number.isInteger(x) || x < 1 || x > L) throw new Error(`accountCompute: token ${i} has exit layer ${x}, not in 1..${L}`);
    if (!Number.isInteger(n) || n < 1) throw new Error(`accountCompute: token ${i} has context length ${n}, must be a positive integer`);
    if (!Number.isInteger(headsEvaluated) || headsEvaluated < 0) throw new Error(`accountCompute: token ${i} has headsEvaluated ${headsEvaluated}`);
    const { full, keyValueOnly } = layerFlops(config, n);
    const heads = headsEvaluated * head;
    const adapters = x * lora.full + (L - x) * lora.keyValueOnly;
    flopsSpent += x * full + (L - x) * keyValueOnly + readout + heads + adapters;
    flopsFullDepth += L * full + readout;
    flopsExitHeads += heads;
    flopsLora += adapters;
    layersUsed += x;
  });
  const flopsSaved = flopsFullDepth - flopsSpent;
  const layersFullDepth = tokens.length * L;
  return {
    tokenCount: tokens.length,
    layersUsed,
    layersFullDepth,
    averageLayerSavings: layersFullDepth > 0 ? 1 - layersUsed / layersFullDepth : 0,
    flopsSpent,
    flopsFullDepth,
    flopsExitHeads,
    flopsLora,
    flopsSaved,
    savedFraction: flopsFullDepth > 0 ? flopsSaved / flopsFullDepth : 0,
  };
}

/**
 * Token traces of a generation result. New token t (0-based) of row i is emitted by position
 * P_i − 1 + t, which attends to P_i + t keys; heads evaluated = the head probabilities recorded.
 */
export function tracesOfGeneration(result: {
  readonly promptLengths: readonly number[];
  readonly sequences: readonly { readonly exitLayers: readonly number[]; readonly headProbabilities: readonly (readonly number[])[] }[];
}): TokenTrace[] {
  return result.sequences.flatMap((s, i) =>
    s.exitLayers.map((exitLayer, t) => ({
      exitLayer,
      contextLength: result.promptLengths[i]! + t,
      headsEvaluated: (s.headProbabilities[t] ?? []).filter((p) => !Number.isNaN(p)).length,
    })),
  );
}

// FLOPs actually spent by early-exit decoding vs running every token at full depth.
//
// Legend: C hidden, I intermediate (MLP), H query heads, K kv heads, D head dim, V vocab,
// L layers, E exitable layers, n = keys a token attends to (its context length, itself included).
// A multiply-add counts as 2 FLOPs. Per generated token, per decoder layer:
//
//   input RMSNorm          4C
//   q_proj                 2·C·H·D
//   k_proj + v_proj        4·C·K·D
//   attention              4·H·D·n        (QKᵀ: 2·H·D·n, weights·V: 2·H·D·n; softmax ignored)
//   o_proj                 2·H·D·C
//   post-attention RMSNorm 4C
//   MLP (SwiGLU)           6·C·I          (gate, up: 2·2·C·I; down: 2·I·C; activation ignored)
//
//   full layer      F(n) = 8C + 4·C·H·D + 4·C·K·D + 4·H·D·n + 6·C·I
//   K/V-only layer  G    = 4C + 4·C·K·D   (input RMSNorm + k/v projections of the frozen residual)
//   readout         R    = 4C + 2·C·V     (final RMSNorm + unembedding, paid once per token)
//   exit head       X    = 4·C² + 4C      (W1: [2C, C], W2: [1, 2C]; biases, relu ignored)
//
// A token that exits at layer x (METHOD.md §1) runs layers 1..x fully, then only its K/V in
// layers x+1..L (later tokens attend to it at every depth), evaluates the exit heads at every
// e ∈ E with e ≤ x, and is read out once:
//
//   spent(x, n) = x·F(n) + (L − x)·G + R + |{e ∈ E : e ≤ x}|·X
//   full(n)     = L·F(n) + R                                      (the base model, no heads)
//
// Ignored throughout: biases, RoPE, qk-norm, residual adds, LoRA (mergeable into the weights),
// and the prompt (prefill runs at full depth in both cases, so it cancels).

/** Model dimensions needed for FLOPs accounting (Hugging Face config fields in full words). */
export interface ModelDimensions {
  /** C, hidden_size. Example: 1536. */
  readonly hidden: number;
  /** I, intermediate_size (MLP width). Example: 8960. */
  readonly intermediate: number;
  /** H, num_attention_heads. Example: 12. */
  readonly numHeads: number;
  /** K, num_key_value_heads. Example: 2. */
  readonly numKvHeads: number;
  /** D, head_dim (may differ from hidden / heads, as in Qwen3). Example: 128. */
  readonly headDim: number;
  /** V, vocab_size. Example: 151936. */
  readonly vocab: number;
  /** L, num_hidden_layers. Example: 28. */
  readonly numLayers: number;
}

/** Options of {@link countFlops}. */
export interface FlopsOptions {
  /** Exitable layers E; when given, exit-head FLOPs are counted and exits are checked to lie in E ∪ {L}. Example: [5, 10, 15, 20, 25]. */
  readonly exitableLayers?: readonly number[];
}

/** FLOPs of a set of generated tokens, early-exit vs full depth. */
export interface FlopsAccount {
  /** Number of generated tokens counted. */
  readonly tokenCount: number;
  /** Total FLOPs spent with the given exits (exit heads included). */
  readonly flopsSpent: number;
  /** Total FLOPs the base model would spend on the same tokens at full depth. */
  readonly flopsFullDepth: number;
  /** Part of flopsSpent spent in exit heads (0 without exitableLayers). */
  readonly flopsExitHeads: number;
  /** flopsFullDepth − flopsSpent (negative if head overhead exceeds the savings). */
  readonly flopsSaved: number;
  /** flopsSaved / flopsFullDepth. */
  readonly savedFraction: number;
  /** flopsSpent / tokenCount. */
  readonly flopsSpentPerToken: number;
  /** flopsFullDepth / tokenCount. */
  readonly flopsFullDepthPerToken: number;
}

/** Validate model dimensions (positive integers), naming the bad field. */
export function validateModelDimensions(dims: ModelDimensions): ModelDimensions {
  for (const key of ["hidden", "intermediate", "numHeads", "numKvHeads", "headDim", "vocab", "numLayers"] as const) {
    const value = dims[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`model dimensions: ${key} must be a positive integer, got ${value}`);
    }
  }
  return dims;
}

/** Per-token FLOPs of one decoder layer at context length n: full, and K/V-only (exited token). */
export function layerFlops(dims: ModelDimensions, contextLength: number): { full: number; keyValueOnly: number } {
  const { hidden: C, intermediate: I, numHeads: H, numKvHeads: K, headDim: D } = dims;
  const n = contextLength;
  const full = 8 * C + 4 * C * H * D + 4 * C * K * D + 4 * H * D * n + 6 * C * I;
  const keyValueOnly = 4 * C + 4 * C * K * D;
  return { full, keyValueOnly };
}

/** FLOPs of the final RMSNorm + unembedding for one token. */
export function readoutFlops(dims: ModelDimensions): number {
  return 4 * dims.hidden + 2 * dims.hidden * dims.vocab;
}

/** FLOPs of one exit head for one token. */
export function exitHeadFlops(dims: ModelDimensions): number {
  return 4 * dims.hidden * dims.hidden + 4 * dims.hidden;
}

/**
 * Context lengths n_t for generated tokens: token t (0-based) of a sequence whose prompt has
 * `promptLengths[i]` tokens attends to promptLength + t + 1 keys (itself included).
 */
export function contextLengthsFromPrompts(promptLengths: readonly number[], generatedLengths: readonly number[]): number[][] {
  if (promptLengths.length !== generatedLengths.length) {
    throw new Error(`contextLengthsFromPrompts: ${promptLengths.length} prompt lengths but ${generatedLengths.length} generated lengths`);
  }
  return promptLengths.map((promptLength, i) => {
    const generated = generatedLengths[i] ?? 0;
    return Array.from({ length: generated }, (_, t) => promptLength + t + 1);
  });
}

/**
 * FLOPs spent by generated tokens with exit layers `exitLayers[i][t]` and context lengths
 * `contextLengths[i][t]` (same shape), against the same tokens at full depth. See the
 * formula at the top of this file.
 */
export function countFlops(
  dims: ModelDimensions,
  exitLayers: readonly (readonly number[])[],
  contextLengths: readonly (readonly number[])[],
  options: FlopsOptions = {},
): FlopsAccount {
  validateModelDimensions(dims);
  const L = dims.numLayers;
  const exitable = options.exitableLayers ?? [];
  const allowed = options.exitableLayers ? new Set([...exitable, L]) : null;
  if (exitLayers.length !== contextLengths.length) {
    throw new Error(`countFlops: ${exitLayers.length} exit-layer sequences but ${contextLengths.length} context-length sequences`);
  }
  const readout = readoutFlops(dims);
  const head = exitHeadFlops(dims);
  let tokenCount = 0;
  let flopsSpent = 0;
  let flopsFullDepth = 0;
  let flopsExitHeads = 0;
  exitLayers.forEach((sequence, i) => {
    const contexts = contextLengths[i] ?? [];
    if (contexts.length !== sequence.length) {
      throw new Error(`countFlops: sequence ${i} has ${sequence.length} exit layers but ${contexts.length} context lengths`);
    }
    sequence.forEach((x, t) => {
      const n = contexts[t] ?? 0;
      if (!Number.isInteger(x) || x < 1 || x > L || (allowed !== null && !allowed.has(x))) {
        throw new Error(`countFlops: exit layer ${x} at sequence ${i}, token ${t} is not a valid exit (L = ${L})`);
      }
      if (!Number.isInteger(n) || n < 1) {
        throw new Error(`countFlops: context length ${n} at sequence ${i}, token ${t} must be a positive integer`);
      }
      const { full, keyValueOnly } = layerFlops(dims, n);
      const headsEvaluated = exitable.filter((e) => e <= x).length;
      const heads = headsEvaluated * head;
      flopsSpent += x * full + (L - x) * keyValueOnly + readout + heads;
      flopsFullDepth += L * full + readout;
      flopsExitHeads += heads;
      tokenCount++;
    });
  });
  if (tokenCount === 0) throw new Error("countFlops: no generated tokens given");
  const flopsSaved = flopsFullDepth - flopsSpent;
  return {
    tokenCount,
    flopsSpent,
    flopsFullDepth,
    flopsExitHeads,
    flopsSaved,
    savedFraction: flopsSaved / flopsFullDepth,
    flopsSpentPerToken: flopsSpent / tokenCount,
    flopsFullDepthPerToken: flopsFullDepth / tokenCount,
  };
}

// The early-exit decoder (METHOD.md §1): a loaded Qwen model (frozen) + LoRA adapters + exit
// heads, with a teacher-forced parallel forward (training) and KV-cached generation (sampling).
//
// Legend: B batch, T positions, C hidden, V vocab, L layers (numbered 1..L; layer l is
// `params.layers[l − 1]`), m exitable layers E = e_1 < … < e_m, h_l the residual after layer l.
//
// Which position owns an exit. Position i's exit layer x_i decides how deep position i's
// residual goes, and its logits unembed(h_{x_i}) predict token i + 1. A generated token y_t is
// therefore emitted by the position before it: y_1 by the last prompt position, y_t by y_{t−1}.
// Replaying prompt + completion teacher-forced uses the per-position exits
//   [L, …, L (first P − 1 prompt positions), x_1, …, x_T]
// over the inputs prompt + y_1..y_{T−1}.
//
// Frozen positions. After a position exits at e its residual is frozen (h_l = h_e, l > e), and
// every later layer still computes its keys and values from the frozen residual (input norm,
// k/v projections with LoRA, k-norm, RoPE), so later tokens attend to it at every depth. In the
// parallel form this is decoderLayer's updateMask; in generation a step whose every live row has
// exited runs later layers with kvOnly (no queries, attention, o_proj or MLP): real savings.
import { tf, Rng } from "@eecot/tensor-core";
import {
  assertFitsContext,
  attentionContext,
  decoderLayer,
  embed,
  leftPad,
  sampleToken,
  unembed,
  type LayerKv,
  type QwenModel,
} from "@eecot/transformer";
import { resolveEarlyExitConfig, type EarlyExitConfigOverrides, type ResolvedEarlyExitConfig } from "./config.js";
import {
  cloneExitHeads,
  createExitHeads,
  disposeExitHeads,
  exitHeadLogits,
  exitHeadVariables,
  exitLogProbabilityOf,
  gatedExitProbability,
  type ExitHead,
} from "./exit-head.js";
import { createLoraAdapters, type LoraAdapters } from "./lora.js";
import { disposeMergedLora, mergeLora } from "./merged-lora.js";
import { disposeFrozenKeyValueWeights, frozenKeyValues, stackFrozenKeyValueWeights, type FrozenKeyValueWeights } from "./frozen-key-values.js";


export interface PrescribedForwardOptions {
  /** 1 for real tokens, 0 for (left) padding, [B][T]; default all ones. */
  readonly attentionMask?: readonly (readonly number[])[];
  /** Apply the LoRA adapters (default true); false = the frozen base model (the stage-1 teacher). */
  readonly loraEnabled?: boolean;
  /** Also return the logit lens unembed(h_e) at every exitable layer (stage-1 targets). */
  readonly returnLens?: boolean;
  /** Skip the [B, T, V] logits (return only `hidden`, from which callers unembed chosen rows). */
  readonly skipLogits?: boolean;
  /** LoRA dropout on (training passes). Default false. */
  readonly training?: boolean;
}

export interface PrescribedForwardResult {
  /** unembed(h_{x_t}) at every position: the logits read at the position's exit; [B, T, V]. null with skipLogits. With every x_t = L these are the final logits. */
  readonly logits: tf.Tensor3D | null;
  /** The residual each position ends with, h_{x_t}; [B, T, C]. */
  readonly hidden: tf.Tensor3D;
  /** Raw exit-head logits z (no offset) at every exitable layer, [B, T, m]. */
  readonly exitLogits: tf.Tensor3D;
  /** With returnLens: unembed(h_{e_i}) for i = 1..m, each [B, T, V] (computed on the masked residual stream). */
  readonly lensLogits: tf.Tensor3D[];
}

/** How generation chooses exits. */
export type ExitMode =
  /** Sample each exit from the gated head probabilities (the stochastic policy). */
  | "sample"
  /** Exit at the first e with gated p_e ≥ threshold (deterministic; analysis). */
  | "threshold"
  /** Exits disabled: every token runs to L, heads are not evaluated. */
  | "none";

export interface EarlyExitGenerationOptions {
  /** Stop after this many new tokens, e.g. 128. */
  readonly maxNewTokens: number;
  /** Token temperature; 0 = greedy, e.g. 1.0. */
  readonly temperature?: number;
  /** Nucleus sampling cut, 1 = off, e.g. 0.95. */
  readonly topP?: number;
  /** Tokens that end a row (kept in the output), e.g. [151645]. */
  readonly stopTokenIds?: readonly number[];
  /** Id used for left padding, e.g. 151643. Default 0. */
  readonly padTokenId?: number;
  /** Seed for every token and exit draw, e.g. 1234. Default 0. */
  readonly seed?: number;
  /**
   * One seed per row (overrides `seed`): row b draws its exits and tokens from its own stream,
   * so what it generates does not depend on the other rows of the batch (a batch of 32 gives the
   * same tokens and exits as 32 one-row calls with the same seeds).
   */
  readonly rowSeeds?: readonly number[];
  /** Exit rule, default "sample". */
  readonly mode?: ExitMode;
  /** Threshold for mode "threshold", default 0.5. */
  readonly threshold?: number;
  /** Every token exits at this layer (1..L), heads not evaluated: for benchmarks. Default none. */
  readonly forcedExitLayer?: number | null;
  /** Overrides the config's exitOffset for this call. */
  readonly exitOffset?: number;
  /** Overrides the config's minExitProb for this call. */
  readonly minExitProb?: number;
  /** Apply LoRA (default true). */
  readonly loraEnabled?: boolean;
  /** Keep every generated position's logits (tests, analysis). Default false. */
  readonly recordLogits?: boolean;
  /** Streaming: called (and awaited) after every step with each live row's new token; draws are unchanged by it. */
  readonly onToken?: (token: StreamedToken) => void | Promise<void>;
  /** Stops generation after the current step once aborted (rows end unfinished). */
  readonly signal?: AbortSignal;
}

/** One token as it is generated (see `onToken`). */
export interface StreamedToken {
  /** Row of the batch. */
  readonly row: number;
  /** Position among the row's new tokens (0 = first). */
  readonly index: number;
  readonly token: number;
  /** Exit layer x_t (1..L). */
  readonly exitLayer: number;
  /** sigmoid(z_e + offset) at each exitable layer; NaN where the token exited before e. */
  readonly headProbabilities: readonly number[];
}

/** One generated row. */
export interface GeneratedSequence {
  /** New token ids (stop token included when one was produced). */
  readonly tokens: number[];
  /** Exit layer x_t of each token (1..L; L = full depth). */
  readonly exitLayers: number[];
  /** Augmented log π(x_t, y_t) = exitLogProbs + tokenLogProbs (temperature 1, no top-p). */
  readonly logProbs: number[];
  /** log P_exit(x_t) under the gated stick-breaking distribution (0 in modes "none"/forced). */
  readonly exitLogProbs: number[];
  /** log softmax(unembed(h_{x_t}))[y_t] at temperature 1. */
  readonly tokenLogProbs: number[];
  /** Per token, sigmoid(z_e + offset) (before the gate) at each exitable layer; NaN where the token exited before e (head not evaluated). */
  readonly headProbabilities: number[][];
  /** Logits per token, with recordLogits. */
  readonly logits?: Float32Array[];
  /** True when the row ended on a stop token. */
  readonly finished: boolean;
}

export interface EarlyExitGenerationResult {
  readonly sequences: GeneratedSequence[];
  /** Prompt length per row (before padding). */
  readonly promptLengths: number[];
}

/** A loaded base decoder with LoRA adapters and exit heads. The base weights are never changed. */
export class EarlyExitModel {
  constructor(
    /** The frozen base model (owned by the caller: `dispose()` leaves it alone). */
    readonly base: QwenModel,
    readonly config: ResolvedEarlyExitConfig,
    readonly heads: readonly ExitHead[],
    readonly lora: LoraAdapters,
  ) {
    const m = config.exitLayers.length;
    if (heads.length !== m || heads.some((h, i) => h.layer !== config.exitLayers[i])) {
      throw new Error(`EarlyExitModel: heads are for layers [${heads.map((h) => h.layer).join(", ")}], config exits at [${config.exitLayers.join(", ")}]`);
    }
    if (config.numLayers !== base.config.numLayers) throw new Error(`EarlyExitModel: config has ${config.numLayers} layers, model ${base.config.numLayers}`);
  }

  /** Fresh heads and adapters (B = 0, heads at the initial bias) on a loaded model. */
  static create(base: QwenModel, overrides: EarlyExitConfigOverrides = {}): EarlyExitModel {
    const config = resolveEarlyExitConfig(base.config, overrides);
    const heads = createExitHeads(base.config.hiddenSize, config.exitLayers, { initialBias: config.headInitialBias, seed: config.seed });
    const lora = createLoraAdapters(base.config, config.lora, { seed: config.seed });
    return new EarlyExitModel(base, config, heads, lora);
  }

  /** Depth L. */
  get numLayers(): number {
    return this.config.numLayers;
  }

  /** The exitable layers E. */
  get exitLayers(): readonly number[] {
    return this.config.exitLayers;
  }

  /** A copy sharing the base weights, with copied (frozen or trainable) heads and adapters. */
  clone(trainable: boolean): EarlyExitModel {
    return new EarlyExitModel(this.base, this.config, cloneExitHeads(this.heads, trainable), this.lora.clone(trainable));
  }

  /** The variables training updates, grouped by learning rate. */
  trainableVariables(): { lora: tf.Variable[]; heads: tf.Variable[] } {
    return { lora: this.lora.variables(), heads: exitHeadVariables(this.heads) };
  }

  /** Free heads and adapters (not the base model). */
  dispose(): void {
    disposeExitHeads(this.heads);
    this.lora.dispose();
  }

  /** Index of layer x in E, m for L; throws for any other layer. */
  exitIndexOf(layer: number): number {
    if (layer === this.numLayers) return this.exitLayers.length;
    const k = this.exitLayers.indexOf(layer);
    if (k < 0) throw new Error(`exit layer ${layer} is not one of E ∪ {L} = [${[...this.exitLayers, this.numLayers].join(", ")}]`);
    return k;
  }

  // -------------------------------------------------------------------------------------------
  // Teacher-forced parallel form (differentiable)

  /**
   * Run ids [B][T] with prescribed per-position exit layers [B][T] (each 1..L; prompt
   * positions L): h_l = where(x_t ≥ l, h_{l−1} + Δ_l, h_{l−1}). See the file header for how
   * generated tokens map to positions. Callers own the returned tensors.
   */
  forwardPrescribed(ids: readonly (readonly number[])[], exitLayers: readonly (readonly number[])[], options: PrescribedForwardOptions = {}): PrescribedForwardResult {
    const { params, config } = this.base;
    const B = ids.length;
    const T = ids[0]?.length ?? 0;
    const L = this.numLayers;
    if (B === 0 || T === 0) throw new Error("forwardPrescribed: empty batch");
    if (exitLayers.length !== B || ids.some((row, b) => row.length !== T || exitLayers[b]!.length !== T)) {
      throw new Error(`forwardPrescribed: ids and exitLayers must both be [${B}][${T}] rectangles`);
    }
    exitLayers.forEach((row, b) =>
      row.forEach((x, t) => {
        if (!Number.isInteger(x) || x < 1 || x > L) throw new Error(`forwardPrescribed: exit layer ${x} at row ${b}, position ${t} is not in 1..${L}`);
      }),
    );
    const mask = options.attentionMask ?? ids.map((row) => row.map(() => 1));
    const adapter = options.loraEnabled === false ? undefined : this.lora;
    const previousTraining = this.lora.training;
    this.lora.training = options.training === true;
    try {
      return tidyResult(() => {
        const context = attentionContext(config, mask, null);
        let hidden = embed(params, tf.tensor2d(ids.map((r) => [...r]), [B, T], "int32")); // [B, T, C]
        const exitColumns: tf.Tensor2D[] = [];
        const lensLogits: tf.Tensor3D[] = [];
        const C = config.hiddenSize;
        for (let l = 1; l <= L; l++) {
          const frozenSomewhere = exitLayers.some((row) => row.some((x) => x < l));
          const updateMask = frozenSomewhere ? (tf.tensor3d(exitLayers.map((row) => row.map((x) => [x >= l ? 1 : 0])), [B, T, 1])) : undefined;
          hidden = decoderLayer(params.layers[l - 1]!, l - 1, config, hidden, context, null, { adapter, updateMask }).hidden; // [B, T, C]
          const k = this.exitLayers.indexOf(l);
          if (k >= 0) {
            const flat = tf.reshape(hidden, [B * T, C]) as tf.Tensor2D; // [B*T, C]
            exitColumns.push(tf.reshape(exitHeadLogits(this.heads[k]!, flat), [B, T])); // [B, T]
            if (options.returnLens) lensLogits.push(tf.reshape(unembed(params, config, flat), [B, T, config.vocabSize]) as tf.Tensor3D);
          }
        }
        const m = this.exitLayers.length;
        const exitLogits = (m > 0 ? tf.stack(exitColumns, 2) : tf.zeros([B, T, 0])) as tf.Tensor3D; // [B, T, m]
        const logits = options.skipLogits
          ? null
          : (tf.reshape(unembed(params, config, tf.reshape(hidden, [B * T, C]) as tf.Tensor2D), [B, T, config.vocabSize]) as tf.Tensor3D); // [B, T, V]
        return { logits, hidden, exitLogits, lensLogits };
      });
    } finally {
      this.lora.training = previousTraining;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Generation

  /**
   * Batched, KV-cached generation with per-token exits. Per step and per layer in order: run
   * the layer (K/V only once every live row has exited), then at an exitable layer evaluate
   * the head for the rows still running and draw their exits; emit each row's token from
   * unembed(h_{x_t}). Seeded: one Rng drives exit and token draws in a fixed order (or one
   * Rng per row with `rowSeeds`).
   */
  async generate(prompts: readonly (readonly number[])[], options: EarlyExitGenerationOptions): Promise<EarlyExitGenerationResult> {
    const { config } = this.base;
    const L = this.numLayers;
    const m = this.exitLayers.length;
    const V = config.vocabSize;
    const mode = options.mode ?? "sample";
    const sampling = { temperature: options.temperature ?? 1, topP: options.topP ?? 1 };
    const gate = { offset: options.exitOffset ?? this.config.exitOffset, minExitProb: options.minExitProb ?? this.config.minExitProb };
    const threshold = options.threshold ?? 0.5;
    const forced = options.forcedExitLayer ?? null;
    const stopTokenIds = options.stopTokenIds ?? [];
    const padTokenId = options.padTokenId ?? 0;
    if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) throw new Error(`maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
    if (!(sampling.temperature >= 0)) throw new Error(`temperature must be ≥ 0, got ${sampling.temperature}`);
    if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new Error(`topP must be in (0, 1], got ${sampling.topP}`);
    if (!["sample", "threshold", "none"].includes(mode)) throw new Error(`mode must be "sample", "threshold" or "none", got ${JSON.stringify(mode)}`);
    if (forced !== null && (!Number.isInteger(forced) || forced < 1 || forced > L)) throw new Error(`forcedExitLayer must be an integer in 1..${L}, got ${forced}`);
    if (!(gate.minExitProb >= 0 && gate.minExitProb < 1)) throw new Error(`minExitProb must be in [0, 1), got ${gate.minExitProb}`);
    if (!Number.isFinite(gate.offset)) throw new Error(`exitOffset must be finite, got ${gate.offset}`);
    if (prompts.length === 0) return { sequences: [], promptLengths: [] };
    prompts.forEach((p, b) => {
      if (p.length === 0) throw new Error(`generate: prompt ${b} is empty`);
      p.forEach((id) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`generate: token id ${id} in prompt ${b} is outside the vocabulary 0..${V - 1}`);
      });
    });
    assertFitsContext(config, Math.max(...prompts.map((p) => p.length)), options.maxNewTokens);
    const useHeads = forced === null && mode !== "none" && m > 0;

    const B = prompts.length;
    if (options.rowSeeds && options.rowSeeds.length !== B) throw new Error(`generate: ${options.rowSeeds.length} rowSeeds for ${B} prompts`);
    const sharedRng = new Rng(options.seed ?? 0);
    const rowRngs = options.rowSeeds?.map((seed) => new Rng(seed)) ?? null;
    const rngOf = (b: number) => rowRngs?.[b] ?? sharedRng;
    const rows = prompts.map(() => ({
      tokens: [] as number[],
      exitLayers: [] as number[],
      logProbs: [] as number[],
      exitLogProbs: [] as number[],
      tokenLogProbs: [] as number[],
      headProbabilities: [] as number[][],
      logits: [] as Float32Array[],
      finished: false,
    }));
    const padded = leftPad(prompts, padTokenId);
    // LoRA merged into effective weights for this call (no tape, no dropout): one matMul per
    // adapted projection per step instead of five ops. Freed below; never kept across calls.
    const merged = mergeLora(this.base.params, options.loraEnabled === false ? undefined : this.lora);
    const params = merged.params;
    const adapter = merged.adapter;
    let input: number[][] = padded.ids;
    let inputMask: number[][] = padded.mask;
    let cacheLayers: LayerKv[] | null = null;
    let keyPadding: number[][] | null = null;
    let nextPosition: number[] | null = null;
    // K/V weights of layers l.. stacked for frozen residuals, built on first use per first layer.
    const stackedWeights = new Map<number, FrozenKeyValueWeights | null>();
    const stackedFrom = (firstLayer: number) => {
      if (!stackedWeights.has(firstLayer)) stackedWeights.set(firstLayer, stackFrozenKeyValueWeights(params, firstLayer, adapter));
      return stackedWeights.get(firstLayer)!;
    };
    try {
      for (let step = 0; step < options.maxNewTokens; step++) {
        const T = input[0]!.length;
        const live = rows.map((r) => !r.finished);
        const exitLayer = rows.map(() => L); // x_t per row for this step
        const exited = rows.map(() => false);
        const headZ = rows.map(() => new Array<number>(m).fill(NaN));
        const cache = cacheLayers ? { layers: cacheLayers, keyPadding: keyPadding!, nextPosition: nextPosition! } : null;
        const context = attentionContext(config, inputMask, cache);
        let hidden = tf.tidy(() => embed(params, tf.tensor2d(input, [B, T], "int32"))); // [B, T, C]
        const newLayers: LayerKv[] = [];
        for (let l = 1; l <= L; l++) {
          const anyExited = exited.some(Boolean);
          const allExited = live.every((isLive, b) => !isLive || exited[b]);
          const past = cacheLayers?.[l - 1] ?? null;
          const stacked = allExited && T === 1 ? stackedFrom(l - 1) : null;
          if (stacked) {
            // Layers l..L all read the frozen residual: their K/V in one stacked pass (wasm).
            const pasts = Array.from({ length: L - l + 1 }, (_, i) => cacheLayers?.[l - 1 + i] ?? null);
            newLayers.push(...frozenKeyValues(stacked, config, hidden, context, pasts));
            for (const old of pasts) if (old) tf.dispose([old.keysT, old.values]);
            break;
          }
          const layerInput = hidden;
          const out = tidyResult(() => {
            if (allExited && T === 1) return decoderLayer(params.layers[l - 1]!, l - 1, config, layerInput, context, past, { adapter, kvOnly: true });
            const updateMask = anyExited
              ? tf.tensor3d(rows.map((_, b) => Array.from({ length: T }, (_, t) => [exited[b] && t === T - 1 ? 0 : 1])), [B, T, 1])
              : undefined;
            return decoderLayer(params.layers[l - 1]!, l - 1, config, layerInput, context, past, { adapter, updateMask });
          });
          if (out.hidden !== layerInput) layerInput.dispose();
          hidden = out.hidden;
          newLayers.push(out.kv);
          if (past) tf.dispose([past.keysT, past.values]);

          if (forced !== null && l === forced) {
            rows.forEach((_, b) => {
              if (live[b] && !exited[b]) {
                exited[b] = true;
                exitLayer[b] = l;
              }
            });
          }
          const k = useHeads ? this.exitLayers.indexOf(l) : -1;
          if (k >= 0 && !allExited) {
            const z = tf.tidy(() => {
              return exitHeadLogits(this.heads[k]!, lastPositions(hidden)); // [B]
            });
            const values = (await z.data()) as Float32Array;
            z.dispose();
            rows.forEach((_, b) => {
              if (!live[b] || exited[b]) return;
              headZ[b]![k] = values[b]!;
              const p = gatedExitProbability(values[b]!, gate);
              // A draw is consumed only for a live, not-yet-exited row whose gate is open.
              const exit = mode === "threshold" ? p > 0 && p >= threshold : p > 0 && rngOf(b).uniform() < p;
              if (exit) {
                exited[b] = true;
                exitLayer[b] = l;
              }
            });
          }
        }
        cacheLayers = newLayers;
        keyPadding = context.keyPadding;
        nextPosition = context.nextPosition;
        tf.dispose([context.cos, context.sin, context.mask]);

        // Every row's residual is h_{x_t} (frozen rows passed through): one readout for all.
        const logitsTensor = tf.tidy(() => unembed(params, config, lastPositions(hidden))); // [B, V]
        hidden.dispose();
        const logits = (await logitsTensor.data()) as Float32Array;
        logitsTensor.dispose();
        const next: number[] = [];
        const streamed: StreamedToken[] = [];
        rows.forEach((row, b) => {
          if (!live[b]) {
            next.push(padTokenId);
            return;
          }
          const rowLogits = logits.subarray(b * V, (b + 1) * V);
          const token = sampleToken(rowLogits, sampling, rngOf(b));
          const x = exitLayer[b]!;
          const exitLogProb = useHeads ? exitLogProbabilityOf(headZ[b]!.filter((z) => !Number.isNaN(z)), x === L ? m : this.exitIndexOf(x), gate) : 0;
          const tokenLogProb = logSoftmaxAt(rowLogits, token);
          row.tokens.push(token);
          row.exitLayers.push(x);
          row.exitLogProbs.push(exitLogProb);
          row.tokenLogProbs.push(tokenLogProb);
          row.logProbs.push(exitLogProb + tokenLogProb);
          row.headProbabilities.push(headZ[b]!.map((z) => (Number.isNaN(z) ? NaN : 1 / (1 + Math.exp(-(z + gate.offset))))));
          if (options.recordLogits) row.logits.push(Float32Array.from(rowLogits));
          if (stopTokenIds.includes(token)) row.finished = true;
          next.push(token);
          streamed.push({ row: b, index: row.tokens.length - 1, token, exitLayer: x, headProbabilities: row.headProbabilities[row.headProbabilities.length - 1]! });
        });
        if (options.onToken) for (const token of streamed) await options.onToken(token);
        if (rows.every((r) => r.finished) || options.signal?.aborted) break;
        input = next.map((t) => [t]);
        inputMask = rows.map((r) => [r.finished ? 0 : 1]);
      }
    } finally {
      for (const weights of stackedWeights.values()) if (weights) disposeFrozenKeyValueWeights(weights);
      disposeMergedLora(merged);
    }
    if (cacheLayers) for (const kv of cacheLayers) tf.dispose([kv.keysT, kv.values]);
    return {
      sequences: rows.map((r) => ({
        tokens: r.tokens,
        exitLayers: r.exitLayers,
        logProbs: r.logProbs,
        exitLogProbs: r.exitLogProbs,
        tokenLogProbs: r.tokenLogProbs,
        headProbabilities: r.headProbabilities,
        ...(options.recordLogits ? { logits: r.logits } : {}),
        finished: r.finished,
      })),
      promptLengths: prompts.map((p) => p.length),
    };
  }
}

/** The last position of each row, [B, T, C] → [B, C] (a reshape alone at T = 1: decode steps). */
function lastPositions(hidden: tf.Tensor3D): tf.Tensor2D {
  const [B, T, C] = hidden.shape;
  const last = T === 1 ? hidden : tf.slice(hidden, [0, T - 1, 0], [B, 1, C]); // [B, 1, C]
  return tf.reshape(last, [B, C]) as tf.Tensor2D;
}

/** tf.tidy for functions returning plain objects of tensors (nulls and interfaces included). */
function tidyResult<T>(fn: () => T): T {
  return tf.tidy(fn as unknown as () => tf.TensorContainer) as unknown as T;
}

/** log softmax(logits)[index] in float64. */
export function logSoftmaxAt(logits: ArrayLike<number>, index: number): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += Math.exp(logits[i]! - max);
  return logits[index]! - max - Math.log(total);
}

/**
 * The teacher-forced replay of prompt + completion: inputs prompt + tokens[0..T−2] and
 * per-position exits [L × (P − 1), x_1..x_T] (see the file header). Position P − 1 + t predicts
 * tokens[t].
 */
export function replayInputs(promptTokens: readonly number[], tokens: readonly number[], exitLayers: readonly number[], numLayers: number): { ids: number[]; exits: number[] } {
  if (tokens.length !== exitLayers.length) throw new Error(`replayInputs: ${tokens.length} tokens but ${exitLayers.length} exit layers`);
  if (promptTokens.length === 0) throw new Error("replayInputs: empty prompt");
  if (tokens.length === 0) return { ids: [...promptTokens], exits: promptTokens.map(() => numLayers) };
  return {
    ids: [...promptTokens, ...tokens.slice(0, -1)],
    exits: [...promptTokens.slice(1).map(() => numLayers), ...exitLayers],
  };
}

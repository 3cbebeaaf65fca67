// Paper appendix A.1: generation with exits drawn from the stage-1 TARGET distribution itself,
// to check that the KL heuristic yields coherent text before any head is trained.
//
// Per step and row: the frozen base model (no LoRA) computes every layer for the new token;
// its final distribution q and the logit lens r_e at each e ∈ E give KL_e (divergence.ts), the
// target Q over E ∪ {L} (targets.ts, factor f), an exit x ~ Q, and the token is emitted from
// the lens at x (greedy by default). The token's residual is then frozen at h_x, exactly as in
// early-exit generation: at every layer l > x its keys and values are recomputed from h_x
// (K/V only), so later tokens attend to the frozen state. Generation is therefore the
// free-generation semantics of METHOD.md §1 with a per-token exit rule, and replaying it
// teacher-forced with the same exits (EarlyExitModel.forwardPrescribed, LoRA off) gives the
// same logits. With `klFactor: null` every token runs to L (the base model).
//
// Legend: B rows, T new positions (prompt length at step 0, then 1), C hidden, V vocab,
// L layers, m exitable layers.
import { tf, Rng } from "@eecot/tensor-core";
import { attentionContext, decoderLayer, embed, leftPad, sampleToken, unembed, type LayerKv, type QwenModel } from "@eecot/transformer";
import { validateKlFactor } from "./config.js";
import { targetExitDistribution } from "./targets.js";

export interface TargetExitGenerationOptions {
  /** f of the target; null = no exits (the base model). */
  readonly klFactor: number | null;
  /** New tokens at most, e.g. 64. */
  readonly maxNewTokens: number;
  /** Tokens that end a row (kept in the output), e.g. [151645]. */
  readonly stopTokenIds?: readonly number[];
  /** Id for left padding, default 0. */
  readonly padTokenId?: number;
  /** Seed of the exit and token draws, default 0. */
  readonly seed?: number;
  /** Token temperature; 0 = greedy (default). */
  readonly temperature?: number;
  /** Nucleus cut, default 1 (off). */
  readonly topP?: number;
  /** Keep the logits each token was drawn from (tests). Default false. */
  readonly recordLogits?: boolean;
}

/** One generated row. */
export interface TargetExitSequence {
  readonly tokens: number[];
  /** Exit layer of each token (E ∪ {L}). */
  readonly exitLayers: number[];
  /** The target Q over E ∪ {L} each exit was drawn from (all mass on L with klFactor null). */
  readonly targets: number[][];
  /** KL_e per token (empty rows with klFactor null). */
  readonly divergences: number[][];
  readonly logits?: Float32Array[];
  readonly finished: boolean;
}

/** Generate with per-token exits sampled from the KL-heuristic target (see the file header). */
export async function generateWithTargetExits(
  base: QwenModel,
  exitLayers: readonly number[],
  prompts: readonly (readonly number[])[],
  options: TargetExitGenerationOptions,
): Promise<TargetExitSequence[]> {
  const { params, config } = base;
  const L = config.numLayers;
  const m = exitLayers.length;
  const C = config.hiddenSize;
  const V = config.vocabSize;
  const candidates = [...exitLayers, L];
  const f = options.klFactor;
  if (f !== null) validateKlFactor(f);
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) throw new Error(`maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
  exitLayers.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 1 || e >= L || (i > 0 && e <= exitLayers[i - 1]!)) throw new Error(`exit layers must be increasing integers in 1..${L - 1}, got [${exitLayers.join(", ")}]`);
  });
  prompts.forEach((p, b) => {
    if (p.length === 0) throw new Error(`prompt ${b} is empty`);
    const bad = p.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad !== undefined) throw new Error(`prompt ${b} has token id ${bad}, outside the vocabulary 0..${V - 1}`);
  });
  const sampling = { temperature: options.temperature ?? 0, topP: options.topP ?? 1 };
  const stopTokenIds = options.stopTokenIds ?? [];
  const padTokenId = options.padTokenId ?? 0;
  const rng = new Rng(options.seed ?? 0);
  const B = prompts.length;
  const rows = prompts.map(() => ({ tokens: [] as number[], exitLayers: [] as number[], targets: [] as number[][], divergences: [] as number[][], logits: [] as Float32Array[], finished: false }));
  if (B === 0) return [];

  const padded = leftPad(prompts, padTokenId);
  let input: number[][] = padded.ids;
  let inputMask: number[][] = padded.mask;
  let cacheLayers: LayerKv[] | null = null;
  let keyPadding: number[][] | null = null;
  let nextPosition: number[] | null = null;
  try {
    for (let step = 0; step < options.maxNewTokens; step++) {
      const T = input[0]!.length;
      const live = rows.map((r) => !r.finished);
      const cache = cacheLayers ? { layers: cacheLayers, keyPadding: keyPadding!, nextPosition: nextPosition! } : null;
      const context = attentionContext(config, inputMask, cache);
      const ids = input;
      // Pass 1: every layer at full depth for the new positions; keep each layer's output.
      const outputs: tf.Tensor3D[] = [tf.tidy(() => embed(params, tf.tensor2d(ids, [B, T], "int32")))]; // [B, T, C] per layer
      const fullKv: LayerKv[] = [];
      const newLayers: LayerKv[] = [];
      try {
        for (let l = 1; l <= L; l++) {
          const out = fullLayer(base, l, outputs[l - 1]!, context, cacheLayers?.[l - 1] ?? null);
          outputs.push(out.hidden);
          fullKv.push(out.kv);
        }
        const lastRows = (l: number) => tf.reshape(tf.slice(outputs[l]!, [0, T - 1, 0], [B, 1, C]), [B, C]) as tf.Tensor2D; // [B, C]

        // Divergences and exits.
        const exitAt = rows.map(() => L);
        if (f !== null && m > 0) {
          const klTensor = tf.tidy(() => {
            const final = unembed(params, config, lastRows(L)); // [B, V]
            const logQ = tf.sub(final, tf.logSumExp(final, 1, true)); // [B, V]
            const q = tf.exp(logQ);
            const columns = exitLayers.map((e) =>
              tf.tidy(() => {
                const lens = unembed(params, config, lastRows(e)); // [B, V]
                return tf.sum(tf.mul(q, tf.sub(logQ, tf.sub(lens, tf.logSumExp(lens, 1, true)))), 1); // [B]
              }),
            );
            return tf.stack(columns, 1); // [B, m]
          });
          const kl = (await klTensor.data()) as Float32Array;
          klTensor.dispose();
          rows.forEach((row, b) => {
            if (!live[b]) return;
            const divergence = Array.from(kl.subarray(b * m, (b + 1) * m), (x) => Math.max(0, x));
            const target = targetExitDistribution(divergence, f);
            exitAt[b] = candidates[rng.categorical(target)]!;
            row.divergences.push(divergence);
            row.targets.push(target);
          });
        } else {
          rows.forEach((row, b) => {
            if (live[b]) row.targets.push(candidates.map((l) => (l === L ? 1 : 0)));
          });
        }

        // Each row's frozen residual h_{x_b} at its last position, and the token from its lens.
        const frozen = tf.tidy(() => {
          const stacked = tf.concat(candidates.map((l) => lastRows(l)), 0); // [(m+1)·B, C]
          const index = exitAt.map((x, b) => candidates.indexOf(x) * B + b);
          return tf.gather(stacked, tf.tensor1d(index, "int32")) as tf.Tensor2D; // [B, C]
        });
        const logitsTensor = tf.tidy(() => unembed(params, config, frozen)); // [B, V]
        const logits = (await logitsTensor.data()) as Float32Array;
        logitsTensor.dispose();

        // Pass 2: K/V of layers after an exit come from the frozen residual (K/V only).
        for (let l = 1; l <= L; l++) {
          const frozenRows = exitAt.map((x, b) => (live[b] && x < l ? 1 : 0));
          if (!frozenRows.some(Boolean)) {
            newLayers.push(fullKv[l - 1]!);
            continue;
          }
          // Rows frozen before l read h_{x_b} at their last position; the rest read the full stream.
          const layerInput = tf.tidy(() => {
            const mask = tf.tensor3d(rows.map((_, b) => Array.from({ length: T }, (_, t) => [t === T - 1 ? frozenRows[b]! : 0])), [B, T, 1]);
            return tf.add(outputs[l - 1]!, tf.mul(mask, tf.sub(tf.reshape(frozen, [B, 1, C]), outputs[l - 1]!))) as tf.Tensor3D; // [B, T, C]
          });
          const kv = keyValuesOnly(base, l, layerInput, context, cacheLayers?.[l - 1] ?? null);
          layerInput.dispose();
          tf.dispose([fullKv[l - 1]!.keysT, fullKv[l - 1]!.values]);
          newLayers.push(kv);
        }
        frozen.dispose();

        // Emit tokens.
        const next: number[] = [];
        rows.forEach((row, b) => {
          if (!live[b]) {
            next.push(padTokenId);
            return;
          }
          const rowLogits = logits.subarray(b * V, (b + 1) * V);
          const token = sampleToken(rowLogits, sampling, rng);
          row.tokens.push(token);
          row.exitLayers.push(exitAt[b]!);
          if (options.recordLogits) row.logits.push(Float32Array.from(rowLogits));
          if (stopTokenIds.includes(token)) row.finished = true;
          next.push(token);
        });
        if (cacheLayers) for (const kv of cacheLayers) tf.dispose([kv.keysT, kv.values]);
        cacheLayers = newLayers;
        keyPadding = context.keyPadding;
        nextPosition = context.nextPosition;
        input = next.map((t) => [t]);
        inputMask = rows.map((r) => [r.finished ? 0 : 1]);
      } catch (error) {
        tf.dispose(fullKv.flatMap((kv) => [kv.keysT, kv.values]));
        throw error;
      } finally {
        tf.dispose(outputs);
        tf.dispose([context.cos, context.sin, context.mask]);
      }
      if (rows.every((r) => r.finished)) break;
    }
  } finally {
    if (cacheLayers) for (const kv of cacheLayers) tf.dispose([kv.keysT, kv.values]);
  }
  return rows.map((r) => ({
    tokens: r.tokens,
    exitLayers: r.exitLayers,
    targets: r.targets,
    divergences: r.divergences,
    ...(options.recordLogits ? { logits: r.logits } : {}),
    finished: r.finished,
  }));
}

type Context = ReturnType<typeof attentionContext>;

/** Decoder layer l (1-based) at full depth, in its own tidy. */
function fullLayer(base: QwenModel, l: number, hidden: tf.Tensor3D, context: Context, past: LayerKv | null): { hidden: tf.Tensor3D; kv: LayerKv } {
  return tf.tidy(() => decoderLayer(base.params.layers[l - 1]!, l - 1, base.config, hidden, context, past) as unknown as tf.TensorContainer) as unknown as { hidden: tf.Tensor3D; kv: LayerKv };
}

/** Keys and values of decoder layer l (1-based) for a frozen residual, in its own tidy. */
function keyValuesOnly(base: QwenModel, l: number, hidden: tf.Tensor3D, context: Context, past: LayerKv | null): LayerKv {
  return tf.tidy(() => decoderLayer(base.params.layers[l - 1]!, l - 1, base.config, hidden, context, past, { kvOnly: true }).kv as unknown as tf.TensorContainer) as unknown as LayerKv;
}

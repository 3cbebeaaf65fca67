// Per-layer divergences of the teacher (METHOD.md §2.2), computed without gradient:
//
//   q_t     = softmax(W_U · norm(h_L))          the teacher's final distribution at position t
//   r_{e,t} = softmax(W_U · norm(h_e))          the logit lens at exitable layer e
//   KL_{e,t} = Σ_v q log(q / r)
//
// The teacher is the frozen base model (no LoRA, no exits). Only generated positions are
// kept: the decoder runs once per batch of sequences, the residual rows of generated positions
// are gathered at every e ∈ E and at L ([M, C] each), and the KL is formed in chunks of
// `chunkSize` positions, one exit layer at a time, so at most two [chunk, V] logit tables are
// alive at once (a 151,936-token vocabulary and 36 layers fit in a few hundred MB).
//
// Position ↔ token (early-exit's convention): the replay of prompt + completion is
// prompt + y_1..y_{T−1}, and generated token y_t is predicted at position P − 1 + t.
//
// Legend: B sequences, S padded replay length, M generated tokens in a batch, C hidden,
// V vocab, m exitable layers, n chunk rows.
import { tf } from "@eecot/tensor-core";
import { attentionContext, decoderLayer, embed, unembed, type ProjectionAdapter, type QwenModel } from "@eecot/transformer";
import type { SequenceDivergences } from "./targets.js";

/** A prompt and the tokens generated after it. */
export interface TokenSequence {
  readonly promptTokens: readonly number[];
  readonly tokens: readonly number[];
}

/** Left-padded teacher-forced replays of a batch and where each generated token is predicted. */
export interface ReplayBatch {
  /** prompt + tokens[0..T−2], left-padded; [B][S]. */
  readonly ids: number[][];
  /** 1 for real positions, 0 for padding; [B][S]. */
  readonly attentionMask: number[][];
  /** Padded length S. */
  readonly width: number;
  /** Flat row b·S + s predicting each generated token, sequence by sequence (M entries). */
  readonly rows: number[];
  /** Generated tokens per sequence. */
  readonly counts: number[];
}

/** Replay layout of sequences (each needs a non-empty prompt). */
export function replayBatch(sequences: readonly TokenSequence[], padTokenId = 0): ReplayBatch {
  sequences.forEach((s, b) => {
    if (s.promptTokens.length === 0) throw new Error(`replayBatch: sequence ${b} has an empty prompt`);
  });
  const inputs = sequences.map((s) => [...s.promptTokens, ...s.tokens.slice(0, Math.max(0, s.tokens.length - 1))]);
  const S = Math.max(...inputs.map((r) => r.length));
  const rows: number[] = [];
  sequences.forEach((s, b) => {
    const start = b * S + (S - inputs[b]!.length) + s.promptTokens.length - 1;
    s.tokens.forEach((_, t) => rows.push(start + t));
  });
  return {
    ids: inputs.map((r) => [...Array<number>(S - r.length).fill(padTokenId), ...r]),
    attentionMask: inputs.map((r) => [...Array<number>(S - r.length).fill(0), ...r.map(() => 1)]),
    width: S,
    rows,
    counts: sequences.map((s) => s.tokens.length),
  };
}

/**
 * Residual rows after each requested layer (1..L, increasing), for the flat rows `rows` of a
 * full-depth pass over ids [B][S]: one [M, C] tensor per layer. No exits; LoRA only when an
 * adapter is given. Callers own the returned tensors.
 */
export function residualRows(
  base: QwenModel,
  ids: readonly (readonly number[])[],
  attentionMask: readonly (readonly number[])[],
  layers: readonly number[],
  rows: readonly number[],
  adapter?: ProjectionAdapter,
): tf.Tensor2D[] {
  const { params, config } = base;
  const B = ids.length;
  const S = ids[0]?.length ?? 0;
  const C = config.hiddenSize;
  const L = config.numLayers;
  layers.forEach((layer, i) => {
    if (!Number.isInteger(layer) || layer < 1 || layer > L || (i > 0 && layer <= layers[i - 1]!)) {
      throw new Error(`residualRows: layers must be increasing integers in 1..${L}, got [${layers.join(", ")}]`);
    }
  });
  // One tidy per layer, so only the residual stream and the gathered rows outlive a layer.
  const context = attentionContext(config, attentionMask, null);
  const rowIndex = tf.tensor1d(rows as number[], "int32");
  const out: tf.Tensor2D[] = [];
  let hidden = tf.tidy(() => embed(params, tf.tensor2d(ids.map((r) => [...r]), [B, S], "int32"))); // [B, S, C]
  try {
    const last = layers[layers.length - 1] ?? 0;
    for (let l = 1; l <= last; l++) {
      const input = hidden;
      hidden = tf.tidy(() => decoderLayer(params.layers[l - 1]!, l - 1, config, input, context, null, { adapter }).hidden); // [B, S, C]
      input.dispose();
      if (layers.includes(l)) out.push(tf.tidy(() => tf.gather(tf.reshape(hidden, [B * S, C]), rowIndex) as tf.Tensor2D)); // [M, C]
    }
  } catch (error) {
    tf.dispose(out);
    throw error;
  } finally {
    tf.dispose([hidden, rowIndex, context.cos, context.sin, context.mask]);
  }
  return out;
}

/** log softmax over the last axis of [n, V] logits. */
function logSoftmaxRows(logits: tf.Tensor2D): tf.Tensor2D {
  return tf.sub(logits, tf.logSumExp(logits, 1, true)) as tf.Tensor2D;
}

/**
 * KL(q ‖ r_e) for residual rows: `lens[i]` [M, C] at e_i, `final` [M, C] at L → [M, m] on the
 * host (row-major), clamped at 0 (float round-off). Chunked over rows, one exit at a time.
 */
export async function divergencesOfRows(base: QwenModel, lens: readonly tf.Tensor2D[], final: tf.Tensor2D, chunkSize = 64): Promise<Float32Array> {
  const { params, config } = base;
  const [M, C] = final.shape;
  const m = lens.length;
  const out = new Float32Array(M * m);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new Error(`divergencesOfRows: chunkSize must be a positive integer, got ${chunkSize}`);
  for (let start = 0; start < M; start += chunkSize) {
    const n = Math.min(chunkSize, M - start);
    const chunk = tf.tidy(() => {
      const logQ = logSoftmaxRows(unembed(params, config, tf.slice(final, [start, 0], [n, C]))); // [n, V]
      const q = tf.exp(logQ); // [n, V]
      const columns = lens.map((h) =>
        tf.tidy(() => {
          const logR = logSoftmaxRows(unembed(params, config, tf.slice(h, [start, 0], [n, C]))); // [n, V]
          return tf.sum(tf.mul(q, tf.sub(logQ, logR)), 1); // [n]
        }),
      );
      return m > 0 ? tf.stack(columns, 1) : tf.zeros([n, 0]); // [n, m]
    });
    const values = (await chunk.data()) as Float32Array;
    chunk.dispose();
    for (let i = 0; i < values.length; i++) out[start * m + i] = Math.max(0, values[i]!);
  }
  return out;
}

export interface LayerDivergenceOptions {
  /** Generated positions per KL chunk, e.g. 64. */
  readonly chunkSize?: number;
  /** Sequences per teacher pass, e.g. 4. */
  readonly batchSize?: number;
  /** Id for left padding (masked out), default 0. */
  readonly padTokenId?: number;
  /** Called after each batch with (sequences done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** KL_{e,t} of the frozen base model for every generated token of every sequence, per e ∈ E. */
export async function computeLayerDivergences(
  base: QwenModel,
  exitLayers: readonly number[],
  sequences: readonly TokenSequence[],
  options: LayerDivergenceOptions = {},
): Promise<SequenceDivergences[]> {
  const batchSize = options.batchSize ?? 4;
  const L = base.config.numLayers;
  const m = exitLayers.length;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`computeLayerDivergences: batchSize must be a positive integer, got ${batchSize}`);
  exitLayers.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 1 || e >= L || (i > 0 && e <= exitLayers[i - 1]!)) {
      throw new Error(`computeLayerDivergences: exit layers must be increasing integers in 1..${L - 1}, got [${exitLayers.join(", ")}]`);
    }
  });
  const results: SequenceDivergences[] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const batch = sequences.slice(start, start + batchSize);
    const withTokens = batch.filter((s) => s.tokens.length > 0);
    let kl: Float32Array = new Float32Array(0);
    if (withTokens.length > 0) {
      const replay = replayBatch(withTokens, options.padTokenId ?? 0);
      const states = residualRows(base, replay.ids, replay.attentionMask, [...exitLayers, L], replay.rows);
      try {
        kl = await divergencesOfRows(base, states.slice(0, m), states[m]!, options.chunkSize ?? 64);
      } finally {
        tf.dispose(states);
      }
    }
    let offset = 0;
    for (const s of batch) {
      const T = s.tokens.length;
      results.push({ kl: kl.slice(offset * m, (offset + T) * m), tokenCount: T, exitCount: m });
      offset += T;
    }
    options.onProgress?.(Math.min(sequences.length, start + batchSize), sequences.length);
  }
  return results;
}

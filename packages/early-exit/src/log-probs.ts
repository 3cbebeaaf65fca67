// Differentiable augmented log-probabilities of generated sequences (METHOD.md §1, last bullet):
//
//   log π(x_t, y_t) = log P_exit(x_t) + log softmax(W_U · norm(h_{x_t}))[y_t]
//
// computed teacher-forced over prompt + completion with the sequences' own exits (model.ts
// explains the position ↔ token mapping). Only generated positions are unembedded; row picks
// use `gatherRows` (gather with a scatterND gradient; wasm has no gather gradient).
//
// Legend: N sequences, S padded replay length, M generated tokens in all, C hidden, V vocab,
// m exitable layers, Tmax longest completion.
import { defaultVocabularyChunkBytes, frozenChunkedTokenLogProbs, splitVocabularyColumns, tf, vocabularyChunkColumns, type VocabularyChunks } from "@eecot/tensor-core";
import { rmsNorm, unembed, type QwenParams } from "@eecot/transformer";
import { exitLogProbabilities, type ExitGateOptions } from "./exit-head.js";
import { replayInputs, type EarlyExitModel } from "./model.js";

/**
 * Rows `rows` of `table` [R, C] → [M, C], differentiable in the table (scatterND gradient). The
 * indices stay plain numbers until each pass needs them, so the gradient never reads an index
 * tensor that a tf.tidy around the forward pass has already disposed.
 */
export function gatherRows(table: tf.Tensor2D, rows: readonly number[]): tf.Tensor2D {
  const [R, C] = table.shape;
  const M = rows.length;
  const op = tf.customGrad((input) => ({
    value: tf.tidy(() => tf.gather(input as tf.Tensor2D, tf.tensor1d(rows as number[], "int32"))), // [M, C]
    gradFunc: (dy) => tf.tidy(() => tf.scatterND(tf.tensor2d(rows.map((r) => [r]), [M, 1], "int32"), dy as tf.Tensor2D, [R, C])), // [R, C]
  }));
  return op(table) as tf.Tensor2D;
}

/** A prompt, its completion and the completion's exits. */
export interface ScoredSequence {
  readonly promptTokens: readonly number[];
  readonly tokens: readonly number[];
  readonly exitLayers: readonly number[];
}

export interface SequenceLogProbOptions {
  /** Gate and offset of the exit distribution; default the model config's. */
  readonly gate?: ExitGateOptions;
  /** Apply LoRA (default true). */
  readonly loraEnabled?: boolean;
  /** LoRA dropout on (default false). */
  readonly training?: boolean;
  /** Id for left padding (masked out), default 0. */
  readonly padTokenId?: number;
  /**
   * Unembed in vocabulary chunks of this many columns, never holding [M, V] logits (the default
   * for vocabularies over CHUNKED_VOCABULARY_THRESHOLD, e.g. Qwen's 151,936); 0 = never.
   */
  readonly vocabularyChunkColumns?: number;
}

/** Vocabularies larger than this are unembedded in chunks by default. */
export const CHUNKED_VOCABULARY_THRESHOLD = 32768;

// One split of the (frozen) unembedding per model and chunk width, reused across calls.
const vocabularyChunkCache = new WeakMap<tf.Tensor2D, Map<number, VocabularyChunks>>();

/** The unembedding of `params` split into [C, columns] blocks, made once per model and width and kept (the weights are frozen). */
export function vocabularyChunksOf(params: QwenParams, columns: number): VocabularyChunks {
  let byWidth = vocabularyChunkCache.get(params.lmHeadT);
  if (!byWidth) vocabularyChunkCache.set(params.lmHeadT, (byWidth = new Map()));
  let chunks = byWidth.get(columns);
  if (!chunks) {
    chunks = splitVocabularyColumns(params.lmHeadT, columns);
    for (const chunk of chunks.chunks) tf.keep(chunk);
    byWidth.set(columns, chunks);
  }
  return chunks;
}

/** Per-token parts of the augmented log-probability, each [N, Tmax], 0 at padding. */
export interface SequenceLogProbParts {
  /** log P_exit(x_t) + log softmax(...)[y_t]. */
  readonly total: tf.Tensor2D;
  /** log P_exit(x_t). */
  readonly exit: tf.Tensor2D;
  /** log softmax(unembed(h_{x_t}))[y_t]. */
  readonly token: tf.Tensor2D;
}

/** Augmented log-probs [N, Tmax] of sequences under `model`, differentiable in its heads and LoRA. */
export function sequenceLogProbs(model: EarlyExitModel, sequences: readonly ScoredSequence[], options: SequenceLogProbOptions = {}): tf.Tensor2D {
  const parts = sequenceLogProbParts(model, sequences, options);
  tf.dispose([parts.exit, parts.token]);
  return parts.total;
}

/** The total and both of its terms (the caller disposes all three). */
export function sequenceLogProbParts(model: EarlyExitModel, sequences: readonly ScoredSequence[], options: SequenceLogProbOptions = {}): SequenceLogProbParts {
  const { config } = model.base;
  const L = model.numLayers;
  const m = model.exitLayers.length;
  const V = config.vocabSize;
  const C = config.hiddenSize;
  const N = sequences.length;
  const gate = options.gate ?? { offset: model.config.exitOffset, minExitProb: model.config.minExitProb };
  const Tmax = Math.max(0, ...sequences.map((s) => s.tokens.length));
  sequences.forEach((s, n) => {
    if (s.tokens.length !== s.exitLayers.length) throw new Error(`sequenceLogProbs: sequence ${n} has ${s.tokens.length} tokens but ${s.exitLayers.length} exit layers`);
    if (s.promptTokens.length === 0) throw new Error(`sequenceLogProbs: sequence ${n} has an empty prompt`);
    for (const id of [...s.promptTokens, ...s.tokens]) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`sequenceLogProbs: token id ${id} in sequence ${n} is outside the vocabulary 0..${V - 1}`);
    }
  });
  if (N === 0 || Tmax === 0) {
    const zeros = () => tf.zeros([N, Tmax]) as tf.Tensor2D;
    return { total: zeros(), exit: zeros(), token: zeros() };
  }

  // Replay rows, left-padded to S.
  const replays = sequences.map((s) => replayInputs(s.promptTokens, s.tokens, s.exitLayers, L));
  const S = Math.max(...replays.map((r) => r.ids.length));
  const pad = options.padTokenId ?? 0;
  const ids = replays.map((r) => [...Array<number>(S - r.ids.length).fill(pad), ...r.ids]);
  const exits = replays.map((r) => [...Array<number>(S - r.ids.length).fill(L), ...r.exits]);
  const attentionMask = replays.map((r) => [...Array<number>(S - r.ids.length).fill(0), ...r.ids.map(() => 1)]);

  // Generated token t of sequence n is predicted at flat row n·S + (S − len_n) + (P_n − 1) + t.
  const rowIndex: number[] = [];
  const targetIndex: number[] = [];
  const exitIndex: number[] = [];
  const outputIndex = new Array<number>(N * Tmax).fill(-1); // → index into the M picked values
  sequences.forEach((s, n) => {
    const start = n * S + (S - replays[n]!.ids.length) + s.promptTokens.length - 1;
    s.tokens.forEach((y, t) => {
      outputIndex[n * Tmax + t] = rowIndex.length;
      targetIndex.push(rowIndex.length * V + y);
      rowIndex.push(start + t);
      exitIndex.push(model.exitIndexOf(s.exitLayers[t]!));
    });
  });
  const M = rowIndex.length;
  const gatherIndex = outputIndex.map((i) => (i < 0 ? M : i)); // M = the zero row

  return tf.tidy(() => {
    const result = model.forwardPrescribed(ids, exits, { attentionMask, skipLogits: true, loraEnabled: options.loraEnabled, training: options.training });
    const hidden = gatherRows(tf.reshape(result.hidden, [N * S, C]) as tf.Tensor2D, rowIndex); // [M, C]
    const columns = options.vocabularyChunkColumns ?? (V > CHUNKED_VOCABULARY_THRESHOLD ? vocabularyChunkColumns(C, V, defaultVocabularyChunkBytes(), Math.max(1, M)) : 0);
    let token: tf.Tensor1D; // [M] log softmax(W_U · norm(h))[y]
    if (columns > 0 && columns < V) {
      const params = model.base.params;
      const normed = rmsNorm(hidden, params.norm, config.rmsNormEps) as tf.Tensor2D; // [M, C]
      token = frozenChunkedTokenLogProbs(normed, params.lmHeadT, columns, targetIndex.map((flat, i) => flat - i * V)); // blocks sliced per use, recomputed in the gradient
    } else {
      const logits = unembed(model.base.params, config, hidden); // [M, V]
      const picked = tf.reshape(gatherRows(tf.reshape(logits, [M * V, 1]) as tf.Tensor2D, targetIndex), [M]); // [M]
      token = tf.sub(picked, tf.logSumExp(logits, 1)) as tf.Tensor1D; // [M]
    }
    const exit =
      m > 0
        ? exitLogProbabilities(gatherRows(tf.reshape(result.exitLogits, [N * S, m]) as tf.Tensor2D, rowIndex), exitIndex, gate) // [M]
        : (tf.zeros([M]) as tf.Tensor1D);
    const spread = (values: tf.Tensor1D) => {
      const table = tf.reshape(tf.concat([values, tf.zeros([1])]), [M + 1, 1]) as tf.Tensor2D; // [M + 1, 1]
      return tf.reshape(gatherRows(table, gatherIndex), [N, Tmax]) as tf.Tensor2D; // [N, Tmax]
    };
    return { total: spread(tf.add(token, exit) as tf.Tensor1D), exit: spread(exit), token: spread(token) };
  });
}

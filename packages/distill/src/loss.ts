// Stage-1 loss (METHOD.md §2.5–2.6). Each teacher trajectory is replayed teacher-forced
// `exitSamplesPerSequence` times, each copy with its own exits x_t drawn from the targets. The
// student (LoRA on, exits prescribed: early-exit's parallel form) reads its prediction for
// token t at x_t, and per generated token
//
//   ℓ_t = KL(p_t ‖ q_t)  (reverse, default)  or  KL(q_t ‖ p_t)  (forward)
//         − log P_student(exit = x_t)
//
// where p_t = softmax(W_U · norm(h_{x_t})) is the student, q_t the frozen teacher's final
// distribution, and P_student the student's stick-breaking distribution from its heads, scored
// with offset 0 and no gate (minExitProb 0: a prescribed exit may sit below the inference gate,
// and the gate must pass gradient). The step loss is Σ ℓ_t / (tokens in the step), i.e. the
// mean over generated positions and samples; passes of one step share that normaliser, so
// gradient accumulation gives the same gradient as one big pass.
//
// exitLoss "soft" replaces the sampled −log P_student(x_t) by its Rao–Blackwellised form: with
// the target's conditional exit probabilities s_j = Q_t(e_j) / Q_t(reach e_j) and the head's
// p_j = sigmoid(z_j), the stick-breaking cross-entropy factorises as
//
//   CE(Q_t, P_t) = Σ_j Q_t(reach e_j) · BCE(s_j, p_j),   BCE(s, p) = −s log p − (1 − s) log(1 − p)
//
// and Σ_{j : e_j ≤ x_t} BCE(s_j, p_j) with x_t ~ Q_t is an unbiased estimate of it that only reads
// heads the copy actually reached (a frozen residual never feeds a head). Same expected
// gradient as the sampled term (up to the target entropy, a constant), far less variance.
//
// Legend: R rows (sequences × samples), S padded replay length, M generated tokens in the
// rows, U generated tokens of the distinct sequences, C hidden, V vocab, m exitable layers.
import { defaultVocabularyChunkBytes, tf, vocabularyChunkColumns, type VocabularyChunks } from "@eecot/tensor-core";
import { rmsNorm, unembed } from "@eecot/transformer";
import { CHUNKED_VOCABULARY_THRESHOLD, exitLogProbabilities, gatherRows, logSigmoid, replayInputs, vocabularyChunksOf, type EarlyExitModel } from "@eecot/early-exit";
import { chunkedTokenKl } from "./chunked-kl.js";
import type { ExitLossKind, KlDirection } from "./config.js";
import { replayBatch, residualRows, type TokenSequence } from "./divergence.js";

/** Sequences of one pass and the exits prescribed for each copy of them. */
export interface PrescribedPass {
  /** Distinct trajectories (each with at least one generated token). */
  readonly sequences: readonly TokenSequence[];
  /** exitLayers[b][j][t]: exit of token t in copy j of sequence b (each in E ∪ {L}). */
  readonly exitLayers: readonly (readonly (readonly number[])[])[];
  /** targets[b][t]: the target distribution Q_t over E ∪ {L} of token t of sequence b (needed by exitLoss "soft"). */
  readonly targets?: readonly (readonly (readonly number[])[])[];
}

/** Conditional exit probabilities s_j = Q(e_j) / (1 − Σ_{i<j} Q(e_i)) of a target over E ∪ {L} (m values in [0, 1]). */
export function conditionalExitProbabilities(target: readonly number[]): number[] {
  const out: number[] = [];
  let remaining = 1;
  for (let j = 0; j < target.length - 1; j++) {
    const q = target[j]!;
    out.push(remaining > 1e-12 ? Math.min(1, Math.max(0, q / remaining)) : 0);
    remaining -= q;
  }
  return out;
}

/**
 * Σ_{j ≤ exitIndex[n]} BCE(conditionals[n][j], sigmoid(exitLogits[n, j])) per row → [N]: the soft
 * exit term of one token whose copy reached exit index k (0..m; m = ran to L), differentiable
 * in the logits. Offset 0 and no gate, like the sampled term.
 */
export function softExitCrossEntropy(exitLogits: tf.Tensor2D, exitIndex: readonly number[], conditionals: readonly (readonly number[])[]): tf.Tensor1D {
  const [N, m] = exitLogits.shape;
  if (exitIndex.length !== N || conditionals.length !== N) throw new Error(`softExitCrossEntropy: ${exitIndex.length} exit indices and ${conditionals.length} targets for ${N} rows`);
  const reached = new Float32Array(N * m); // 1 where e_j ≤ x_t
  const labels = new Float32Array(N * m); // s_j
  exitIndex.forEach((k, n) => {
    const s = conditionals[n]!;
    if (s.length !== m) throw new Error(`softExitCrossEntropy: row ${n} has ${s.length} conditional probabilities for ${m} exits`);
    for (let j = 0; j < m; j++) {
      if (j <= k) reached[n * m + j] = 1;
      labels[n * m + j] = s[j]!;
    }
  });
  return tf.tidy(() => (m === 0 ? (tf.zeros([N]) as tf.Tensor1D) : weightedExitBce(exitLogits, tf.tensor2d(labels, [N, m]), tf.tensor2d(reached, [N, m]))));
}

/**
 * Σ_j w[n, j] · BCE(s[n, j], sigmoid(z[n, j])) per row → [N], differentiable in the logits z
 * [N, m]. With w = 1 on the exits a copy reached it is the soft exit term above; with w = the
 * target's reach probabilities Q(reach e_j) it is the full cross-entropy −Σ Q log P of the
 * stick-breaking distributions (the head warm-up's loss, head-warmup.ts).
 */
export function weightedExitBce(exitLogits: tf.Tensor2D, labels: tf.Tensor2D, weights: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const bce = tf.neg(tf.add(tf.mul(labels, logSigmoid(exitLogits)), tf.mul(tf.sub(1, labels), logSigmoid(tf.neg(exitLogits))))); // [N, m]
    return tf.sum(tf.mul(bce, weights), 1) as tf.Tensor1D;
  });
}

/** Q(reach e_j) = 1 − Σ_{i<j} Q(e_i) for the m exitable layers of a target over E ∪ {L}. */
export function reachProbabilities(target: readonly number[]): number[] {
  const out: number[] = [];
  let remaining = 1;
  for (let j = 0; j < target.length - 1; j++) {
    out.push(Math.max(0, remaining));
    remaining -= target[j]!;
  }
  return out;
}

/** log softmax over the last axis, written with logSumExp (its gradient works on every backend). */
export function logSoftmaxRows(logits: tf.Tensor2D): tf.Tensor2D {
  return tf.sub(logits, tf.logSumExp(logits, 1, true)) as tf.Tensor2D;
}

/** The frozen teacher's log q_t for every generated token of `sequences` → [U, V] (no gradient). */
export function teacherLogProbabilities(model: EarlyExitModel, sequences: readonly TokenSequence[], padTokenId = 0): tf.Tensor2D {
  const { base } = model;
  const replay = replayBatch(sequences, padTokenId);
  const [final] = residualRows(base, replay.ids, replay.attentionMask, [base.config.numLayers], replay.rows); // [U, C]
  try {
    return tf.tidy(() => logSoftmaxRows(unembed(base.params, base.config, final!))); // [U, V]
  } finally {
    final!.dispose();
  }
}

/**
 * The frozen teacher of a pass in vocabulary chunks: its final-normed hidden state [U, C] per
 * generated token (0.6 GB of [U, V] log-probs per 1,000 tokens become 6 MB at C = 1536); the
 * loss recomputes the teacher's logits chunk by chunk.
 */
export interface ChunkedTeacher {
  readonly normedHidden: tf.Tensor2D; // [U, C]
  readonly vocabulary: VocabularyChunks;
}

/** Vocabulary columns per chunk for stage 1: 0 (full width) up to CHUNKED_VOCABULARY_THRESHOLD, else [C, Vc] blocks of defaultVocabularyChunkBytes() (64 MiB; 16 MiB on wasm). */
export function defaultDistillChunkColumns(hiddenSize: number, vocabSize: number): number {
  return vocabSize > CHUNKED_VOCABULARY_THRESHOLD ? vocabularyChunkColumns(hiddenSize, vocabSize, defaultVocabularyChunkBytes()) : 0;
}

/**
 * The teacher for `sequences`: full-width log-probs [U, V] when `columns` is 0 or covers the
 * vocabulary, else a ChunkedTeacher. The caller disposes it with `disposeTeacher`.
 */
export function teacherForPass(model: EarlyExitModel, sequences: readonly TokenSequence[], columns: number, padTokenId = 0): tf.Tensor2D | ChunkedTeacher {
  const { base } = model;
  if (columns <= 0 || columns >= base.config.vocabSize) return teacherLogProbabilities(model, sequences, padTokenId);
  const replay = replayBatch(sequences, padTokenId);
  const [final] = residualRows(base, replay.ids, replay.attentionMask, [base.config.numLayers], replay.rows); // [U, C]
  try {
    return { normedHidden: tf.tidy(() => rmsNorm(final!, base.params.norm, base.config.rmsNormEps) as tf.Tensor2D), vocabulary: vocabularyChunksOf(base.params, columns) };
  } finally {
    final!.dispose();
  }
}

/** Frees what `teacherForPass` made (the shared vocabulary chunks stay). */
export function disposeTeacher(teacher: tf.Tensor2D | ChunkedTeacher): void {
  if (teacher instanceof tf.Tensor) teacher.dispose();
  else teacher.normedHidden.dispose();
}

/** Per-token KL of student log-probs against teacher log-probs, both [M, V] → [M]. */
export function tokenKl(studentLogProbs: tf.Tensor2D, teacherLogProbs: tf.Tensor2D, direction: KlDirection): tf.Tensor1D {
  return tf.tidy(() => {
    const difference = tf.sub(studentLogProbs, teacherLogProbs); // log p − log q  [M, V]
    return (direction === "reverse"
      ? tf.sum(tf.mul(tf.exp(studentLogProbs), difference), 1) // Σ p (log p − log q)
      : tf.sum(tf.mul(tf.exp(teacherLogProbs), tf.neg(difference)), 1)) as tf.Tensor1D; // Σ q (log q − log p)
  });
}

export interface DistillLossOptions {
  /** Token term direction, e.g. "reverse". */
  readonly klDirection: KlDirection;
  /** Σ ℓ_t is divided by this (the step's token count). */
  readonly normalizer: number;
  /** Id for left padding, default 0. */
  readonly padTokenId?: number;
  /** LoRA dropout on (training passes), default true. */
  readonly training?: boolean;
  /** Exit term: "sampled" −log P(x_t) (METHOD.md §2.6, default) or its Rao–Blackwellised "soft" form (needs pass.targets). */
  readonly exitLoss?: ExitLossKind;
}

/** Sums over the pass's tokens (scalars), and the loss = (klSum + exitNllSum) / normalizer. */
export interface DistillLossParts {
  readonly loss: tf.Scalar;
  readonly klSum: tf.Scalar;
  readonly exitNllSum: tf.Scalar;
  /** Generated tokens M in the pass (over all copies). */
  readonly tokenCount: number;
}

/**
 * The loss of one pass, differentiable in the model's LoRA and heads. The teacher comes from
 * `teacherLogProbabilities(model, pass.sequences)` ([U, V] log-probs) or `teacherForPass`
 * (either, or a ChunkedTeacher: the same loss without [M, V] logits), computed outside any
 * gradient.
 */
export function distillationLoss(model: EarlyExitModel, pass: PrescribedPass, teacher: tf.Tensor2D | ChunkedTeacher, options: DistillLossOptions): DistillLossParts {
  const chunked = teacher instanceof tf.Tensor ? null : teacher;
  const teacherRows = chunked ? chunked.normedHidden.shape[0] : (teacher as tf.Tensor2D).shape[0];
  const { base } = model;
  const L = model.numLayers;
  const m = model.exitLayers.length;
  const C = base.config.hiddenSize;
  if (pass.exitLayers.length !== pass.sequences.length) throw new Error(`distillationLoss: exits for ${pass.exitLayers.length} sequences, ${pass.sequences.length} given`);
  if (!(options.normalizer > 0)) throw new Error(`distillationLoss: normalizer must be > 0, got ${options.normalizer}`);

  // Student rows: every copy of every sequence; teacher row of each student token.
  const rows: TokenSequence[] = [];
  const exits: number[][] = [];
  const teacherRow: number[] = [];
  const exitIndex: number[] = [];
  const conditionals: number[][] = [];
  const soft = (options.exitLoss ?? "sampled") === "soft";
  if (soft && pass.targets?.length !== pass.sequences.length) throw new Error(`distillationLoss: exitLoss "soft" needs targets for each of the ${pass.sequences.length} sequences`);
  let offset = 0;
  pass.sequences.forEach((sequence, b) => {
    const T = sequence.tokens.length;
    if (T === 0) throw new Error(`distillationLoss: sequence ${b} has no generated tokens`);
    const sequenceConditionals = soft ? pass.targets![b]!.map(conditionalExitProbabilities) : [];
    if (soft && sequenceConditionals.length !== T) throw new Error(`distillationLoss: sequence ${b} has ${T} tokens but ${sequenceConditionals.length} targets`);
    for (const copy of pass.exitLayers[b]!) {
      if (copy.length !== T) throw new Error(`distillationLoss: sequence ${b} has ${T} tokens but a copy with ${copy.length} exits`);
      rows.push(sequence);
      exits.push(replayInputs(sequence.promptTokens, sequence.tokens, copy, L).exits);
      copy.forEach((x, t) => {
        teacherRow.push(offset + t);
        exitIndex.push(model.exitIndexOf(x));
        if (soft) conditionals.push(sequenceConditionals[t]!);
      });
    }
    offset += T;
  });
  if (teacherRows !== offset) throw new Error(`distillationLoss: the teacher has ${teacherRows} rows for ${offset} generated tokens`);
  const replay = replayBatch(rows, options.padTokenId ?? 0);
  const S = replay.width;
  const paddedExits = exits.map((row) => [...Array<number>(S - row.length).fill(L), ...row]);
  const M = replay.rows.length;

  return tf.tidy(() => {
    const result = model.forwardPrescribed(replay.ids, paddedExits, { attentionMask: replay.attentionMask, skipLogits: true, training: options.training ?? true });
    const R = rows.length;
    const hidden = gatherRows(tf.reshape(result.hidden, [R * S, C]) as tf.Tensor2D, replay.rows); // [M, C] = h_{x_t}
    let tokenKls: tf.Tensor1D; // [M]
    if (chunked) {
      const studentNormed = rmsNorm(hidden, base.params.norm, base.config.rmsNormEps) as tf.Tensor2D; // [M, C]
      const teacherNormed = tf.gather(chunked.normedHidden, tf.tensor1d(teacherRow, "int32")) as tf.Tensor2D; // [M, C], constant
      tokenKls = chunkedTokenKl(studentNormed, teacherNormed, chunked.vocabulary, options.klDirection);
    } else {
      const studentLogProbs = logSoftmaxRows(unembed(base.params, base.config, hidden)); // [M, V]
      const teacherLogProbs = tf.gather(teacher as tf.Tensor2D, tf.tensor1d(teacherRow, "int32")) as tf.Tensor2D; // [M, V], constant
      tokenKls = tokenKl(studentLogProbs, teacherLogProbs, options.klDirection);
    }
    const klSum = tf.sum(tokenKls) as tf.Scalar;
    const tokenExitLogits = () => gatherRows(tf.reshape(result.exitLogits, [R * S, m]) as tf.Tensor2D, replay.rows); // [M, m]
    const exitNllSum = (m === 0
      ? tf.scalar(0)
      : soft
        ? tf.sum(softExitCrossEntropy(tokenExitLogits(), exitIndex, conditionals))
        : tf.neg(tf.sum(exitLogProbabilities(tokenExitLogits(), exitIndex, { offset: 0, minExitProb: 0 })))) as tf.Scalar;
    const loss = tf.div(tf.add(klSum, exitNllSum), options.normalizer) as tf.Scalar;
    return { loss, klSum, exitNllSum, tokenCount: M };
  }) as unknown as DistillLossParts;
}

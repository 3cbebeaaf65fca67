// Exit heads and the stick-breaking exit distribution (METHOD.md §1).
//
// Legend: N tokens, C hidden, m exitable layers (E = e_1 < … < e_m), L depth.
//
//   z_i      = W2 · relu(W1 · h_{e_i} + b1) + b2            one logit per token and exit
//   p_i      = sigmoid(z_i + offset)                        exit probability at e_i
//   gate     p_i := 0 where p_i < minExitProb               (the sampled AND scored distribution)
//   P(e_i)   = p_i · Π_{j<i} (1 − p_j)                      stick-breaking over E ∪ {L}
//   P(L)     = Π_j (1 − p_j)
//
// Log-probabilities use log-sigmoid forms, log p = −softplus(−a), log(1 − p) = −softplus(a),
// so they stay finite for large |z|. A gated-out exit contributes factor 1 (log 0 = 0 in the
// product) to later exits. Scoring never gates out the action being scored: an exit the gate
// would forbid gets log p_i instead of −∞. The sampler never produces such an action, so for
// every sampled action this IS the gated log-probability; the exception only keeps scores finite
// when a policy is asked about another policy's action (the frozen reference, or a float
// disagreement exactly at the gate threshold).
//
// Initialisation: W1 ~ U(±1/√C) (PyTorch nn.Linear), b1 = 0, W2 = 0, b2 = headInitialBias
// (default −4, p = sigmoid(−4) ≈ 0.018, below the default gate 0.1). A fresh model therefore
// behaves exactly like the base model until the heads are trained (stage 1); W2 = 0 means W1's
// gradient is 0 on the first step, as with LoRA's B = 0.
import { tf, linear } from "@eecot/tensor-core";

/** One exit head, weights stored [in, out] so each product is a plain 2-D matMul. */
export interface ExitHead {
  /** The exitable layer e it reads h_e from (1-based). */
  readonly layer: number;
  readonly w1T: tf.Variable<tf.Rank.R2>; // [C, 2C]  (fc1.weight transposed)
  readonly b1: tf.Variable<tf.Rank.R1>; // [2C]
  readonly w2T: tf.Variable<tf.Rank.R2>; // [2C, 1]  (fc2.weight transposed)
  readonly b2: tf.Variable<tf.Rank.R1>; // [1]
}

/** How exit logits become a distribution. */
export interface ExitGateOptions {
  /** Added to every head logit before the sigmoid, e.g. 0. */
  readonly offset: number;
  /** p_e below this is set to 0 (0 disables the gate), e.g. 0.1. */
  readonly minExitProb: number;
}

/** Fresh heads for the given exitable layers (see the initialisation note above). */
export function createExitHeads(hiddenSize: number, layers: readonly number[], options: { initialBias: number; seed: number; trainable?: boolean }): ExitHead[] {
  const C = hiddenSize;
  const bound = 1 / Math.sqrt(C);
  const trainable = options.trainable ?? true;
  return layers.map((layer, i) =>
    tf.tidy(() => ({
      layer,
      w1T: tf.variable(tf.randomUniform([C, 2 * C], -bound, bound, "float32", options.seed * 7919 + 17 * i + 1), trainable) as tf.Variable<tf.Rank.R2>,
      b1: tf.variable(tf.zeros([2 * C]), trainable) as tf.Variable<tf.Rank.R1>,
      w2T: tf.variable(tf.zeros([2 * C, 1]), trainable) as tf.Variable<tf.Rank.R2>,
      b2: tf.variable(tf.fill([1], options.initialBias), trainable) as tf.Variable<tf.Rank.R1>,
    })),
  );
}

/** Every variable of a set of heads, in a fixed order (w1T, b1, w2T, b2 per head). */
export function exitHeadVariables(heads: readonly ExitHead[]): tf.Variable[] {
  return heads.flatMap((h) => [h.w1T, h.b1, h.w2T, h.b2]);
}

/** Copies of heads as new variables (trainable or frozen). */
export function cloneExitHeads(heads: readonly ExitHead[], trainable: boolean): ExitHead[] {
  return heads.map((h) => ({
    layer: h.layer,
    w1T: tf.variable(h.w1T, trainable) as tf.Variable<tf.Rank.R2>,
    b1: tf.variable(h.b1, trainable) as tf.Variable<tf.Rank.R1>,
    w2T: tf.variable(h.w2T, trainable) as tf.Variable<tf.Rank.R2>,
    b2: tf.variable(h.b2, trainable) as tf.Variable<tf.Rank.R1>,
  }));
}

export function disposeExitHeads(heads: readonly ExitHead[]): void {
  tf.dispose(exitHeadVariables(heads));
}

/** z = W2 · relu(W1 · h + b1) + b2 for residual states [N, C] → [N]. */
export function exitHeadLogits(head: ExitHead, hidden: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const inner = tf.relu(linear(hidden, head.w1T, head.b1)) as tf.Tensor2D; // [N, 2C]
    const z = linear(inner, head.w2T, head.b2); // [N, 1]
    return tf.reshape(z, [hidden.shape[0]]) as tf.Tensor1D; // [N]
  });
}

// ---------------------------------------------------------------------------------------------
// Differentiable forms (training, scoring)

/** log sigmoid(x) = min(x, 0) − log1p(exp(−|x|)), stable for any x. */
export function logSigmoid(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.sub(tf.minimum(x, 0), tf.log1p(tf.exp(tf.neg(tf.abs(x))))));
}

/**
 * log P(exit = exitIndex[n]) of the gated stick-breaking distribution, differentiable in the
 * exit logits. `exitLogits` [N, m]; `exitIndex[n]` ∈ 0..m, where m means "ran to L". The gate
 * mask is data (no gradient through the threshold). See the file header for the one exception.
 */
export function exitLogProbabilities(exitLogits: tf.Tensor2D, exitIndex: readonly number[], options: ExitGateOptions): tf.Tensor1D {
  const [N, m] = exitLogits.shape;
  if (exitIndex.length !== N) throw new Error(`exitLogProbabilities: ${exitIndex.length} exit indices for ${N} rows`);
  const before = new Float32Array(N * m); // 1 where e_j < x (the token passed e_j)
  const chosen = new Float32Array(N * m); // 1 where e_j = x
  exitIndex.forEach((k, n) => {
    if (!Number.isInteger(k) || k < 0 || k > m) throw new Error(`exitLogProbabilities: exit index ${k} at row ${n} is not in 0..${m}`);
    for (let j = 0; j < m; j++) {
      if (j < k) before[n * m + j] = 1;
      if (j === k) chosen[n * m + j] = 1;
    }
  });
  return tf.tidy(() => {
    if (m === 0) return tf.zeros([N]) as tf.Tensor1D;
    const a = tf.add(exitLogits, options.offset); // [N, m]
    const chosenMask = tf.tensor2d(chosen, [N, m]);
    // Gate (data, not differentiated): keep p_j ≥ minExitProb, and always the chosen exit.
    const open = tf.cast(tf.greaterEqual(tf.sigmoid(a), options.minExitProb), "float32"); // [N, m]
    const keep = tf.maximum(open, chosenMask); // [N, m]
    const passed = tf.mul(tf.tensor2d(before, [N, m]), keep); // [N, m]
    const logStay = logSigmoid(tf.neg(a)); // log(1 − p) [N, m]
    const logExit = logSigmoid(a); // log p [N, m]
    const total = tf.add(tf.mul(passed, logStay), tf.mul(chosenMask, logExit)); // [N, m]
    return tf.sum(total, 1) as tf.Tensor1D; // [N]
  });
}

/** The gated stick-breaking distribution over E ∪ {L} for exit logits [N, m] → [N, m + 1]. */
export function exitDistribution(exitLogits: tf.Tensor2D, options: ExitGateOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const [N, m] = exitLogits.shape;
    const p = tf.sigmoid(tf.add(exitLogits, options.offset)); // [N, m]
    const gated = tf.mul(p, tf.cast(tf.greaterEqual(p, options.minExitProb), "float32")); // [N, m]
    const stay = tf.sub(1, gated); // [N, m]
    // survive_i = Π_{j<i} (1 − p_j): exclusive cumulative product, as exp(cumsum(log)) is not
    // exact at p = 1, so build it column by column (m is small).
    const columns: tf.Tensor[] = [];
    let survive: tf.Tensor = tf.ones([N, 1]);
    for (let i = 0; i < m; i++) {
      const pi = tf.slice(gated, [0, i], [N, 1]);
      columns.push(tf.mul(survive, pi));
      survive = tf.mul(survive, tf.slice(stay, [0, i], [N, 1]));
    }
    columns.push(survive);
    return tf.concat(columns, 1) as tf.Tensor2D; // [N, m + 1]
  });
}

// ---------------------------------------------------------------------------------------------
// Host forms (generation): one token, float64

/** log sigmoid(x) in float64. */
export function logSigmoidScalar(x: number): number {
  return Math.min(x, 0) - Math.log1p(Math.exp(-Math.abs(x)));
}

/** Gated exit probability of one head logit. */
export function gatedExitProbability(logit: number, options: ExitGateOptions): number {
  const p = 1 / (1 + Math.exp(-(logit + options.offset)));
  return p >= options.minExitProb ? p : 0;
}

/** The gated stick-breaking distribution of one token's m head logits → m + 1 probabilities. */
export function exitDistributionOf(logits: readonly number[], options: ExitGateOptions): number[] {
  const out: number[] = [];
  let survive = 1;
  for (const z of logits) {
    const p = gatedExitProbability(z, options);
    out.push(survive * p);
    survive *= 1 - p;
  }
  out.push(survive);
  return out;
}

/** log P(exit index k) for one token's head logits (host twin of `exitLogProbabilities`). */
export function exitLogProbabilityOf(logits: readonly number[], k: number, options: ExitGateOptions): number {
  let total = 0;
  for (let j = 0; j < Math.min(k, logits.length); j++) {
    const a = logits[j]! + options.offset;
    if (gatedExitProbability(logits[j]!, options) > 0) total += logSigmoidScalar(-a);
  }
  if (k < logits.length) total += logSigmoidScalar(logits[k]! + options.offset);
  return total;
}

// The RLOO policy-gradient loss (METHOD.md §3):
//
//   loss = −(1/N) Σ_i A_i · (1/T_i) Σ_{t ≤ T_i} log π(a_{i,t})
//
// N rollouts, advantages A_i held constant, log π the augmented (exit + token) log-prob.
// Legend: N rollouts, T padded generation length.

import { tf } from "@eecot/tensor-core";

/**
 * @param logProbs  [N, T] differentiable log π(a_t) from `policy.sequenceLogProbs`, 0 at padding
 * @param advantages [N] A_i
 * @param lengths    [N] T_i; positions t ≥ T_i are masked out (rollouts with T_i = 0 contribute 0)
 * @param totalRollouts the N of the 1/N: the step's rollout count when these rows are one
 *   micro-batch of it (gradient accumulation), default the rows given
 * @returns scalar loss
 */
export function rlooLoss(logProbs: tf.Tensor2D, advantages: readonly number[], lengths: readonly number[], totalRollouts = logProbs.shape[0]): tf.Scalar {
  const [N, T] = logProbs.shape;
  if (advantages.length !== N || lengths.length !== N) {
    throw new Error(`rloo loss: log-probs are [${N}, ${T}] but got ${advantages.length} advantages and ${lengths.length} lengths`);
  }
  // weights[i, t] = A_i / (N · T_i) for t < T_i, else 0
  const weights = new Float32Array(N * T);
  for (let i = 0; i < N; i++) {
    const length = lengths[i]!;
    if (length > T) throw new Error(`rloo loss: rollout ${i} has ${length} tokens but log-probs have only ${T} positions`);
    const weight = length > 0 ? advantages[i]! / (totalRollouts * length) : 0;
    weights.fill(weight, i * T, i * T + length);
  }
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(logProbs, tf.tensor2d(weights, [N, T]))))) as tf.Scalar; // []
}

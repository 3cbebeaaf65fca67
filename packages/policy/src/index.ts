// @eecot/policy: the augmented-vocabulary policy contract (METHOD.md §1, last bullet; §3).
//
// Types only. A policy's action at each generated position is the pair (x_t, y_t): the layer
// the token exits at and the token itself, with
//   log π(x_t, y_t) = log P_exit(x_t) + log softmax(W_U · norm(h_{x_t}))[y_t].
// `@eecot/rloo` trains against this interface and never sees a transformer; `@eecot/early-exit`
// implements it for a real decoder, and rloo's tests implement it for a toy categorical policy.

import type { Tensor2D, Variable } from "@tensorflow/tfjs-core";

/** One sampled completion with its per-token exit decisions. */
export interface PolicyRollout {
  /** Index of the prompt in the request's `prompts` array. */
  readonly promptIndex: number;
  /** Token ids of the prompt (after chat formatting), e.g. [151644, 872, ...]. */
  readonly promptTokens: readonly number[];
  /** Generated token ids y_1..y_T (stop token included when one was emitted). */
  readonly tokens: readonly number[];
  /** Exit layer x_t of each generated token, 1-based; `numLayers` means full depth. */
  readonly exitLayers: readonly number[];
  /** Augmented log π(x_t, y_t) under the policy that sampled it (no gradient). */
  readonly logProbs: readonly number[];
  /** Entropy (nats) of the exit distribution at each generated token, when the policy knows it. */
  readonly exitEntropies?: readonly number[];
  /** Decoded completion text (stop token removed). */
  readonly text: string;
  /** True when generation ended on a stop token rather than the length limit. */
  readonly finished: boolean;
}

/** What to sample: `samplesPerPrompt` rollouts for each prompt. */
export interface RolloutRequest {
  /** Prompts as text; the policy applies its own chat template. */
  readonly prompts: readonly string[];
  /** Rollouts per prompt (RLOO's k), e.g. 4. */
  readonly samplesPerPrompt: number;
  /** Generation limit per rollout, e.g. 128. */
  readonly maxNewTokens: number;
  /** Token sampling temperature, e.g. 1.0. */
  readonly temperature: number;
  /** Seed for this request's random draws (tokens and exits), e.g. 1234. */
  readonly seed: number;
}

/** Trainable variables by parameter group, each group with its own learning rate. */
export interface TrainableGroups {
  /** LoRA adapter matrices (A and B of every adapted projection). */
  readonly lora: readonly Variable[];
  /** Exit-head MLP weights and biases. */
  readonly heads: readonly Variable[];
}

/** The contract between an RL trainer and an early-exit language model. */
export interface AugmentedVocabularyPolicy {
  /** Full depth L; exit layers are in 1..L. */
  readonly numLayers: number;
  /** The exitable layers e_1 < … < e_m (L itself excluded). */
  readonly exitLayers: readonly number[];
  /** Sample rollouts with per-token exit layers from the current (stochastic, gated) policy. */
  sampleRollouts(request: RolloutRequest): Promise<PolicyRollout[]>;
  /**
   * Differentiable augmented log-probs of the given rollouts' actions under the current policy:
   * a [N, Tmax] tensor (N = rollouts.length), 0 at padding positions t ≥ T_i. Call it inside
   * `tf.variableGrads` / `optimizer.minimize` to get gradients for `trainableVariables()`.
   */
  sequenceLogProbs(rollouts: readonly PolicyRollout[]): Tensor2D;
  /** Augmented log-probs under the frozen reference policy (stage-1 result), no gradient. */
  referenceLogProbs(rollouts: readonly PolicyRollout[]): Promise<number[][]>;
  /** The variables RL optimises, grouped for per-group learning rates. */
  trainableVariables(): TrainableGroups;
}

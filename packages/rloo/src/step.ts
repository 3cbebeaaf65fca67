// One RLOO step against the augmented-vocabulary policy contract (METHOD.md §3):
//   1. sample k rollouts per prompt:      (x_t, y_t) ~ π
//   2. score them:                        R_i = r_task − λ·mean_t x_t/L − β·mean_t(log π − log π_ref)
//   3. baseline per prompt group:         A_i = R_i − mean_{j≠i} R_j
//   4. loss and gradient:                 ∇ −mean_i A_i · mean_t log π(a_t)
//   5. clip the global gradient norm, one Adam update per parameter group (lora, heads).

import { tf } from "@eecot/tensor-core";
import type { AugmentedVocabularyPolicy, PolicyRollout } from "@eecot/policy";
import type { RlooConfig } from "./config.js";
import { AdamOptimizer, DEFAULT_ADAM_SETTINGS } from "./adam.js";
import { computeAdvantages } from "./advantages.js";
import { RlooNonFiniteError } from "./errors.js";
import { rlooLoss } from "./loss.js";
import { computeRolloutReward, type RolloutReward, type TaskReward, type TaskRewardFunction } from "./rewards.js";

/** One training prompt and the reference answer its task reward compares against. */
export interface RlooExample {
  /** Prompt text, e.g. "Natalia sold clips to 48 of her friends ...". */
  readonly prompt: string;
  /** Reference answer, e.g. "72". */
  readonly reference: string;
}

/** One Adam optimiser per trainable parameter group. */
export interface RlooOptimizers {
  readonly lora: AdamOptimizer;
  readonly heads: AdamOptimizer;
}

/** Everything a step needs besides the batch. */
export interface RlooStepContext {
  readonly policy: AugmentedVocabularyPolicy;
  readonly config: RlooConfig;
  readonly taskReward: TaskRewardFunction;
  readonly optimizers: RlooOptimizers;
}

/** Rollouts with their rewards and advantages (steps 1–3). */
export interface ScoredRollouts {
  readonly rollouts: readonly PolicyRollout[];
  readonly taskRewards: readonly TaskReward[];
  readonly rewards: readonly RolloutReward[];
  readonly advantages: readonly number[];
  readonly referenceLogProbs: readonly (readonly number[])[];
}

/** What one step reports; per-token metrics pool all generated tokens of the step (METHOD.md §4). */
export interface RlooStepMetrics {
  /** 1-based optimiser step this batch was used for. */
  readonly step: number;
  /** mean_i R_i. */
  readonly reward: number;
  /** mean_i of each reward part: r_task, λ·compute, β·KL (reward = task − exitPenalty − klPenalty). */
  readonly rewardParts: { readonly task: number; readonly exitPenalty: number; readonly klPenalty: number };
  /** Fraction of rollouts whose task reward says `correct`. */
  readonly taskAccuracy: number;
  /** Fraction of rollouts whose task reward says `formatOk`. */
  readonly formatRate: number;
  /** Σ x_t/L over all tokens / number of tokens (= 1 − ALS). */
  readonly averageCompute: number;
  /** ALS = Σ (L − x_t)/L over all tokens / number of tokens. */
  readonly averageLayerSavings: number;
  /** Fraction of tokens with x_t < L. */
  readonly earlyExitRate: number;
  /** Mean x_t over all tokens. */
  readonly meanExitLayer: number;
  /** mean_i T_i. */
  readonly meanLength: number;
  /** mean_i T_i × (rollout i's average compute) = mean_i Σ_t x_t/L, in full-depth token equivalents. */
  readonly totalCompute: number;
  /** Σ (log π − log π_ref) over all tokens / number of tokens. */
  readonly klToReference: number;
  /** Mean exit-distribution entropy (nats) per token, or null when the policy does not report it. */
  readonly exitEntropy: number | null;
  /** Global gradient norm before clipping. */
  readonly gradientNorm: number;
  /** The RLOO loss. */
  readonly loss: number;
  /** Rollouts in the step (promptsPerStep × samplesPerPrompt). */
  readonly rolloutCount: number;
}

export function createRlooOptimizers(policy: AugmentedVocabularyPolicy, config: RlooConfig): RlooOptimizers {
  const { lora, heads } = policy.trainableVariables();
  return {
    lora: new AdamOptimizer(lora, { ...DEFAULT_ADAM_SETTINGS, learningRate: config.learningRates.lora }),
    heads: new AdamOptimizer(heads, { ...DEFAULT_ADAM_SETTINGS, learningRate: config.learningRates.heads }),
  };
}

/** Steps 1–3: sample, score and baseline rollouts for `examples`. */
export async function sampleAndScore(
  policy: AugmentedVocabularyPolicy,
  config: RlooConfig,
  taskReward: TaskRewardFunction,
  examples: readonly RlooExample[],
  seed: number,
): Promise<ScoredRollouts> {
  const k = config.samplesPerPrompt;
  const sampled = await policy.sampleRollouts({
    prompts: examples.map((e) => e.prompt),
    samplesPerPrompt: k,
    maxNewTokens: config.maxNewTokens,
    temperature: config.temperature,
    seed,
  });
  const rollouts = checkRollouts(sampled, examples.length, k, policy.numLayers);
  const referenceLogProbs = await policy.referenceLogProbs(rollouts);
  if (referenceLogProbs.length !== rollouts.length) {
    throw new Error(`rloo: referenceLogProbs returned ${referenceLogProbs.length} rows for ${rollouts.length} rollouts`);
  }
  const taskRewards = rollouts.map((rollout) => {
    const example = examples[rollout.promptIndex]!;
    return taskReward(example.prompt, rollout.text, example.reference);
  });
  const rewards = rollouts.map((rollout, i) =>
    computeRolloutReward({
      taskReward: taskRewards[i]!.reward,
      exitLayers: rollout.exitLayers,
      logProbs: rollout.logProbs,
      referenceLogProbs: referenceLogProbs[i]!,
      numLayers: policy.numLayers,
      exitPenalty: config.exitPenalty,
      klCoefficient: config.klCoefficient,
    }),
  );
  const advantages = computeAdvantages(
    rewards.map((r) => r.total),
    rollouts.map((r) => r.promptIndex),
    config.baseline,
  );
  return { rollouts, taskRewards, rewards, advantages, referenceLogProbs };
}

/**
 * Step 4: the loss and its gradient for every trainable variable, in `trainableVariables()` order
 * (zeros for a variable the loss does not reach). With `microBatchSize` > 0 the rollouts are
 * differentiated that many at a time and the gradients summed (each pass's loss keeps the
 * step's 1/N, so the sum is the one-pass gradient). The caller disposes the returned tensors.
 */
export function rlooGradients(
  policy: AugmentedVocabularyPolicy,
  rollouts: readonly PolicyRollout[],
  advantages: readonly number[],
  microBatchSize = 0,
): { loss: tf.Scalar; lora: tf.Tensor[]; heads: tf.Tensor[] } {
  const { lora, heads } = policy.trainableVariables();
  const variables = [...lora, ...heads];
  const N = rollouts.length;
  const size = microBatchSize > 0 ? microBatchSize : Math.max(1, N);
  let loss: tf.Scalar | null = null;
  let sums: tf.Tensor[] | null = null;
  for (let start = 0; start < Math.max(N, 1); start += size) {
    const chunk = rollouts.slice(start, start + size);
    const lengths = chunk.map((r) => r.tokens.length);
    const { value, grads } = tf.variableGrads(
      () => rlooLoss(policy.sequenceLogProbs(chunk), advantages.slice(start, start + size), lengths, N),
      variables,
    );
    const gradients = variables.map((v) => grads[v.name] ?? tf.zerosLike(v));
    if (loss === null || sums === null) {
      loss = value;
      sums = gradients;
    } else {
      const [previousLoss, previous]: [tf.Scalar, tf.Tensor[]] = [loss, sums];
      loss = tf.add(previousLoss, value) as tf.Scalar;
      sums = previous.map((g, i) => tf.add(g, gradients[i]!));
      tf.dispose([previousLoss, value, ...previous, ...gradients]);
    }
  }
  return { loss: loss!, lora: sums!.slice(0, lora.length), heads: sums!.slice(lora.length) };
}

/** One full RLOO step (sample → score → gradient → clip → Adam); throws RlooNonFiniteError before updating on NaN. */
export async function rlooStep(
  context: RlooStepContext,
  batch: { readonly examples: readonly RlooExample[]; readonly seed: number; readonly step: number },
): Promise<RlooStepMetrics> {
  const { policy, config, taskReward, optimizers } = context;
  const scored = await sampleAndScore(policy, config, taskReward, batch.examples, batch.seed);
  const { loss, lora, heads } = rlooGradients(policy, scored.rollouts, scored.advantages, config.microBatchSize);
  const all = [...lora, ...heads];
  try {
    // ‖g‖ = sqrt(Σ_v Σ g_v²) over every trainable variable
    const squaredNorm = tf.tidy(() => tf.addN(all.map((g) => tf.sum(tf.square(g)))));
    const [lossValue, gradientNorm] = [(await loss.data())[0]!, Math.sqrt((await squaredNorm.data())[0]!)];
    squaredNorm.dispose();
    if (!Number.isFinite(lossValue) || !Number.isFinite(gradientNorm)) {
      throw new RlooNonFiniteError(
        `rloo step ${batch.step}: loss is ${lossValue} and gradient norm ${gradientNorm}; no update applied ` +
          `(check the policy's log-probs and the task rewards)`,
      );
    }
    // clip like torch.nn.utils.clip_grad_norm_: g ← g · min(1, maxGradNorm / (‖g‖ + 1e-6))
    const scale = Math.min(1, config.maxGradNorm / (gradientNorm + 1e-6));
    tf.tidy(() => {
      optimizers.lora.applyGradients(lora.map((g) => tf.mul(g, scale)));
      optimizers.heads.applyGradients(heads.map((g) => tf.mul(g, scale)));
    });
    return stepMetrics(scored, policy.numLayers, batch.step, lossValue, gradientNorm);
  } finally {
    tf.dispose([loss, ...all]);
  }
}

function stepMetrics(
  scored: ScoredRollouts,
  L: number,
  step: number,
  loss: number,
  gradientNorm: number,
): RlooStepMetrics {
  const { rollouts, rewards, taskRewards, referenceLogProbs } = scored;
  const N = rollouts.length;
  const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
  let tokens = 0, exitSum = 0, earlyExits = 0, klSum = 0, entropySum = 0;
  let entropyKnown = true;
  rollouts.forEach((rollout, i) => {
    rollout.exitLayers.forEach((x, t) => {
      exitSum += x;
      if (x < L) earlyExits += 1;
      klSum += rollout.logProbs[t]! - referenceLogProbs[i]![t]!;
      entropySum += rollout.exitEntropies?.[t] ?? 0;
    });
    tokens += rollout.exitLayers.length;
    if (!rollout.exitEntropies) entropyKnown = false;
  });
  const perToken = (sum: number) => (tokens > 0 ? sum / tokens : 0);
  return {
    step,
    reward: mean(rewards.map((r) => r.total)),
    rewardParts: {
      task: mean(rewards.map((r) => r.task)),
      exitPenalty: mean(rewards.map((r) => r.exitPenaltyTerm)),
      klPenalty: mean(rewards.map((r) => r.klPenaltyTerm)),
    },
    taskAccuracy: mean(taskRewards.map((r) => (r.parts.correct ? 1 : 0))),
    formatRate: mean(taskRewards.map((r) => (r.parts.formatOk ? 1 : 0))),
    averageCompute: perToken(exitSum / L),
    averageLayerSavings: tokens > 0 ? 1 - perToken(exitSum / L) : 0,
    earlyExitRate: perToken(earlyExits),
    meanExitLayer: perToken(exitSum),
    meanLength: tokens / Math.max(N, 1),
    totalCompute: exitSum / L / Math.max(N, 1),
    klToReference: perToken(klSum),
    exitEntropy: entropyKnown && tokens > 0 ? perToken(entropySum) : null,
    gradientNorm,
    loss,
    rolloutCount: N,
  };
}

/** Validate the policy's rollouts and order them by prompt (stable). */
function checkRollouts(
  rollouts: readonly PolicyRollout[],
  promptCount: number,
  k: number,
  L: number,
): PolicyRollout[] {
  if (rollouts.length !== promptCount * k) {
    throw new Error(`rloo: policy returned ${rollouts.length} rollouts for ${promptCount} prompts × ${k} samples`);
  }
  const perPrompt = new Array<number>(promptCount).fill(0);
  rollouts.forEach((rollout, i) => {
    const { promptIndex, tokens, exitLayers, logProbs } = rollout;
    if (!Number.isInteger(promptIndex) || promptIndex < 0 || promptIndex >= promptCount) {
      throw new Error(`rloo: rollout ${i} has promptIndex ${promptIndex}, outside 0..${promptCount - 1}`);
    }
    if (exitLayers.length !== tokens.length || logProbs.length !== tokens.length) {
      throw new Error(
        `rloo: rollout ${i} has ${tokens.length} tokens, ${exitLayers.length} exit layers, ${logProbs.length} log-probs`,
      );
    }
    if (exitLayers.some((x) => !Number.isInteger(x) || x < 1 || x > L)) {
      throw new Error(`rloo: rollout ${i} has an exit layer outside 1..${L}`);
    }
    perPrompt[promptIndex] = perPrompt[promptIndex]! + 1;
  });
  const short = perPrompt.findIndex((count) => count !== k);
  if (short >= 0) throw new Error(`rloo: prompt ${short} got ${perPrompt[short]} rollouts, expected ${k}`);
  return [...rollouts].sort((a, b) => a.promptIndex - b.promptIndex);
}

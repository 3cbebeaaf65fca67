// The stage-2 reward of one rollout (METHOD.md §3):
//
//   R_i = r_task(y_i) − λ · (1/T_i) Σ_t x_t / L − β · (1/T_i) Σ_t [log π(a_t) − log π_ref(a_t)]
//
// x_t is the exit layer of generated token t (1..L), a_t = (x_t, y_t) the augmented action. The KL
// term uses the sampling-time log-probs (no gradient) and is folded into the reward, as in RLOO.

import { RlooNonFiniteError } from "./errors.js";

/**
 * What the trainer reads from a task reward's parts (the same names as @eecot/datasets'
 * `RewardParts`; further fields, e.g. `similarity`, are allowed and ignored).
 */
export interface TaskRewardParts {
  /** The answer is right (GSM8K: correct number; ToM: exact normalised match). */
  readonly correct: boolean;
  /** The answer is in the required format (GSM8K: `#### N`; ToM: an `Answer:` line). */
  readonly formatOk: boolean;
}

export interface TaskReward {
  /** r_task, e.g. 1 (GSM8K: 1 correct, 0.5 right number wrong format, 0 wrong, −1 no answer). */
  readonly reward: number;
  readonly parts: TaskRewardParts;
}

/**
 * r_task as a plain callable: (prompt text, completion text, reference answer) → reward, e.g.
 * `(prompt, completion, reference) => gsm8kReward(completion, reference)` with @eecot/datasets.
 */
export type TaskRewardFunction = (prompt: string, completion: string, reference: string) => TaskReward;

export interface RolloutRewardInput {
  /** r_task of the rollout. */
  readonly taskReward: number;
  /** x_1..x_T, 1-based exit layers. */
  readonly exitLayers: readonly number[];
  /** log π(a_t) at sampling time. */
  readonly logProbs: readonly number[];
  /** log π_ref(a_t). */
  readonly referenceLogProbs: readonly number[];
  /** L. */
  readonly numLayers: number;
  /** λ. */
  readonly exitPenalty: number;
  /** β. */
  readonly klCoefficient: number;
}

/** R_i and its parts. For T = 0 (nothing generated) the per-token means are 0. */
export interface RolloutReward {
  /** R_i = task − exitPenaltyTerm − klPenaltyTerm. */
  readonly total: number;
  /** r_task. */
  readonly task: number;
  /** (1/T) Σ_t x_t / L: the rollout's average compute. */
  readonly compute: number;
  /** (1/T) Σ_t [log π − log π_ref]: the per-token KL estimate to the reference. */
  readonly kl: number;
  /** λ · compute. */
  readonly exitPenaltyTerm: number;
  /** β · kl. */
  readonly klPenaltyTerm: number;
}

export function computeRolloutReward(input: RolloutRewardInput): RolloutReward {
  const { taskReward, exitLayers, logProbs, referenceLogProbs, numLayers: L } = input;
  const T = exitLayers.length;
  if (!Number.isFinite(taskReward)) throw new RlooNonFiniteError(`rloo rewards: task reward is ${taskReward}, expected a finite number`);
  if (logProbs.length !== T || referenceLogProbs.length !== T) {
    throw new Error(
      `rloo rewards: ${T} exit layers but ${logProbs.length} log-probs and ${referenceLogProbs.length} reference log-probs`,
    );
  }
  let computeSum = 0;
  let klSum = 0;
  for (let t = 0; t < T; t++) {
    const x = exitLayers[t]!;
    if (!Number.isInteger(x) || x < 1 || x > L) throw new Error(`rloo rewards: exit layer ${x} at token ${t} is outside 1..${L}`);
    const difference = logProbs[t]! - referenceLogProbs[t]!;
    if (!Number.isFinite(difference)) {
      throw new RlooNonFiniteError(`rloo rewards: log π − log π_ref at token ${t} is ${difference} (log π ${logProbs[t]}, log π_ref ${referenceLogProbs[t]})`);
    }
    computeSum += x / L;
    klSum += difference;
  }
  const compute = T > 0 ? computeSum / T : 0;
  const kl = T > 0 ? klSum / T : 0;
  const exitPenaltyTerm = input.exitPenalty * compute;
  const klPenaltyTerm = input.klCoefficient * kl;
  return { total: taskReward - exitPenaltyTerm - klPenaltyTerm, task: taskReward, compute, kl, exitPenaltyTerm, klPenaltyTerm };
}

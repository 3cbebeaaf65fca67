// Advantages from rewards, per prompt group of k rollouts (METHOD.md §3).
//
//   leave-one-out:  A_i = R_i − (1/(k−1)) Σ_{j≠i} R_j  = k/(k−1) · (R_i − mean_j R_j)
//   group-mean:     A_i = R_i − (1/k) Σ_j R_j
//
// Both sum to zero within a group. Leave-one-out keeps the baseline independent of sample i, so
// E[A_i ∇log π(y_i)] = E[R_i ∇log π(y_i)] (Kool et al. 2019; Ahmadian et al. 2024).

import type { RlooBaseline } from "./config.js";

/** Advantages of one prompt group's rewards [k]. */
export function groupAdvantages(rewards: readonly number[], baseline: RlooBaseline): number[] {
  const k = rewards.length;
  if (k < 2) throw new Error(`rloo advantages: a prompt group needs ≥ 2 rollouts, got ${k}`);
  const sum = rewards.reduce((a, b) => a + b, 0);
  if (baseline === "leave-one-out") return rewards.map((r) => r - (sum - r) / (k - 1));
  return rewards.map((r) => r - sum / k);
}

/**
 * Advantages of a flat batch [N]: rollout i belongs to group `groupIds[i]` (its prompt index);
 * each group is baselined on its own members only.
 */
export function computeAdvantages(
  rewards: readonly number[],
  groupIds: readonly number[],
  baseline: RlooBaseline,
): number[] {
  if (rewards.length !== groupIds.length) {
    throw new Error(`rloo advantages: ${rewards.length} rewards but ${groupIds.length} group ids`);
  }
  const members = new Map<number, number[]>(); // group id → rollout indices
  groupIds.forEach((group, i) => {
    const list = members.get(group);
    if (list) list.push(i);
    else members.set(group, [i]);
  });
  const advantages = new Array<number>(rewards.length).fill(0);
  for (const [group, indices] of members) {
    if (indices.length < 2) throw new Error(`rloo advantages: prompt ${group} has ${indices.length} rollout, needs ≥ 2`);
    const groupValues = groupAdvantages(indices.map((i) => rewards[i]!), baseline);
    indices.forEach((i, j) => (advantages[i] = groupValues[j]!));
  }
  return advantages;
}

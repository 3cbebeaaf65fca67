import { describe, expect, it } from "vitest";
import { computeRolloutReward } from "./rewards.js";

describe("computeRolloutReward", () => {
  it("matches the formula on a hand-computed rollout", () => {
    // L = 4, x = [1, 4, 2]: mean x/L = 7/12; log π − log π_ref = [0.1, −0.3, 0.5]: mean 0.1
    const reward = computeRolloutReward({
      taskReward: 1,
      exitLayers: [1, 4, 2],
      logProbs: [-1.0, -2.0, -0.5],
      referenceLogProbs: [-1.1, -1.7, -1.0],
      numLayers: 4,
      exitPenalty: 1.5,
      klCoefficient: 0.5,
    });
    expect(reward.compute).toBeCloseTo(7 / 12, 12);
    expect(reward.kl).toBeCloseTo(0.1, 12);
    expect(reward.exitPenaltyTerm).toBeCloseTo(1.5 * (7 / 12), 12);
    expect(reward.klPenaltyTerm).toBeCloseTo(0.05, 12);
    expect(reward.total).toBeCloseTo(1 - 0.875 - 0.05, 12);
    expect(reward.task).toBe(1);
  });

  it("gives per-token means of 0 for an empty completion", () => {
    const reward = computeRolloutReward({
      taskReward: -1, exitLayers: [], logProbs: [], referenceLogProbs: [], numLayers: 4, exitPenalty: 1.5, klCoefficient: 0.5,
    });
    expect(reward).toEqual({ total: -1, task: -1, compute: 0, kl: 0, exitPenaltyTerm: 0, klPenaltyTerm: 0 });
  });

  it("rejects bad inputs with a clear message", () => {
    const base = { taskReward: 0, exitLayers: [2], logProbs: [-1], referenceLogProbs: [-1], numLayers: 4, exitPenalty: 1, klCoefficient: 0 };
    expect(() => computeRolloutReward({ ...base, taskReward: Number.NaN })).toThrow(/task reward is NaN/);
    expect(() => computeRolloutReward({ ...base, exitLayers: [5] })).toThrow(/exit layer 5 at token 0 is outside 1..4/);
    expect(() => computeRolloutReward({ ...base, referenceLogProbs: [] })).toThrow(/1 exit layers but 1 log-probs and 0 reference/);
    expect(() => computeRolloutReward({ ...base, referenceLogProbs: [-Infinity] })).toThrow(/log π − log π_ref at token 0 is Infinity/);
  });
});

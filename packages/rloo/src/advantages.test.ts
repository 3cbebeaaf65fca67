import { describe, expect, it } from "vitest";
import { computeAdvantages, groupAdvantages } from "./advantages.js";

describe("leave-one-out advantages", () => {
  it("match hand-computed values", () => {
    // R = [1, 0, 0.5, −1]: sum 0.5, A_i = R_i − (0.5 − R_i)/3
    expect(groupAdvantages([1, 0, 0.5, -1], "leave-one-out")).toEqual([
      1 - (0 + 0.5 - 1) / 3, // 1.1666…
      0 - (1 + 0.5 - 1) / 3, // −0.1666…
      0.5 - (1 + 0 - 1) / 3, // 0.5
      -1 - (1 + 0 + 0.5) / 3, // −1.5
    ]);
    expect(groupAdvantages([2, 4], "leave-one-out")).toEqual([-2, 2]);
  });

  it("sum to zero per prompt group in a mixed batch", () => {
    const rewards = [0.3, -1, 2.5, 0.7, 1, 1, 0.1, -0.4, 5];
    const groups = [0, 1, 0, 2, 1, 0, 2, 1, 2];
    const advantages = computeAdvantages(rewards, groups, "leave-one-out");
    for (const group of [0, 1, 2]) {
      const sum = advantages.filter((_, i) => groups[i] === group).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum)).toBeLessThan(1e-12);
    }
    // each entry equals its own group's leave-one-out value
    expect(advantages[0]).toBeCloseTo(0.3 - (2.5 + 1) / 2, 12);
    expect(advantages[8]).toBeCloseTo(5 - (0.7 + 0.1) / 2, 12); // group 2 = {0.7, 0.1, 5}
  });

  it("group-mean is the leave-one-out value scaled by (k−1)/k", () => {
    const rewards = [0.2, 1.4, -0.3, 0.9, 0.0];
    const looValues = groupAdvantages(rewards, "leave-one-out");
    const meanValues = groupAdvantages(rewards, "group-mean");
    meanValues.forEach((a, i) => expect(a).toBeCloseTo((looValues[i]! * 4) / 5, 12));
    expect(meanValues[1]).toBeCloseTo(1.4 - 0.44, 12);
  });

  it("equal rewards give zero advantages", () => {
    expect(groupAdvantages([0.5, 0.5, 0.5], "leave-one-out")).toEqual([0, 0, 0]);
  });

  it("rejects groups of one and mismatched inputs", () => {
    expect(() => groupAdvantages([1], "leave-one-out")).toThrow(/needs ≥ 2 rollouts/);
    expect(() => computeAdvantages([1, 2, 3], [0, 0, 1], "leave-one-out")).toThrow(/prompt 1 has 1 rollout/);
    expect(() => computeAdvantages([1, 2], [0], "leave-one-out")).toThrow(/2 rewards but 1 group ids/);
  });
});

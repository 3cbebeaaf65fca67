// The stage-1 learning-rate schedule on hand-computed points, and its validation.
import { expect, test } from "vitest";
import { resolveDistillConfig, scheduledLearningRate } from "./config.js";

test("constant keeps the rate; cosine goes from the rate at step 1 to a tenth after the last step", () => {
  expect(scheduledLearningRate(0.01, 7, 100, "constant")).toBe(0.01);
  expect(scheduledLearningRate(0.01, 1, 100, "cosine")).toBeCloseTo(0.01, 15);
  // Halfway (progress 0.5): 0.1 + 0.9 · 0.5 = 0.55 of the rate.
  expect(scheduledLearningRate(0.01, 51, 100, "cosine")).toBeCloseTo(0.0055, 15);
  // A quarter: 0.1 + 0.9 · 0.5 · (1 + cos(π/4)).
  expect(scheduledLearningRate(2, 26, 100, "cosine")).toBeCloseTo(2 * (0.1 + 0.45 * (1 + Math.SQRT1_2)), 12);
  expect(scheduledLearningRate(0.01, 101, 100, "cosine")).toBeCloseTo(0.001, 15);
  // Monotone non-increasing over the run.
  const rates = Array.from({ length: 100 }, (_, i) => scheduledLearningRate(1, i + 1, 100, "cosine"));
  rates.slice(1).forEach((r, i) => expect(r).toBeLessThanOrEqual(rates[i]!));
});

test("an unknown schedule is refused by name", () => {
  expect(() => resolveDistillConfig({ learningRateSchedule: "linear" as never })).toThrow(/learningRateSchedule must be "constant" or "cosine", got "linear"/);
});

import { describe, expect, it } from "vitest";
import { summarizeTask, type TaskRewardResult } from "./task-metrics.js";

const result = (reward: number, correct: boolean, formatOk: boolean, extracted: string | null): TaskRewardResult => ({
  reward,
  parts: { correct, formatOk, extracted },
});

describe("summarizeTask", () => {
  it("aggregates GSM8K-style rewards", () => {
    const s = summarizeTask([result(1, true, true, "42"), result(0.5, true, false, "7"), result(0, false, true, "3"), result(-1, false, false, null)]);
    expect(s).toEqual({ count: 4, accuracy: 0.5, formatRate: 0.5, extractionRate: 0.75, meanReward: 0.125 });
  });

  it("accepts the datasets package's RewardResult shape (extractedAnswer)", () => {
    const datasetsResult = { reward: 0.5, parts: { extractedAnswer: "72", expectedAnswer: "72", formatOk: false, correct: true, similarity: 1, source: "boxed" } };
    const missing = { reward: -1, parts: { extractedAnswer: null, expectedAnswer: "72", formatOk: false, correct: false, similarity: 0, source: "none" } };
    expect(summarizeTask([datasetsResult, missing])).toEqual({ count: 2, accuracy: 0.5, formatRate: 0, extractionRate: 0.5, meanReward: -0.25 });
  });

  it("rejects empty input and non-finite rewards", () => {
    expect(() => summarizeTask([])).toThrow(/no results/);
    expect(() => summarizeTask([result(Number.NaN, true, true, "1")])).toThrow(/result 0/);
  });
});

import { describe, expect, it } from "vitest";
import { extractAnswerLine, gsm8kReward, normalizeTomAnswer, rewardFor, tomReward } from "./rewards.js";

describe("gsm8kReward", () => {
  it("follows METHOD.md §3: 1 / 0.5 / 0 / −1", () => {
    expect(gsm8kReward("3 + 4 = 7\n#### 7", "7").reward).toBe(1);
    expect(gsm8kReward("so the answer is 7", "7").reward).toBe(0.5);
    expect(gsm8kReward("\\boxed{7}", "#### 7").reward).toBe(0.5);
    expect(gsm8kReward("#### 8", "7").reward).toBe(0);
    expect(gsm8kReward("no idea", "7").reward).toBe(-1);
  });

  it("normalises numbers on both sides and reports the parts", () => {
    const result = gsm8kReward("It costs $1,200.00.\n#### $1,200.00", "She pays <<600*2=1200>>1,200\n#### 1,200");
    expect(result).toEqual({
      reward: 1,
      parts: { extractedAnswer: "1200", expectedAnswer: "1200", formatOk: true, correct: true, similarity: 1, source: "hash" },
    });
    expect(gsm8kReward("the result is 12.0", "12").parts).toMatchObject({ extractedAnswer: "12", correct: true, formatOk: false, source: "last-number" });
    expect(gsm8kReward("nothing", "5").parts).toEqual({ extractedAnswer: null, expectedAnswer: "5", formatOk: false, correct: false, similarity: 0, source: "none" });
  });

  it("rejects an unusable reference", () => {
    expect(() => gsm8kReward("#### 1", "seven")).toThrow(/reference/);
  });
});

describe("tomReward", () => {
  it("normalises answers", () => {
    expect(normalizeTomAnswer("The Green Box.")).toBe("green box");
    expect(normalizeTomAnswer("  a  basket ")).toBe("basket");
    expect(normalizeTomAnswer("Yes!")).toBe("yes");
  });

  it("finds the last Answer: line", () => {
    expect(extractAnswerLine("thinking\nAnswer: basket")).toBe("basket");
    expect(extractAnswerLine("**Answer:** the box<|im_end|>")).toBe("the box");
    expect(extractAnswerLine("answer: a\nAnswer: b")).toBe("b");
    expect(extractAnswerLine("<think>\nAnswer: x\n</think>\n\nAnswer: y")).toBe("y");
    expect(extractAnswerLine("Final answer: the box.")).toBe("the box.");
    expect(extractAnswerLine("the answer is box")).toBeNull();
    expect(extractAnswerLine("Answer:   ")).toBeNull();
  });

  it("gives 1 for exact, Levenshtein similarity otherwise, −1 without an answer line", () => {
    expect(tomReward("Anne was away.\nAnswer: The basket.", "basket").reward).toBe(1);
    const partial = tomReward("Answer: red box", "green box");
    // "red box" → "green box": insert g, keep r e, substitute d→e, insert n: distance 3, longer length 9.
    expect(partial.reward).toBeCloseTo(1 - 3 / 9, 12);
    expect(partial.parts).toMatchObject({ extractedAnswer: "red box", expectedAnswer: "green box", formatOk: true, correct: false });
    expect(tomReward("It is in the basket.", "basket")).toEqual({
      reward: -1,
      parts: { extractedAnswer: null, expectedAnswer: "basket", formatOk: false, correct: false, similarity: 0, source: "none" },
    });
  });
});

describe("rewardFor", () => {
  it("dispatches by task", () => {
    expect(rewardFor("gsm8k")("#### 3", "3").reward).toBe(1);
    expect(rewardFor("tom")("Answer: no", "No").reward).toBe(1);
    expect(() => rewardFor("chess" as "tom")).toThrow(/unknown task/);
  });
});

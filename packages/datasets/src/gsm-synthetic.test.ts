import { describe, expect, it } from "vitest";
import { extractReferenceAnswer } from "./answer-extraction.js";
import { checkCalculatorAnnotations } from "./calculator.js";
import { generateGsmProblems, resolveGsmSyntheticConfig, verifyGsmSolution } from "./gsm-synthetic.js";

describe("generateGsmProblems", () => {
  it("produces verified GSM8K-format solutions within the limits", () => {
    const problems = generateGsmProblems({ count: 500, seed: 3 });
    expect(problems).toHaveLength(500);
    for (const problem of problems) {
      expect(verifyGsmSolution(problem.answer)).toEqual({ ok: true, problems: [] });
      expect(extractReferenceAnswer(problem.answer)).toBe(problem.finalAnswer);
      const checks = checkCalculatorAnnotations(problem.answer);
      expect(checks).toHaveLength(problem.operations.length);
      expect(problem.operations.length).toBeGreaterThanOrEqual(1);
      expect(problem.operations.length).toBeLessThanOrEqual(3);
      for (const check of checks) {
        expect(Number.isInteger(check.claimed)).toBe(true);
        expect(check.claimed).toBeGreaterThanOrEqual(1);
        expect(check.claimed).toBeLessThan(1000);
      }
      // Every number written in the question is in [1, 20].
      for (const number of problem.question.match(/\d+/g) ?? []) {
        expect(Number(number)).toBeGreaterThanOrEqual(1);
        expect(Number(number)).toBeLessThanOrEqual(20);
      }
      const lines = problem.answer.split("\n");
      expect(lines).toHaveLength(problem.operations.length + 1);
      expect(problem.question.endsWith("?")).toBe(true);
    }
    // All four operations and step counts 1–3 occur.
    const operations = new Set(problems.flatMap((problem) => problem.operations));
    expect([...operations].sort()).toEqual(["*", "+", "-", "/"]);
    expect(new Set(problems.map((problem) => problem.operations.length))).toEqual(new Set([1, 2, 3]));
  });

  it("is deterministic and prefix-stable", () => {
    const a = generateGsmProblems({ count: 50, seed: 11 });
    const b = generateGsmProblems({ count: 50, seed: 11 });
    const c = generateGsmProblems({ count: 20, seed: 11 });
    expect(a).toEqual(b);
    expect(a.slice(0, 20)).toEqual(c);
    expect(generateGsmProblems({ count: 50, seed: 12 })).not.toEqual(a);
  });

  it("honours the knobs", () => {
    const problems = generateGsmProblems({ count: 200, seed: 1, minSteps: 2, maxSteps: 2, operations: ["+"], maxNumber: 9, maxResult: 99 });
    for (const problem of problems) {
      expect(problem.operations).toEqual(["+", "+"]);
      expect(Number(problem.finalAnswer)).toBeLessThanOrEqual(99);
    }
    const divisions = generateGsmProblems({ count: 50, seed: 2, minSteps: 1, maxSteps: 1, operations: ["/"] });
    for (const problem of divisions) expect(problem.operations).toEqual(["/"]);
  });

  it("pins the first problems of seed 0 (changes to the generator change this on purpose)", () => {
    const problems = generateGsmProblems({ count: 3, seed: 0 });
    expect(problems.map(({ question, answer }) => ({ question, answer }))).toEqual([
      {
        question: "Mia has 16 boxes with 11 stickers in each. Then she ends up with 3 times as many stickers as before. She splits the stickers into 16 equal groups and keeps one group. How many stickers does Mia have now?",
        answer: "Mia has 16 * 11 = <<16*11=176>>176 stickers.\nNow she has 176 * 3 = <<176*3=528>>528 stickers.\nNow she has 528 / 16 = <<528/16=33>>33 stickers.\n#### 33",
      },
      {
        question: "Leo has 17 coins. Lily gives him 12 more coins. How many coins does Leo have now?",
        answer: "Now he has 17 + 12 = <<17+12=29>>29 coins.\n#### 29",
      },
      {
        question: "Ella has 3 cards. She loses 1 card. She splits the cards into 2 equal groups and keeps one group. How many cards does Ella have now?",
        answer: "Now she has 3 - 1 = <<3-1=2>>2 cards.\nNow she has 2 / 2 = <<2/2=1>>1 card.\n#### 1",
      },
    ]);
  });

  it("uses singular nouns for one item", () => {
    for (const problem of generateGsmProblems({ count: 300, seed: 4 })) {
      expect(problem.question + problem.answer).not.toMatch(/\b1 [a-z]+s\b/);
    }
  });

  it("shows the expected shape", () => {
    const [problem] = generateGsmProblems({ count: 1, seed: 0 });
    expect(problem!.answer).toMatch(/^(.* = <<[^<>]+=\d+>>\d+ \w+\.\n)+#### \d+$/);
  });

  it("validates the config", () => {
    expect(() => resolveGsmSyntheticConfig({ minSteps: 0 })).toThrow(/minSteps/);
    expect(() => resolveGsmSyntheticConfig({ minSteps: 3, maxSteps: 2 })).toThrow(/maxSteps/);
    expect(() => resolveGsmSyntheticConfig({ operations: [] })).toThrow(/operations/);
    expect(() => resolveGsmSyntheticConfig({ operations: ["^" as "+"] })).toThrow(/unknown operation/);
    expect(() => resolveGsmSyntheticConfig({ maxNumber: 50, maxResult: 10 })).toThrow(/maxResult/);
  });
});

describe("verifyGsmSolution", () => {
  it("rejects wrong annotations and a mismatched final line", () => {
    expect(verifyGsmSolution("a <<2+2=5>>5\n#### 5").ok).toBe(false);
    expect(verifyGsmSolution("a <<2+2=4>>4\n#### 5").ok).toBe(false);
    expect(verifyGsmSolution("a <<2+2=4>>4").ok).toBe(false);
    expect(verifyGsmSolution("a <<2+2=4>>4\n#### 4").ok).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { extractCompletionAnswer, extractReferenceAnswer, normalizeNumber, stripCalculatorAnnotations } from "./answer-extraction.js";

describe("normalizeNumber", () => {
  it.each([
    ["12", "12"], ["12.0", "12"], ["12.50", "12.5"], ["$1,200", "1200"], ["-3", "-3"], ["-0", "0"],
    ["007", "7"], ["0.5", "0.5"], [".5", "0.5"], ["18.", "18"], ["50%", "50"], ["−4", "-4"], ["1,450,000", "1450000"],
  ])("%s → %s", (input, expected) => expect(normalizeNumber(input)).toBe(expected));

  it("rejects non-numbers", () => {
    for (const input of ["", "abc", "1.2.3", "--1", "$"]) expect(normalizeNumber(input)).toBeNull();
  });
});

describe("stripCalculatorAnnotations", () => {
  it("removes <<...>> only", () => {
    expect(stripCalculatorAnnotations("She makes 9 * 2 = $<<9*2=18>>18 every day.")).toBe("She makes 9 * 2 = $18 every day.");
  });
});

describe("extractReferenceAnswer", () => {
  it("reads #### N with commas and negatives", () => {
    expect(extractReferenceAnswer("a\nb\n#### 18")).toBe("18");
    expect(extractReferenceAnswer("#### 1,450,000")).toBe("1450000");
    expect(extractReferenceAnswer("#### -10")).toBe("-10");
    expect(extractReferenceAnswer("no final line")).toBeNull();
  });
});

describe("extractCompletionAnswer", () => {
  it("prefers #### N, then \\boxed, then 'the answer is', then the last number", () => {
    expect(extractCompletionAnswer("9 * 2 = <<9*2=18>>18\n#### 18")).toEqual({ answer: "18", source: "hash" });
    expect(extractCompletionAnswer("#### $1,234.00")).toEqual({ answer: "1234", source: "hash" });
    expect(extractCompletionAnswer("#### -7 apples")).toEqual({ answer: "-7", source: "hash" });
    expect(extractCompletionAnswer("so \\boxed{42} and 7")).toEqual({ answer: "42", source: "boxed" });
    expect(extractCompletionAnswer("\\boxed{\\$5}")).toEqual({ answer: "5", source: "boxed" });
    expect(extractCompletionAnswer("The answer is 12.0. Done in 3 steps")).toEqual({ answer: "12", source: "answer-is" });
    expect(extractCompletionAnswer("The final answer is: **$70,000**")).toEqual({ answer: "70000", source: "answer-is" });
    expect(extractCompletionAnswer("16 - 3 - 4 = 9 eggs, times 2 is 18")).toEqual({ answer: "18", source: "last-number" });
    expect(extractCompletionAnswer("I do not know")).toBeNull();
  });

  it("takes the last #### and treats a minus after a digit as subtraction", () => {
    expect(extractCompletionAnswer("#### 5\nwait\n#### 6")).toEqual({ answer: "6", source: "hash" });
    expect(extractCompletionAnswer("it is 10-3")).toEqual({ answer: "3", source: "last-number" });
    expect(extractCompletionAnswer("it is 10 - 3")).toEqual({ answer: "3", source: "last-number" });
    expect(extractCompletionAnswer("temperature fell to -3")).toEqual({ answer: "-3", source: "last-number" });
  });

  it("ignores a closed think block and falls back when #### has no number", () => {
    expect(extractCompletionAnswer("<think>\n#### 99\n</think>\n\nSo 4")).toEqual({ answer: "4", source: "last-number" });
    expect(extractCompletionAnswer("#### none, it was 8")).toEqual({ answer: "8", source: "last-number" });
  });
});

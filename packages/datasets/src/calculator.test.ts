import { describe, expect, it } from "vitest";
import { checkCalculatorAnnotations, evaluateArithmetic } from "./calculator.js";

describe("evaluateArithmetic", () => {
  it("respects precedence, parentheses and unary minus", () => {
    expect(evaluateArithmetic("16-3-4")).toBe(9);
    expect(evaluateArithmetic("2+3*4")).toBe(14);
    expect(evaluateArithmetic("(2+3)*4/5")).toBe(4);
    expect(evaluateArithmetic("-2*-3")).toBe(6);
    expect(evaluateArithmetic("80000*1.5")).toBe(120000);
    expect(evaluateArithmetic(" 8 / 2 / 2 ")).toBe(2);
  });

  it("rejects malformed expressions", () => {
    expect(() => evaluateArithmetic("")).toThrow(/empty/);
    expect(() => evaluateArithmetic("2+")).toThrow(/number/);
    expect(() => evaluateArithmetic("(2+3")).toThrow(/'\)'/);
    expect(() => evaluateArithmetic("2x3")).toThrow(/unexpected/);
    expect(() => evaluateArithmetic("1/0")).toThrow(/division by zero/);
  });
});

describe("checkCalculatorAnnotations", () => {
  it("flags wrong results and missing repeats", () => {
    const checks = checkCalculatorAnnotations("a <<9*2=18>>18 b <<3+3=7>>7 c <<2*2=4>> d");
    expect(checks.map((check) => check.ok)).toEqual([true, false, false]);
    expect(checks[2]!.followedBy).toBeNull();
  });
});

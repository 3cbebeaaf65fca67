import { describe, expect, it } from "vitest";
import { compareExitDistributions, tokenTotalVariation, totalVariation } from "./calibration.js";

describe("totalVariation", () => {
  it("is half the L1 distance", () => {
    expect(totalVariation([0.5, 0.5], [0.25, 0.75])).toBeCloseTo(0.25, 12);
    expect(totalVariation([1, 0, 0], [0, 0, 1])).toBe(1);
    expect(totalVariation([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
  });

  it("rejects mismatched or invalid distributions", () => {
    expect(() => totalVariation([1], [0.5, 0.5])).toThrow(/1 and 2 entries/);
    expect(() => totalVariation([0.5, 0.6], [0.5, 0.5])).toThrow(/sum to 1.1/);
    expect(() => totalVariation([1.5, -0.5], [0.5, 0.5])).toThrow(/-0.5/);
    expect(() => tokenTotalVariation([[1, 0]], [[0.5, 0.6]])).toThrow(/token 0/);
  });
});

describe("compareExitDistributions", () => {
  it("matches hand-computed per-layer masses and distances", () => {
    // token TVs: 0.25 and 1 → mean 0.625; masses learned [0.75, 0.25], target [0.125, 0.875]
    const c = compareExitDistributions([[0.5, 0.5], [1, 0]], [[0.25, 0.75], [0, 1]], [5, 10]);
    expect(c.meanTokenTotalVariation).toBeCloseTo(0.625, 12);
    expect(c.layers.map((l) => l.layer)).toEqual([5, 10]);
    expect(c.layers[0]!.learnedMass).toBeCloseTo(0.75, 12);
    expect(c.layers[0]!.targetMass).toBeCloseTo(0.125, 12);
    expect(c.layers[1]!.totalVariationContribution).toBeCloseTo(0.3125, 12);
    expect(c.histogramTotalVariation).toBeCloseTo(0.625, 12);
    expect(c.learnedEarlyExitRate).toBeCloseTo(0.75, 12);
    expect(c.targetEarlyExitRate).toBeCloseTo(0.125, 12);
    expect(c.tokenCount).toBe(2);
  });

  it("histogram TV can be 0 while token TV is 1 (mass on the wrong tokens)", () => {
    const c = compareExitDistributions([[1, 0], [0, 1]], [[0, 1], [1, 0]], [5, 10]);
    expect(c.histogramTotalVariation).toBe(0);
    expect(c.meanTokenTotalVariation).toBe(1);
  });

  it("checks row widths against the layers", () => {
    expect(() => compareExitDistributions([[1, 0]], [[1, 0, 0]], [5, 10])).toThrow(/target token 0 has 3 probabilities for 2 layers/);
  });
});

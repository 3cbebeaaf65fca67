import { describe, expect, it } from "vitest";
import { exitHistogram, exitLayersOf, summarizeExits } from "./exit-metrics.js";

// L = 4, E = {2, 3}. Hand-computed: tokens x = 2, 4, 4 | 3.
const layout = { numLayers: 4, exitableLayers: [2, 3] };
const exits = [[2, 4, 4], [3]];

describe("summarizeExits", () => {
  it("matches hand-computed rate, ALS, compute and histogram", () => {
    const s = summarizeExits(exits, layout);
    expect(s.sequenceCount).toBe(2);
    expect(s.tokenCount).toBe(4);
    expect(s.meanGeneratedLength).toBe(2);
    expect(s.earlyExitRate).toBe(0.5); // x = 2 and x = 3 are < 4
    expect(s.averageLayerSavings).toBeCloseTo((2 / 4 + 0 + 0 + 1 / 4) / 4, 12); // 0.1875
    expect(s.averageCompute).toBeCloseTo(0.8125, 12);
    expect(s.totalCompute).toBeCloseTo(((2 + 4 + 4) / 4 + 3 / 4) / 2, 12); // 1.625
    expect(s.histogram).toEqual([
      { layer: 2, count: 1, fraction: 0.25 },
      { layer: 3, count: 1, fraction: 0.25 },
      { layer: 4, count: 2, fraction: 0.5 },
    ]);
  });

  it("full depth everywhere gives zero savings", () => {
    const s = summarizeExits([[4, 4], [4]], layout);
    expect(s.earlyExitRate).toBe(0);
    expect(s.averageLayerSavings).toBe(0);
    expect(s.averageCompute).toBe(1);
    expect(s.totalCompute).toBe(1.5); // lengths 2 and 1
  });

  it("allows empty sequences but not zero tokens", () => {
    expect(summarizeExits([[], [2]], layout).totalCompute).toBeCloseTo(0.25, 12);
    expect(() => summarizeExits([[], []], layout)).toThrow(/no generated tokens/);
    expect(() => summarizeExits([], layout)).toThrow(/no sequences/);
  });

  it("rejects exits outside E ∪ {L} and bad layouts, naming the place", () => {
    expect(() => summarizeExits([[2], [1]], layout)).toThrow(/exit layer 1 at sequence 1, token 0/);
    expect(() => exitLayersOf({ numLayers: 4, exitableLayers: [3, 2] })).toThrow(/increasing/);
    expect(() => exitLayersOf({ numLayers: 4, exitableLayers: [4] })).toThrow(/1\.\.3/);
    expect(exitLayersOf({ numLayers: 28, exitableLayers: [5, 10, 15, 20, 25] })).toEqual([5, 10, 15, 20, 25, 28]);
  });

  it("histogram of no tokens is all zeros", () => {
    expect(exitHistogram([], layout).map((b) => b.fraction)).toEqual([0, 0, 0]);
  });
});

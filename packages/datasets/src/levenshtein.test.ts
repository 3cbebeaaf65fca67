import { describe, expect, it } from "vitest";
import { levenshteinDistance, levenshteinSimilarity } from "./levenshtein.js";

describe("levenshtein", () => {
  it("matches hand-computed distances", () => {
    expect(levenshteinDistance("kitten", "sitting")).toBe(3);
    expect(levenshteinDistance("flaw", "lawn")).toBe(2);
    expect(levenshteinDistance("", "abc")).toBe(3);
    expect(levenshteinDistance("abc", "")).toBe(3);
    expect(levenshteinDistance("same", "same")).toBe(0);
    expect(levenshteinDistance("héllo", "hello")).toBe(1);
  });

  it("is symmetric and bounded by the longer length", () => {
    const words = ["basket", "box", "green box", "red box", "", "bucket"];
    for (const a of words) for (const b of words) {
      expect(levenshteinDistance(a, b)).toBe(levenshteinDistance(b, a));
      expect(levenshteinDistance(a, b)).toBeLessThanOrEqual(Math.max(a.length, b.length));
    }
  });

  it("similarity is 1 - d / max length", () => {
    expect(levenshteinSimilarity("kitten", "sitting")).toBeCloseTo(1 - 3 / 7, 12);
    expect(levenshteinSimilarity("", "")).toBe(1);
    expect(levenshteinSimilarity("abc", "xyz")).toBe(0);
  });
});

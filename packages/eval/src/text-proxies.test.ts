import { describe, expect, it } from "vitest";
import { computeCoherenceProxies, countRepeatedNgrams, distinctN, repeatedNgramRate, whitespaceTokens } from "./text-proxies.js";

describe("repeated n-grams", () => {
  it("counts n-grams that repeat an earlier one in the same text", () => {
    // trigrams: abc bca cab abc* bca* cab* → 3 of 6 repeat
    const words = whitespaceTokens("a b c  a\nb c a b");
    expect(words).toHaveLength(8);
    expect(countRepeatedNgrams(words, 3)).toEqual({ ngramCount: 6, repeatedCount: 3 });
    expect(repeatedNgramRate(words)).toBe(0.5);
    expect(repeatedNgramRate([1, 1, 1, 1], 3)).toBe(0.5); // (1,1,1) twice, overlapping
    expect(repeatedNgramRate([1, 2, 3, 4], 2)).toBe(0);
    expect(repeatedNgramRate(["a", "b"], 3)).toBe(0); // no trigrams
  });

  it("keys n-grams without collisions between unit boundaries or types", () => {
    expect(repeatedNgramRate(["a b", "c", "a", "b c"], 2)).toBe(0);
    expect(repeatedNgramRate([1, "1", 1, "1"], 1)).toBe(0.5);
  });

  it("distinct-n pools across texts", () => {
    // trigrams: abc bca cab abc bca cab | xyz yza zab abc → 6 distinct of 10
    expect(distinctN([whitespaceTokens("a b c a b c a b"), whitespaceTokens("x y z a b c")], 3)).toBe(0.6);
    expect(distinctN([], 3)).toBe(0);
    expect(() => distinctN([["a"]], 0)).toThrow(/n must be a positive integer/);
  });

  it("summarises words and token ids", () => {
    const p = computeCoherenceProxies([
      { text: "a b c a b c a b", tokenIds: [1, 1, 1, 1] },
      { text: "x y z a b c", tokenIds: [5, 6, 7] },
    ]);
    expect(p.n).toBe(3);
    expect(p.textCount).toBe(2);
    expect(p.words.ngramCount).toBe(10);
    expect(p.words.repeatedNgramRate).toBe(0.3); // 3 + 0 of 6 + 4
    expect(p.words.distinctN).toBe(0.6);
    expect(p.tokenIds?.repeatedNgramRate).toBeCloseTo(1 / 3, 12); // 1 of 2 + 1
    expect(computeCoherenceProxies([{ text: "a b c" }]).tokenIds).toBeUndefined();
  });
});

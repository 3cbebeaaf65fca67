import { describe, expect, it } from "vitest";
import { createRandom, deriveSeed } from "./random.js";

describe("createRandom", () => {
  it("is deterministic per seed and differs across seeds", () => {
    const a = createRandom(42), b = createRandom(42), c = createRandom(43);
    const sa = Array.from({ length: 20 }, () => a.next());
    const sb = Array.from({ length: 20 }, () => b.next());
    const sc = Array.from({ length: 20 }, () => c.next());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it("matches a pinned sequence (cross-run and cross-platform stability)", () => {
    const random = createRandom(7);
    const values = Array.from({ length: 5 }, () => random.integer(0, 1_000_000));
    // Pinned from the first run of this implementation; a change here changes every data set.
    expect(values).toEqual([233827, 512232, 448915, 172715, 565670]);
  });

  it("integer covers [min, max] roughly uniformly", () => {
    const random = createRandom(1);
    const counts = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 60_000; i++) counts[random.integer(0, 5)]!++;
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
  });

  it("shuffle returns a permutation and leaves its input alone", () => {
    const input = [1, 2, 3, 4, 5, 6, 7, 8];
    const shuffled = createRandom(3).shuffle(input);
    expect(input).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...shuffled].sort()).toEqual(input);
  });

  it("rejects bad arguments", () => {
    expect(() => createRandom(Number.NaN)).toThrow(/finite/);
    expect(() => createRandom(1).integer(3, 2)).toThrow(/min <= max/);
    expect(() => createRandom(1).choice([])).toThrow(/empty/);
  });

  it("deriveSeed separates indices and seeds", () => {
    const seeds = new Set<number>();
    for (let seed = 0; seed < 10; seed++) for (let index = 0; index < 100; index++) seeds.add(deriveSeed(seed, index));
    expect(seeds.size).toBe(1000);
  });
});

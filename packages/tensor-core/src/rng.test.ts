import { describe, expect, it } from "vitest";
import { Rng } from "./rng.js";

const draw = (rng: Rng, n: number, f: (r: Rng) => number) => Array.from({ length: n }, () => f(rng));

/** Pearson chi-square statistic of observed counts against expected counts. */
function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((sum, o, i) => sum + (o - expected[i]!) ** 2 / expected[i]!, 0);
}

describe("Rng", () => {
  it("matches the xoshiro128** reference outputs for state [1, 2, 3, 4]", () => {
    const rng = new Rng(0);
    rng.setState({ algorithm: "xoshiro128**", key: [1, 2, 3, 4], state: [1, 2, 3, 4] });
    // Hand-computed from the reference C code: rotl(s1 * 5, 7) * 9 with the state updates.
    expect(draw(rng, 3, (r) => r.uint32())).toEqual([11520, 0, 5927040]);
  });

  it("is deterministic per seed and differs across seeds (including beyond 32 bits)", () => {
    const sequence = (seed: number) => draw(new Rng(seed), 8, (r) => r.uint32());
    expect(sequence(42)).toEqual(sequence(42));
    const seeds = [0, 1, 2, -1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
    const firsts = new Set(seeds.map((s) => sequence(s).join(",")));
    expect(firsts.size).toBe(seeds.length);
    expect(() => new Rng(1.5)).toThrow("Rng: seed must be a safe integer, got 1.5");
  });

  it("resumes exactly from a JSON round-trip of its state", () => {
    const rng = new Rng(7);
    draw(rng, 10, (r) => r.normal());
    const saved = JSON.parse(JSON.stringify(rng.getState()));
    const expected = [rng.uniform(), rng.normal(), rng.int(1000), rng.categorical([1, 2, 3])];
    const resumed = new Rng(999);
    resumed.setState(saved);
    expect([resumed.uniform(), resumed.normal(), resumed.int(1000), resumed.categorical([1, 2, 3])]).toEqual(expected);
    // The key travels too: forks of the resumed generator equal forks of the original.
    expect(resumed.fork("x").uint32()).toBe(rng.fork("x").uint32());
    expect(() => resumed.setState({ algorithm: "xoshiro128**", key: [1, 2, 3], state: [0, 0, 0, 0] })).toThrow("Rng.setState: expected");
  });

  it("has uniform mean 1/2 and variance 1/12 within 5 standard errors", () => {
    const n = 100_000;
    const values = draw(new Rng(1), n, (r) => r.uniform());
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n)); // 0.0046
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(5 * Math.sqrt((1 / 80 - 1 / 144) / n)); // 0.0012
  });

  it("has normal mean 0, variance 1 and symmetric tails within 5 standard errors", () => {
    const n = 100_000;
    const values = draw(new Rng(2), n, (r) => r.normal());
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    // P(|Z| > 1.96) = 0.05
    const tail = values.filter((v) => Math.abs(v) > 1.96).length / n;
    expect(Math.abs(tail - 0.05)).toBeLessThan(5 * Math.sqrt(0.05 * 0.95 / n));
  });

  it("draws categorical frequencies proportional to the weights (chi-square, 3 dof)", () => {
    const n = 50_000;
    const weights = [1, 2, 3, 4, 0]; // unnormalised; index 4 impossible
    const counts = [0, 0, 0, 0, 0];
    const rng = new Rng(3);
    for (let i = 0; i < n; i++) counts[rng.categorical(weights)]!++;
    expect(counts[4]).toBe(0);
    // chi-square with 3 degrees of freedom exceeds 30 with probability ~1e-6.
    expect(chiSquare(counts.slice(0, 4), [0.1, 0.2, 0.3, 0.4].map((p) => p * n))).toBeLessThan(30);
    expect(() => rng.categorical([0, 0])).toThrow("Rng.categorical: probabilities sum to 0");
    expect(() => rng.categorical([0.5, -0.1])).toThrow("Rng.categorical: probability 1 is -0.1");
    expect(() => rng.categorical([0.5, NaN])).toThrow("Rng.categorical: probability 1 is NaN");
  });

  it("draws int(n) uniformly and validates n", () => {
    const n = 60_000;
    const counts = new Array<number>(6).fill(0);
    const rng = new Rng(4);
    for (let i = 0; i < n; i++) counts[rng.int(6)]!++;
    // 5 dof: exceeds 33 with probability ~4e-6.
    expect(chiSquare(counts, new Array<number>(6).fill(n / 6))).toBeLessThan(33);
    expect(rng.int(1)).toBe(0);
    expect(() => rng.int(0)).toThrow("Rng.int: n must be an integer in [1, 2^32], got 0");
  });

  it("shuffles into a permutation, deterministically, with uniform positions", () => {
    const base = Array.from({ length: 10 }, (_, i) => i);
    const a = new Rng(5).shuffle([...base]);
    expect([...a].sort((x, y) => x - y)).toEqual(base);
    expect(new Rng(5).shuffle([...base])).toEqual(a);
    // Where element 0 lands over many shuffles of 4 items: uniform over 4 positions.
    const rng = new Rng(6);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[rng.shuffle([0, 1, 2, 3]).indexOf(0)]!++;
    expect(chiSquare(counts, [5000, 5000, 5000, 5000])).toBeLessThan(30);
  });

  it("forks independent, label-stable streams without advancing the parent", () => {
    const parent = new Rng(8);
    const before = parent.getState();
    const a = draw(parent.fork("dropout"), 4, (r) => r.uint32());
    expect(parent.getState()).toEqual(before);
    expect(draw(parent.fork("dropout"), 4, (r) => r.uint32())).toEqual(a);
    parent.uniform(); // using the parent does not change its forks
    expect(draw(parent.fork("dropout"), 4, (r) => r.uint32())).toEqual(a);
    const streams = [parent.fork("sampling"), parent.fork(0), parent.fork("0"), parent.fork(1), new Rng(9).fork("dropout"), parent];
    const firsts = new Set([a, ...streams.map((r) => draw(r, 4, (x) => x.uint32()))].map((s) => s.join(",")));
    expect(firsts.size).toBe(7);
    // Child and parent streams are uncorrelated: sample correlation within 5 standard errors of 0.
    const n = 20_000;
    const x = draw(new Rng(10), n, (r) => r.normal());
    const y = draw(new Rng(10).fork("child"), n, (r) => r.normal());
    const correlation = x.reduce((s, v, i) => s + v * y[i]!, 0) / n;
    expect(Math.abs(correlation)).toBeLessThan(5 / Math.sqrt(n));
  });
});

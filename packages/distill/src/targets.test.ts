// Target exit distributions on hand-computed cases, the tensor twin, and sampling frequencies.
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, Rng, tf } from "@eecot/tensor-core";
import { conditionalExitRates, exitScore, sampleExitLayers, sequenceTargets, targetExitDistribution, targetExitDistributions, targetExitStatistics } from "./targets.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("targetExitDistribution", () => {
  test("KL 0 at the first exitable layer exits there with probability 1", () => {
    expect(targetExitDistribution([0, 5, 0.1], 1)).toEqual([1, 0, 0, 0]);
    expect(targetExitDistribution([0], 0.25)).toEqual([1, 0]);
  });

  test("huge KL everywhere runs to the final layer", () => {
    const q = targetExitDistribution([1e4, 1e4, 1e4], 1);
    expect(q[3]).toBe(1);
    expect(q.slice(0, 3).every((p) => p < 1e-300)).toBe(true);
  });

  test("hand-computed: s = 2/(1 + e^{f·KL}) and stick-breaking", () => {
    // f = 1, KL = ln 3 → s = 2/4 = 0.5; KL = ln 7 → s = 2/8 = 0.25; KL = 0 → s = 1.
    const q = targetExitDistribution([Math.log(3), Math.log(7), 0], 1);
    expect(q[0]).toBeCloseTo(0.5, 14);
    expect(q[1]).toBeCloseTo(0.5 * 0.25, 14);
    expect(q[2]).toBeCloseTo(0.5 * 0.75, 14);
    expect(q[3]).toBeCloseTo(0, 14);
    // f = 2 doubles the divergence: KL = ln(3)/2 with f = 2 is the case above.
    expect(targetExitDistribution([Math.log(3) / 2], 2)[0]).toBeCloseTo(0.5, 14);
    expect(exitScore(0, 4)).toBe(1);
  });

  test("sums to 1 and a higher factor never exits earlier in expectation", () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const kl = Array.from({ length: 1 + rng.int(6) }, () => rng.uniform() * 3);
      const low = targetExitDistribution(kl, 0.25);
      const high = targetExitDistribution(kl, 4);
      expect(Math.abs(low.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      expect(Math.abs(high.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      expect(high[high.length - 1]!).toBeGreaterThanOrEqual(low[low.length - 1]! - 1e-12);
    }
  });

  test("rejects negative divergences and bad factors", () => {
    expect(() => targetExitDistribution([-0.5], 1)).toThrow(/not a non-negative/);
    expect(() => targetExitDistribution([0.5], 0)).toThrow(/klFactor/);
    expect(() => targetExitDistribution([0.5], Number.NaN)).toThrow(/klFactor/);
  });
});

test("the tensor twin equals the host form", () => {
  const rng = new Rng(5);
  const rows = Array.from({ length: 17 }, () => Array.from({ length: 4 }, () => (rng.uniform() < 0.2 ? 0 : rng.uniform() * 4)));
  for (const f of [0.25, 1, 4]) {
    const tensor = tf.tidy(() => targetExitDistributions(tf.tensor2d(rows), f));
    const values = tensor.arraySync();
    tensor.dispose();
    rows.forEach((kl, n) => {
      const expected = targetExitDistribution(kl, f);
      expected.forEach((p, i) => expect(Math.abs(values[n]![i]! - p)).toBeLessThan(1e-6));
    });
  }
});

test("sequenceTargets reads row-major divergences and checks their size", () => {
  const kl = Float32Array.from([0, 1, 2, 3, 4, 5]);
  const targets = sequenceTargets({ kl, tokenCount: 3, exitCount: 2 }, 1);
  expect(targets).toHaveLength(3);
  expect(targets[0]![0]).toBe(1);
  expect(targets[2]).toEqual(targetExitDistribution([4, 5], 1));
  expect(() => sequenceTargets({ kl, tokenCount: 2, exitCount: 2 }, 1)).toThrow(/6 divergences for 2 tokens/);
  expect(sequenceTargets({ kl: new Float32Array(0), tokenCount: 2, exitCount: 0 }, 1)).toEqual([[1], [1]]);
});

test("sampled exits follow the target within 5σ; statistics are the expectations", () => {
  const target = [0.2, 0.5, 0.05, 0.25];
  const layers = [2, 4, 6, 8];
  const rng = new Rng(11);
  const N = 4000;
  const draws = sampleExitLayers(Array.from({ length: N }, () => target), layers, rng);
  layers.forEach((layer, i) => {
    const frequency = draws.filter((x) => x === layer).length / N;
    const sigma = Math.sqrt((target[i]! * (1 - target[i]!)) / N);
    expect(Math.abs(frequency - target[i]!)).toBeLessThan(5 * sigma);
  });
  const stats = targetExitStatistics([target, [0, 0, 0, 1]], layers);
  expect(stats.earlyExitRate).toBeCloseTo((0.75 + 0) / 2, 12);
  expect(stats.averageLayerSavings).toBeCloseTo((0.2 * 0.75 + 0.5 * 0.5 + 0.05 * 0.25) / 2, 12);
});

test("conditional exit rates: of the mass reaching e_i, the fraction stopping there", () => {
  // Token 1 stops at e_1 w.p. 0.5, at e_2 w.p. 0.25; token 2 always runs to L.
  const rates = conditionalExitRates([[0.5, 0.25, 0.25], [0, 0, 1]], 2);
  expect(rates[0]).toBeCloseTo(0.5 / 2, 12);
  expect(rates[1]).toBeCloseTo(0.25 / 1.5, 12);
  expect(conditionalExitRates([[1, 0, 0]], 2)).toEqual([1, 0]);
});

// The exit distribution against hand-computed cases and invariants: stick-breaking sums to one,
// the gate, stable log-probabilities, host/tensor agreement, monotonicity in the offset.
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import {
  createExitHeads,
  disposeExitHeads,
  exitDistribution,
  exitDistributionOf,
  exitHeadLogits,
  exitLogProbabilities,
  exitLogProbabilityOf,
} from "./exit-head.js";

const logit = (p: number) => Math.log(p / (1 - p));

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("stick-breaking exit distribution", () => {
  test("hand-computed case with the gate", () => {
    // p = [0.3, 0.05 (gated: < 0.1), 0.5] → P = [0.3, 0, 0.7·0.5, 0.7·0.5]
    const z = [logit(0.3), logit(0.05), logit(0.5)];
    const gated = exitDistributionOf(z, { offset: 0, minExitProb: 0.1 });
    [0.3, 0, 0.35, 0.35].forEach((want, i) => expect(gated[i]).toBeCloseTo(want, 12));
    const ungated = exitDistributionOf(z, { offset: 0, minExitProb: 0 });
    [0.3, 0.7 * 0.05, 0.7 * 0.95 * 0.5, 0.7 * 0.95 * 0.5].forEach((want, i) => expect(ungated[i]).toBeCloseTo(want, 12));
    // The offset shifts every logit: offset = logit(0.5) − logit(0.3) turns p_1 into 0.5.
    expect(exitDistributionOf([logit(0.3)], { offset: logit(0.5) - logit(0.3), minExitProb: 0 })[0]).toBeCloseTo(0.5, 12);
  });

  test("sums to 1 for random logits, with and without the gate (tensor and host forms)", () => {
    const N = 64;
    const m = 5;
    const values = Array.from({ length: N * m }, (_, i) => 6 * Math.sin(i * 12.9898) * Math.cos(i * 0.37));
    for (const minExitProb of [0, 0.1, 0.5]) {
      const distribution = tf.tidy(() => exitDistribution(tf.tensor2d(values, [N, m]), { offset: 0.3, minExitProb }));
      const rows = distribution.arraySync();
      distribution.dispose();
      rows.forEach((row, n) => {
        expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        const host = exitDistributionOf(values.slice(n * m, (n + 1) * m), { offset: 0.3, minExitProb });
        expect(host.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        host.forEach((p, k) => expect(row[k]).toBeCloseTo(p, 5));
      });
    }
  });

  test("log-probabilities equal the log of the gated distribution for every allowed action", () => {
    const N = 32;
    const m = 4;
    const gate = { offset: -0.5, minExitProb: 0.1 };
    const values = Array.from({ length: N * m }, (_, i) => 4 * Math.sin(i * 7.1));
    for (let k = 0; k <= m; k++) {
      const logProbs = tf.tidy(() => exitLogProbabilities(tf.tensor2d(values, [N, m]), new Array(N).fill(k), gate)).arraySync() as number[];
      logProbs.forEach((lp, n) => {
        const z = values.slice(n * m, (n + 1) * m);
        const p = exitDistributionOf(z, gate)[k]!;
        expect(lp).toBeCloseTo(exitLogProbabilityOf(z, k, gate), 4);
        if (p > 0) expect(lp).toBeCloseTo(Math.log(p), 4);
        else expect(Number.isFinite(lp)).toBe(true); // a gated-out action is scored, not −∞ (file header)
      });
    }
  });

  test("stable for extreme logits", () => {
    const z = tf.tensor2d([[100, -100], [-100, 100], [-100, -100]]);
    const lp = (k: number[]) => tf.tidy(() => exitLogProbabilities(z, k, { offset: 0, minExitProb: 0 })).arraySync() as number[];
    expect(lp([0, 1, 2])).toEqual([expect.closeTo(0, 6), expect.closeTo(0, 6), expect.closeTo(0, 6)]);
    const unlikely = lp([1, 0, 0]);
    expect(unlikely[0]).toBeCloseTo(-200, 3); // log(1 − sigmoid(100)) + log sigmoid(−100)
    expect(unlikely[1]).toBeCloseTo(-100, 3);
    expect(unlikely[2]).toBeCloseTo(-100, 3);
    z.dispose();
  });

  test("raising the offset never lowers the early-exit probability (gate included)", () => {
    const m = 5;
    const violations: string[] = [];
    for (let trial = 0; trial < 200; trial++) {
      const z = Array.from({ length: m }, (_, i) => 5 * Math.sin(trial * 3.1 + i * 1.7));
      let previous = -1;
      for (let offset = -6; offset <= 6; offset += 0.25) {
        const early = 1 - exitDistributionOf(z, { offset, minExitProb: 0.1 })[m]!;
        if (early < previous - 1e-12) violations.push(`trial ${trial}, offset ${offset}: ${early} < ${previous}`);
        previous = early;
      }
    }
    expect(violations).toEqual([]);
  });
});

describe("exit heads", () => {
  test("z = W2 · relu(W1 · h + b1) + b2, and the initial head outputs b2 everywhere", () => {
    const [head] = createExitHeads(3, [2], { initialBias: -4, seed: 1 });
    const h = tf.tensor2d([[1, -2, 0.5], [0, 0, 0]]);
    expect(Array.from(tf.tidy(() => exitHeadLogits(head!, h)).dataSync())).toEqual([-4, -4]);
    head!.w2T.assign(tf.tensor2d([[1], [-1], [2], [0.5], [0], [1]]));
    head!.b1.assign(tf.tensor1d([0.1, -0.1, 0, 0, 0.2, 0]));
    const w1T = head!.w1T.arraySync();
    const hRow = [1, -2, 0.5];
    const w2 = [1, -1, 2, 0.5, 0, 1];
    const b1 = [0.1, -0.1, 0, 0, 0.2, 0];
    let want = -4;
    for (let j = 0; j < 6; j++) {
      const pre = hRow.reduce((s, x, i) => s + x * w1T[i]![j]!, b1[j]!);
      want += w2[j]! * Math.max(pre, 0);
    }
    const got = tf.tidy(() => exitHeadLogits(head!, h)).dataSync();
    expect(got[0]).toBeCloseTo(want, 5);
    // W1 ~ U(±1/√C)
    expect(w1T.flat().every((v) => Math.abs(v) <= 1 / Math.sqrt(3))).toBe(true);
    h.dispose();
    disposeExitHeads([head!]);
  });
});

// The "soft" exit term (loss.ts): for a stick-breaking student P and target Q over E ∪ {L},
// averaging Σ_{e_j ≤ x} BCE(s_j, p_j) over x ~ Q must give exactly the cross-entropy
// CE(Q, P) = −Σ_x Q(x) log P(x), and its expected gradient must equal the expected gradient of
// the sampled term −log P(x).
import { beforeAll, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { exitLogProbabilities } from "@eecot/early-exit";
import { conditionalExitProbabilities, softExitCrossEntropy } from "./loss.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** Student stick-breaking distribution over E ∪ {L} from head logits (float64). */
function stickBreaking(logits: readonly number[]): number[] {
  const out: number[] = [];
  let survive = 1;
  for (const z of logits) {
    out.push(survive * sigmoid(z));
    survive *= 1 - sigmoid(z);
  }
  return [...out, survive];
}

const LOGITS = [0.3, -1.2, 2.0];
const TARGET = [0.25, 0.1, 0.45, 0.2]; // Q over e_1, e_2, e_3, L

test("conditional exit probabilities rebuild the target by stick-breaking", () => {
  const s = conditionalExitProbabilities(TARGET);
  expect(s[0]).toBeCloseTo(0.25, 12);
  expect(s[1]).toBeCloseTo(0.1 / 0.75, 12);
  expect(s[2]).toBeCloseTo(0.45 / 0.65, 12);
  // A target with all mass on the first exit: later conditionals are unreachable (0).
  expect(conditionalExitProbabilities([1, 0, 0])).toEqual([1, 0]);
});

test("E_{x~Q}[soft term] = CE(Q, P) computed by hand", () => {
  const s = conditionalExitProbabilities(TARGET);
  const m = LOGITS.length;
  const rows = Array.from({ length: m + 1 }, () => LOGITS);
  const soft = tf.tidy(() => softExitCrossEntropy(tf.tensor2d(rows), [0, 1, 2, 3], rows.map(() => s)).arraySync());
  const expected = soft.reduce((sum, value, x) => sum + TARGET[x]! * value, 0);
  const student = stickBreaking(LOGITS);
  // Σ_j Q(reach e_j)·BCE(s_j, p_j) = −Σ_x Q(x) log P(x) exactly (stick-breaking factorises the CE).
  const crossEntropy = -TARGET.reduce((sum, q, i) => sum + q * Math.log(student[i]!), 0);
  expect(expected).toBeCloseTo(crossEntropy, 5);
});

test("the soft term's expected gradient equals the sampled term's expected gradient", () => {
  const s = conditionalExitProbabilities(TARGET);
  const m = LOGITS.length;
  const rows = Array.from({ length: m + 1 }, () => LOGITS);
  const weights = tf.tensor1d(TARGET);
  const softGrad = tf.grad((z: tf.Tensor) => tf.sum(tf.mul(weights, softExitCrossEntropy(z as tf.Tensor2D, [0, 1, 2, 3], rows.map(() => s)))));
  const sampledGrad = tf.grad((z: tf.Tensor) => tf.neg(tf.sum(tf.mul(weights, exitLogProbabilities(z as tf.Tensor2D, [0, 1, 2, 3], { offset: 0, minExitProb: 0 })))));
  const logits = tf.tensor2d(rows);
  const a = tf.sum(softGrad(logits), 0).arraySync() as number[];
  const b = tf.sum(sampledGrad(logits), 0).arraySync() as number[];
  for (let j = 0; j < m; j++) expect(a[j]).toBeCloseTo(b[j]!, 5);
  // And the gradient of CE w.r.t. each head logit vanishes exactly when the student equals the target.
  const matched = s.map((p) => Math.log(p / (1 - p)));
  const atOptimum = tf.sum(softGrad(tf.tensor2d(Array.from({ length: m + 1 }, () => matched))), 0).arraySync() as number[];
  for (const g of atOptimum) expect(Math.abs(g)).toBeLessThan(1e-5);
  tf.dispose([weights, logits]);
});

test("bad input names the problem", () => {
  expect(() => softExitCrossEntropy(tf.zeros([2, 3]) as tf.Tensor2D, [0], [[0, 0, 0]])).toThrow(/1 exit indices and 1 targets for 2 rows/);
  expect(() => softExitCrossEntropy(tf.zeros([1, 3]) as tf.Tensor2D, [0], [[0, 0]])).toThrow(/row 0 has 2 conditional probabilities for 3 exits/);
});

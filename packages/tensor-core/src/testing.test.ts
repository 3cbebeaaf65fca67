import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.js";
import { assertClose, assertShape, countTensorsDuring, expectNoLeaks, finiteDifferenceGradients } from "./testing.js";
import { tf } from "./tf.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("leak helpers", () => {
  it("countTensorsDuring reports tensors created", () => {
    const { result, created } = countTensorsDuring(() => tf.tidy(() => tf.add(tf.ones([2]), 1)));
    expect(created).toBe(1);
    result.dispose();
    expect(countTensorsDuring(() => tf.tidy(() => void tf.ones([3]))).created).toBe(0);
  });

  it("expectNoLeaks passes tidy code (disposing returned tensors) and names a leak", async () => {
    await expectNoLeaks(() => tf.tidy(() => tf.sum(tf.square(tf.ones([4])))));
    await expectNoLeaks(async () => [tf.ones([1]), tf.zeros([2])]);
    const kept: tf.Tensor[] = [];
    await expect(expectNoLeaks(() => void kept.push(tf.ones([1])), { iterations: 2 })).rejects.toThrow(/^tensor leak: 2 tensors more after 2 iterations \(\d+ before, \d+ after; 1\.0 per call\)$/);
    tf.dispose(kept);
  });
});

describe("assertShape", () => {
  it("accepts matching shapes with wildcards and names a mismatch", () => {
    const scores = tf.zeros([2, 4, 6, 16]);
    assertShape(scores, [2, 4, null, 16], "attention scores");
    expect(() => assertShape(scores, [2, 4, null, 17], "attention scores")).toThrow("attention scores: expected shape [2, 4, ?, 17], got [2, 4, 6, 16]");
    expect(() => assertShape(scores, [2, 4, 6], "scores")).toThrow("scores: expected shape [2, 4, 6], got [2, 4, 6, 16]");
    assertShape({ shape: [] }, [], "scalar");
    scores.dispose();
  });
});

describe("assertClose", () => {
  it("returns the max difference and names the worst element", () => {
    expect(assertClose([1, 2, NaN, Infinity], [1, 2 + 1e-6, NaN, Infinity], "ok")).toBeCloseTo(1e-6, 12);
    expect(() => assertClose([1, 2.5, 3.01], [1, 2, 3], "logits", { absolute: 0.1, relative: 0 }))
      .toThrow("logits: element 1 is 2.5, expected 2 (max abs difference 5.000e-1; tolerance 0.1 + 0·|expected|)");
    expect(() => assertClose([1, NaN], [1, 2], "x")).toThrow("x: element 1 is NaN, expected 2");
    expect(() => assertClose([1], [1, 2], "x")).toThrow("x: expected 2 values, got 1");
  });
});

describe("finiteDifferenceGradients", () => {
  it("matches hand-computed gradients of a cubic", async () => {
    // f(x, y) = sum(x^3) + 2 * sum(x * y): df/dx = 3x^2 + 2y, df/dy = 2x.
    const x = tf.tensor1d([0.5, -1, 2]);
    const y = tf.tensor1d([1, 3, -2]);
    const [dx, dy] = await finiteDifferenceGradients((a, b) => tf.add(tf.sum(tf.pow(a!, 3)), tf.mul(2, tf.sum(tf.mul(a!, b!)))) as tf.Scalar, [x, y], { step: 1e-2 });
    assertClose(dx!, [3 * 0.25 + 2, 3 + 6, 12 - 4], "dx", { absolute: 1e-3, relative: 1e-3 });
    assertClose(dy!, [1, -2, 4], "dy", { absolute: 1e-3, relative: 1e-3 });
    const [, onlyY] = await finiteDifferenceGradients((a, b) => tf.sum(tf.mul(a!, b!)) as tf.Scalar, [x, y], { wrt: [1] });
    expect(onlyY!.length).toBe(3);
    tf.dispose([x, y]);
  });
});

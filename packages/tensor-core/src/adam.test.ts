// Adam against a float64 hand computation over two steps, and global-norm clipping.
import { beforeAll, expect, test } from "vitest";
import { initBackend } from "./backend.js";
import { tf } from "./tf.js";
import { Adam, clipScale, globalGradientNorm } from "./adam.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

test("two Adam steps equal the float64 recurrence", () => {
  const constants = { beta1: 0.9, beta2: 0.99, epsilon: 1e-8 };
  const theta = tf.variable(tf.tensor1d([1, -2, 0.5]));
  const adam = new Adam([theta], 0.1, constants);
  const gradients = [[0.5, -1, 2], [-0.25, 3, 2]];
  const expected = [1, -2, 0.5];
  const m = [0, 0, 0];
  const v = [0, 0, 0];
  gradients.forEach((g, step) => {
    const t = step + 1;
    for (let i = 0; i < 3; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.99 * v[i]! + 0.01 * g[i]! ** 2;
      expected[i]! -= (0.1 * (m[i]! / (1 - 0.9 ** t))) / (Math.sqrt(v[i]! / (1 - 0.99 ** t)) + 1e-8);
    }
    const gradient = tf.tensor1d(g);
    adam.apply([gradient]);
    gradient.dispose();
  });
  expect(adam.stepCount).toBe(2);
  Array.from(theta.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(expected[i]!, 6));
  adam.dispose();
  theta.dispose();
});

test("global norm and clip scale", async () => {
  const a = tf.tensor1d([3, 0]);
  const b = tf.tensor2d([[0, 4]]);
  expect(await globalGradientNorm([a, b])).toBeCloseTo(5, 6);
  expect(clipScale(5, 1)).toBeCloseTo(0.2, 12);
  expect(clipScale(0.5, 1)).toBe(1);
  expect(clipScale(5, null)).toBe(1);
  tf.dispose([a, b]);
});

import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "@eecot/tensor-core";
import { AdamOptimizer } from "./adam.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("AdamOptimizer", () => {
  it("matches a float64 reference implementation over several steps", () => {
    const start = [0.5, -1.2, 3.0];
    const variable = tf.variable(tf.tensor1d(start));
    const adam = new AdamOptimizer([variable], { learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const gradientAt = (step: number) => [Math.sin(step), -0.3 * step, 2];
    // reference: Kingma & Ba, Algorithm 1, in float64
    const theta = [...start], m = [0, 0, 0], v = [0, 0, 0];
    for (let step = 1; step <= 5; step++) {
      const g = gradientAt(step);
      const gradient = tf.tensor1d(g);
      adam.applyGradients([gradient]);
      gradient.dispose();
      for (let i = 0; i < 3; i++) {
        m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
        v[i] = 0.999 * v[i]! + 0.001 * g[i]! ** 2;
        const mHat = m[i]! / (1 - 0.9 ** step), vHat = v[i]! / (1 - 0.999 ** step);
        theta[i] = theta[i]! - (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
    }
    const got = Array.from(variable.dataSync());
    got.forEach((value, i) => expect(value).toBeCloseTo(theta[i]!, 5));
    expect(adam.stepCount).toBe(5);
    adam.dispose();
    variable.dispose();
  });

  it("leaks no tensors", () => {
    const variable = tf.variable(tf.zeros([4, 4]));
    const adam = new AdamOptimizer([variable], { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 });
    const gradient = tf.ones([4, 4]);
    adam.applyGradients([gradient]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) adam.applyGradients([gradient]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => adam.applyGradients([])).toThrow(/0 gradients for 1 variables/);
    tf.dispose([gradient, variable]);
    adam.dispose();
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "../testing.js";
import { tf } from "../tf.js";
import { PERMUTE_AXES_KERNEL, permuteAxes, planPermutation } from "./permute-axes.js";

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
}

/** [shape, perm]: attention's reshapes, both kernel forms with odd sizes, size-1 axes, and one no kernel covers. */
const CASES: [number[], number[]][] = [
  [[2, 7, 2, 3, 8], [0, 2, 3, 1, 4]], // queries to groups [B, T, K, G, D] -> [B, K, G, T, D]
  [[2, 2, 3, 7, 8], [0, 3, 1, 2, 4]], // and back
  [[2, 7, 2, 8], [0, 2, 3, 1]], // keys to keysᵀ [B, T, K, D] -> [B, K, D, T]
  [[2, 7, 2, 8], [0, 2, 1, 3]], // values [B, T, K, D] -> [B, K, T, D]
  [[5, 7], [1, 0]],
  [[3, 37, 41], [0, 2, 1]],
  [[3, 5, 7, 9], [1, 0, 2, 3]],
  [[2, 3, 5, 7], [0, 2, 1, 3]],
  [[3, 1, 5, 7], [0, 3, 1, 2]],
  [[1, 5, 1, 3], [2, 0, 3, 1]],
  [[2, 1, 3], [1, 0, 2]], // only a size-1 axis moves: a reshape
  [[2, 3, 4], [2, 1, 0]], // no kernel: tf.transpose
];

describe("planPermutation", () => {
  it("merges adjacent axes and drops size-1 axes", () => {
    expect(planPermutation([16, 128, 2, 2, 32], [0, 2, 3, 1, 4])).toEqual({ kind: "swapMiddleAxes", batch: 16, x: 128, y: 4, length: 32 });
    expect(planPermutation([16, 128, 2, 32], [0, 2, 3, 1])).toEqual({ kind: "transposeLastTwo", batch: 16, rows: 128, columns: 64 });
    expect(planPermutation([5, 7], [1, 0])).toEqual({ kind: "transposeLastTwo", batch: 1, rows: 5, columns: 7 });
    expect(planPermutation([3, 5, 7, 9], [1, 0, 2, 3])).toEqual({ kind: "swapMiddleAxes", batch: 1, x: 3, y: 5, length: 63 });
    expect(planPermutation([3, 1, 5, 7], [0, 3, 1, 2])).toEqual({ kind: "transposeLastTwo", batch: 3, rows: 5, columns: 7 });
    expect(planPermutation([2, 1, 3], [1, 0, 2])).toEqual({ kind: "copy" });
    expect(planPermutation([4, 5], [0, 1])).toEqual({ kind: "copy" });
    expect(planPermutation([2, 3, 4], [2, 1, 0])).toBeNull();
  });
});

describe.each(["wasm", "cpu"] as const)("permuteAxes on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("equals tf.transpose exactly, float32 and int32", async () => {
    let seed = 1;
    for (const [shape, perm] of CASES) {
      const x = randomTensor(shape, seed++);
      const y = permuteAxes(x, perm);
      const expected = tf.transpose(x, perm);
      expect(y.shape).toEqual(expected.shape);
      expect(Array.from(await y.data()), `${shape} by ${perm}`).toEqual(Array.from(await expected.data()));
      const integers = tf.cast(tf.mul(x, 1000), "int32");
      const permutedIntegers = permuteAxes(integers, perm);
      expect(permutedIntegers.dtype).toBe("int32");
      expect(Array.from(await permutedIntegers.data())).toEqual(Array.from(await tf.transpose(integers, perm).data()));
      tf.dispose([x, y, expected, integers, permutedIntegers]);
    }
  });

  it("runs the kernel on wasm for attention's permutations", async () => {
    const x = randomTensor([2, 7, 2, 8], 20);
    const { kernelNames } = await tf.profile(() => permuteAxes(x, [0, 2, 3, 1]));
    expect(kernelNames).toContain(backend === "wasm" ? PERMUTE_AXES_KERNEL : "Transpose");
    x.dispose();
  });

  it("gradients are the inverse permutation (finite differences and tf.transpose's)", async () => {
    for (const [shape, perm] of [[[2, 3, 2, 4], [0, 2, 3, 1]], [[2, 3, 2, 4], [0, 2, 1, 3]], [[2, 3, 4], [2, 1, 0]]] as const) {
      const x = randomTensor([...shape], 30);
      const weights = randomTensor(perm.map((axis) => shape[axis]!), 31);
      const loss = (input: tf.Tensor) => tf.sum(tf.mul(permuteAxes(input, perm), weights)) as tf.Scalar;
      const [analytic] = tf.grads(loss)([x]);
      const [numeric] = await finiteDifferenceGradients(loss, [x]);
      assertClose(await analytic!.data(), numeric!, `gradient ${shape} by ${perm}`, { absolute: 2e-3, relative: 2e-3 });
      const [reference] = tf.grads((input: tf.Tensor) => tf.sum(tf.mul(tf.transpose(input, [...perm]), weights)) as tf.Scalar)([x]);
      expect(Array.from(await analytic!.data())).toEqual(Array.from(await reference!.data()));
      tf.dispose([x, weights, analytic!, reference!]);
    }
  });

  it("leaks no tensors, forward or backward", async () => {
    const x = randomTensor([2, 7, 2, 8], 40);
    await expectNoLeaks(() => permuteAxes(x, [0, 2, 3, 1]));
    await expectNoLeaks(() => tf.tidy(() => tf.grads((input: tf.Tensor) => tf.sum(permuteAxes(input, [0, 2, 1, 3])) as tf.Scalar)([x])));
    x.dispose();
  });

  it("rejects a bad permutation", () => {
    const x = tf.zeros([2, 3, 4]);
    expect(() => permuteAxes(x, [0, 1])).toThrow("permuteAxes: [0, 1] is not a permutation of the 3 axes of [2, 3, 4]");
    expect(() => permuteAxes(x, [0, 1, 1])).toThrow("is not a permutation");
    x.dispose();
  });
});

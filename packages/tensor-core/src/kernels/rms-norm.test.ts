import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "../testing.js";
import { tf } from "../tf.js";
import { RMS_NORM_GRAD_KERNEL, RMS_NORM_KERNEL, rmsNormComposite, rmsNormalize } from "./rms-norm.js";
import { kernelNamesOf } from "./test-helpers.js";

function randomTensor(shape: number[], seed: number, offset = 0): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => offset + rng.normal()), shape);
}

describe.each(["wasm", "cpu"] as const)("rmsNormalize on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("matches a hand-computed row", async () => {
    // x = [3, 4]: mean(x²) = 12.5, rsqrt(12.5) = 0.28284271; weight [1, 2].
    const y = rmsNormalize(tf.tensor2d([[3, 4]]), tf.tensor1d([1, 2]), 0);
    assertClose(await y.data(), [3 * 0.28284271, 8 * 0.28284271], "hand-computed", { absolute: 1e-6 });
  });

  it("equals the tf composite for ranks 2-4 and widths with SIMD tails", async () => {
    let seed = 1;
    for (const shape of [[5, 128], [2, 3, 7], [2, 3, 4, 32], [3, 6], [1, 1]]) {
      const x = randomTensor(shape, seed++, 0.3);
      const weight = randomTensor([shape[shape.length - 1]!], seed++) as tf.Tensor1D;
      const y = rmsNormalize(x, weight, 1e-6);
      expect(y.shape).toEqual(shape);
      assertClose(await y.data(), await rmsNormComposite(x, weight, 1e-6).data(), `forward ${shape}`, { absolute: 1e-5, relative: 1e-5 });
    }
  });

  it("runs one kernel forward and one backward on wasm", async () => {
    const x = randomTensor([4, 8], 10);
    const weight = randomTensor([8], 11) as tf.Tensor1D;
    const forward = await kernelNamesOf(() => rmsNormalize(x, weight, 1e-6));
    const backward = await kernelNamesOf(() => tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(rmsNormalize(a, w as tf.Tensor1D, 1e-6)) as tf.Scalar)([x, weight]));
    if (backend === "wasm") {
      expect(forward).toEqual([RMS_NORM_KERNEL]);
      expect(backward).toContain(RMS_NORM_GRAD_KERNEL);
    } else {
      expect(forward).not.toContain(RMS_NORM_KERNEL);
    }
  });

  it("gradients for x and weight match finite differences and the tf composite's", async () => {
    for (const shape of [[3, 8], [2, 2, 3, 6]]) {
      const x = randomTensor(shape, 20, 0.5);
      const weight = randomTensor([shape[shape.length - 1]!], 21) as tf.Tensor1D;
      const probe = randomTensor(shape, 22);
      const loss = (a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(rmsNormalize(a, w as tf.Tensor1D, 1e-6), probe)) as tf.Scalar;
      const reference = (a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(rmsNormComposite(a, w as tf.Tensor1D, 1e-6), probe)) as tf.Scalar;
      const analytic = tf.grads(loss)([x, weight]);
      const composite = tf.grads(reference)([x, weight]);
      const numeric = await finiteDifferenceGradients(loss, [x, weight]);
      for (const i of [0, 1]) {
        expect(analytic[i]!.shape).toEqual([x, weight][i]!.shape);
        assertClose(await analytic[i]!.data(), await composite[i]!.data(), `${shape}: input ${i} vs composite`, { absolute: 1e-5, relative: 1e-4 });
        assertClose(await analytic[i]!.data(), numeric[i]!, `${shape}: input ${i} vs finite differences`, { absolute: 3e-3, relative: 3e-3 });
      }
      tf.dispose([x, weight, probe, ...analytic, ...composite]);
    }
  });

  it("leaks no tensors, forward or backward (also when only x needs a gradient)", async () => {
    const x = randomTensor([4, 8], 30);
    const weight = randomTensor([8], 31) as tf.Tensor1D;
    await expectNoLeaks(() => rmsNormalize(x, weight, 1e-6));
    await expectNoLeaks(() => tf.tidy(() => tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(rmsNormalize(a, w as tf.Tensor1D, 1e-6)) as tf.Scalar)([x, weight])));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(rmsNormalize(a, weight, 1e-6)) as tf.Scalar)(x)));
    tf.dispose([x, weight]);
  });

  it("rejects a weight that does not fit", () => {
    expect(() => rmsNormalize(tf.zeros([2, 4]), tf.zeros([3]) as tf.Tensor1D, 1e-6)).toThrow("rmsNormalize: weight [3] must be [D] for input [2, 4]");
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "../testing.js";
import { tf } from "../tf.js";
import { SWIGLU_GRAD_KERNEL, SWIGLU_KERNEL, swiglu, swigluComposite } from "./swiglu.js";
import { kernelNamesOf } from "./test-helpers.js";

function randomTensor(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => std * rng.normal()), shape);
}

describe.each(["wasm", "cpu"] as const)("swiglu on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("matches hand-computed values, extremes included", async () => {
    // silu(0) = 0; silu(2) = 2 / (1 + e^−2) = 1.7615942; silu(−2) = −0.2384058; silu(±100) = 100 / ~0.
    const gate = tf.tensor1d([0, 2, -2, 100, -100]);
    const up = tf.tensor1d([5, 1, 1, 0.5, 1]);
    assertClose(await swiglu(gate, up).data(), [0, 1.7615942, -0.2384058, 50, -100 * Math.exp(-100)], "hand-computed", { absolute: 1e-6, relative: 1e-6 });
  });

  it("equals the tf composite within float32 rounding (vector lanes and scalar tail)", async () => {
    for (const shape of [[7, 384], [3, 5], [1, 1]]) {
      const gate = randomTensor(shape, 1, 4);
      const up = randomTensor(shape, 2);
      const y = swiglu(gate, up);
      expect(y.shape).toEqual(shape);
      assertClose(await y.data(), await swigluComposite(gate, up).data(), `forward ${shape}`, { absolute: 1e-6, relative: 1e-5 });
    }
  });

  it("runs one kernel forward and one backward on wasm", async () => {
    const gate = randomTensor([4, 6], 3);
    const up = randomTensor([4, 6], 4);
    const forward = await kernelNamesOf(() => swiglu(gate, up));
    const backward = await kernelNamesOf(() => tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(swiglu(g, u)) as tf.Scalar)([gate, up]));
    if (backend === "wasm") {
      expect(forward).toEqual([SWIGLU_KERNEL]);
      expect(backward).toContain(SWIGLU_GRAD_KERNEL);
      expect(backward).not.toContain("Sigmoid");
    } else {
      expect(forward).toContain("Sigmoid");
    }
  });

  it("gradients match finite differences and the composite's", async () => {
    const gate = randomTensor([3, 7], 10, 2);
    const up = randomTensor([3, 7], 11);
    const probe = randomTensor([3, 7], 12);
    const loss = (g: tf.Tensor, u: tf.Tensor) => tf.sum(tf.mul(swiglu(g, u), probe)) as tf.Scalar;
    const reference = (g: tf.Tensor, u: tf.Tensor) => tf.sum(tf.mul(swigluComposite(g, u), probe)) as tf.Scalar;
    const analytic = tf.grads(loss)([gate, up]);
    const composite = tf.grads(reference)([gate, up]);
    const numeric = await finiteDifferenceGradients(loss, [gate, up]);
    for (const i of [0, 1]) {
      assertClose(await analytic[i]!.data(), await composite[i]!.data(), `input ${i} vs composite`, { absolute: 1e-5, relative: 1e-5 });
      assertClose(await analytic[i]!.data(), numeric[i]!, `input ${i} vs finite differences`, { absolute: 3e-3, relative: 3e-3 });
    }
    tf.dispose([gate, up, probe, ...analytic, ...composite]);
  });

  it("leaks no tensors, forward or backward", async () => {
    const gate = randomTensor([4, 6], 20);
    const up = randomTensor([4, 6], 21);
    await expectNoLeaks(() => swiglu(gate, up));
    await expectNoLeaks(() => tf.tidy(() => tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(swiglu(g, u)) as tf.Scalar)([gate, up])));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((g: tf.Tensor) => tf.sum(swiglu(g, up)) as tf.Scalar)(gate)));
    tf.dispose([gate, up]);
  });

  it("rejects different shapes", () => {
    expect(() => swiglu(tf.zeros([2, 3]), tf.zeros([3, 2]))).toThrow("swiglu: gate [2, 3] and up [3, 2] must have one shape");
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "../testing.js";
import { tf } from "../tf.js";
import { MASKED_SOFTMAX_GRAD_KERNEL, MASKED_SOFTMAX_KERNEL, maskedSoftmax, maskedSoftmaxComposite } from "./masked-softmax.js";
import { kernelNamesOf } from "./test-helpers.js";

function randomTensor(shape: number[], seed: number, std = 1): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => std * rng.normal()), shape);
}

/** Causal mask, with row b's first b keys padded unless `padded` is false: 0 allowed, −1e9 masked; [B, 1, T, S], S = T. */
function causalMask(B: number, T: number, padded = true): tf.Tensor {
  const values = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) if (s > t || (padded && s < b)) values[(b * T + t) * T + s] = -1e9;
  return tf.tensor(values, [B, 1, T, T]);
}

describe.each(["wasm", "cpu"] as const)("maskedSoftmax on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("matches a hand-computed row: masked keys get no weight", async () => {
    // scale 2: softmax([2·0, 2·ln 3, masked]) = [1, 9, 0] / 10.
    const y = maskedSoftmax(tf.tensor4d([[[[0, Math.log(3), 5]]]]), tf.tensor([0, 0, -1e9], [1, 1, 1, 3]), 2);
    assertClose(await y.data(), [0.1, 0.9, 0], "hand-computed", { absolute: 1e-6 });
  });

  it("equals the tf composite (SIMD lanes and scalar tails, heads sharing the mask, padded rows)", async () => {
    for (const [B, H, T] of [[2, 4, 9], [3, 2, 16], [1, 1, 3]] as const) {
      const scores = randomTensor([B, H, T, T], B + H + T, 3) as tf.Tensor4D;
      const mask = causalMask(B, T);
      const y = maskedSoftmax(scores, mask, 0.37);
      assertClose(await y.data(), await maskedSoftmaxComposite(scores, mask, 0.37).data(), `[${B}, ${H}, ${T}]`, { absolute: 1e-6, relative: 1e-5 });
    }
  });

  it("runs one kernel forward and one backward on wasm", async () => {
    const scores = randomTensor([2, 2, 5, 5], 3) as tf.Tensor4D;
    const mask = causalMask(2, 5);
    const forward = await kernelNamesOf(() => maskedSoftmax(scores, mask, 0.5));
    const backward = await kernelNamesOf(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(maskedSoftmax(x as tf.Tensor4D, mask, 0.5), x)) as tf.Scalar)(scores));
    if (backend === "wasm") {
      expect(forward).toEqual([MASKED_SOFTMAX_KERNEL]);
      expect(backward).toContain(MASKED_SOFTMAX_GRAD_KERNEL);
    } else {
      expect(forward).toContain("Softmax");
    }
  });

  it("gradients match finite differences and the composite's", async () => {
    // No fully masked rows: there float32 cannot resolve x · scale − 1e9 changing by the step.
    const scores = randomTensor([2, 2, 4, 4], 10) as tf.Tensor4D;
    const mask = causalMask(2, 4, false);
    const probe = randomTensor([2, 2, 4, 4], 11);
    const loss = (x: tf.Tensor) => tf.sum(tf.mul(maskedSoftmax(x as tf.Tensor4D, mask, 0.7), probe)) as tf.Scalar;
    const reference = (x: tf.Tensor) => tf.sum(tf.mul(maskedSoftmaxComposite(x as tf.Tensor4D, mask, 0.7), probe)) as tf.Scalar;
    const analytic = tf.grad(loss)(scores);
    const composite = tf.grad(reference)(scores);
    const [numeric] = await finiteDifferenceGradients(loss, [scores]);
    assertClose(await analytic.data(), await composite.data(), "vs composite", { absolute: 1e-6, relative: 1e-5 });
    assertClose(await analytic.data(), numeric!, "vs finite differences", { absolute: 2e-3, relative: 2e-3 });
    tf.dispose([scores, mask, probe, analytic, composite]);
  });

  it("leaks no tensors, forward or backward", async () => {
    const scores = randomTensor([2, 2, 5, 5], 20) as tf.Tensor4D;
    const mask = causalMask(2, 5);
    await expectNoLeaks(() => maskedSoftmax(scores, mask, 0.5));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(maskedSoftmax(x as tf.Tensor4D, mask, 0.5))) as tf.Scalar)(scores)));
    tf.dispose([scores, mask]);
  });

  it("rejects a mask of the wrong size", () => {
    expect(() => maskedSoftmax(tf.zeros([1, 2, 3, 3]) as tf.Tensor4D, tf.zeros([1, 1, 3, 4]), 1)).toThrow("maskedSoftmax: mask [1, 1, 3, 4] must hold B·T·S = 9 values");
  });
});

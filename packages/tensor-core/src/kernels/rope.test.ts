import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "../testing.js";
import { tf } from "../tf.js";
import { ROPE_KERNEL, ropeComposite, rotaryEmbedding } from "./rope.js";
import { kernelNamesOf, randomRopeTables } from "./test-helpers.js";

function randomTensor(shape: number[], seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape) as unknown as tf.Tensor4D;
}

const tables = randomRopeTables;

describe.each(["wasm", "cpu"] as const)("rotaryEmbedding on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("rotates a hand-computed pair", async () => {
    // D = 2: y = [x₁ cos − x₂ sin, x₂ cos + x₁ sin] (a rotation by the angle).
    const c = Math.cos(0.5);
    const s = Math.sin(0.5);
    const y = rotaryEmbedding(tf.tensor4d([[[[1, 2]]]]), tf.tensor4d([[[[c, c]]]]), tf.tensor4d([[[[s, s]]]]));
    assertClose(await y.data(), [c - 2 * s, 2 * c + s], "rotation", { absolute: 1e-6 });
  });

  it("equals the split + concat composite exactly (vector and scalar head dims, arbitrary tables)", async () => {
    for (const [B, T, N, D] of [[2, 5, 3, 32], [1, 3, 2, 6], [3, 1, 4, 8]] as const) {
      const x = randomTensor([B, T, N, D], B + T + N + D);
      const equalHalves = tables(B, T, D, 7);
      const arbitrary = { cos: randomTensor([B, T, 1, D], 8), sin: randomTensor([B, T, 1, D], 9) };
      for (const { cos, sin } of [equalHalves, arbitrary]) {
        const y = rotaryEmbedding(x, cos, sin);
        expect(y.shape).toEqual([B, T, N, D]);
        expect(Array.from(await y.data()), `[${B}, ${T}, ${N}, ${D}]`).toEqual(Array.from(await ropeComposite(x, cos, sin).data()));
      }
    }
  });

  it("runs one kernel forward and backward on wasm", async () => {
    const x = randomTensor([2, 3, 2, 8], 10);
    const { cos, sin } = tables(2, 3, 8, 11);
    const forward = await kernelNamesOf(() => rotaryEmbedding(x, cos, sin));
    const backward = await kernelNamesOf(() => tf.grad((a: tf.Tensor) => tf.sum(rotaryEmbedding(a as tf.Tensor4D, cos, sin)) as tf.Scalar)(x));
    if (backend === "wasm") {
      expect(forward).toEqual([ROPE_KERNEL]);
      expect(backward).toContain(ROPE_KERNEL);
      expect(backward).not.toContain("SplitV");
    } else {
      expect(forward).toContain("SplitV");
    }
  });

  it("gradients for x match finite differences and the composite's; the tables get none on wasm", async () => {
    const x = randomTensor([2, 3, 2, 6], 20);
    const cos = randomTensor([2, 3, 1, 6], 21);
    const sin = randomTensor([2, 3, 1, 6], 22);
    const probe = randomTensor([2, 3, 2, 6], 23);
    const loss = (a: tf.Tensor) => tf.sum(tf.mul(rotaryEmbedding(a as tf.Tensor4D, cos, sin), probe)) as tf.Scalar;
    const reference = (a: tf.Tensor) => tf.sum(tf.mul(ropeComposite(a as tf.Tensor4D, cos, sin), probe)) as tf.Scalar;
    const analytic = tf.grad(loss)(x);
    const composite = tf.grad(reference)(x);
    const [numeric] = await finiteDifferenceGradients(loss, [x]);
    assertClose(await analytic.data(), await composite.data(), "dx vs composite", { absolute: 1e-5, relative: 1e-5 });
    assertClose(await analytic.data(), numeric!, "dx vs finite differences", { absolute: 2e-3, relative: 2e-3 });
    const tableGradient = () => tf.grad((c: tf.Tensor) => tf.sum(rotaryEmbedding(x, c as tf.Tensor4D, sin)) as tf.Scalar)(cos);
    if (backend === "wasm") expect(tableGradient).toThrow("no gradient for the RoPE table cos");
    else tableGradient().dispose();
    tf.dispose([x, cos, sin, probe, analytic, composite]);
  });

  it("leaks no tensors, forward or backward", async () => {
    const x = randomTensor([2, 3, 2, 8], 30);
    const { cos, sin } = tables(2, 3, 8, 31);
    await expectNoLeaks(() => rotaryEmbedding(x, cos, sin));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(rotaryEmbedding(a as tf.Tensor4D, cos, sin)) as tf.Scalar)(x)));
    tf.dispose([x, cos, sin]);
  });

  it("rejects an odd head dim", () => {
    expect(() => rotaryEmbedding(tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, tf.zeros([1, 1, 1, 3]) as tf.Tensor4D)).toThrow("head dim must be even");
  });
});

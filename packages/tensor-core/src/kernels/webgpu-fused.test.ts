// The WGSL fused kernels (webgpu-fused.ts) against the tf composites they replace, on the webgpu
// backend: values, gradients through tf.grads, leaks (a decode step's kernel count: test/gpu/webgpu-fused-decode.test.ts).
// Runs wherever a WebGPU adapter can be created (a GPU, or Mesa >= 24 lavapipe on a CPU machine:
// scripts/install-vulkan.sh; slow, so every shape here is small). Skips with the reason otherwise.
// Reads are async only (webgpu in Node has no dataSync).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks } from "../testing.js";
import { tf } from "../tf.js";
import { probeWebgpu } from "../webgpu.js";
import { MASKED_SOFTMAX_GRAD_KERNEL, MASKED_SOFTMAX_KERNEL, maskedSoftmax, maskedSoftmaxComposite } from "./masked-softmax.js";
import { RMS_NORM_GRAD_KERNEL, RMS_NORM_KERNEL, rmsNormComposite, rmsNormalize } from "./rms-norm.js";
import { ROPE_KERNEL, ropeComposite, rotaryEmbedding } from "./rope.js";
import { SWIGLU_GRAD_KERNEL, SWIGLU_KERNEL, swiglu, swigluComposite } from "./swiglu.js";
import { kernelNamesOf, randomRopeTables } from "./test-helpers.js";
import { fusedKernelsActive } from "./webgpu-fused.js";

const FUSED_KERNELS = [RMS_NORM_KERNEL, RMS_NORM_GRAD_KERNEL, ROPE_KERNEL, SWIGLU_KERNEL, SWIGLU_GRAD_KERNEL, MASKED_SOFTMAX_KERNEL, MASKED_SOFTMAX_GRAD_KERNEL];

const probe = await probeWebgpu();
const skipReason = probe.available ? null : probe.reason;
if (skipReason) console.warn(`webgpu-fused.test.ts: skipping the webgpu fused-kernel tests: ${skipReason}`);

/** Values against the composite (float32, different summation order). */
const VALUES = { absolute: 1e-6, relative: 1e-5 };
/** Gradients against the composite's gradients. */
const GRADIENTS = { absolute: 1e-5, relative: 1e-5 };

function randomTensor(shape: number[], seed: number, std = 1, offset = 0): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => offset + std * rng.normal()), shape);
}

const ropeTables = randomRopeTables;

/** Causal mask with row b's first b keys padded: 0 allowed, −1e9 masked; [B, 1, T, S], S = T. */
function causalMask(B: number, T: number): tf.Tensor {
  const values = new Float32Array(B * T * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s < T; s++) if (s > t || s < b) values[(b * T + t) * T + s] = -1e9;
  return tf.tensor(values, [B, 1, T, T]);
}

/** Compares tf.grads of sum(f(inputs) · probe) with the fused op and with its composite. */
async function expectSameGradients(name: string, fused: (...x: tf.Tensor[]) => tf.Tensor, composite: (...x: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], probe: tf.Tensor): Promise<void> {
  const loss = (f: (...x: tf.Tensor[]) => tf.Tensor) => (...x: tf.Tensor[]) => tf.sum(tf.mul(f(...x), probe)) as tf.Scalar;
  const analytic = tf.grads(loss(fused))(inputs);
  const reference = tf.grads(loss(composite))(inputs);
  for (let i = 0; i < analytic.length; i++) {
    expect(analytic[i]!.shape).toEqual(inputs[i]!.shape);
    assertClose(await analytic[i]!.data(), await reference[i]!.data(), `${name}: gradient ${i}`, GRADIENTS);
  }
  tf.dispose([...analytic, ...reference]);
}

describe.skipIf(skipReason !== null)(`fused kernels on webgpu${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  const startLog: string[] = [];

  beforeAll(async () => {
    // The first start in this process: the backend's log (WebGPU validation errors) comes here.
    await initBackend({ backend: "webgpu", log: (line) => startLog.push(line) });
    expect(tf.getBackend()).toBe("webgpu");
  });

  afterAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("are registered for webgpu and active there; cpu keeps the composites", async () => {
    for (const name of FUSED_KERNELS) {
      expect(tf.getKernel(name, "webgpu"), name).toBeDefined();
      expect(fusedKernelsActive(name), name).toBe(true);
    }
    await initBackend({ backend: "cpu", quiet: true });
    expect(fusedKernelsActive(RMS_NORM_KERNEL)).toBe(false);
    await initBackend({ backend: "webgpu", quiet: true });
  });

  it("rmsNormalize: one kernel, equal to the composite for odd widths, one row and many rows", async () => {
    let seed = 1;
    // D: below, not a multiple of 4, not a multiple of the workgroup (64 / 256), above 1024.
    for (const shape of [[1, 1], [1, 7], [3, 5, 130], [2, 2, 3, 6], [37, 64], [2, 1030], [300, 12]]) {
      const x = randomTensor(shape, seed++, 1, 0.3);
      const weight = randomTensor([shape[shape.length - 1]!], seed++) as tf.Tensor1D;
      const y = rmsNormalize(x, weight, 1e-6);
      expect(y.shape).toEqual(shape);
      assertClose(await y.data(), await rmsNormComposite(x, weight, 1e-6).data(), `rmsNormalize ${shape}`, VALUES);
      tf.dispose([x, weight, y]);
    }
    const x = randomTensor([4, 9], 90);
    const weight = randomTensor([9], 91) as tf.Tensor1D;
    expect(await kernelNamesOf(() => rmsNormalize(x, weight, 1e-6))).toEqual([RMS_NORM_KERNEL]);
    const backward = await kernelNamesOf(() => tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(rmsNormalize(a, w as tf.Tensor1D, 1e-6)) as tf.Scalar)([x, weight]));
    expect(backward).toContain(RMS_NORM_GRAD_KERNEL);
    tf.dispose([x, weight]);
  });

  it("rmsNormalize: gradients for x and weight equal the composite's", async () => {
    let seed = 10;
    for (const shape of [[1, 7], [3, 130], [2, 3, 6], [70, 12]]) {
      const x = randomTensor(shape, seed++, 1, 0.5);
      const weight = randomTensor([shape[shape.length - 1]!], seed++);
      const probe = randomTensor(shape, seed++);
      const fused = (a: tf.Tensor, w: tf.Tensor) => rmsNormalize(a, w as tf.Tensor1D, 1e-6);
      const composite = (a: tf.Tensor, w: tf.Tensor) => rmsNormComposite(a, w as tf.Tensor1D, 1e-6);
      await expectSameGradients(`rmsNormalize ${shape}`, fused as never, composite as never, [x, weight], probe);
      tf.dispose([x, weight, probe]);
    }
  });

  it("rotaryEmbedding: one kernel, equal to the composite; gradient equals the composite's", async () => {
    let seed = 20;
    for (const [B, T, N, D] of [[1, 1, 1, 2], [1, 1, 3, 6], [2, 3, 2, 10], [1, 5, 4, 34], [3, 70, 1, 8]] as const) {
      const x = randomTensor([B, T, N, D], seed++) as tf.Tensor4D;
      const { cos, sin } = ropeTables(B, T, D, seed++);
      const y = rotaryEmbedding(x, cos, sin);
      assertClose(await y.data(), await ropeComposite(x, cos, sin).data(), `rope ${[B, T, N, D]}`, VALUES);
      const probe = randomTensor([B, T, N, D], seed++);
      await expectSameGradients(`rope ${[B, T, N, D]}`, (a) => rotaryEmbedding(a as tf.Tensor4D, cos, sin), (a) => ropeComposite(a as tf.Tensor4D, cos, sin), [x], probe);
      tf.dispose([x, cos, sin, y, probe]);
    }
    const x = randomTensor([1, 2, 2, 4], 29) as tf.Tensor4D;
    const { cos, sin } = ropeTables(1, 2, 4, 30);
    expect(await kernelNamesOf(() => rotaryEmbedding(x, cos, sin))).toEqual([ROPE_KERNEL]);
    tf.dispose([x, cos, sin]);
  });

  it("swiglu: one kernel, equal to the composite; gradients equal the composite's", async () => {
    let seed = 40;
    for (const shape of [[1], [1, 7], [3, 130], [2, 3, 5], [65, 3]]) {
      const gate = randomTensor(shape, seed++, 2);
      const up = randomTensor(shape, seed++);
      const y = swiglu(gate, up);
      assertClose(await y.data(), await swigluComposite(gate, up).data(), `swiglu ${shape}`, VALUES);
      const probe = randomTensor(shape, seed++);
      await expectSameGradients(`swiglu ${shape}`, swiglu, swigluComposite, [gate, up], probe);
      tf.dispose([gate, up, y, probe]);
    }
    const gate = randomTensor([2, 5], 49);
    expect(await kernelNamesOf(() => swiglu(gate, gate))).toEqual([SWIGLU_KERNEL]);
    expect(await kernelNamesOf(() => tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(swiglu(g, u)) as tf.Scalar)([gate, gate]))).toContain(SWIGLU_GRAD_KERNEL);
    tf.dispose(gate);
  });

  it("maskedSoftmax: one kernel, equal to the composite (padded rows, heads sharing the mask); gradient equals the composite's", async () => {
    let seed = 60;
    for (const [B, H, T] of [[1, 1, 1], [1, 1, 3], [2, 4, 9], [3, 2, 67]] as const) {
      const scores = randomTensor([B, H, T, T], seed++, 3) as tf.Tensor4D;
      const mask = causalMask(B, T);
      const y = maskedSoftmax(scores, mask, 0.35);
      assertClose(await y.data(), await maskedSoftmaxComposite(scores, mask, 0.35).data(), `maskedSoftmax ${[B, H, T]}`, VALUES);
      const probe = randomTensor([B, H, T, T], seed++);
      await expectSameGradients(`maskedSoftmax ${[B, H, T]}`, (s) => maskedSoftmax(s as tf.Tensor4D, mask, 0.35), (s) => maskedSoftmaxComposite(s as tf.Tensor4D, mask, 0.35), [scores], probe);
      tf.dispose([scores, mask, y, probe]);
    }
    const scores = randomTensor([1, 2, 3, 3], 69) as tf.Tensor4D;
    const mask = causalMask(1, 3);
    expect(await kernelNamesOf(() => maskedSoftmax(scores, mask, 1))).toEqual([MASKED_SOFTMAX_KERNEL]);
    tf.dispose([scores, mask]);
  });

  it("leak no tensors, forward or backward", async () => {
    const x = randomTensor([3, 10], 80);
    const weight = randomTensor([10], 81) as tf.Tensor1D;
    const x4 = randomTensor([1, 3, 2, 10], 82) as tf.Tensor4D;
    const { cos, sin } = ropeTables(1, 3, 10, 83);
    const scores = randomTensor([1, 2, 3, 3], 84) as tf.Tensor4D;
    const mask = causalMask(1, 3);
    await expectNoLeaks(() => rmsNormalize(x, weight, 1e-6));
    await expectNoLeaks(() => tf.tidy(() => tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(rmsNormalize(a, w as tf.Tensor1D, 1e-6)) as tf.Scalar)([x, weight])));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(rmsNormalize(a, weight, 1e-6)) as tf.Scalar)(x)));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((a: tf.Tensor) => tf.sum(rotaryEmbedding(a as tf.Tensor4D, cos, sin)) as tf.Scalar)(x4)));
    await expectNoLeaks(() => tf.tidy(() => tf.grads((g: tf.Tensor, u: tf.Tensor) => tf.sum(swiglu(g, u)) as tf.Scalar)([x, x])));
    await expectNoLeaks(() => tf.tidy(() => tf.grad((s: tf.Tensor) => tf.sum(maskedSoftmax(s as tf.Tensor4D, mask, 0.5)) as tf.Scalar)(scores)));
    tf.dispose([x, weight, x4, cos, sin, scores, mask]);
  });

  it("raised no WebGPU validation errors", async () => {
    await tf.zeros([1]).data(); // flushes the queue
    expect(startLog.filter((line) => line.includes("webgpu error"))).toEqual([]);
  });
});

// The WGSL inference attention kernels (webgpu-attention.ts) against the composite path they
// replace on webgpu (qwen.ts without inferenceKernelsAvailable: rmsNormalize + rotaryEmbedding,
// permuteAxes + concat for the cache; grouped batchMatMul + maskedSoftmax + batchMatMul for the
// attention): values, the slab form, leaks, validation errors. A decode step's kernel count:
// test/gpu/webgpu-fused-decode.test.ts. Runs wherever a WebGPU adapter can be created (a GPU, or
// Mesa >= 24 lavapipe: slow, so every shape here is small); skips with the reason otherwise.
// B batch, T new positions, P cached positions, S = P + T, H query heads, K kv heads, D head dim, L slabs.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks } from "../testing.js";
import { tf } from "../tf.js";
import { probeWebgpu } from "../webgpu.js";
import { batchMatMul } from "./batch-mat-mul.js";
import { APPEND_KEY_VALUES_KERNEL, INFERENCE_ATTENTION_KERNEL, appendKeyValues, inferenceAttention, inferenceKernelsAvailable, type HeadPreparation } from "./inference-attention.js";
import { maskedSoftmax } from "./masked-softmax.js";
import { permuteAxes } from "./permute-axes.js";
import { rmsNormalize } from "./rms-norm.js";
import { rotaryEmbedding } from "./rope.js";
import { randomRopeTables } from "./test-helpers.js";

const probe = await probeWebgpu();
const skipReason = probe.available ? null : probe.reason;
if (skipReason) console.warn(`webgpu-attention.test.ts: skipping the webgpu attention-kernel tests: ${skipReason}`);

/** Prepared keys and attention against the composite (float32, different summation order). */
const VALUES = { absolute: 1e-5, relative: 1e-4 };

function randomTensor(shape: number[], seed: number, std = 1, offset = 0): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => offset + std * rng.normal()), shape);
}

/** A preparation with RoPE tables [B, T, 1, D] of equal halves (as ropeTables builds them) and, optionally, a norm weight. */
function preparation(B: number, T: number, D: number, seed: number, withNorm: boolean): HeadPreparation {
  return { normWeight: withNorm ? (randomTensor([D], seed + 1, 0.5, 1) as tf.Tensor1D) : null, eps: 1e-6, ...randomRopeTables(B, T, D, seed) };
}

function disposePreparation(prepare: HeadPreparation | undefined): void {
  if (prepare) tf.dispose([prepare.cos, prepare.sin, ...(prepare.normWeight ? [prepare.normWeight] : [])]);
}

/** Causal mask over S = P + T keys with row b's first b keys padded: 0 allowed, −1e9 masked; [B, 1, 1, T, S]. */
function causalMask(B: number, T: number, S: number): tf.Tensor {
  const values = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let s = 0; s < S; s++) if (s > S - T + t || s < b) values[(b * T + t) * S + s] = -1e9;
  return tf.tensor(values, [B, 1, 1, T, S]);
}

/** A new key or query prepared as qwen.ts does without the kernels. */
function prepareComposite(x: tf.Tensor4D, prepare: HeadPreparation | undefined): tf.Tensor4D {
  if (!prepare) return x;
  const normed = prepare.normWeight ? rmsNormalize(x, prepare.normWeight, prepare.eps) : x;
  return rotaryEmbedding(normed, prepare.cos, prepare.sin);
}

/** qwen.ts attentionKv's composite: prepare, permute into the cache layout, concat onto the past. */
function appendComposite(k: tf.Tensor4D, v: tf.Tensor4D, past: { keysT: tf.Tensor3D; values: tf.Tensor3D } | null, prepare?: HeadPreparation): { keysT: tf.Tensor3D; values: tf.Tensor3D } {
  return tf.tidy(() => {
    const [B, T, K, D] = k.shape;
    const keysT = tf.reshape(permuteAxes(prepareComposite(k, prepare), [0, 2, 3, 1]), [B * K, D, T]) as tf.Tensor3D; // [B*K, D, T]
    const values = tf.reshape(permuteAxes(v, [0, 2, 1, 3]), [B * K, T, D]) as tf.Tensor3D; // [B*K, T, D]
    if (!past) return { keysT, values };
    return { keysT: tf.concat([past.keysT, keysT], 2), values: tf.concat([past.values, values], 1) };
  });
}

/** qwen.ts attention's composite: prepare, group the G query heads of a kv head, scores, masked softmax, weighted values. */
function attentionComposite(q: tf.Tensor4D, keysT: tf.Tensor3D, values: tf.Tensor3D, mask: tf.Tensor, scale: number, prepare?: HeadPreparation): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, T, H, D] = q.shape;
    const K = keysT.shape[0] / B;
    const G = H / K;
    const S = keysT.shape[2];
    const grouped = tf.reshape(permuteAxes(tf.reshape(prepareComposite(q, prepare), [B, T, K, G, D]), [0, 2, 3, 1, 4]), [B * K, G * T, D]) as tf.Tensor3D;
    const scores = tf.reshape(batchMatMul(grouped, keysT), [B, K * G, T, S]) as tf.Tensor4D; // [B, H, T, S]
    const weights = tf.reshape(maskedSoftmax(scores, mask, scale), [B * K, G * T, S]) as tf.Tensor3D;
    const out = batchMatMul(weights, values); // [B*K, G*T, D]
    return tf.reshape(permuteAxes(tf.reshape(out, [B, K, G, T, D]), [0, 3, 1, 2, 4]), [B, T, H, D]) as tf.Tensor4D;
  });
}

async function expectSameCache(
  actual: { keysT: tf.Tensor3D; values: tf.Tensor3D },
  expected: { keysT: tf.Tensor3D; values: tf.Tensor3D },
  name: string,
  exact: boolean,
): Promise<void> {
  expect(actual.keysT.shape, name).toEqual(expected.keysT.shape);
  expect(actual.values.shape, name).toEqual(expected.values.shape);
  if (exact) expect(Array.from(await actual.keysT.data()), `${name}: keysT`).toEqual(Array.from(await expected.keysT.data()));
  else assertClose(await actual.keysT.data(), await expected.keysT.data(), `${name}: keysT`, VALUES);
  expect(Array.from(await actual.values.data()), `${name}: values`).toEqual(Array.from(await expected.values.data()));
}

describe.skipIf(skipReason !== null)(`inference attention kernels on webgpu${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  const startLog: string[] = [];

  beforeAll(async () => {
    // The first start in this process: the backend's log (WebGPU validation errors) comes here.
    await initBackend({ backend: "webgpu", log: (line) => startLog.push(line) });
    expect(tf.getBackend()).toBe("webgpu");
  });

  afterAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("are registered for webgpu and available there outside a tape; cpu keeps the composites", async () => {
    expect(tf.getKernel(APPEND_KEY_VALUES_KERNEL, "webgpu")).toBeDefined();
    expect(tf.getKernel(INFERENCE_ATTENTION_KERNEL, "webgpu")).toBeDefined();
    expect(inferenceKernelsAvailable()).toBe(true);
    const k = randomTensor([1, 2, 1, 4], 1) as tf.Tensor4D;
    let insideTape: boolean | null = null;
    tf.grad((x: tf.Tensor) => {
      insideTape = inferenceKernelsAvailable();
      return tf.sum(x) as tf.Scalar;
    })(k).dispose();
    expect(insideTape).toBe(false);
    expect(() => tf.grad((x: tf.Tensor) => tf.sum(appendKeyValues(x as tf.Tensor4D, k, null).keysT) as tf.Scalar)(k)).toThrow("no gradient recording");
    tf.dispose(k);
    await initBackend({ backend: "cpu", quiet: true });
    expect(inferenceKernelsAvailable()).toBe(false);
    await initBackend({ backend: "webgpu", quiet: true });
  });

  it("appendKeyValues: one kernel; starts and extends a cache as the composite does (copies exact, prepared keys close)", async () => {
    let seed = 100;
    // [B, P, T, K, D]: decode (T = 1), prefill onto nothing, odd sizes, a D above the workgroup.
    for (const [B, P, T, K, D] of [[1, 0, 1, 1, 2], [2, 5, 1, 2, 8], [1, 0, 4, 3, 6], [3, 7, 3, 2, 10], [2, 2, 2, 1, 130]] as const) {
      for (const withPrepare of [false, true]) {
        for (const withNorm of withPrepare ? [false, true] : [false]) {
          const name = `append ${[B, P, T, K, D]} prepare ${withPrepare} norm ${withNorm}`;
          const prepare = withPrepare ? preparation(B, T, D, seed++, withNorm) : undefined;
          const past = P > 0 ? appendComposite(randomTensor([B, P, K, D], seed++) as tf.Tensor4D, randomTensor([B, P, K, D], seed++) as tf.Tensor4D, null) : null;
          const k = randomTensor([B, T, K, D], seed++, 1, 0.2) as tf.Tensor4D;
          const v = randomTensor([B, T, K, D], seed++) as tf.Tensor4D;
          const fused = appendKeyValues(k, v, past, prepare);
          await expectSameCache(fused, appendComposite(k, v, past, prepare), name, !withPrepare);
          tf.dispose([k, v, fused.keysT, fused.values, ...(past ? [past.keysT, past.values] : [])]);
          disposePreparation(prepare);
        }
      }
    }
    // An odd head dim without RoPE.
    const k = randomTensor([2, 3, 2, 5], seed++) as tf.Tensor4D;
    const past = appendComposite(k, k, null);
    await expectSameCache(appendKeyValues(k, k, past), appendComposite(k, k, past), "append odd D", true);
    expect(await (async () => [...(await tf.profile(() => Object.values(appendKeyValues(k, k, past)))).kernelNames])()).toEqual([APPEND_KEY_VALUES_KERNEL]);
    tf.dispose([k, past.keysT, past.values]);
  });

  it("appendKeyValues: slab l of a stack [L, B, T, K, D] equals the composite on that slab", async () => {
    const [L, B, T, K, D] = [3, 2, 2, 2, 6];
    const k = randomTensor([L, B, T, K, D], 200) as tf.Tensor5D;
    const v = randomTensor([L, B, T, K, D], 201) as tf.Tensor5D;
    const past = appendComposite(randomTensor([B, 3, K, D], 202) as tf.Tensor4D, randomTensor([B, 3, K, D], 203) as tf.Tensor4D, null);
    const single = (x: tf.Tensor, slab: number) => tf.reshape(tf.slice(x, [slab, 0, 0, 0, 0], [1, B, T, K, D]), [B, T, K, D]) as tf.Tensor4D;
    for (let slab = 0; slab < L; slab++) {
      const prepare = preparation(B, T, D, 210 + slab, slab !== 1);
      for (const start of [null, past]) {
        const fused = appendKeyValues(k, v, start, prepare, slab);
        await expectSameCache(fused, appendComposite(single(k, slab), single(v, slab), start, prepare), `slab ${slab} past ${start !== null}`, false);
      }
      disposePreparation(prepare);
    }
    expect(() => appendKeyValues(k, v, past, undefined, 3)).toThrow("appendKeyValues: slab 3 is outside 0..2");
  });

  it("inferenceAttention: one kernel, equal to the composite (GQA, decode and prefill with a causal/padding mask, q-norm or not, long S)", async () => {
    let seed = 300;
    // [B, T, S, H, K, D]: G = 2 decode, G = 3 prefill over a past, one key, no GQA, S over the
    // 256-key tile, D over one workgroup (two accumulators per thread).
    const shapes = [[2, 1, 9, 4, 2, 8], [2, 3, 7, 6, 2, 6], [1, 1, 1, 1, 1, 4], [1, 5, 5, 2, 2, 10], [2, 2, 300, 4, 1, 8], [1, 2, 4, 2, 1, 72], [1, 1, 3, 2, 1, 258]] as const;
    for (const [B, T, S, H, K, D] of shapes) {
      for (const mode of ["none", "rope", "norm"] as const) {
        const name = `attention ${[B, T, S, H, K, D]} ${mode}`;
        const prepare = mode === "none" ? undefined : preparation(B, T, D, seed++, mode === "norm");
        const q = randomTensor([B, T, H, D], seed++, 1, 0.1) as tf.Tensor4D;
        const cache = appendComposite(randomTensor([B, S, K, D], seed++) as tf.Tensor4D, randomTensor([B, S, K, D], seed++) as tf.Tensor4D, null);
        const mask = causalMask(B, T, S);
        const scale = 1 / Math.sqrt(D);
        const fused = inferenceAttention(q, cache.keysT, cache.values, mask, scale, prepare);
        expect(fused.shape, name).toEqual([B, T, H, D]);
        assertClose(await fused.data(), await attentionComposite(q, cache.keysT, cache.values, mask, scale, prepare).data(), name, VALUES);
        tf.dispose([q, cache.keysT, cache.values, mask, fused]);
        disposePreparation(prepare);
      }
    }
    const q = randomTensor([1, 1, 2, 4], 390) as tf.Tensor4D;
    const cache = appendComposite(randomTensor([1, 3, 1, 4], 391) as tf.Tensor4D, randomTensor([1, 3, 1, 4], 392) as tf.Tensor4D, null);
    const mask = causalMask(1, 1, 3);
    expect([...(await tf.profile(() => inferenceAttention(q, cache.keysT, cache.values, mask, 0.5))).kernelNames]).toEqual([INFERENCE_ATTENTION_KERNEL]);
    tf.dispose([q, cache.keysT, cache.values, mask]);
  });

  it("a masked-out key gets zero weight; one key gets all of it", async () => {
    const q = tf.ones([1, 1, 1, 4]) as tf.Tensor4D;
    const { keysT, values } = appendComposite(tf.tensor4d([[[[1, 1, 1, 1]], [[9, 9, 9, 9]]]]), tf.tensor4d([[[[1, 2, 3, 4]], [[5, 6, 7, 8]]]]), null);
    const mask = tf.tensor([0, -1e9], [1, 1, 1, 1, 2]);
    const out = inferenceAttention(q, keysT, values, mask, 1);
    expect(Array.from(await out.data())).toEqual([1, 2, 3, 4]);
    tf.dispose([q, keysT, values, mask, out]);
  });

  it("leak no tensors", async () => {
    const [B, T, H, K, D] = [2, 1, 4, 2, 6];
    const prepare = preparation(B, T, D, 400, true);
    const k = randomTensor([B, T, K, D], 401) as tf.Tensor4D;
    const stack = randomTensor([2, B, T, K, D], 402) as tf.Tensor5D;
    const q = randomTensor([B, T, H, D], 403) as tf.Tensor4D;
    const cache = appendKeyValues(k, k, null, prepare);
    const mask = causalMask(B, T, 2);
    await expectNoLeaks(() => Object.values(appendKeyValues(k, k, null, prepare)));
    await expectNoLeaks(() => Object.values(appendKeyValues(k, k, cache, prepare)));
    await expectNoLeaks(() => Object.values(appendKeyValues(stack, stack, cache, prepare, 1)));
    await expectNoLeaks(() => tf.tidy(() => {
      const next = appendKeyValues(k, k, cache, prepare);
      return inferenceAttention(q, next.keysT, next.values, mask, 0.4, prepare);
    }));
    tf.dispose([k, stack, q, cache.keysT, cache.values, mask]);
    disposePreparation(prepare);
  });

  it("raised no WebGPU validation errors", async () => {
    await tf.zeros([1]).data(); // flushes the queue
    expect(startLog.filter((line) => line.includes("webgpu error"))).toEqual([]);
  });
});

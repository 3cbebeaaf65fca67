import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks } from "../testing.js";
import { tf } from "../tf.js";
import { appendKeyValues, inferenceAttention, inferenceKernelsAvailable } from "./inference-attention.js";
import { rmsNormalize } from "./rms-norm.js";
import { rotaryEmbedding } from "./rope.js";

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
}

/** The cache layout from plain tf ops: keys [B, T, K, D] -> keysᵀ [B*K, D, T], values -> [B*K, T, D]. */
function referenceCache(k: tf.Tensor4D, v: tf.Tensor4D): { keysT: tf.Tensor3D; values: tf.Tensor3D } {
  const [B, T, K, D] = k.shape;
  return {
    keysT: tf.reshape(tf.transpose(k, [0, 2, 3, 1]), [B * K, D, T]),
    values: tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [B * K, T, D]),
  };
}

/** Grouped-query attention with plain tf ops (query head h reads kv head floor(h / G)). */
function referenceAttention(q: tf.Tensor4D, keysT: tf.Tensor3D, values: tf.Tensor3D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, T, H, D] = q.shape;
    const K = keysT.shape[0] / B;
    const S = keysT.shape[2];
    const G = H / K;
    const heads = tf.transpose(q, [0, 2, 1, 3]); // [B, H, T, D]
    const keys = tf.reshape(keysT, [B, K, D, S]);
    const vals = tf.reshape(values, [B, K, S, D]);
    const repeat = (x: tf.Tensor) => tf.concat(Array.from({ length: H }, (_, h) => tf.slice(x, [0, Math.floor(h / G), 0, 0], [B, 1, -1, -1])), 1);
    const scores = tf.add(tf.matMul(tf.mul(heads, scale), repeat(keys)), tf.reshape(mask, [B, 1, T, S])); // [B, H, T, S]
    const out = tf.matMul(tf.softmax(scores, -1), repeat(vals)); // [B, H, T, D]
    return tf.transpose(out, [0, 2, 1, 3]) as tf.Tensor4D;
  });
}

/** Causal mask with some left padding: 0 where allowed, −1e9 elsewhere; [B, 1, 1, T, S]. */
function causalMask(B: number, T: number, S: number): tf.Tensor {
  const values = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) if (s > S - T + t || s < b) values[(b * T + t) * S + s] = -1e9;
    }
  }
  return tf.tensor(values, [B, 1, 1, T, S]);
}

describe("inference attention kernels on wasm", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("appendKeyValues starts and extends a cache exactly like transpose + concat", async () => {
    for (const [B, P, T, K, D] of [[2, 5, 3, 2, 8], [1, 0, 4, 1, 6], [3, 7, 1, 2, 32]] as const) {
      const old = { k: randomTensor([B, P, K, D], 1) as tf.Tensor4D, v: randomTensor([B, P, K, D], 2) as tf.Tensor4D };
      const fresh = { k: randomTensor([B, T, K, D], 3) as tf.Tensor4D, v: randomTensor([B, T, K, D], 4) as tf.Tensor4D };
      const past = P > 0 ? appendKeyValues(old.k, old.v, null) : null;
      const next = appendKeyValues(fresh.k, fresh.v, past);
      const reference = referenceCache(tf.concat([old.k, fresh.k], 1) as tf.Tensor4D, tf.concat([old.v, fresh.v], 1) as tf.Tensor4D);
      expect(next.keysT.shape).toEqual([B * K, D, P + T]);
      expect(next.values.shape).toEqual([B * K, P + T, D]);
      expect(Array.from(await next.keysT.data()), `keys ${[B, P, T, K, D]}`).toEqual(Array.from(await reference.keysT.data()));
      expect(Array.from(await next.values.data()), `values ${[B, P, T, K, D]}`).toEqual(Array.from(await reference.values.data()));
    }
  });

  it("inferenceAttention matches plain tf attention (GQA, causal mask with padding, decode and prefill shapes)", async () => {
    for (const [B, T, S, H, K, D] of [[2, 1, 9, 4, 2, 32], [2, 5, 5, 4, 2, 8], [1, 3, 7, 2, 2, 6], [3, 2, 6, 6, 1, 20]] as const) {
      const q = randomTensor([B, T, H, D], 10) as tf.Tensor4D;
      const cache = referenceCache(randomTensor([B, S, K, D], 11) as tf.Tensor4D, randomTensor([B, S, K, D], 12) as tf.Tensor4D);
      const mask = causalMask(B, T, S);
      const scale = 1 / Math.sqrt(D);
      const out = inferenceAttention(q, cache.keysT, cache.values, mask, scale);
      expect(out.shape).toEqual([B, T, H, D]);
      assertClose(await out.data(), await referenceAttention(q, cache.keysT, cache.values, mask, scale).data(), `attention ${[B, T, S, H, K, D]}`, { absolute: 1e-5, relative: 1e-4 });
    }
  });

  it("with a preparation, keys and queries are normed and rotated exactly as rmsNormalize + rotaryEmbedding", async () => {
    const [B, P, T, H, K, D] = [2, 4, 3, 4, 2, 8];
    const past = appendKeyValues(randomTensor([B, P, K, D], 40) as tf.Tensor4D, randomTensor([B, P, K, D], 41) as tf.Tensor4D, null);
    const k = randomTensor([B, T, K, D], 42) as tf.Tensor4D;
    const v = randomTensor([B, T, K, D], 43) as tf.Tensor4D;
    const q = randomTensor([B, T, H, D], 44) as tf.Tensor4D;
    const cos = tf.cos(randomTensor([B, T, 1, D], 45)) as tf.Tensor4D;
    const sin = tf.sin(randomTensor([B, T, 1, D], 46)) as tf.Tensor4D;
    const mask = causalMask(B, T, P + T);
    for (const normWeight of [randomTensor([D], 47) as tf.Tensor1D, null]) {
      const prepare = { normWeight, eps: 1e-6, cos, sin };
      const prepared = (x: tf.Tensor4D) => rotaryEmbedding(normWeight ? rmsNormalize(x, normWeight, 1e-6) : x, cos, sin);
      const fused = appendKeyValues(k, v, past, prepare);
      const separate = appendKeyValues(prepared(k), v, past);
      expect(Array.from(await fused.keysT.data())).toEqual(Array.from(await separate.keysT.data()));
      expect(Array.from(await fused.values.data())).toEqual(Array.from(await separate.values.data()));
      const attended = inferenceAttention(q, fused.keysT, fused.values, mask, 0.3, prepare);
      expect(Array.from(await attended.data())).toEqual(Array.from(await inferenceAttention(prepared(q), fused.keysT, fused.values, mask, 0.3).data()));
    }
    expect(() => appendKeyValues(k, v, past, { normWeight: null, eps: 1e-6, cos: tf.zeros([B, T, 1, 4]) as tf.Tensor4D, sin })).toThrow("appendKeyValues: RoPE table cos [2, 3, 1, 4] must be [2, 3, 1, 8]");
  });

  it("appends one slab of a stack [L, B, T, K, D] exactly as the slab alone", async () => {
    const [L, B, T, K, D] = [3, 2, 1, 2, 8];
    const k = randomTensor([L, B, T, K, D], 60) as tf.Tensor5D;
    const v = randomTensor([L, B, T, K, D], 61) as tf.Tensor5D;
    const past = appendKeyValues(randomTensor([B, 2, K, D], 62) as tf.Tensor4D, randomTensor([B, 2, K, D], 63) as tf.Tensor4D, null);
    for (let slab = 0; slab < L; slab++) {
      const fromStack = appendKeyValues(k, v, past, undefined, slab);
      const single = (x: tf.Tensor) => tf.reshape(tf.slice(x, [slab, 0, 0, 0, 0], [1, B, T, K, D]), [B, T, K, D]) as tf.Tensor4D;
      const alone = appendKeyValues(single(k), single(v), past);
      expect(Array.from(await fromStack.keysT.data())).toEqual(Array.from(await alone.keysT.data()));
      expect(Array.from(await fromStack.values.data())).toEqual(Array.from(await alone.values.data()));
    }
    expect(() => appendKeyValues(k, v, past, undefined, 3)).toThrow("appendKeyValues: slab 3 is outside 0..2");
    expect(() => appendKeyValues(k, v, past)).toThrow("must be [B, T, K, D]");
  });

  it("a fully masked-out key gets zero weight; one key gets all of it", async () => {
    const q = tf.ones([1, 1, 1, 4]) as tf.Tensor4D;
    const { keysT, values } = referenceCache(tf.tensor4d([[[[1, 1, 1, 1]], [[9, 9, 9, 9]]]]), tf.tensor4d([[[[1, 2, 3, 4]], [[5, 6, 7, 8]]]]));
    const out = inferenceAttention(q, keysT, values, tf.tensor([0, -1e9], [1, 1, 1, 1, 2]), 1);
    expect(Array.from(await out.data())).toEqual([1, 2, 3, 4]);
  });

  it("is refused while a gradient tape records, and leaks nothing", async () => {
    expect(inferenceKernelsAvailable()).toBe(true);
    const k = randomTensor([1, 2, 1, 4], 20) as tf.Tensor4D;
    expect(() => tf.grad((x: tf.Tensor) => tf.sum(appendKeyValues(x as tf.Tensor4D, k, null).keysT) as tf.Scalar)(k)).toThrow("needs the wasm backend and no gradient recording");
    const q = randomTensor([1, 1, 2, 4], 21) as tf.Tensor4D;
    const mask = tf.zeros([1, 1, 1, 1, 2]);
    const cache = appendKeyValues(k, k, null);
    await expectNoLeaks(() => Object.values(appendKeyValues(k, k, cache)));
    await expectNoLeaks(() => inferenceAttention(q, cache.keysT, cache.values, mask, 0.5));
    tf.dispose([k, q, mask, cache.keysT, cache.values]);
  });

  it("rejects shapes that do not fit", () => {
    const k = tf.zeros([1, 2, 2, 4]) as tf.Tensor4D;
    expect(() => appendKeyValues(k, tf.zeros([1, 2, 2, 5]) as tf.Tensor4D, null)).toThrow("appendKeyValues: keys [1, 2, 2, 4] and values [1, 2, 2, 5] differ");
    const cache = appendKeyValues(k, k, null);
    expect(() => inferenceAttention(tf.zeros([1, 1, 3, 4]) as tf.Tensor4D, cache.keysT, cache.values, tf.zeros([1, 1, 1, 1, 2]), 1)).toThrow("inferenceAttention: q [1, 1, 3, 4]");
  });
});

describe("inference attention kernels on cpu", () => {
  it("are unavailable (callers take the tf path)", async () => {
    await initBackend({ backend: "cpu", quiet: true });
    expect(inferenceKernelsAvailable()).toBe(false);
    expect(() => appendKeyValues(tf.zeros([1, 1, 1, 2]) as tf.Tensor4D, tf.zeros([1, 1, 1, 2]) as tf.Tensor4D, null)).toThrow("needs the wasm backend");
  });
});

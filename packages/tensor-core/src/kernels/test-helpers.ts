// Test-only helpers shared by the kernel tests (not exported from the package).
import { Rng } from "../rng.js";
import { tf } from "../tf.js";

/** Random RoPE tables [B, T, 1, D] with equal halves, as the decoder's ropeTables builds them. */
export function randomRopeTables(B: number, T: number, D: number, seed: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  const rng = new Rng(seed);
  const cos = new Float32Array(B * T * D);
  const sin = new Float32Array(B * T * D);
  for (let r = 0; r < B * T; r++) {
    for (let j = 0; j < D / 2; j++) {
      const angle = rng.normal() * 3;
      cos[r * D + j] = cos[r * D + j + D / 2] = Math.cos(angle);
      sin[r * D + j] = sin[r * D + j + D / 2] = Math.sin(angle);
    }
  }
  return { cos: tf.tensor4d(cos, [B, T, 1, D]), sin: tf.tensor4d(sin, [B, T, 1, D]) };
}

/** Kernels run by fn (copied: tf.profile reuses its result object). */
export async function kernelNamesOf(fn: () => tf.TensorContainer): Promise<string[]> {
  return [...(await tf.profile(fn)).kernelNames];
}

/** Deterministic normal(0, 1) values. */
export function randomTensor(shape: number[], seed: number): tf.Tensor3D {
  const rng = new Rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const tensor: tf.Tensor = tf.tensor(Float32Array.from({ length: size }, () => rng.normal()), shape);
  return tensor as tf.Tensor3D;
}

/**
 * Independent reference: op(a) @ op(b) with float32 rounding after every multiply and add,
 * summed in order k = 0..K-1 (the order the SIMD kernel keeps, so results match bit for bit).
 */
export function referenceProduct(a: tf.Tensor3D, b: tf.Tensor3D, transposeA: boolean, transposeB: boolean): Float32Array {
  const av = a.dataSync();
  const bv = b.dataSync();
  const [aN, aR, aC] = a.shape;
  const [bN, bR, bC] = b.shape;
  const [M, K] = transposeA ? [aC, aR] : [aR, aC];
  const P = transposeB ? bR : bC;
  const N = Math.max(aN, bN);
  const out = new Float32Array(N * M * P);
  for (let n = 0; n < N; n++) {
    const aBase = (aN === 1 ? 0 : n) * aR * aC;
    const bBase = (bN === 1 ? 0 : n) * bR * bC;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < P; j++) {
        let sum = 0;
        for (let k = 0; k < K; k++) {
          const x = av[aBase + (transposeA ? k * aC + i : i * aC + k)]!;
          const y = bv[bBase + (transposeB ? j * bC + k : k * bC + j)]!;
          sum = Math.fround(sum + Math.fround(x * y));
        }
        out[(n * M + i) * P + j] = sum;
      }
    }
  }
  return out;
}

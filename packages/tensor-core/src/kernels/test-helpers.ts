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

// Shared by the distill tests: fixture paths (the transformer package's tiny checkpoints,
// referenced in place), prompts, and helpers that give adapters and heads non-trivial values.
import { fileURLToPath } from "node:url";
import { tf } from "@eecot/tensor-core";
import type { EarlyExitModel } from "@eecot/early-exit";

export type FixtureName = "qwen3-tiny-f32" | "qwen2-tiny-f32";

/** A tiny reference checkpoint of the transformer package. */
export function fixturePath(name: FixtureName): string {
  return fileURLToPath(new URL(`../../transformer/test/fixtures/${name}`, import.meta.url));
}

/** Prompts inside both fixtures' vocabularies (384 tokens), of different lengths. */
export const PROMPTS: readonly (readonly number[])[] = [
  [380, 5, 17, 99, 3, 250, 11],
  [380, 42],
  [380, 7, 7, 7, 120],
  [380, 200, 31, 64],
];

/** Give every LoRA B seeded random values of the given scale. */
export function randomizeLora(model: EarlyExitModel, scale: number, seed: number): void {
  model.lora.weights.forEach((w, i) => {
    tf.tidy(() => w.bT.assign(tf.randomNormal(w.bT.shape, 0, scale, "float32", seed * 1000 + i)));
  });
}

/** Give every head seeded random W2 (scale) and b1, and b2 = the given values (one per head). */
export function randomizeHeads(model: EarlyExitModel, scale: number, seed: number, biases?: readonly number[]): void {
  model.heads.forEach((h, i) => {
    tf.tidy(() => {
      h.w2T.assign(tf.randomNormal(h.w2T.shape, 0, scale, "float32", seed * 1000 + i));
      h.b1.assign(tf.randomNormal(h.b1.shape, 0, 0.1, "float32", seed * 1000 + 500 + i));
      if (biases) h.b2.assign(tf.fill([1], biases[i]!));
    });
  });
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsDiff: lengths ${a.length} and ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** KL(p ‖ q) in float64 from two rows of logits. */
export function klFromLogits(pLogits: ArrayLike<number>, qLogits: ArrayLike<number>): number {
  const logP = logSoftmax(pLogits);
  const logQ = logSoftmax(qLogits);
  let total = 0;
  for (let i = 0; i < logP.length; i++) total += Math.exp(logP[i]!) * (logP[i]! - logQ[i]!);
  return total;
}

/** log softmax in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! - max - Math.log(sum);
  return out;
}

// Shared by the distill tests: fixture paths (the transformer package's tiny checkpoints,
// referenced in place), prompts, and helpers that give adapters and heads non-trivial values.
// Fixture paths and the adapter/head randomisers are early-exit's test helpers, reused.
export { fixturePath, maxAbsDiff, randomizeHeads, randomizeLora } from "../../early-exit/test/helpers.js";

export type FixtureName = "qwen3-tiny-f32" | "qwen2-tiny-f32";

/** Prompts inside both fixtures' vocabularies (384 tokens), of different lengths. */
export const PROMPTS: readonly (readonly number[])[] = [
  [380, 5, 17, 99, 3, 250, 11],
  [380, 42],
  [380, 7, 7, 7, 120],
  [380, 200, 31, 64],
];

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

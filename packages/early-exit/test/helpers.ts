// Shared by the early-exit tests: fixture paths (the transformer package's tiny checkpoints,
// referenced in place) and helpers that give adapters and heads random non-trivial values.
import { fileURLToPath } from "node:url";
import { tf } from "@eecot/tensor-core";
import type { EarlyExitModel } from "../src/model.js";

/** A tiny reference checkpoint of the transformer package. */
export function fixturePath(name: "qwen3-tiny-f32" | "qwen2-tiny-f32"): string {
  return fileURLToPath(new URL(`../../transformer/test/fixtures/${name}`, import.meta.url));
}

/** Give every LoRA B (and optionally A) seeded random values of the given scale. */
export function randomizeLora(model: EarlyExitModel, scale: number, seed: number): void {
  model.lora.weights.forEach((w, i) => {
    tf.tidy(() => w.bT.assign(tf.randomNormal(w.bT.shape, 0, scale, "float32", seed * 1000 + i)));
  });
}

/** Give every head seeded random W2 (scale) and set b2 to the given values (one per head). */
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

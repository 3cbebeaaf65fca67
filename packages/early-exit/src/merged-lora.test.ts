// Merged LoRA against a float64 reference W'ᵀ = Wᵀ + (α/r) · Aᵀ · Bᵀ; the projection through the
// merged weight equals base + LoRA delta; no merge under dropout or a gradient tape; the budget
// splits merged and separate adapters; the model's own tensors are never freed.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { fixturePath, maxAbsDiff } from "../test/helpers.js";
import { createLoraAdapters } from "./lora.js";
import { disposeMergedLora, mergeLora } from "./merged-lora.js";

let base: QwenModel;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
});
afterAll(() => disposeModel(base));

/** Seeded random B (A is random from creation) so the merge is not the identity. */
function adapters(dropout = 0) {
  const lora = createLoraAdapters(base.config, { rank: 4, alpha: 8, dropout, targetModules: ["q_proj", "v_proj", "down_proj"] }, { seed: 3 });
  lora.weights.forEach((w, i) => tf.tidy(() => w.bT.assign(tf.randomNormal(w.bT.shape, 0, 0.2, "float32", 50 + i))));
  return lora;
}

describe("mergeLora", () => {
  test("merged weights are Wᵀ + (α/r)·Aᵀ·Bᵀ (float64 reference); x·W'ᵀ = x·Wᵀ + delta; other tensors shared", () => {
    const lora = adapters();
    const merged = mergeLora(base.params, lora);
    expect(merged.adapter).toBeUndefined();
    expect(merged.owned.length).toBe(lora.weights.length);
    const w = lora.get(1, "v_proj")!;
    const baseWeight = base.params.layers[1]!.vProj.weightT;
    const mergedWeight = merged.params.layers[1]!.vProj.weightT;
    expect(mergedWeight).not.toBe(baseWeight);
    const W = baseWeight.arraySync();
    const A = w.aT.arraySync();
    const Bt = w.bT.arraySync();
    const reference = W.map((row, i) => row.map((value, o) => value + 2 * A[i]!.reduce((s, a, k) => s + a * Bt[k]![o]!, 0)));
    expect(maxAbsDiff(mergedWeight.dataSync(), reference.flat())).toBeLessThan(1e-6);
    // The projection through the merged weight equals the separate adapter's.
    const x = tf.randomNormal([3, base.config.hiddenSize], 0, 1, "float32", 9) as tf.Tensor2D;
    const separate = tf.tidy(() => tf.add(tf.matMul(x, baseWeight), lora.delta(1, "v_proj", x)!));
    const together = tf.matMul(x, mergedWeight);
    expect(maxAbsDiff(separate.dataSync(), together.dataSync())).toBeLessThan(1e-5);
    // Unadapted projections, norms and embeddings are the model's own tensors.
    expect(merged.params.layers[1]!.kProj).toBe(base.params.layers[1]!.kProj);
    expect(merged.params.layers[0]!.inputLayernorm).toBe(base.params.layers[0]!.inputLayernorm);
    expect(merged.params.embedTokens).toBe(base.params.embedTokens);
    tf.dispose([x, separate, together]);
    const before = tf.memory().numTensors;
    disposeMergedLora(merged);
    expect(tf.memory().numTensors).toBe(before - lora.weights.length);
    expect(baseWeight.isDisposed).toBe(false);
    expect(w.bT.isDisposed).toBe(false);
    lora.dispose();
  });

  test("nothing is merged without an adapter, with dropout in training mode, or while a tape records", () => {
    expect(mergeLora(base.params, undefined)).toEqual({ params: base.params, adapter: undefined, owned: [] });
    const lora = adapters(0.1);
    lora.training = true;
    const dropping = mergeLora(base.params, lora);
    expect(dropping.params).toBe(base.params);
    expect(dropping.adapter).toBe(lora);
    lora.training = false;
    const inference = mergeLora(base.params, lora); // dropout off outside training: merged
    expect(inference.owned.length).toBe(lora.weights.length);
    disposeMergedLora(inference);
    let taped: ReturnType<typeof mergeLora> | null = null;
    const x = tf.scalar(2);
    const gradient = tf.grad((value: tf.Tensor) => {
      taped = mergeLora(base.params, lora);
      return tf.mul(value, value);
    })(x);
    expect(taped!.params).toBe(base.params);
    expect(taped!.adapter).toBe(lora);
    tf.dispose([x, gradient]);
    lora.dispose();
  });

  test("a size budget merges the first projections and leaves the rest as separate adapters", () => {
    const lora = adapters();
    const first = lora.weights[0]!;
    const merged = mergeLora(base.params, lora, first.aT.shape[0] * first.bT.shape[1]);
    expect(merged.owned.length).toBe(1);
    expect(merged.adapter!.weights).toEqual(lora.weights.slice(1));
    expect(merged.adapter!.scale).toBe(lora.scale);
    const x = tf.ones([2, base.config.hiddenSize]) as tf.Tensor2D;
    expect(merged.adapter!.delta(first.layerIndex, first.projection, x)).toBeNull();
    const next = lora.weights[1]!;
    const [kept, original] = [merged.adapter!.delta(next.layerIndex, next.projection, x)!, lora.delta(next.layerIndex, next.projection, x)!];
    expect(Array.from(kept.dataSync())).toEqual(Array.from(original.dataSync()));
    tf.dispose([x, kept, original]);
    disposeMergedLora(merged);
    lora.dispose();
  });
});

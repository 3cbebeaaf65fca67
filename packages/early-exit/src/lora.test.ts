// LoRA against a hand-written reference: delta = (α/r) · x · Aᵀ · Bᵀ, B = 0 at init, PEFT's A bound.
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import type { QwenConfig } from "@eecot/transformer";
import { createLoraAdapters, projectionShape } from "./lora.js";

const config = {
  hiddenSize: 6,
  numHeads: 2,
  numKvHeads: 1,
  headDim: 4,
  intermediateSize: 10,
  numLayers: 2,
} as QwenConfig;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("LoRA adapters", () => {
  test("shapes per projection; A ~ U(±1/√in), B = 0, so the delta starts at exactly 0", () => {
    expect(projectionShape(config, "q_proj")).toEqual([6, 8]);
    expect(projectionShape(config, "k_proj")).toEqual([6, 4]);
    expect(projectionShape(config, "o_proj")).toEqual([8, 6]);
    expect(projectionShape(config, "gate_proj")).toEqual([6, 10]);
    expect(projectionShape(config, "down_proj")).toEqual([10, 6]);
    const lora = createLoraAdapters(config, { rank: 3, alpha: 6, dropout: 0, targetModules: ["q_proj", "down_proj"] }, { seed: 1 });
    expect(lora.weights.map((w) => `${w.layerIndex}.${w.projection}`)).toEqual(["0.q_proj", "0.down_proj", "1.q_proj", "1.down_proj"]);
    const down = lora.get(1, "down_proj")!;
    expect(down.aT.shape).toEqual([10, 3]);
    expect(down.bT.shape).toEqual([3, 6]);
    expect(down.aT.arraySync().flat().every((v) => Math.abs(v) <= 1 / Math.sqrt(10))).toBe(true);
    expect(new Set(down.aT.arraySync().flat()).size).toBe(30); // random, not constant
    const x = tf.randomNormal([5, 6], 0, 1, "float32", 3) as tf.Tensor2D;
    const delta = lora.delta(0, "q_proj", x)!;
    expect(delta.shape).toEqual([5, 8]);
    expect(Array.from(delta.dataSync()).every((v) => v === 0)).toBe(true);
    expect(lora.delta(0, "k_proj", x)).toBeNull();
    tf.dispose([x, delta]);
    lora.dispose();
  });

  test("delta = (α/r) · x · Aᵀ · Bᵀ (hand-computed)", () => {
    const lora = createLoraAdapters(config, { rank: 2, alpha: 3, dropout: 0, targetModules: ["k_proj"] }, { seed: 2 });
    const w = lora.get(1, "k_proj")!;
    const A = [[1, 0, -1, 2, 0, 1], [0.5, 1, 0, 0, -1, 0]]; // [r, in]
    const B = [[1, -1], [0, 2], [3, 0], [-1, 1]]; // [out, r]
    w.aT.assign(tf.transpose(tf.tensor2d(A)));
    w.bT.assign(tf.transpose(tf.tensor2d(B)));
    const xs = [[1, 2, 3, 4, 5, 6], [-1, 0, 1, 0, 2, 1]];
    const x = tf.tensor2d(xs);
    const got = lora.delta(1, "k_proj", x)!.arraySync();
    xs.forEach((row, n) => {
      const low = A.map((a) => a.reduce((s, v, i) => s + v * row[i]!, 0));
      B.forEach((b, o) => expect(got[n]![o]).toBeCloseTo((3 / 2) * (b[0]! * low[0]! + b[1]! * low[1]!), 4));
    });
    x.dispose();
    lora.dispose();
  });

  test("dropout acts only while training, and clones are independent copies", () => {
    const lora = createLoraAdapters(config, { rank: 2, alpha: 2, dropout: 0.5, targetModules: ["q_proj"] }, { seed: 4 });
    const w = lora.get(0, "q_proj")!;
    w.bT.assign(tf.ones(w.bT.shape));
    const x = tf.ones([64, 6]) as tf.Tensor2D;
    const plain = Array.from(lora.delta(0, "q_proj", x)!.dataSync());
    lora.training = true;
    const dropped = Array.from(lora.delta(0, "q_proj", x)!.dataSync());
    lora.training = false;
    expect(dropped).not.toEqual(plain);
    const frozen = lora.clone(false);
    w.bT.assign(tf.zeros(w.bT.shape));
    expect(Array.from(frozen.delta(0, "q_proj", x)!.dataSync())).toEqual(plain);
    expect(frozen.variables().every((v) => !v.trainable)).toBe(true);
    x.dispose();
    lora.dispose();
    frozen.dispose();
  });
});

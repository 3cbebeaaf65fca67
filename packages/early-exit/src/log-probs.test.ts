// Augmented log-probabilities: the two terms against independent computations, and gradients
// with respect to LoRA and exit-head parameters against central finite differences.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { fixturePath, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { exitLogProbabilityOf } from "./exit-head.js";
import { sequenceLogProbParts, sequenceLogProbs, type ScoredSequence } from "./log-probs.js";
import { EarlyExitModel, logSoftmaxAt } from "./model.js";

let base: QwenModel;
let model: EarlyExitModel;

// qwen2-tiny: L = 4, E = [1, 2, 3]. Exits cover every e ∈ E ∪ {L}; prompts of different lengths.
const sequences: ScoredSequence[] = [
  { promptTokens: [380, 5, 17, 99], tokens: [12, 200, 7, 382], exitLayers: [1, 4, 2, 3] },
  { promptTokens: [380, 42], tokens: [3, 9], exitLayers: [3, 1] },
  { promptTokens: [380], tokens: [64], exitLayers: [4] },
];

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  base = await loadQwenModel(fixturePath("qwen2-tiny-f32"));
  model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 11, minExitProb: 0.1 });
  randomizeLora(model, 0.2, 3);
  randomizeHeads(model, 0.5, 3, [0.2, -0.4, 0.6]);
});

afterAll(() => {
  model.dispose();
  disposeModel(base);
});

describe("sequenceLogProbs", () => {
  test("= log P_exit(x_t) + log softmax(logits at x_t)[y_t], each term computed independently; 0 at padding", () => {
    const parts = sequenceLogProbParts(model, sequences);
    expect(parts.total.shape).toEqual([3, 4]);
    const total = parts.total.arraySync();
    const exit = parts.exit.arraySync();
    const token = parts.token.arraySync();
    const gate = { offset: 0, minExitProb: 0.1 };
    sequences.forEach((s, n) => {
      // Unpadded teacher-forced pass of this sequence alone.
      const ids = [...s.promptTokens, ...s.tokens.slice(0, -1)];
      const exits = [...s.promptTokens.slice(1).map(() => 4), ...s.exitLayers];
      const out = model.forwardPrescribed([ids], [exits]);
      const logits = out.logits!.arraySync()[0]!;
      const z = out.exitLogits.arraySync()[0]!;
      s.tokens.forEach((y, t) => {
        const position = s.promptTokens.length - 1 + t;
        const k = s.exitLayers[t] === 4 ? 3 : s.exitLayers[t]! - 1;
        const wantExit = exitLogProbabilityOf(z[position]!, k, gate);
        const wantToken = logSoftmaxAt(logits[position]!, y);
        expect(exit[n]![t]).toBeCloseTo(wantExit, 4);
        expect(token[n]![t]).toBeCloseTo(wantToken, 4);
        expect(total[n]![t]).toBeCloseTo(wantExit + wantToken, 4);
      });
      for (let t = s.tokens.length; t < 4; t++) expect(total[n]![t]).toBe(0);
      tf.dispose([out.logits!, out.hidden, out.exitLogits]);
    });
    tf.dispose([parts.total, parts.exit, parts.token]);
  });

  test("gradients w.r.t. LoRA and head parameters match central finite differences", () => {
    const { lora, heads } = model.trainableVariables();
    // One adapter A and B in an early and a late layer, and every part of two heads.
    const checked = [lora[0]!, lora[1]!, lora[lora.length - 1]!, ...heads.slice(0, 4), heads[8]!, heads[11]!];
    const objective = () => tf.sum(sequenceLogProbs(model, sequences)) as tf.Scalar;
    const { grads, value } = tf.variableGrads(objective, checked);
    value.dispose();
    // Small steps: the heads' ReLU kinks make larger central differences visibly biased
    // (at ε = 1e-2 one direction is off by 15%); at 3e-4 float32 noise is ~5e-3.
    const eps = 3e-4;
    checked.forEach((variable, i) => {
      const gradient = grads[variable.name]!;
      // Directional derivative along a seeded random direction d: (f(θ + εd) − f(θ − εd)) / 2ε = ∇f · d.
      const direction = tf.randomNormal(variable.shape, 0, 1, "float32", 100 + i);
      const analytic = tf.tidy(() => tf.sum(tf.mul(gradient, direction)).dataSync()[0]!);
      const original = variable.clone();
      const at = (sign: number) => {
        tf.tidy(() => variable.assign(tf.add(original, tf.mul(direction, sign * eps))));
        return tf.tidy(() => objective().dataSync()[0]!);
      };
      const numeric = (at(1) - at(-1)) / (2 * eps);
      variable.assign(original);
      tf.dispose([direction, original]);
      expect(Math.abs(analytic), `variable ${i} gradient should be nonzero`).toBeGreaterThan(1e-3);
      expect(Math.abs(analytic - numeric), `variable ${i}: analytic ${analytic}, numeric ${numeric}`).toBeLessThan(2e-2 * Math.max(1, Math.abs(numeric)));
    });
    tf.dispose(Object.values(grads));
  });

  test("no tensor leaks across repeated gradient steps", () => {
    const variables = [...model.trainableVariables().lora, ...model.trainableVariables().heads];
    const step = () => {
      const { grads, value } = tf.variableGrads(() => tf.sum(sequenceLogProbs(model, sequences)) as tf.Scalar, variables);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });

  test("bad input fails clearly", () => {
    expect(() => sequenceLogProbs(model, [{ promptTokens: [1], tokens: [2, 3], exitLayers: [4] }])).toThrow(/sequence 0 has 2 tokens but 1 exit layers/);
    expect(() => sequenceLogProbs(model, [{ promptTokens: [1], tokens: [2], exitLayers: [5] }])).toThrow(/exit layer 5 is not one of E ∪ \{L\} = \[1, 2, 3, 4\]/);
    expect(() => sequenceLogProbs(model, [{ promptTokens: [], tokens: [2], exitLayers: [4] }])).toThrow(/empty prompt/);
    expect(() => sequenceLogProbs(model, [{ promptTokens: [1], tokens: [384], exitLayers: [4] }])).toThrow(/token id 384/);
  });
});

describe("vocabulary chunks", () => {
  test("unembedding in chunks of 100 columns gives the same log-probs and gradients as the full readout", async () => {
    const variables = [...model.trainableVariables().lora, ...model.trainableVariables().heads] as tf.Variable[];
    const run = (vocabularyChunkColumns: number) => tf.variableGrads(() => tf.sum(sequenceLogProbs(model, sequences, { vocabularyChunkColumns })) as tf.Scalar, variables);
    const full = run(0);
    const chunked = run(100); // V = 384 → 4 chunks
    expect(Math.abs((await chunked.value.data())[0]! - (await full.value.data())[0]!)).toBeLessThan(1e-4);
    for (const name of Object.keys(full.grads)) {
      const a = await full.grads[name]!.data();
      const b = await chunked.grads[name]!.data();
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
      expect(worst, name).toBeLessThan(1e-4);
    }
    tf.dispose([full.value, chunked.value, ...Object.values(full.grads), ...Object.values(chunked.grads)]);
  });
});

// The stage-1 loss against a float64 host reference (student logits read at each prescribed
// exit, teacher final logits, stick-breaking exit log-probs without gate), a hand-computed case
// for a fresh model, and its gradients against central finite differences.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, qwenForward, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel, exitLogProbabilityOf, replayInputs } from "@eecot/early-exit";
import { PROMPTS, fixturePath, klFromLogits, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { distillationLoss, teacherLogProbabilities, type PrescribedPass } from "./loss.js";
import type { KlDirection } from "./config.js";

const FIXTURES = [
  { name: "qwen3-tiny-f32", exitLayers: [2, 4] },
  { name: "qwen2-tiny-f32", exitLayers: [1, 2, 3] },
] as const;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

/** Σ over tokens of the loss terms, in float64, from full logits of independent passes. */
function referenceSums(model: EarlyExitModel, pass: PrescribedPass, direction: KlDirection): { kl: number; exitNll: number; tokens: number } {
  const L = model.numLayers;
  let kl = 0;
  let exitNll = 0;
  let tokens = 0;
  pass.sequences.forEach((sequence, b) => {
    const ids = [...sequence.promptTokens, ...sequence.tokens.slice(0, -1)];
    const teacherOut = qwenForward(model.base.params, model.base.config, [ids]);
    const teacher = teacherOut.logits!.arraySync()[0]!;
    teacherOut.logits!.dispose();
    for (const copy of pass.exitLayers[b]!) {
      const { exits } = replayInputs(sequence.promptTokens, sequence.tokens, copy, L);
      const out = model.forwardPrescribed([ids], [exits]);
      const student = out.logits!.arraySync()[0]!;
      const heads = out.exitLogits.arraySync()[0]!;
      tf.dispose([out.logits!, out.hidden, out.exitLogits]);
      copy.forEach((x, t) => {
        const row = sequence.promptTokens.length - 1 + t;
        kl += direction === "reverse" ? klFromLogits(student[row]!, teacher[row]!) : klFromLogits(teacher[row]!, student[row]!);
        exitNll -= exitLogProbabilityOf(heads[row]!, model.exitIndexOf(x), { offset: 0, minExitProb: 0 });
        tokens++;
      });
    }
  });
  return { kl, exitNll, tokens };
}

for (const fixture of FIXTURES) {
  describe(fixture.name, () => {
    let base: QwenModel;
    let pass: PrescribedPass;

    beforeAll(async () => {
      base = await loadQwenModel(fixturePath(fixture.name));
      const prompts = PROMPTS.slice(0, 3);
      const generated = await generateTokens(base.params, base.config, prompts, { maxNewTokens: 5 });
      const L = base.config.numLayers;
      const layers = [...fixture.exitLayers, L];
      const sequences = prompts.map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
      // Two copies per sequence, covering every layer of E ∪ {L}.
      pass = {
        sequences,
        exitLayers: sequences.map((s, b) => [0, 1].map((j) => s.tokens.map((_, t) => layers[(b + j + t) % layers.length]!))),
      };
    });
    afterAll(() => disposeModel(base));

    for (const direction of ["reverse", "forward"] as const) {
      test(`${direction}: loss = (Σ KL + Σ −log P_exit) / normalizer, equal to the float64 reference`, () => {
        const model = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
        randomizeLora(model, 0.05, 1);
        randomizeHeads(model, 0.3, 2, fixture.exitLayers.map((_, i) => 0.5 - i));
        const teacher = teacherLogProbabilities(model, pass.sequences);
        const parts = distillationLoss(model, pass, teacher, { klDirection: direction, normalizer: 7 });
        const reference = referenceSums(model, pass, direction);
        expect(parts.tokenCount).toBe(reference.tokens);
        expect(Math.abs(parts.klSum.dataSync()[0]! - reference.kl)).toBeLessThan(1e-4 * Math.max(1, reference.kl));
        expect(Math.abs(parts.exitNllSum.dataSync()[0]! - reference.exitNll)).toBeLessThan(1e-4 * Math.max(1, reference.exitNll));
        expect(Math.abs(parts.loss.dataSync()[0]! - (reference.kl + reference.exitNll) / 7)).toBeLessThan(1e-4);
        expect(reference.kl).toBeGreaterThan(1e-3); // LoRA and early exits make the student differ
        tf.dispose([teacher, parts.loss, parts.klSum, parts.exitNllSum]);
        model.dispose();
      });
    }

    test("fresh model, every token at L: KL = 0 and −log P(L) = m · softplus(b2) per token", () => {
      const model = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers });
      const L = base.config.numLayers;
      const full: PrescribedPass = { sequences: pass.sequences, exitLayers: pass.sequences.map((s) => [s.tokens.map(() => L)]) };
      const teacher = teacherLogProbabilities(model, full.sequences);
      const parts = distillationLoss(model, full, teacher, { klDirection: "reverse", normalizer: 1 });
      const tokens = full.sequences.reduce((a, s) => a + s.tokens.length, 0);
      expect(Math.abs(parts.klSum.dataSync()[0]!)).toBeLessThan(1e-4);
      const softplus = (x: number) => Math.log1p(Math.exp(x));
      // p = sigmoid(−4); −log(1 − p) = softplus(−4) per exitable layer.
      expect(parts.exitNllSum.dataSync()[0]!).toBeCloseTo(tokens * fixture.exitLayers.length * softplus(-4), 4);
      tf.dispose([teacher, parts.loss, parts.klSum, parts.exitNllSum]);
      model.dispose();
    });
  });
}

test("gradients w.r.t. LoRA and head parameters match central finite differences", async () => {
  const base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
  const model = EarlyExitModel.create(base, { exitLayers: [2, 4], lora: { rank: 2, targetModules: ["q_proj", "v_proj"] } });
  try {
    randomizeLora(model, 0.05, 3);
    randomizeHeads(model, 0.3, 4, [0.3, -0.2]);
    const pass: PrescribedPass = {
      sequences: [{ promptTokens: [380, 5, 17], tokens: [99, 3, 250] }],
      exitLayers: [[[2, 6, 4], [4, 2, 6]]],
    };
    const teacher = teacherLogProbabilities(model, pass.sequences);
    const lossValue = () => {
      const parts = distillationLoss(model, pass, teacher, { klDirection: "reverse", normalizer: 6 });
      tf.dispose([parts.klSum, parts.exitNllSum]);
      return parts.loss;
    };
    const { lora, heads } = model.trainableVariables();
    // A few entries of: a LoRA B (layer 0 q), a LoRA A (layer 3 v), head 1's W1 and W2, head 2's b2.
    const probes: { variable: tf.Variable; indices: number[] }[] = [
      { variable: lora[1]!, indices: [0, 7, 40] },
      { variable: lora[3 * 4 + 2]!, indices: [1, 33] },
      { variable: heads[0]!, indices: [5, 900, 2000] },
      { variable: heads[2]!, indices: [0, 64] },
      { variable: heads[7]!, indices: [0] },
    ];
    const { grads } = tf.variableGrads(lossValue, probes.map((p) => p.variable));
    const h = 2e-3;
    for (const probe of probes) {
      const analytic = grads[probe.variable.name]!.dataSync();
      for (const index of probe.indices) {
        const original = probe.variable.dataSync().slice();
        const evaluate = (delta: number) => {
          const values = original.slice();
          values[index] = values[index]! + delta;
          tf.tidy(() => probe.variable.assign(tf.tensor(values, probe.variable.shape)));
          const loss = lossValue();
          const value = loss.dataSync()[0]!;
          loss.dispose();
          return value;
        };
        const numeric = (evaluate(h) - evaluate(-h)) / (2 * h);
        tf.tidy(() => probe.variable.assign(tf.tensor(original, probe.variable.shape)));
        expect(Math.abs(analytic[index]! - numeric)).toBeLessThan(1.5e-4 + 1e-2 * Math.abs(numeric));
      }
    }
    expect(probes.some((p) => Math.abs(grads[p.variable.name]!.dataSync()[p.indices[0]!]!) > 1e-3)).toBe(true);
    tf.dispose([teacher, ...Object.values(grads)]);
  } finally {
    model.dispose();
    disposeModel(base);
  }
});

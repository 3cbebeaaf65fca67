// Stage 1 in vocabulary chunks and with gradient accumulation, against the full-width loss:
// the chunked token KL (values and its custom gradient), the whole distillation loss and its
// gradients for every LoRA and head variable, and 4 micro-batches = 1 batch in a step.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, Rng, splitVocabularyColumns, disposeVocabularyChunks, tf } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel } from "@eecot/early-exit";
import { PROMPTS, fixturePath, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { AdamGroup } from "./adam.js";
import { chunkedTokenKl } from "./chunked-kl.js";
import { disposeTeacher, distillationLoss, logSoftmaxRows, teacherForPass, tokenKl, type PrescribedPass } from "./loss.js";
import { distillStep } from "./step.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
};

describe("chunkedTokenKl", () => {
  for (const direction of ["reverse", "forward"] as const) {
    test(`${direction}: equals the full-width KL, values and gradients (uneven last chunk)`, () => {
      const rng = new Rng(3);
      const random = (shape: [number, number], scale: number) => tf.tensor2d(Float32Array.from({ length: shape[0] * shape[1] }, () => scale * rng.normal()), shape);
      const [M, C, V] = [5, 8, 37];
      const weightT = random([C, V], 1); // [C, V]
      const student = random([M, C], 1);
      const teacher = random([M, C], 1);
      const weights = tf.tensor1d([0.3, -1, 2, 0.5, 1.5]); // a non-uniform upstream gradient
      const vocabulary = splitVocabularyColumns(weightT, 10); // 10, 10, 10, 7 columns
      const full = (h: tf.Tensor2D) => tokenKl(logSoftmaxRows(tf.matMul(h, weightT)), logSoftmaxRows(tf.matMul(teacher, weightT)), direction);
      const chunked = (h: tf.Tensor2D) => chunkedTokenKl(h, teacher, vocabulary, direction);
      const before = tf.memory().numTensors;
      const [valueFull, valueChunked] = [tf.tidy(() => full(student)), chunked(student)];
      const gradFull = tf.grad((h: tf.Tensor) => tf.sum(tf.mul(full(h as tf.Tensor2D), weights)))(student);
      const gradChunked = tf.grad((h: tf.Tensor) => tf.sum(tf.mul(chunked(h as tf.Tensor2D), weights)))(student);
      expect(maxDiff(valueChunked.dataSync(), valueFull.dataSync())).toBeLessThan(1e-5);
      expect(Math.min(...valueFull.dataSync())).toBeGreaterThan(1e-3); // the two sides really differ
      expect(maxDiff(gradChunked.dataSync(), gradFull.dataSync())).toBeLessThan(1e-5);
      expect(Math.max(...gradFull.dataSync().map(Math.abs))).toBeGreaterThan(1e-2);
      tf.dispose([valueFull, valueChunked, gradFull, gradChunked]);
      expect(tf.memory().numTensors).toBe(before);
      disposeVocabularyChunks(vocabulary);
      tf.dispose([weightT, student, teacher, weights]);
    });
  }
});

describe("stage 1 on the tiny Qwen3 fixture", () => {
  let base: QwenModel;
  let model: EarlyExitModel;
  let passes: PrescribedPass[]; // one sequence each: the 4 micro-batches
  let batch: PrescribedPass; // all 4 sequences: the one batch
  const exitLayers = [2, 4];

  beforeAll(async () => {
    base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
    const generated = await generateTokens(base.params, base.config, PROMPTS, { maxNewTokens: 5 });
    const sequences = PROMPTS.map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
    const layers = [...exitLayers, base.config.numLayers];
    const copies = sequences.map((s, b) => [0, 1].map((j) => s.tokens.map((_, t) => layers[(b + j + t) % layers.length]!)));
    passes = sequences.map((s, b) => ({ sequences: [s], exitLayers: [copies[b]!] }));
    batch = { sequences, exitLayers: copies };
  });
  afterAll(() => disposeModel(base));

  const fresh = () => {
    const m = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 }, seed: 1 });
    randomizeLora(m, 0.05, 1);
    randomizeHeads(m, 0.3, 2, [0.5, -0.5]);
    return m;
  };

  /** Loss and gradients of every trainable variable, summed over `passSet`, with the teacher in chunks of `columns` (0 = full width). */
  const lossAndGradients = (passSet: readonly PrescribedPass[], columns: number, normalizer: number) => {
    const { lora, heads } = model.trainableVariables();
    const variables = [...lora, ...heads];
    let loss = 0;
    const sums = variables.map((v) => new Float64Array(v.size));
    for (const pass of passSet) {
      const teacher = teacherForPass(model, pass.sequences, columns);
      const { value, grads } = tf.variableGrads(() => {
        const parts = distillationLoss(model, pass, teacher, { klDirection: "reverse", normalizer, training: false });
        tf.dispose([parts.klSum, parts.exitNllSum]);
        return parts.loss;
      }, variables);
      disposeTeacher(teacher);
      loss += value.dataSync()[0]!;
      variables.forEach((v, i) => {
        const g = grads[v.name]?.dataSync() ?? new Float32Array(v.size);
        for (let k = 0; k < g.length; k++) sums[i]![k]! += g[k]!;
      });
      tf.dispose([value, ...Object.values(grads)]);
    }
    return { loss, grads: sums };
  };

  test("chunked teacher and student (vocabulary in chunks of 100 of 384) give the full-width loss and gradients", () => {
    model = fresh();
    try {
      const full = lossAndGradients([batch], 0, 40);
      const chunked = lossAndGradients([batch], 100, 40);
      expect(Math.abs(chunked.loss - full.loss)).toBeLessThan(1e-5 * Math.max(1, full.loss));
      const scale = Math.max(...full.grads.map((g) => Math.max(...g.map(Math.abs))));
      expect(scale).toBeGreaterThan(1e-3);
      full.grads.forEach((g, i) => expect(maxDiff(chunked.grads[i]!, g), `variable ${i}`).toBeLessThan(1e-5 * scale));
    } finally {
      model.dispose();
    }
  });

  test("4 micro-batches give the gradients of one batch (shared normaliser), and the same step", async () => {
    model = fresh();
    const tokens = batch.sequences.reduce((s, seq, b) => s + seq.tokens.length * batch.exitLayers[b]!.length, 0);
    try {
      const one = lossAndGradients([batch], 0, tokens);
      const four = lossAndGradients(passes, 0, tokens);
      expect(Math.abs(four.loss - one.loss)).toBeLessThan(1e-5 * Math.max(1, one.loss));
      const scale = Math.max(...one.grads.map((g) => Math.max(...g.map(Math.abs))));
      one.grads.forEach((g, i) => expect(maxDiff(four.grads[i]!, g), `variable ${i}`).toBeLessThan(1e-5 * scale));
    } finally {
      model.dispose();
    }
    // distillStep itself: one step on [batch] and one on the 4 passes report the same loss and
    // gradient norm (Adam's first update is ≈ lr · sign(g), too sensitive to near-zero entries to compare).
    const stepOn = async (passSet: readonly PrescribedPass[]) => {
      const m = fresh();
      const groups = m.trainableVariables();
      const optimizers = { lora: new AdamGroup(groups.lora, 1e-3, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }), heads: new AdamGroup(groups.heads, 1e-2, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }) };
      const result = await distillStep(m, optimizers, passSet, { klDirection: "reverse", maxGradientNorm: 1e9 });
      optimizers.lora.dispose();
      optimizers.heads.dispose();
      m.dispose();
      return { result };
    };
    const [single, accumulated] = [await stepOn([batch]), await stepOn(passes)];
    expect(accumulated.result.tokens).toBe(single.result.tokens);
    expect(Math.abs(accumulated.result.loss - single.result.loss)).toBeLessThan(1e-5);
    expect(Math.abs(accumulated.result.gradientNorm - single.result.gradientNorm)).toBeLessThan(1e-5 * single.result.gradientNorm);
  });
});

// The head warm-up: its loss is the exact stick-breaking cross-entropy (against a float64
// reference built from early-exit's own distribution); on a tiny fixture it moves the heads'
// distributions towards the targets, read back through the model's own prescribed pass; LoRA
// is untouched; it is seeded, leak-free, honours maxTokens; and calibrate runs it once (not
// again on resume), with resume still bit-exact.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, Rng, tf } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel, exitDistributionOf, gatherRows } from "@eecot/early-exit";
import { PROMPTS, fixturePath } from "../test/helpers.js";
import { calibrate } from "./calibrate.js";
import { computeLayerDivergences, replayBatch, type TokenSequence } from "./divergence.js";
import { warmUpExitHeads, type HeadWarmupOptions } from "./head-warmup.js";
import { conditionalExitProbabilities, reachProbabilities, weightedExitBce } from "./loss.js";
import { sequenceTargets } from "./targets.js";

let folder: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  folder = await mkdtemp(join(tmpdir(), "distill-warmup-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

test("weightedExitBce with reach weights is −Σ Q log P of the stick-breaking distributions", () => {
  const rng = new Rng(3);
  const m = 3;
  const logits = Array.from({ length: 6 }, () => Array.from({ length: m }, () => 3 * rng.normal()));
  const targets = logits.map(() => {
    const raw = Array.from({ length: m + 1 }, () => rng.uniform() ** 2);
    const sum = raw.reduce((a, b) => a + b, 0);
    return raw.map((v) => v / sum);
  });
  targets[0] = [1, 0, 0, 0]; // everything exits at the first layer: later reach probabilities are 0
  targets[1] = [0, 0, 0, 1]; // nothing exits
  const expected = logits.map((z, n) => {
    const p = exitDistributionOf(z, { offset: 0, minExitProb: 0 });
    return -targets[n]!.reduce((sum, q, i) => sum + (q > 0 ? q * Math.log(p[i]!) : 0), 0);
  });
  expect(reachProbabilities([0.2, 0.3, 0.1, 0.4])).toEqual([1, 0.8, 0.5]);
  const got = tf.tidy(() =>
    weightedExitBce(tf.tensor2d(logits), tf.tensor2d(targets.map(conditionalExitProbabilities)), tf.tensor2d(targets.map(reachProbabilities))).arraySync(),
  );
  got.forEach((value, n) => expect(value).toBeCloseTo(expected[n]!, 4));
});

describe("warmUpExitHeads on qwen3-tiny-f32", () => {
  const exitLayers = [2, 4];
  let base: QwenModel;
  let trajectories: TokenSequence[];
  let targets: number[][][];
  const options: HeadWarmupOptions = { epochs: 12, batchTokens: 8, learningRate: 1e-2, maxTokens: 1000, seed: 5 };

  beforeAll(async () => {
    base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
    const generated = await generateTokens(base.params, base.config, PROMPTS, { maxNewTokens: 8 });
    trajectories = PROMPTS.map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
    targets = (await computeLayerDivergences(base, exitLayers, trajectories)).map((d) => sequenceTargets(d, 1));
  });
  afterAll(() => disposeModel(base));

  /** Mean TV between the model's exit distributions (full-depth prescribed pass: base residuals while LoRA is 0) and the targets. */
  function meanTotalVariation(model: EarlyExitModel): number {
    const L = base.config.numLayers;
    const replay = replayBatch(trajectories);
    const rows = tf.tidy(() => {
      const result = model.forwardPrescribed(replay.ids, replay.ids.map((row) => row.map(() => L)), { attentionMask: replay.attentionMask, skipLogits: true, training: false });
      const [B, S] = [replay.ids.length, replay.width];
      return gatherRows(tf.reshape(result.exitLogits, [B * S, exitLayers.length]) as tf.Tensor2D, replay.rows).arraySync();
    });
    const flat = targets.flat();
    return rows.reduce((sum, z, n) => sum + 0.5 * exitDistributionOf(z, { offset: 0, minExitProb: 0 }).reduce((a, p, i) => a + Math.abs(p - flat[n]![i]!), 0), 0) / rows.length;
  }

  const headValues = (model: EarlyExitModel) => model.trainableVariables().heads.map((v) => Array.from(v.dataSync()));
  const loraValues = (model: EarlyExitModel) => model.trainableVariables().lora.map((v) => Array.from(v.dataSync()));

  test("fits the heads to the targets, leaves LoRA alone, leaks nothing, and is seeded", async () => {
    const model = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 }, seed: 1 });
    // Non-zero LoRA B would change the residuals; the warm-up must not touch them either way.
    const lora = loraValues(model);
    const before = meanTotalVariation(model);
    const tensors = tf.memory().numTensors;
    const records = await warmUpExitHeads(model, trajectories, targets, options);
    expect(tf.memory().numTensors).toBe(tensors);
    const after = meanTotalVariation(model);
    const tokens = trajectories.reduce((a, t) => a + t.tokens.length, 0);
    expect(records.map((r) => r.epoch)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(records.every((r) => r.tokens === tokens)).toBe(true);
    expect(records[11]!.crossEntropy).toBeLessThan(records[0]!.crossEntropy);
    expect(after).toBeLessThan(0.6 * before);
    expect(loraValues(model)).toEqual(lora);

    const again = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 }, seed: 1 });
    await warmUpExitHeads(again, trajectories, targets, options);
    expect(headValues(again)).toEqual(headValues(model));
    model.dispose();
    again.dispose();
  });

  test("maxTokens caps the tokens; bad options are refused by name", async () => {
    const model = EarlyExitModel.create(base, { exitLayers, seed: 1 });
    const records = await warmUpExitHeads(model, trajectories, targets, { ...options, epochs: 1, maxTokens: 5 });
    expect(records[0]!.tokens).toBe(5);
    await expect(warmUpExitHeads(model, trajectories, targets, { ...options, epochs: 0 })).rejects.toThrow(/epochs must be an integer ≥ 1/);
    await expect(warmUpExitHeads(model, trajectories, targets, { ...options, learningRate: Number.NaN })).rejects.toThrow(/learningRate/);
    await expect(warmUpExitHeads(model, trajectories, targets.slice(1), options)).rejects.toThrow(/3 targets for 4 sequences/);
    model.dispose();
  });

  test("a NaN cross-entropy fails clearly before any update", async () => {
    const model = EarlyExitModel.create(base, { exitLayers, seed: 1 });
    tf.tidy(() => model.heads[0]!.b2.assign(tf.fill([1], Number.NaN)));
    const before = headValues(model);
    await expect(warmUpExitHeads(model, trajectories, targets, options)).rejects.toThrow(/head warm-up: the cross-entropy is NaN at epoch 1, batch 1; nothing was updated/);
    expect(headValues(model)).toEqual(before);
    model.dispose();
  });

  test("calibrate runs it before step 1, records it, and skips it on resume (resume stays exact)", async () => {
    const config = { klFactor: 1, exitSamplesPerSequence: 2, batchSize: 2, steps: 3, checkpointEvery: 1, exitLoss: "soft" as const, headWarmupEpochs: 3, headWarmupBatchTokens: 8, headWarmupLearningRate: 1e-2, seed: 4 };
    const straight = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 } });
    const full = await calibrate(straight, trajectories, { outDir: join(folder, "straight"), config });
    expect(full.headWarmup.map((r) => r.epoch)).toEqual([1, 2, 3]);
    const events = (await readFile(full.metricsPath, "utf8")).trim().split("\n").map((line) => (JSON.parse(line) as { event: string }).event);
    expect(events.slice(0, 5)).toEqual(["targets", "head-warmup", "head-warmup", "head-warmup", "step"]);

    const outDir = join(folder, "resumed");
    const first = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 } });
    let steps = 0;
    await calibrate(first, trajectories, { outDir, config, onStep: () => steps++, shouldStop: () => steps >= 2 });
    first.dispose();
    const second = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 } });
    const resumed = await calibrate(second, trajectories, { outDir, config, resume: true });
    expect(resumed.resumedFrom).toBe(2);
    expect(resumed.headWarmup).toEqual([]);
    expect(headValues(second)).toEqual(headValues(straight));
    expect(loraValues(second)).toEqual(loraValues(straight));
    await expect(calibrate(second, trajectories, { outDir, config: { ...config, headWarmupEpochs: 4 }, resume: true })).rejects.toThrow(/headWarmupEpochs = 3, this run has 4/);
    straight.dispose();
    second.dispose();
  });
});

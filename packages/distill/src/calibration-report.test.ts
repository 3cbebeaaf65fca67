// Appendix A.2: learned vs target exit distributions. A fresh model's heads give p = sigmoid(−4)
// everywhere, so the gated learned distribution is all on L and the ungated one is the
// hand-computed stick-breaking of a constant p; the target side equals the heuristic of the
// teacher's divergences; training moves the learned rate towards the target rate.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel } from "@eecot/early-exit";
import { PROMPTS, fixturePath } from "../test/helpers.js";
import { calibrate } from "./calibrate.js";
import { calibrationReport } from "./calibration-report.js";
import { computeLayerDivergences, type TokenSequence } from "./divergence.js";
import { sequenceTargets, targetExitStatistics } from "./targets.js";

let base: QwenModel;
let trajectories: TokenSequence[];
let folder: string;
const exitLayers = [2, 4];
const klFactor = 15; // KL ≈ 0.03–0.1 on this random-weight fixture: a target with mass everywhere

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
  const generated = await generateTokens(base.params, base.config, PROMPTS, { maxNewTokens: 6 });
  trajectories = PROMPTS.map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
  folder = await mkdtemp(join(tmpdir(), "distill-report-"));
});
afterAll(async () => {
  disposeModel(base);
  await rm(folder, { recursive: true, force: true });
});

test("fresh heads: gated = all on L, ungated = stick-breaking of p = sigmoid(−4); target = heuristic", async () => {
  const model = EarlyExitModel.create(base, { exitLayers });
  const report = await calibrationReport(model, trajectories, { klFactor });
  const L = base.config.numLayers;
  expect(report.layers).toEqual([2, 4, L]);
  expect(report.comparison.learnedEarlyExitRate).toBeCloseTo(0, 12);
  const p = 1 / (1 + Math.exp(4));
  const expected = [p, (1 - p) * p, (1 - p) * (1 - p)];
  report.ungatedComparison.layers.forEach((layer, i) => expect(layer.learnedMass).toBeCloseTo(expected[i]!, 6));
  const divergences = await computeLayerDivergences(base, exitLayers, trajectories);
  const stats = targetExitStatistics(divergences.flatMap((d) => sequenceTargets(d, klFactor)), report.layers);
  expect(report.comparison.targetEarlyExitRate).toBeCloseTo(stats.earlyExitRate, 6);
  expect(report.comparison.tokenCount).toBe(stats.tokenCount);
  expect(report.comparison.meanTokenTotalVariation).toBeCloseTo(stats.earlyExitRate, 6); // all-L vs target: TV = 1 − Q(L)
  model.dispose();
});

test("calibration moves the learned exit rate towards the target", async () => {
  const model = EarlyExitModel.create(base, { exitLayers, lora: { rank: 2 } });
  const before = await calibrationReport(model, trajectories, { klFactor, gate: { offset: 0, minExitProb: 0 } });
  await calibrate(model, trajectories, {
    outDir: join(folder, "run"),
    config: { klFactor, steps: 8, batchSize: 4, exitSamplesPerSequence: 2, learningRates: { lora: 1e-3, heads: 3e-2 }, checkpointEvery: 100 },
  });
  const after = await calibrationReport(model, trajectories, { klFactor, gate: { offset: 0, minExitProb: 0 } });
  expect(after.comparison.meanTokenTotalVariation).toBeLessThan(0.5 * before.comparison.meanTokenTotalVariation);
  const gap = (r: typeof before) => Math.abs(r.comparison.learnedEarlyExitRate - r.comparison.targetEarlyExitRate);
  expect(gap(after)).toBeLessThan(0.5 * gap(before));
  model.dispose();
});

// The stage-1 loop on the tiny fixtures: a few steps lower the loss on fixed prescriptions;
// interrupted + resumed == uninterrupted (bit for bit); a NaN loss stops with a clear error
// and no checkpoint; no tensor leaks over many steps; checkpoints and adapters load back.
import { appendFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { expectNoLeaks, initBackend, overwriteSafetensorsValue, tf } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel, loadEarlyExitAdapters } from "@eecot/early-exit";
import { PROMPTS, fixturePath } from "../test/helpers.js";
import { AdamGroup } from "./adam.js";
import { calibrate, sequenceOrder, stepPasses } from "./calibrate.js";
import { resolveDistillConfig, type DistillConfigOverrides } from "./config.js";
import { computeLayerDivergences, type TokenSequence } from "./divergence.js";
import { distillationLoss, teacherLogProbabilities, type PrescribedPass } from "./loss.js";
import { distillStep, NonFiniteLossError } from "./step.js";
import { sequenceTargets } from "./targets.js";

const FIXTURES = [
  { name: "qwen3-tiny-f32", exitLayers: [2, 4] },
  { name: "qwen2-tiny-f32", exitLayers: [1, 2, 3] },
] as const;

const CONFIG: DistillConfigOverrides = {
  klFactor: 1,
  exitSamplesPerSequence: 2,
  batchSize: 2,
  gradientAccumulation: 2,
  learningRates: { lora: 5e-3, heads: 1e-2 },
  checkpointEvery: 2,
  seed: 7,
};

let folder: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  folder = await mkdtemp(join(tmpdir(), "distill-calibrate-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

/** Every trainable value of a model, flattened. */
function snapshot(model: EarlyExitModel): Float32Array[] {
  const { lora, heads } = model.trainableVariables();
  return [...lora, ...heads].map((v) => v.dataSync().slice() as Float32Array);
}

for (const fixture of FIXTURES) {
  describe(fixture.name, () => {
    let base: QwenModel;
    let trajectories: TokenSequence[];

    beforeAll(async () => {
      base = await loadQwenModel(fixturePath(fixture.name));
      const generated = await generateTokens(base.params, base.config, PROMPTS, { maxNewTokens: 6 });
      trajectories = PROMPTS.map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
    });
    afterAll(() => disposeModel(base));

    test("a few steps lower the loss on fixed prescriptions; adapters load back; no leaks", async () => {
      const model = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 4 } });
      const L = base.config.numLayers;
      const layers = [...fixture.exitLayers, L];
      const divergences = await computeLayerDivergences(base, fixture.exitLayers, trajectories);
      const targets = divergences.map((d) => sequenceTargets(d, 1));
      const config = resolveDistillConfig({ ...CONFIG, batchSize: 4, gradientAccumulation: 1, exitSamplesPerSequence: 4 });
      const [fixed] = stepPasses(1, trajectories, targets, layers, config, sequenceOrder(config.seed, trajectories.length));
      const evaluate = () => {
        const teacher = teacherLogProbabilities(model, fixed!.sequences);
        const parts = distillationLoss(model, fixed!, teacher, { klDirection: "reverse", normalizer: 1, training: false });
        const values = [parts.loss, parts.klSum, parts.exitNllSum].map((t) => t.dataSync()[0]!);
        tf.dispose([teacher, parts.loss, parts.klSum, parts.exitNllSum]);
        return { loss: values[0]!, kl: values[1]!, exitNll: values[2]! };
      };
      const before = evaluate();
      const tensorsBefore = tf.memory().numTensors;
      const outDir = join(folder, `${fixture.name}-train`);
      const result = await calibrate(model, trajectories, { outDir, config: { ...CONFIG, steps: 8, checkpointEvery: 3 }, divergences });
      expect(tf.memory().numTensors).toBe(tensorsBefore); // optimiser state freed, nothing leaked over 8 steps
      const after = evaluate();
      expect(result.step).toBe(8);
      expect(result.history).toHaveLength(8);
      expect(after.loss).toBeLessThan(0.8 * before.loss);
      expect(after.exitNll).toBeLessThan(before.exitNll);
      expect(result.targets.tokenCount).toBe(trajectories.reduce((a, t) => a + t.tokens.length, 0));

      // Files: metrics lines, checkpoints (newest 2 kept), the final adapter folder.
      const metrics = (await readFile(result.metricsPath, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { event: string; step: number });
      expect(metrics.filter((m) => m.event === "step").map((m) => m.step)).toEqual(Array.from({ length: 8 }, (_, i) => i + 1));
      expect(metrics[0]!.event).toBe("targets");
      expect(metrics[metrics.length - 1]!.event).toBe("done");
      expect(await readdir(join(outDir, "checkpoints"))).toEqual(["step-000006", "step-000008"]);
      const loaded = await loadEarlyExitAdapters(result.adapterDir!, base);
      snapshot(loaded).forEach((values, i) => expect(values).toEqual(snapshot(model)[i]));
      loaded.dispose();
      model.dispose();
    });

    // One fixture is enough for the record check (registered once, not skipped for the others).
    if (fixture === FIXTURES[0]) test("killed before a checkpoint and resumed: metrics.jsonl equals the uninterrupted run's (timing aside)", async () => {
      const config: DistillConfigOverrides = { ...CONFIG, steps: 4 };
      const straightDir = join(folder, `${fixture.name}-metrics-straight`);
      const straight = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      await calibrate(straight, trajectories, { outDir: straightDir, config });
      straight.dispose();

      // A kill -9 after step 3 was recorded, before its checkpoint (the last is step 2), with a line cut short.
      const killedDir = join(folder, `${fixture.name}-metrics-killed`);
      const first = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      await expect(calibrate(first, trajectories, { outDir: killedDir, config, onStep: (r) => { if (r.step === 3) throw new Error("killed"); } })).rejects.toThrow("killed");
      first.dispose();
      await appendFile(join(killedDir, "metrics.jsonl"), '{"event":"step","step":4,"lo');
      const second = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      const resumed = await calibrate(second, trajectories, { outDir: killedDir, config, resume: true });
      second.dispose();
      expect(resumed.resumedFrom).toBe(2);
      const records = async (dir: string) =>
        (await readFile(join(dir, "metrics.jsonl"), "utf8"))
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line.replaceAll(dir, "<out>")) as Record<string, unknown>)
          .map(({ seconds: _, ...rest }) => rest);
      const expected = await records(straightDir);
      expect(expected.map((r) => `${r.event} ${r.step}`)).toEqual(["targets 0", "step 1", "step 2", "checkpoint 2", "step 3", "step 4", "checkpoint 4", "done 4"]);
      expect(await records(killedDir)).toEqual(expected);
      // Killed again after its "done" record (in the CLI's held-out report), resumed from the last
      // checkpoint: one "done", not two (found by scripts/faults.ts).
      const third = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      expect((await calibrate(third, trajectories, { outDir: killedDir, config, resume: true })).resumedFrom).toBe(4);
      third.dispose();
      expect(await records(killedDir)).toEqual(expected);
    });

    test("interrupted + resumed == uninterrupted, bit for bit (soft exit term, cosine schedule)", async () => {
      // The soft exit term and the cosine schedule both depend on the step only: resume stays exact.
      const config: DistillConfigOverrides = { ...CONFIG, steps: 4, exitLoss: "soft", learningRateSchedule: "cosine" };
      const straight = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      await calibrate(straight, trajectories, { outDir: join(folder, `${fixture.name}-straight`), config });

      const outDir = join(folder, `${fixture.name}-resumed`);
      const first = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      let steps = 0;
      const interrupted = await calibrate(first, trajectories, { outDir, config, onStep: () => steps++, shouldStop: () => steps >= 3 });
      expect(interrupted.stopped).toBe(true);
      expect(interrupted.step).toBe(3);
      expect(interrupted.adapterDir).toBeNull();
      expect(await readdir(join(outDir, "checkpoints"))).toEqual(["step-000002", "step-000003"]);
      first.dispose();

      const second = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers, lora: { rank: 2 } });
      const resumed = await calibrate(second, trajectories, { outDir, config, resume: true });
      expect(resumed.resumedFrom).toBe(3);
      expect(resumed.history.map((h) => h.step)).toEqual([4]);
      const expected = snapshot(straight);
      snapshot(second).forEach((values, i) => expect(values).toEqual(expected[i]));
      const metrics = (await readFile(resumed.metricsPath, "utf8")).trim().split("\n").map((line) => JSON.parse(line) as { event: string; step: number });
      expect(metrics.filter((m) => m.event === "step").map((m) => m.step)).toEqual([1, 2, 3, 4]);

      // Starting fresh over existing checkpoints, or resuming with another factor, is refused.
      await expect(calibrate(second, trajectories, { outDir, config })).rejects.toThrow(/already holds checkpoints \(steps 3, 4\)/);
      await expect(calibrate(second, trajectories, { outDir, config: { ...config, klFactor: 2 }, resume: true })).rejects.toThrow(/klFactor = 1, this run has 2/);
      // A NaN in the saved optimiser state is refused on resume, naming file and tensor.
      const optimizerFile = join(outDir, "checkpoints", "step-000004", "optimizer.safetensors");
      await overwriteSafetensorsValue(optimizerFile, "optimizer.heads.0.v", NaN, 1);
      await expect(calibrate(second, trajectories, { outDir, config, resume: true })).rejects.toThrow(`${optimizerFile}: tensor "optimizer.heads.0.v" holds 1 non-finite value (first: NaN at flat index 1)`);
      straight.dispose();
      second.dispose();
    });
  });
}

describe("errors and leaks", () => {
  let base: QwenModel;
  let trajectories: TokenSequence[];
  beforeAll(async () => {
    base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
    const generated = await generateTokens(base.params, base.config, PROMPTS.slice(0, 2), { maxNewTokens: 4 });
    trajectories = PROMPTS.slice(0, 2).map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
  });
  afterAll(() => disposeModel(base));

  test("a NaN loss fails clearly, updates nothing and writes no checkpoint", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [2, 4] });
    tf.tidy(() => model.heads[1]!.b2.assign(tf.fill([1], Number.NaN)));
    const outDir = join(folder, "nan");
    const before = snapshot(model);
    const config = { ...CONFIG, steps: 3, checkpointEvery: 1, initializeHeadBiases: false };
    await expect(calibrate(model, trajectories, { outDir, config })).rejects.toThrow(NonFiniteLossError);
    await expect(calibrate(model, trajectories, { outDir, config })).rejects.toThrow(/loss is NaN at step 1 .* no checkpoint is written/);
    expect(await readdir(outDir)).not.toContain("checkpoints");
    snapshot(model).forEach((values, i) => expect(Array.from(values)).toEqual(Array.from(before[i]!)));
    model.dispose();
  });

  test("distillStep leaks nothing over many steps", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [2, 4], lora: { rank: 2 } });
    const groups = model.trainableVariables();
    const optimizers = { lora: new AdamGroup(groups.lora, 1e-3, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }), heads: new AdamGroup(groups.heads, 1e-3, { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }) };
    const pass: PrescribedPass = { sequences: trajectories, exitLayers: trajectories.map((t) => [t.tokens.map((_, i) => [2, 4, 6][i % 3]!)]) };
    await expectNoLeaks(() => distillStep(model, optimizers, [pass, pass], { klDirection: "forward", maxGradientNorm: 0.5 }), { iterations: 6 });
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    model.dispose();
  });

  test("bad configs are rejected with the field name", () => {
    expect(() => resolveDistillConfig({ klFactor: -1 })).toThrow(/klFactor/);
    expect(() => resolveDistillConfig({ exitSamplesPerSequence: 0 })).toThrow(/exitSamplesPerSequence/);
    expect(() => resolveDistillConfig({ klDirection: "sideways" as never })).toThrow(/klDirection/);
    expect(() => resolveDistillConfig({ learningRates: { heads: Number.NaN } })).toThrow(/learningRates.heads/);
    expect(() => resolveDistillConfig({ maxGradientNorm: 0 })).toThrow(/maxGradientNorm/);
  });
});

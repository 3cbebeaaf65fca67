// `eecot calibrate`: stage 1 (METHOD.md §2). Teacher trajectories (cached), KL targets,
// self-distillation of the exit heads and LoRA with checkpoints (Ctrl-C saves one, --resume
// continues exactly), then the appendix-A.2 comparison of learned and target exits on held-out
// prompts. Writes <out>/adapter, <out>/checkpoints, <out>/metrics.jsonl, <out>/calibration.json.
import { readFile, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { Rng, writeFailureHint } from "@eecot/tensor-core";
import { loadDataSpec, type TaskExample } from "@eecot/datasets";
import { EarlyExitModel } from "@eecot/early-exit";
import { buildTeacherTrajectories, calibrate, calibrationReport, computeLayerDivergences, resolveDistillConfig, type CalibrationStepRecord, type DistillConfig, type HeadWarmupEpoch } from "@eecot/distill";
import type { Tokenizer } from "@eecot/transformer";
import { promptIds } from "../chat.js";
import { createProgress } from "../progress.js";
import { loadModelFolder, requireTokenizer, startBackend } from "../setup.js";
import { choiceFlag, integerFlag, nonNegativeIntegerFlag, numberFlag, positiveIntegerFlag } from "../flags.js";
import { removeStaleRunTemporaries } from "../run-folder.js";
import { bundledModelDir } from "../bundled.js";
import { openRunFolder } from "../run-guard.js";
import { ALLOW_CHANGED_HELP } from "../run-flags.js";

interface CalibrateCliOptions {
  model?: string;
  data: string;
  out: string;
  klFactor: string;
  steps: string;
  resume?: boolean;
  allowChanged?: boolean;
  maxNewTokens: string;
  exitLayers?: string;
  samples: string;
  batchSize: string;
  gradientAccumulation: string;
  lrLora: string;
  lrHeads: string;
  klDirection: string;
  exitLoss: string;
  lrSchedule: string;
  headWarmup: string;
  headWarmupLr: string;
  headWarmupTokens: string;
  checkpointEvery: string;
  keepCheckpoints: string;
  heldOut: string;
  loraRank: string;
  seed: string;
  cache?: string;
  json?: boolean;
}

/** Parse "2,4,6" into layers. */
export function parseLayerList(text: string, flag: string): number[] {
  const layers = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (layers.length === 0 || layers.some((l) => !Number.isInteger(l) || l < 1)) throw new Error(`${flag} must be comma-separated positive integers, got "${text}"`);
  return layers;
}

/** Chat-formatted prompt ids (plain text when the tokenizer has no chat template). */
export function examplePromptIds(tokenizer: Tokenizer, example: TaskExample): number[] {
  return tokenizer.hasChatTemplate ? promptIds(tokenizer, example) : tokenizer.encode(example.prompt, { addSpecialTokens: false });
}

/** Seeded split: the last `heldOut` of a seeded permutation are held out. */
export function splitHeldOut<T>(items: readonly T[], heldOut: number, seed: number): { train: T[]; heldOut: T[] } {
  const order = new Rng(seed).fork("held-out").shuffle(items.map((_, i) => i));
  const cut = Math.max(0, items.length - heldOut);
  return { train: order.slice(0, cut).sort((a, b) => a - b).map((i) => items[i]!), heldOut: order.slice(cut).sort((a, b) => a - b).map((i) => items[i]!) };
}

/** The metrics file of a calibrate run folder (written by @eecot/distill's calibrate). */
export const CALIBRATE_METRICS_FILE = "metrics.jsonl";

/**
 * The head warm-up epochs and the last step of the whole run, read from its metrics.jsonl: a
 * resumed run's own result holds only the steps it ran (and no warm-up), its report and summary
 * must say what an uninterrupted run says.
 */
export async function wholeRunRecords(metricsPath: string): Promise<{ headWarmup: HeadWarmupEpoch[]; last: CalibrationStepRecord | undefined }> {
  const records = (await readFile(metricsPath, "utf8"))
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { event: string } & Record<string, unknown>);
  const strip = ({ event: _, step: __, ...rest }: Record<string, unknown>) => rest;
  const headWarmup = records.filter((r) => r.event === "head-warmup").map((r) => strip(r) as unknown as HeadWarmupEpoch);
  const steps = records.filter((r) => r.event === "step");
  const last = steps.at(-1);
  return { headWarmup, last: last && ({ ...strip(last), step: last.step } as unknown as CalibrationStepRecord) };
}

/** Every flag of `eecot calibrate`, checked (errors name the flag as typed) before anything loads. */
export function calibrateSettingsFromFlags(options: CalibrateCliOptions): { config: DistillConfig; maxNewTokens: number; heldOutCount: number; rank: number; exitLayers: number[] | undefined } {
  const config = resolveDistillConfig({
    klFactor: numberFlag(options.klFactor, "--kl-factor", { above: 0 }),
    steps: positiveIntegerFlag(options.steps, "--steps"),
    exitSamplesPerSequence: positiveIntegerFlag(options.samples, "--samples"),
    batchSize: positiveIntegerFlag(options.batchSize, "--batch-size"),
    gradientAccumulation: positiveIntegerFlag(options.gradientAccumulation, "--gradient-accumulation"),
    learningRates: { lora: numberFlag(options.lrLora, "--lr-lora", { min: 0 }), heads: numberFlag(options.lrHeads, "--lr-heads", { min: 0 }) },
    klDirection: choiceFlag(options.klDirection, "--kl-direction", ["reverse", "forward"] as const),
    exitLoss: choiceFlag(options.exitLoss, "--exit-loss", ["sampled", "soft"] as const),
    learningRateSchedule: choiceFlag(options.lrSchedule, "--lr-schedule", ["constant", "cosine"] as const),
    checkpointEvery: positiveIntegerFlag(options.checkpointEvery, "--checkpoint-every"),
    keepCheckpoints: positiveIntegerFlag(options.keepCheckpoints, "--keep-checkpoints"),
    headWarmupEpochs: nonNegativeIntegerFlag(options.headWarmup, "--head-warmup"),
    headWarmupLearningRate: numberFlag(options.headWarmupLr, "--head-warmup-lr", { above: 0 }),
    headWarmupMaxTokens: positiveIntegerFlag(options.headWarmupTokens, "--head-warmup-tokens"),
    seed: integerFlag(options.seed, "--seed"),
  });
  return {
    config,
    maxNewTokens: positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens"),
    heldOutCount: nonNegativeIntegerFlag(options.heldOut, "--held-out"),
    rank: positiveIntegerFlag(options.loraRank, "--lora-rank"),
    exitLayers: options.exitLayers === undefined ? undefined : parseLayerList(options.exitLayers, "--exit-layers"),
  };
}

/**
 * Prompts to hold out: at most half of `count`. More than that is refused when --held-out was
 * given (`explicit`) and cut to half otherwise (the caller says so).
 */
export function heldOutCountFor(requested: number, count: number, data: string, explicit: boolean): number {
  const most = Math.floor(count / 2);
  if (requested <= most) return requested;
  if (explicit) throw new Error(`--held-out ${requested}: --data ${data} gives ${count} prompts, and at most half of them (${most}) can be held out; lower --held-out or add prompts`);
  return most;
}

export function registerCalibrate(program: Command): void {
  program
    .command("calibrate")
    .description("stage 1: calibrate exit heads and LoRA by self-distillation from the frozen model (METHOD.md §2)")
    .option("--model <dir>", "Hugging Face model folder (with tokenizer.json) (default: the bundled models/tiny-reasoner)")
    .requiredOption("--data <spec>", 'data spec, e.g. "gsm-synthetic:64,tom:64"')
    .requiredOption("--out <dir>", "output folder: adapter/, checkpoints/, metrics.jsonl, calibration.json")
    .option("--kl-factor <f>", "f in s = 2 − 2·sigmoid(f·KL): higher = fewer exits", "1")
    .option("--steps <n>", "optimiser steps", "100")
    .option("--resume", "continue from the newest checkpoint in <out>/checkpoints")
    .option("--allow-changed", ALLOW_CHANGED_HELP)
    .option("--max-new-tokens <n>", "teacher answer length limit", "128")
    .option("--exit-layers <list>", "exitable layers, e.g. 2,4,6 (default: the checkpoint's early_exit_layers, else every 5th)")
    .option("--samples <n>", "exit prescriptions per sequence (exitSamplesPerSequence)", "4")
    .option("--batch-size <n>", "sequences per forward/backward pass", "2")
    .option("--gradient-accumulation <n>", "passes per optimiser step", "1")
    .option("--lr-lora <x>", "Adam learning rate of the LoRA adapters (reference code: 1e-5 on 1.5B)", "1e-3")
    .option("--lr-heads <x>", "Adam learning rate of the exit heads (reference code: 1e-5 on 1.5B)", "1e-3")
    .option("--kl-direction <d>", "reverse = KL(student‖teacher) (reference code), forward = KL(teacher‖student)", "reverse")
    .option("--exit-loss <kind>", "sampled = −log P(x_t) at the sampled exit (reference code), soft = its Rao–Blackwellised form (same expectation, lower variance)", "sampled")
    .option("--lr-schedule <s>", "constant (reference code) or cosine (decay to lr/10 over the run)", "constant")
    .option("--head-warmup <epochs>", "epochs of fitting the exit heads alone on the frozen model's residuals before the joint steps (0 = off, as in the reference code)", "0")
    .option("--head-warmup-lr <x>", "Adam learning rate of the head warm-up (cosine to a tenth)", "1e-3")
    .option("--head-warmup-tokens <n>", "at most this many training tokens in the head warm-up (residuals held in memory: tokens × hidden × exits × 4 bytes)", "65536")
    .option("--checkpoint-every <n>", "steps between checkpoints", "25")
    .option("--keep-checkpoints <n>", "keep the newest n checkpoints (older ones are removed)", "2")
    .option("--held-out <n>", "prompts held out for the A.2 comparison (seeded split)", "16")
    .option("--lora-rank <r>", "LoRA rank (alpha = 2r)", "8")
    .option("--seed <s>", "seed of data order, prescriptions, split and initialisation", "0")
    .option("--cache <dir>", "teacher-trajectory cache folder (default <out>/teacher-cache)")
    .option("--json", "print one JSON document on stdout")
    .action(async (options: CalibrateCliOptions, command: Command) => {
      options.model ??= bundledModelDir();
      // Flags, data and the output folder are checked before the backend starts and the model loads.
      const { config, maxNewTokens, heldOutCount, rank, exitLayers } = calibrateSettingsFromFlags(options);
      const seed = config.seed;
      const { examples, sources } = loadDataSpec(options.data);
      for (const source of sources) if (source.skipped.count > 0) process.stderr.write(`calibrate: skipped ${source.skipped.count} invalid records in ${source.source}\n`);
      if (examples.length < 2) throw new Error(`--data ${options.data} produced ${examples.length} examples; calibrate needs at least 2`);
      const heldOutUsed = heldOutCountFor(heldOutCount, examples.length, options.data, command.getOptionValueSource("heldOut") === "cli");
      if (heldOutUsed < heldOutCount) process.stderr.write(`calibrate: holding out ${heldOutUsed} of ${examples.length} prompts (the default --held-out ${heldOutCount} is more than half of them)\n`);
      // The folder is locked (until the command returns), refused when used without --resume, and a
      // resume's flags are compared with the run's.
      await openRunFolder({ command, outDir: options.out, resume: options.resume, allowChanged: options.allowChanged, records: [CALIBRATE_METRICS_FILE] });
      for (const path of await removeStaleRunTemporaries(options.out)) process.stderr.write(`calibrate: removed ${path} (left by an interrupted run)\n`);
      const backend = await startBackend(command);
      const loaded = await loadModelFolder(options.model);
      const tokenizer = requireTokenizer(loaded, "calibrate");
      const base = loaded.model;

      // Prompts, teacher trajectories (cached).
      const prompts = examples.map((e) => ({ id: e.id, promptTokens: examplePromptIds(tokenizer, e) }));
      const generation = createProgress("teacher answers", prompts.length, { unit: "prompts" });
      const teacher = await buildTeacherTrajectories(base, prompts, {
        maxNewTokens,
        stopTokenIds: tokenizer.eosTokenIds,
        padTokenId: tokenizer.padTokenId ?? 0,
        decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
        cacheDir: options.cache ?? join(options.out, "teacher-cache"),
        cacheKey: { dataSpec: options.data },
        onProgress: (done) => generation.update(done),
      });
      generation.stop();
      process.stderr.write(`calibrate: teacher trajectories ${teacher.fromCache ? "read from" : "written to"} ${teacher.cachePath}\n`);
      const split = splitHeldOut(teacher.trajectories, heldOutUsed, seed);

      // Stage 1.
      const model = EarlyExitModel.create(base, {
        ...(exitLayers ? { exitLayers } : {}),
        lora: { rank, alpha: 2 * rank },
        seed,
      });
      const targetsBar = createProgress("teacher divergences", split.train.length, { unit: "seq" });
      let trainingBar: ReturnType<typeof createProgress> | null = null;
      let warmupResiduals: ReturnType<typeof createProgress> | undefined;
      let warmupBar: ReturnType<typeof createProgress> | undefined;
      const stop = { requested: false };
      const onSignal = () => {
        stop.requested = true;
        process.stderr.write("\ncalibrate: stopping after this step (a checkpoint will be saved; continue with --resume)\n");
      };
      process.once("SIGINT", onSignal);
      const started = performance.now();
      let result;
      try {
        result = await calibrate(model, split.train, {
          outDir: options.out,
          config,
          resume: options.resume,
          allowChangedConfig: options.allowChanged,
          padTokenId: tokenizer.padTokenId ?? 0,
          shouldStop: () => stop.requested,
          onTargetsProgress: (done, total) => {
            targetsBar.update(done);
            if (done === total) targetsBar.stop();
          },
          onHeadWarmupProgress: (done, total) => {
            warmupResiduals ??= createProgress("head warm-up residuals", total, { unit: "seq" });
            warmupResiduals.update(done);
            if (done === total) {
              warmupResiduals.stop();
              warmupBar = createProgress("head warm-up", config.headWarmupEpochs, { unit: "epochs" });
            }
          },
          onHeadWarmupEpoch: (record) => {
            warmupBar ??= createProgress("head warm-up", record.epochs, { unit: "epochs" });
            warmupBar.update(record.epoch, { ce: record.crossEntropy, tv: record.totalVariation });
            if (record.epoch === record.epochs) warmupBar.stop();
          },
          onTrainingStart: (fromStep) => {
            trainingBar = createProgress("calibrate", config.steps, { unit: "steps", initial: fromStep });
          },
          onStep: (record) => {
            trainingBar ??= createProgress("calibrate", config.steps, { unit: "steps" });
            trainingBar.update(record.step, { loss: record.loss, kl: record.kl, exitNll: record.exitNll, early: record.prescribedEarlyExitRate });
          },
          log: (line) => process.stderr.write(`calibrate: ${line}\n`),
        });
      } finally {
        process.off("SIGINT", onSignal);
        targetsBar.stop();
        (trainingBar as ReturnType<typeof createProgress> | null)?.stop();
        warmupResiduals?.stop();
        warmupBar?.stop();
      }
      const trainingSeconds = (performance.now() - started) / 1000;
      if (result.stopped) {
        process.stderr.write(`calibrate: stopped at step ${result.step}; checkpoint ${result.checkpointDir}\n`);
        model.dispose();
        return;
      }

      // Appendix A.2 on the held-out prompts.
      const heldOutDivergences = await computeLayerDivergences(base, model.exitLayers, split.heldOut, { padTokenId: tokenizer.padTokenId ?? 0 });
      const report = await calibrationReport(model, split.heldOut, { klFactor: config.klFactor, divergences: heldOutDivergences, padTokenId: tokenizer.padTokenId ?? 0 });
      // What the whole run did (a resumed run's result holds only its own steps).
      const whole = result.resumedFrom === null ? { headWarmup: [...result.headWarmup], last: result.history.at(-1) } : await wholeRunRecords(result.metricsPath);
      const last = whole.last;
      const document = {
        model: options.model,
        data: options.data,
        backend: backend.name,
        numLayers: model.numLayers,
        exitLayers: [...model.exitLayers],
        config,
        teacher: { cachePath: teacher.cachePath, fromCache: teacher.fromCache, trajectories: teacher.trajectories.length, train: split.train.length, heldOut: split.heldOut.length, maxNewTokens },
        training: { steps: result.step, resumedFrom: result.resumedFrom, headWarmup: whole.headWarmup, seconds: trainingSeconds, finalLoss: last?.loss ?? null, finalKl: last?.kl ?? null, finalExitNll: last?.exitNll ?? null, targets: result.targets },
        adapterDir: result.adapterDir,
        metricsPath: result.metricsPath,
        calibration: report,
      };
      const path = join(options.out, "calibration.json");
      try {
        await writeFile(`${path}.tmp`, JSON.stringify(document, null, 2) + "\n");
        await rename(`${path}.tmp`, path);
      } catch (error) {
        throw new Error(`calibrate: cannot write ${path}: ${(error as Error).message}${writeFailureHint(error)}`, { cause: error });
      }
      model.dispose();
      if (options.json) {
        process.stdout.write(JSON.stringify(document) + "\n");
        return;
      }
      const percent = (x: number) => `${(100 * (Math.abs(x) < 5e-5 ? 0 : x)).toFixed(1)}%`;
      const lines = [
        `stage 1: ${whole.headWarmup.length > 0 ? `head warm-up ${whole.headWarmup.length} epochs (total variation ${whole.headWarmup.at(-1)!.totalVariation.toFixed(3)} on its last), then ` : ""}${result.step} steps on ${split.train.length} teacher trajectories (f = ${config.klFactor}); final loss ${last?.loss.toFixed(4) ?? "n/a"} (KL ${last?.kl.toFixed(4) ?? "n/a"}, exit NLL ${last?.exitNll.toFixed(4) ?? "n/a"})`,
        `held-out (${split.heldOut.length} prompts, ${report.comparison.tokenCount} tokens): learned early-exit rate ${percent(report.comparison.learnedEarlyExitRate)} (gated at ${report.gate.minExitProb}; ungated ${percent(report.ungatedComparison.learnedEarlyExitRate)}) vs target ${percent(report.comparison.targetEarlyExitRate)}`,
        `total variation: mean per token ${report.comparison.meanTokenTotalVariation.toFixed(3)} (ungated ${report.ungatedComparison.meanTokenTotalVariation.toFixed(3)}), histogram ${report.comparison.histogramTotalVariation.toFixed(3)}`,
        "layer   learned   target",
        ...report.comparison.layers.map((l) => `${String(l.layer).padStart(5)}   ${percent(l.learnedMass).padStart(7)}   ${percent(l.targetMass).padStart(6)}`),
        `adapter: ${result.adapterDir}   report: ${path}`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}

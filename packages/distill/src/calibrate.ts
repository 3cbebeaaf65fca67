// Stage 1 end to end (METHOD.md §2): per-layer divergences of the teacher trajectories →
// target exit distributions → steps of (sample prescriptions, student pass, loss, Adam) →
// checkpoints and the final adapters. A thin loop over the pure parts in targets.ts, loss.ts,
// step.ts and checkpoint.ts.
//
//   <outDir>/adapter/          final adapters + exit heads (PEFT layout; loadEarlyExitAdapters)
//   <outDir>/checkpoints/      step-NNNNNN/ (see checkpoint.ts), written every checkpointEvery
//                              steps, at the end and when `shouldStop` asks
//   <outDir>/metrics.jsonl     one JSON object per line: {"event": "targets" | "step" | "checkpoint" | "done", ...}
//
// Determinism: sequences are visited in epochs, each a permutation drawn from
// Rng(seed).fork("epoch-k"); step s draws its prescriptions from Rng(seed).fork("step-s"). The
// step counter is therefore the whole random state, and a resumed run takes exactly the steps
// of an uninterrupted one (LoRA dropout, off by default, is the one exception: its mask stream
// is not checkpointed).
import { appendFile, mkdir, readFile, writeFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { Rng, tf, writeFailureHint } from "@eecot/tensor-core";
import { saveEarlyExitAdapters, type EarlyExitModel } from "@eecot/early-exit";
import { AdamGroup } from "./adam.js";
import { checkpointSteps, findLatestCheckpoint, loadDistillCheckpoint, saveDistillCheckpoint, type DistillOptimizers } from "./checkpoint.js";
import { DEFAULT_DISTILL_CONFIG, resolveDistillConfig, scheduledLearningRate, type DistillConfig, type DistillConfigOverrides } from "./config.js";
import { computeLayerDivergences, type TokenSequence } from "./divergence.js";
import type { PrescribedPass } from "./loss.js";
import { warmUpExitHeads, type HeadWarmupEpoch } from "./head-warmup.js";
import { distillStep, type StepResult } from "./step.js";
import { conditionalExitRates, sampleExitLayers, sequenceTargets, targetExitStatistics, type SequenceDivergences } from "./targets.js";

/** One logged step. */
export interface CalibrationStepRecord extends StepResult {
  readonly step: number;
  /** Fraction of prescribed exits (all copies) below L in this step. */
  readonly prescribedEarlyExitRate: number;
  /** Wall-clock seconds of the step. */
  readonly seconds: number;
}

export interface CalibrateOptions {
  /** Output folder (adapter/, checkpoints/, metrics.jsonl). */
  readonly outDir: string;
  /** Stage-1 settings (defaults: DEFAULT_DISTILL_CONFIG). */
  readonly config?: DistillConfigOverrides;
  /** Continue from the newest checkpoint in <outDir>/checkpoints (fresh start when there is none). */
  readonly resume?: boolean;
  /**
   * Resume even when the checkpoint's settings (seed, KL factor, batch size...) or trajectory
   * count differ from this run's (each difference is logged); default false: refused.
   */
  readonly allowChangedConfig?: boolean;
  /** Precomputed divergences, one per trajectory in order (e.g. shared with calibrationReport). */
  readonly divergences?: readonly SequenceDivergences[];
  /** Id for left padding, default 0. */
  readonly padTokenId?: number;
  /** Polled after every step; true = write a checkpoint and return (Ctrl-C). */
  readonly shouldStop?: () => boolean;
  /** Progress of the divergence pass (sequences done, total). */
  readonly onTargetsProgress?: (done: number, total: number) => void;
  /** Called once before the first step of this call (after any head warm-up), with the step it starts from. */
  readonly onTrainingStart?: (fromStep: number) => void;
  /** Called after every step. */
  readonly onStep?: (record: CalibrationStepRecord) => void;
  /** Progress of the head warm-up's residual pass (sequences done, total). */
  readonly onHeadWarmupProgress?: (done: number, total: number) => void;
  /** After every head warm-up epoch. */
  readonly onHeadWarmupEpoch?: (record: HeadWarmupEpoch) => void;
  /** Human-readable notes (resume, checkpoints). */
  readonly log?: (line: string) => void;
}

export interface CalibrateResult {
  readonly config: DistillConfig;
  /** Steps completed in total (including resumed ones). */
  readonly step: number;
  /** True when `shouldStop` ended the run early. */
  readonly stopped: boolean;
  /** Step the run resumed from, or null. */
  readonly resumedFrom: number | null;
  /** The steps this call ran. */
  readonly history: readonly CalibrationStepRecord[];
  /** The head warm-up epochs this call ran (none when resumed or off). */
  readonly headWarmup: readonly HeadWarmupEpoch[];
  /** Final adapters (null when stopped early: use the checkpoint). */
  readonly adapterDir: string | null;
  /** Newest checkpoint written, or null. */
  readonly checkpointDir: string | null;
  readonly metricsPath: string;
  /** Trajectories trained on (those with at least one generated token). */
  readonly trajectoryCount: number;
  /** Expected early-exit rate and ALS of the targets over the training tokens. */
  readonly targets: { readonly earlyExitRate: number; readonly averageLayerSavings: number; readonly tokenCount: number };
}

/** Index of the sequence visited at global position p (epoch-wise seeded permutations). */
export function sequenceOrder(seed: number, count: number): (position: number) => number {
  const cache = new Map<number, number[]>();
  return (position) => {
    const epoch = Math.floor(position / count);
    let permutation = cache.get(epoch);
    if (!permutation) {
      permutation = new Rng(seed).fork(`epoch-${epoch}`).shuffle(Array.from({ length: count }, (_, i) => i));
      cache.clear();
      cache.set(epoch, permutation);
    }
    return permutation[position % count]!;
  };
}

/** The passes of step s (1-based): sequences in data order, prescriptions from fork("step-s"). */
export function stepPasses(
  step: number,
  sequences: readonly TokenSequence[],
  targets: readonly (readonly number[][])[],
  layers: readonly number[],
  config: Pick<DistillConfig, "batchSize" | "gradientAccumulation" | "exitSamplesPerSequence" | "seed">,
  order: (position: number) => number,
): PrescribedPass[] {
  const perStep = config.batchSize * config.gradientAccumulation;
  const rng = new Rng(config.seed).fork(`step-${step}`);
  const passes: PrescribedPass[] = [];
  for (let pass = 0; pass < config.gradientAccumulation; pass++) {
    const chosen: TokenSequence[] = [];
    const chosenTargets: (readonly number[][])[] = [];
    const exitLayers: number[][][] = [];
    for (let i = 0; i < config.batchSize; i++) {
      const index = order((step - 1) * perStep + pass * config.batchSize + i);
      chosen.push(sequences[index]!);
      chosenTargets.push(targets[index]!);
      exitLayers.push(Array.from({ length: config.exitSamplesPerSequence }, () => sampleExitLayers(targets[index]!, layers, rng)));
    }
    passes.push({ sequences: chosen, exitLayers, targets: chosenTargets });
  }
  return passes;
}

/** Keep only metrics lines up to `step` (resume), atomically; a "done" record goes (the resumed run writes its own). */
async function truncateMetrics(path: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return;
  }
  const kept = text.split("\n").filter((line) => {
    if (line.trim() === "") return false;
    try {
      const record = JSON.parse(line) as { event?: string; step?: number };
      return record.event !== "done" && (record.step === undefined || record.step <= step);
    } catch {
      return false;
    }
  });
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, kept.map((l) => l + "\n").join(""));
  await rename(temporary, path);
}

/**
 * Untrained heads (W2 = 0, so p_e = sigmoid(b2) for every token) start at b2 = logit(rate),
 * the targets' conditional exit rate at their layer, clamped to [1e-3, 1 − 1e-3]: the exit
 * term then starts at the best constant predictor and the steps go into per-token structure
 * instead of walking b2 from −4 at ≈ lr per Adam step. Heads with any W2 ≠ 0 are left alone.
 */
export async function initializeHeadBiases(model: EarlyExitModel, rates: readonly number[]): Promise<void> {
  for (const [i, head] of model.heads.entries()) {
    const largest = tf.tidy(() => tf.max(tf.abs(head.w2T)));
    const untrained = (await largest.data())[0] === 0; // async read: dataSync is unavailable on webgpu
    largest.dispose();
    if (!untrained) continue;
    const rate = Math.min(1 - 1e-3, Math.max(1e-3, rates[i] ?? 0));
    tf.tidy(() => head.b2.assign(tf.fill([1], Math.log(rate / (1 - rate)))));
  }
}

const RESUME_FIELDS = ["klFactor", "exitSamplesPerSequence", "klDirection", "exitLoss", "learningRateSchedule", "batchSize", "gradientAccumulation", "headWarmupEpochs", "seed"] as const;

/**
 * Calibrate `model`'s exit heads and LoRA on teacher trajectories (stage 1). The model is
 * updated in place; it should be fresh (or its state is overwritten when resuming).
 */
export async function calibrate(model: EarlyExitModel, trajectories: readonly TokenSequence[], options: CalibrateOptions): Promise<CalibrateResult> {
  const config = resolveDistillConfig(options.config);
  const L = model.numLayers;
  const layers = [...model.exitLayers, L];
  const log = options.log ?? (() => {});
  const metricsPath = join(options.outDir, "metrics.jsonl");
  const checkpointsDir = join(options.outDir, "checkpoints");
  await mkdir(options.outDir, { recursive: true });
  const record = async (entry: Record<string, unknown>) => {
    try {
      await appendFile(metricsPath, JSON.stringify(entry) + "\n");
    } catch (error) {
      throw new Error(`calibrate: cannot write ${metricsPath}: ${(error as Error).message}${writeFailureHint(error)}`, { cause: error });
    }
  };

  // Trajectories with tokens, their divergences and targets.
  if (options.divergences && options.divergences.length !== trajectories.length) {
    throw new Error(`calibrate: ${options.divergences.length} divergences for ${trajectories.length} trajectories`);
  }
  const keep = trajectories.map((t, i) => i).filter((i) => trajectories[i]!.tokens.length > 0);
  const sequences = keep.map((i) => trajectories[i]!);
  if (sequences.length === 0) throw new Error("calibrate: no trajectory has generated tokens");
  const divergences =
    options.divergences?.filter((_, i) => trajectories[i]!.tokens.length > 0) ??
    (await computeLayerDivergences(model.base, model.exitLayers, sequences, { chunkSize: config.targetChunkSize, padTokenId: options.padTokenId, onProgress: options.onTargetsProgress }));
  const targets = divergences.map((d, i) => {
    if (d.tokenCount !== sequences[i]!.tokens.length || d.exitCount !== model.exitLayers.length) {
      throw new Error(`calibrate: divergences of trajectory ${i} cover ${d.tokenCount} tokens × ${d.exitCount} exits, expected ${sequences[i]!.tokens.length} × ${model.exitLayers.length}`);
    }
    return sequenceTargets(d, config.klFactor);
  });
  const targetStatistics = targetExitStatistics(targets.flat(), layers);
  if (config.initializeHeadBiases) await initializeHeadBiases(model, conditionalExitRates(targets.flat(), model.exitLayers.length));

  const groups = model.trainableVariables();
  const optimizers: DistillOptimizers = {
    lora: new AdamGroup(groups.lora, config.learningRates.lora, config.adam),
    heads: new AdamGroup(groups.heads, config.learningRates.heads, config.adam),
  };
  try {
    let step = 0;
    let resumedFrom: number | null = null;
    let checkpointDir: string | null = null;
    if (options.resume) {
      const latest = await findLatestCheckpoint(checkpointsDir);
      if (latest) {
        const state = await loadDistillCheckpoint(latest, { model, optimizers });
        const refuse = (difference: string, remedy: string) => {
          if (!options.allowChangedConfig) throw new Error(`${difference}${remedy}`);
          log(`${difference}: continuing (changes allowed)`);
        };
        for (const field of RESUME_FIELDS) {
          if ((state.config[field] ?? DEFAULT_DISTILL_CONFIG[field]) !== config[field]) {
            refuse(`calibrate --resume: checkpoint ${latest} was written with ${field} = ${JSON.stringify(state.config[field])}, this run has ${JSON.stringify(config[field])}`, "; resume with the same setting or start a new --out folder");
          }
        }
        if (state.trajectoryCount !== sequences.length) {
          refuse(`calibrate --resume: checkpoint ${latest} trained on ${state.trajectoryCount} trajectories, this run has ${sequences.length}`, " (different data or generation settings)");
        }
        step = state.step;
        resumedFrom = step;
        checkpointDir = latest;
        await truncateMetrics(metricsPath, step);
        log(`resuming from ${latest} (step ${step})`);
      } else {
        log(`no checkpoint in ${checkpointsDir}: starting fresh`);
      }
    }
    if (resumedFrom === null) {
      const stale = await checkpointSteps(checkpointsDir);
      if (stale.length > 0) {
        throw new Error(`calibrate: ${checkpointsDir} already holds checkpoints (steps ${stale.join(", ")}) from an earlier run; resume it (--resume / resume: true) or choose a new output folder`);
      }
      await writeFile(metricsPath, "");
      await record({ event: "targets", step: 0, klFactor: config.klFactor, trajectories: sequences.length, ...targetStatistics });
    }
    const headWarmup: HeadWarmupEpoch[] = [];
    if (resumedFrom === null && config.headWarmupEpochs > 0) {
      const epochs = await warmUpExitHeads(model, sequences, targets, {
        epochs: config.headWarmupEpochs,
        batchTokens: config.headWarmupBatchTokens,
        learningRate: config.headWarmupLearningRate,
        maxTokens: config.headWarmupMaxTokens,
        seed: config.seed,
        adam: config.adam,
        padTokenId: options.padTokenId,
        onResidualProgress: options.onHeadWarmupProgress,
        onEpoch: options.onHeadWarmupEpoch,
      });
      for (const epoch of epochs) await record({ event: "head-warmup", step: 0, ...epoch });
      headWarmup.push(...epochs);
      const last = epochs[epochs.length - 1];
      if (last) log(`head warm-up: ${epochs.length} epochs over ${last.tokens} tokens; cross-entropy ${last.crossEntropy.toFixed(4)}, total variation ${last.totalVariation.toFixed(4)} (last epoch)`);
    }

    const order = sequenceOrder(config.seed, sequences.length);
    const history: CalibrationStepRecord[] = [];
    const save = async (at: number) => {
      checkpointDir = await saveDistillCheckpoint(checkpointsDir, { step: at, config, model, optimizers, trajectoryCount: sequences.length, keep: config.keepCheckpoints });
      await record({ event: "checkpoint", step: at, path: checkpointDir });
      log(`checkpoint ${checkpointDir}`);
    };
    let stopped = false;
    let savedAt = resumedFrom ?? -1;
    options.onTrainingStart?.(step);
    while (step < config.steps) {
      const started = performance.now();
      const passes = stepPasses(step + 1, sequences, targets, layers, config, order);
      optimizers.lora.learningRate = scheduledLearningRate(config.learningRates.lora, step + 1, config.steps, config.learningRateSchedule);
      optimizers.heads.learningRate = scheduledLearningRate(config.learningRates.heads, step + 1, config.steps, config.learningRateSchedule);
      const result = await distillStep(model, optimizers, passes, config, { padTokenId: options.padTokenId, step: step + 1 });
      step += 1;
      const prescribed = passes.flatMap((p) => p.exitLayers.flat(2));
      const entry: CalibrationStepRecord = {
        step,
        ...result,
        prescribedEarlyExitRate: prescribed.filter((x) => x < L).length / Math.max(1, prescribed.length),
        seconds: (performance.now() - started) / 1000,
      };
      history.push(entry);
      await record({ event: "step", ...entry });
      options.onStep?.(entry);
      if (step % config.checkpointEvery === 0 || step === config.steps) {
        await save(step);
        savedAt = step;
      }
      if (step < config.steps && options.shouldStop?.()) {
        stopped = true;
        if (savedAt !== step) await save(step);
        break;
      }
    }
    let adapterDir: string | null = null;
    if (!stopped) {
      if (savedAt !== step && config.steps === 0) await save(step);
      adapterDir = join(options.outDir, "adapter");
      await saveEarlyExitAdapters(adapterDir, model);
      await record({ event: "done", step, adapterDir });
    }
    return {
      config,
      step,
      stopped,
      resumedFrom,
      history,
      headWarmup,
      adapterDir,
      checkpointDir,
      metricsPath,
      trajectoryCount: sequences.length,
      targets: targetStatistics,
    };
  } finally {
    optimizers.lora.dispose();
    optimizers.heads.dispose();
  }
}

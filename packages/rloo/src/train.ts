// The RLOO training loop: a thin shell around `rlooStep` that picks batches, logs, evaluates,
// checkpoints and resumes. Batch and sampling seed of step s are pure functions of (seed, s), so
// a resumed run repeats an uninterrupted one exactly.

import { Rng } from "@eecot/tensor-core";
import type { AugmentedVocabularyPolicy } from "@eecot/policy";
import { resolveRlooConfig, type RlooConfigOverrides } from "./config.js";
import { findLatestCheckpoint, loadRlooCheckpoint, saveRlooCheckpoint } from "./checkpoint.js";
import type { TaskRewardFunction } from "./rewards.js";
import { createRlooOptimizers, rlooStep, type RlooExample, type RlooStepMetrics } from "./step.js";

export interface RlooTrainOptions {
  /** The policy to train (its `trainableVariables()` are updated in place). */
  readonly policy: AugmentedVocabularyPolicy;
  /** Training prompts with reference answers; visited in a fresh seeded order every epoch. */
  readonly examples: readonly RlooExample[];
  /** r_task, e.g. a GSM8K reward from @eecot/datasets. */
  readonly taskReward: TaskRewardFunction;
  /** Overrides of DEFAULT_RLOO_CONFIG. */
  readonly config?: RlooConfigOverrides;
  /** Where checkpoints go; without it nothing is written. */
  readonly checkpointDirectory?: string;
  /** Continue from the newest checkpoint in `checkpointDirectory` when there is one. */
  readonly resume?: boolean;
  /** Called after every step with its metrics (awaited: a metrics file is written in step order). */
  readonly onLog?: (metrics: RlooStepMetrics) => unknown;
  /** Called after every `evalEvery`-th step, e.g. to measure held-out accuracy. */
  readonly evaluate?: (step: number) => void | Promise<void>;
  /** Polled after every step; when true, a checkpoint is written and training returns (see `stopOnSignal`). */
  readonly shouldStop?: () => boolean;
}

export interface RlooTrainResult {
  /** Optimiser steps completed in total (including those before a resume). */
  readonly step: number;
  /** True when `shouldStop` ended the run before `config.steps`. */
  readonly stopped: boolean;
  /** Folder of the last checkpoint written or resumed from, or null. */
  readonly checkpoint: string | null;
}

export async function trainRloo(options: RlooTrainOptions): Promise<RlooTrainResult> {
  const { policy, examples, taskReward, checkpointDirectory } = options;
  const config = resolveRlooConfig(options.config);
  if (examples.length === 0) throw new Error("rloo: trainRloo needs at least one example");
  if (options.resume && !checkpointDirectory) throw new Error("rloo: resume needs a checkpointDirectory");
  const optimizers = createRlooOptimizers(policy, config);
  try {
    let step = 0;
    let checkpoint: string | null = null;
    if (options.resume && checkpointDirectory) {
      checkpoint = await findLatestCheckpoint(checkpointDirectory);
      if (checkpoint) step = (await loadRlooCheckpoint(checkpoint, { policy, optimizers })).step;
    }
    const save = async () => {
      if (checkpointDirectory) checkpoint = await saveRlooCheckpoint(checkpointDirectory, { step, config, policy, optimizers });
    };
    while (step < config.steps) {
      const next = step + 1;
      const metrics = await rlooStep(
        { policy, config, taskReward, optimizers },
        { examples: batchForStep(examples, next, config.promptsPerStep, config.seed), seed: stepSeed(config.seed, next), step: next },
      );
      step = next;
      await options.onLog?.(metrics);
      if (config.evalEvery > 0 && step % config.evalEvery === 0) await options.evaluate?.(step);
      const stopping = options.shouldStop?.() ?? false;
      if (stopping || step === config.steps || (config.checkpointEvery > 0 && step % config.checkpointEvery === 0)) await save();
      if (stopping && step < config.steps) return { step, stopped: true, checkpoint };
    }
    return { step, stopped: false, checkpoint };
  } finally {
    optimizers.lora.dispose();
    optimizers.heads.dispose();
  }
}

/** A `shouldStop` that turns true on the first SIGINT (a second one terminates as usual). */
export function stopOnSignal(signal: NodeJS.Signals = "SIGINT"): { shouldStop: () => boolean; dispose: () => void } {
  let stop = false;
  const handler = () => {
    stop = true;
    process.removeListener(signal, handler);
  };
  process.on(signal, handler);
  return { shouldStop: () => stop, dispose: () => process.removeListener(signal, handler) };
}

/** Sampling seed of step s (1-based): a uint32 from the stream forked off `seed` for step s. */
export function stepSeed(seed: number, step: number): number {
  return new Rng(seed).fork("sampling").fork(step).uint32();
}

/**
 * The promptsPerStep examples of step s (1-based): positions (s−1)·P … s·P−1 of an endless
 * stream that visits every example once per epoch, in a permutation seeded by (seed, epoch).
 */
export function batchForStep<T>(examples: readonly T[], step: number, promptsPerStep: number, seed: number): T[] {
  const n = examples.length;
  const orders = new Rng(seed).fork("data");
  const permutations = new Map<number, number[]>();
  const batch: T[] = [];
  for (let position = (step - 1) * promptsPerStep; position < step * promptsPerStep; position++) {
    const epoch = Math.floor(position / n);
    let order = permutations.get(epoch);
    if (!order) permutations.set(epoch, (order = orders.fork(epoch).shuffle(Array.from({ length: n }, (_, i) => i))));
    batch.push(examples[order[position % n]!]!);
  }
  return batch;
}

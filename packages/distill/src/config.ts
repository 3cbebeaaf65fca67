// Stage-1 configuration (METHOD.md §2): the KL factor of the target heuristic, how many exit
// prescriptions per sequence, the loss direction, the optimiser (one learning rate per group),
// batching, checkpoints and seeds. One typed object, one-line docs with example values,
// defaults, and validation in `resolveDistillConfig`.
import type { AdamConstants } from "@eecot/tensor-core";

/** Which KL the token term of the loss uses. */
export type KlDirection =
  /** KL(student ‖ teacher) = Σ p_s (log p_s − log q), mode-seeking (the reference code). */
  | "reverse"
  /** KL(teacher ‖ student) = Σ q (log q − log p_s), mass-covering. */
  | "forward";

/** The exit term of the stage-1 loss. */
export type ExitLossKind =
  /** −log P_student(exit = x_t) at the sampled prescription x_t (METHOD.md §2.6, the reference code). */
  | "sampled"
  /** Its Rao–Blackwellised form: Σ over the exits the copy reached of BCE(target's conditional exit probability, head's); same expectation, lower variance (loss.ts). */
  | "soft";

/** Learning-rate schedule of both groups over the run. */
export type LearningRateSchedule =
  /** The configured rates throughout (the reference code). */
  | "constant"
  /** Cosine decay from the configured rates at step 1 to a tenth of them after the last step. */
  | "cosine";

/** Adam's constants (shared by both parameter groups): tensor-core's. */
export type { AdamConstants };

export interface DistillConfig {
  /** f in s = 2 − 2·sigmoid(f·KL); higher = more confidence needed = fewer exits, e.g. 1. */
  readonly klFactor: number;
  /** Exit prescriptions sampled from the targets per sequence (teacher-forced copies), e.g. 4. */
  readonly exitSamplesPerSequence: number;
  /** Token term of the loss, e.g. "reverse" (as in the reference code). */
  readonly klDirection: KlDirection;
  /** Exit term of the loss, e.g. "sampled" (as in the reference code) or "soft" (lower variance, same expectation). */
  readonly exitLoss: ExitLossKind;
  /** Optimiser steps, e.g. 100. */
  readonly steps: number;
  /** Sequences per forward/backward pass, e.g. 2 (each pass holds batchSize · exitSamplesPerSequence rows). */
  readonly batchSize: number;
  /** Passes whose gradients are summed before one optimiser step, e.g. 2. */
  readonly gradientAccumulation: number;
  /** Adam learning rate per parameter group; the reference code uses 1e-5 for both on a 1.5B model, e.g. { lora: 1e-3, heads: 1e-3 } for a tiny one. */
  readonly learningRates: { readonly lora: number; readonly heads: number };
  /** Learning-rate schedule, e.g. "constant" (the reference code) or "cosine" (to lr/10). */
  readonly learningRateSchedule: LearningRateSchedule;
  /** Adam constants, e.g. { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }. */
  readonly adam: AdamConstants;
  /** Clip the global gradient norm (both groups together) to this, e.g. 1; null = off. */
  readonly maxGradientNorm: number | null;
  /** Write a checkpoint every this many steps (and at the end and on stop), e.g. 25. */
  readonly checkpointEvery: number;
  /** Newest checkpoints kept on disk, e.g. 2. */
  readonly keepCheckpoints: number;
  /** Generated positions per chunk when computing the per-layer KL targets, e.g. 64. */
  readonly targetChunkSize: number;
  /** Start untrained heads (W2 = 0) with b2 = logit of the targets' mean conditional exit rate at their layer, e.g. true. */
  readonly initializeHeadBiases: boolean;
  /** Epochs of the head warm-up before the joint steps (head-warmup.ts; an addition to METHOD.md §2), e.g. 20; 0 = off. */
  readonly headWarmupEpochs: number;
  /** Tokens per head warm-up update, e.g. 512. */
  readonly headWarmupBatchTokens: number;
  /** Adam rate of the head warm-up (cosine to a tenth), e.g. 1e-3. */
  readonly headWarmupLearningRate: number;
  /** At most this many training tokens in the head warm-up (their residuals are held on the host), e.g. 65536. */
  readonly headWarmupMaxTokens: number;
  /** Seed for the data order and the exit prescriptions, e.g. 0. */
  readonly seed: number;
}

export type DistillConfigOverrides = Partial<Omit<DistillConfig, "learningRates" | "adam">> & {
  readonly learningRates?: Partial<DistillConfig["learningRates"]>;
  readonly adam?: Partial<AdamConstants>;
};

export const DEFAULT_DISTILL_CONFIG: DistillConfig = {
  klFactor: 1,
  exitSamplesPerSequence: 4,
  klDirection: "reverse",
  exitLoss: "sampled",
  steps: 100,
  batchSize: 2,
  gradientAccumulation: 1,
  learningRates: { lora: 1e-3, heads: 1e-3 },
  learningRateSchedule: "constant",
  adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  maxGradientNorm: 1,
  checkpointEvery: 25,
  keepCheckpoints: 2,
  targetChunkSize: 64,
  initializeHeadBiases: true,
  headWarmupEpochs: 0,
  headWarmupBatchTokens: 512,
  headWarmupLearningRate: 1e-3,
  headWarmupMaxTokens: 65536,
  seed: 0,
};

/** Throw unless f is a finite number > 0. */
export function validateKlFactor(klFactor: number, where = "klFactor"): void {
  if (!Number.isFinite(klFactor) || klFactor <= 0) throw new Error(`${where} must be a finite number > 0, got ${klFactor}`);
}

/** Merge overrides into the defaults and validate; errors name the field. */
export function resolveDistillConfig(overrides: DistillConfigOverrides = {}): DistillConfig {
  const config: DistillConfig = {
    ...DEFAULT_DISTILL_CONFIG,
    ...overrides,
    learningRates: { ...DEFAULT_DISTILL_CONFIG.learningRates, ...overrides.learningRates },
    adam: { ...DEFAULT_DISTILL_CONFIG.adam, ...overrides.adam },
  };
  const positiveInteger = (key: keyof DistillConfig, minimum = 1) => {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value < minimum) throw new Error(`distill config: ${key} must be an integer ≥ ${minimum}, got ${value}`);
  };
  validateKlFactor(config.klFactor, "distill config: klFactor");
  positiveInteger("exitSamplesPerSequence");
  positiveInteger("steps", 0);
  positiveInteger("batchSize");
  positiveInteger("gradientAccumulation");
  positiveInteger("checkpointEvery");
  positiveInteger("keepCheckpoints");
  positiveInteger("targetChunkSize");
  positiveInteger("headWarmupEpochs", 0);
  positiveInteger("headWarmupBatchTokens");
  positiveInteger("headWarmupMaxTokens");
  if (!Number.isFinite(config.headWarmupLearningRate) || config.headWarmupLearningRate <= 0) {
    throw new Error(`distill config: headWarmupLearningRate must be a finite number > 0, got ${config.headWarmupLearningRate}`);
  }
  if (typeof config.initializeHeadBiases !== "boolean") throw new Error(`distill config: initializeHeadBiases must be true or false, got ${JSON.stringify(config.initializeHeadBiases)}`);
  if (!Number.isSafeInteger(config.seed)) throw new Error(`distill config: seed must be a safe integer, got ${config.seed}`);
  if (config.klDirection !== "reverse" && config.klDirection !== "forward") {
    throw new Error(`distill config: klDirection must be "reverse" or "forward", got ${JSON.stringify(config.klDirection)}`);
  }
  if (config.exitLoss !== "sampled" && config.exitLoss !== "soft") {
    throw new Error(`distill config: exitLoss must be "sampled" or "soft", got ${JSON.stringify(config.exitLoss)}`);
  }
  if (config.learningRateSchedule !== "constant" && config.learningRateSchedule !== "cosine") {
    throw new Error(`distill config: learningRateSchedule must be "constant" or "cosine", got ${JSON.stringify(config.learningRateSchedule)}`);
  }
  for (const group of ["lora", "heads"] as const) {
    const rate = config.learningRates[group];
    if (!Number.isFinite(rate) || rate < 0) throw new Error(`distill config: learningRates.${group} must be a finite number ≥ 0, got ${rate}`);
  }
  const { beta1, beta2, epsilon } = config.adam;
  if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`distill config: adam.beta1 must be in [0, 1), got ${beta1}`);
  if (!(beta2 >= 0 && beta2 < 1)) throw new Error(`distill config: adam.beta2 must be in [0, 1), got ${beta2}`);
  if (!(epsilon > 0) || !Number.isFinite(epsilon)) throw new Error(`distill config: adam.epsilon must be a finite number > 0, got ${epsilon}`);
  if (config.maxGradientNorm !== null && (!(config.maxGradientNorm > 0) || !Number.isFinite(config.maxGradientNorm))) {
    throw new Error(`distill config: maxGradientNorm must be a finite number > 0 or null, got ${config.maxGradientNorm}`);
  }
  return config;
}

/** The rate of step s (1-based) of a `steps`-step run for a configured `rate` under `schedule`. */
export function scheduledLearningRate(rate: number, step: number, steps: number, schedule: LearningRateSchedule): number {
  if (schedule === "constant" || steps <= 0) return rate;
  const progress = Math.min(1, Math.max(0, (step - 1) / steps)); // 0 at step 1, → 1 after the last
  return rate * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

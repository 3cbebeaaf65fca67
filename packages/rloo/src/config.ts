// RLOO configuration: one typed object, grouped fields with one-line docs, defaults, and
// validation in one function (METHOD.md §3). Shape follows TRL's RLOOConfig.

/** How the per-prompt baseline is formed from the k rewards of a prompt group. */
export type RlooBaseline =
  /** A_i = R_i − (1/(k−1)) Σ_{j≠i} R_j (RLOO, Ahmadian et al. 2024); unbiased. */
  | "leave-one-out"
  /** A_i = R_i − (1/k) Σ_j R_j; = (k−1)/k × leave-one-out, i.e. a shrunk step. */
  | "group-mean";

/** Adam learning rate of each trainable parameter group. */
export interface RlooLearningRates {
  /** LoRA adapter matrices, e.g. 1e-5 (the reference code's rate; tiny models want more). */
  readonly lora: number;
  /** Exit-head MLPs, e.g. 1e-5. */
  readonly heads: number;
}

export interface RlooConfig {
  // --- Sampling -------------------------------------------------------------------------------
  /** Rollouts per prompt, RLOO's k (≥ 2), e.g. 4. */
  readonly samplesPerPrompt: number;
  /** Prompts per step; a step samples promptsPerStep × samplesPerPrompt rollouts, e.g. 8. */
  readonly promptsPerStep: number;
  /** Generation limit per rollout, e.g. 256. */
  readonly maxNewTokens: number;
  /** Token sampling temperature, e.g. 1.0 (the policy scores log-probs at 1.0: keep it on-policy). */
  readonly temperature: number;

  // --- Reward: R_i = r_task − λ·(1/T_i)Σ_t x_t/L − β·(1/T_i)Σ_t [log π − log π_ref] -----------
  /** λ, the exit-depth penalty: the externalisation dial, e.g. 1.5 (the reference code's value). */
  readonly exitPenalty: number;
  /** β, the KL-to-reference penalty, e.g. 0.05 (the reference code's default is 0.5; 0.05 in its small-model runs). */
  readonly klCoefficient: number;
  /** Baseline for the advantage, e.g. "leave-one-out". */
  readonly baseline: RlooBaseline;

  // --- Optimisation ---------------------------------------------------------------------------
  /** Adam learning rate per parameter group, e.g. { lora: 1e-5, heads: 1e-5 }. */
  readonly learningRates: RlooLearningRates;
  /** Global gradient-norm clip over all trainable variables, e.g. 1.0 (Infinity disables). */
  readonly maxGradNorm: number;
  /**
   * Rollouts per gradient pass (gradient accumulation: the step's rollouts are scored and
   * differentiated this many at a time, gradients summed; the same gradient as one pass), e.g.
   * 8; 0 = all of a step's rollouts in one pass.
   */
  readonly microBatchSize: number;

  // --- Schedule -------------------------------------------------------------------------------
  /** Total optimiser steps, e.g. 380 (the paper's stage-2 length). */
  readonly steps: number;
  /** Seed for the data order and every step's sampling seed, e.g. 1234. */
  readonly seed: number;
  /** Write a checkpoint every this many steps (0: only on stop and at the end), e.g. 50. */
  readonly checkpointEvery: number;
  /** Keep only the newest this many checkpoints (older ones are removed after each save), e.g. 2. */
  readonly keepCheckpoints: number;
  /** Call the `evaluate` hook every this many steps (0 disables), e.g. 20. */
  readonly evalEvery: number;
}

export const DEFAULT_RLOO_CONFIG: RlooConfig = {
  samplesPerPrompt: 4,
  promptsPerStep: 8,
  maxNewTokens: 256,
  temperature: 1.0,
  exitPenalty: 1.5,
  klCoefficient: 0.05,
  baseline: "leave-one-out",
  learningRates: { lora: 1e-5, heads: 1e-5 },
  maxGradNorm: 1.0,
  microBatchSize: 0,
  steps: 380,
  seed: 1234,
  checkpointEvery: 50,
  keepCheckpoints: 2,
  evalEvery: 20,
};

/** Overrides accepted by `resolveRlooConfig`: any subset, learning rates per group. */
export type RlooConfigOverrides = Partial<Omit<RlooConfig, "learningRates">> & {
  readonly learningRates?: Partial<RlooLearningRates>;
};

/** Merge `overrides` onto the defaults and validate; throws an Error naming the bad field. */
export function resolveRlooConfig(overrides: RlooConfigOverrides = {}): RlooConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_RLOO_CONFIG)) {
      throw new Error(`RlooConfig: unknown field "${key}" (known: ${Object.keys(DEFAULT_RLOO_CONFIG).join(", ")})`);
    }
  }
  for (const key of Object.keys(overrides.learningRates ?? {})) {
    if (!(key in DEFAULT_RLOO_CONFIG.learningRates)) {
      throw new Error(`RlooConfig: unknown field "learningRates.${key}" (known: lora, heads)`);
    }
  }
  const config: RlooConfig = {
    ...DEFAULT_RLOO_CONFIG,
    ...withoutUndefined(overrides),
    learningRates: { ...DEFAULT_RLOO_CONFIG.learningRates, ...withoutUndefined(overrides.learningRates ?? {}) },
  };

  const fail = (field: string, rule: string, value: unknown): never => {
    throw new Error(`RlooConfig.${field} must be ${rule} (got ${typeof value === "string" ? JSON.stringify(value) : String(value)})`);
  };
  const integer = (field: keyof RlooConfig, min: number) => {
    const value = config[field];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) fail(field, `an integer ≥ ${min}`, value);
  };
  const finiteAtLeast = (field: string, value: unknown, min: number) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min) fail(field, `a finite number ≥ ${min}`, value);
  };

  integer("samplesPerPrompt", 2); // the leave-one-out baseline needs another sample
  integer("promptsPerStep", 1);
  integer("maxNewTokens", 1);
  integer("steps", 0);
  integer("checkpointEvery", 0);
  integer("keepCheckpoints", 1);
  integer("evalEvery", 0);
  integer("microBatchSize", 0);
  if (!Number.isSafeInteger(config.seed)) fail("seed", "an integer", config.seed);
  if (typeof config.temperature !== "number" || !(config.temperature > 0) || !Number.isFinite(config.temperature)) {
    fail("temperature", "a finite number > 0", config.temperature);
  }
  finiteAtLeast("exitPenalty", config.exitPenalty, 0);
  finiteAtLeast("klCoefficient", config.klCoefficient, 0);
  if (config.baseline !== "leave-one-out" && config.baseline !== "group-mean") {
    fail("baseline", `"leave-one-out" or "group-mean"`, config.baseline);
  }
  for (const group of ["lora", "heads"] as const) {
    const rate = config.learningRates[group];
    if (typeof rate !== "number" || !Number.isFinite(rate) || rate < 0) fail(`learningRates.${group}`, "a finite number ≥ 0", rate);
  }
  if (typeof config.maxGradNorm !== "number" || !(config.maxGradNorm > 0)) {
    fail("maxGradNorm", "a number > 0 (Infinity disables clipping)", config.maxGradNorm);
  }
  return config;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

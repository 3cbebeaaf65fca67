// Early-exit configuration (METHOD.md §1): which layers may exit, the sampling gate, the
// inference-time offset, the exit-head initialisation and the LoRA adapters. One typed object,
// one-line docs with example values, defaults, and validation in `resolveEarlyExitConfig`.
import type { ProjectionName } from "@eecot/transformer";

/** Every projection a LoRA adapter may target, in checkpoint order. */
export const LORA_PROJECTIONS: readonly ProjectionName[] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/** LoRA on the frozen base weights: W' = W + (alpha / rank) · B·A. */
export interface LoraConfig {
  /** r, the adapter rank, e.g. 8. */
  readonly rank: number;
  /** α; the update is scaled by α / r, e.g. 16. */
  readonly alpha: number;
  /** Dropout on the adapter input during training (never in generation), e.g. 0. */
  readonly dropout: number;
  /** Projections that get an adapter in every layer, e.g. ["q_proj", "k_proj", "v_proj", "o_proj"]. */
  readonly targetModules: readonly ProjectionName[];
}

export interface EarlyExitConfig {
  /** Explicit exitable layers E (1-based, increasing, each < L), e.g. [5, 10, 15]; null = model's `early_exit_layers`, else `exitEvery`. */
  readonly exitLayers: readonly number[] | null;
  /** Without an explicit list: E = { l : l % exitEvery == 0, 0 < l < L }, e.g. 5. */
  readonly exitEvery: number;
  /** Gate: an exit at e is possible only when p_e ≥ minExitProb, e.g. 0.1 (0 disables). */
  readonly minExitProb: number;
  /** Added to every head logit before the sigmoid; positive = exit earlier, e.g. 0. */
  readonly exitOffset: number;
  /** Initial head output bias b2 (W2 starts at 0, so p_e = sigmoid(b2) everywhere), e.g. -4 (p ≈ 0.018, below the gate). */
  readonly headInitialBias: number;
  /** LoRA adapters. */
  readonly lora: LoraConfig;
  /** Seed for the adapter and head initialisation (and LoRA dropout), e.g. 0. */
  readonly seed: number;
}

/** Overrides accepted by `resolveEarlyExitConfig` (LoRA fields may be overridden one by one). */
export type EarlyExitConfigOverrides = Partial<Omit<EarlyExitConfig, "lora">> & { readonly lora?: Partial<LoraConfig> };

/** A validated config bound to a model: E is resolved, L is known. */
export interface ResolvedEarlyExitConfig extends EarlyExitConfig {
  /** The exitable layers E = e_1 < … < e_m (L excluded). */
  readonly exitLayers: readonly number[];
  /** Decoder depth L. */
  readonly numLayers: number;
}

export const DEFAULT_LORA_CONFIG: LoraConfig = {
  rank: 8,
  alpha: 16,
  dropout: 0,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"],
};

export const DEFAULT_EARLY_EXIT_CONFIG: EarlyExitConfig = {
  exitLayers: null,
  exitEvery: 5,
  minExitProb: 0.1,
  exitOffset: 0,
  headInitialBias: -4,
  lora: DEFAULT_LORA_CONFIG,
  seed: 0,
};

/** E = { l : l % every == 0, 0 < l < L }. */
export function everyNthLayer(numLayers: number, every: number): number[] {
  const layers: number[] = [];
  for (let l = every; l < numLayers; l += every) layers.push(l);
  return layers;
}

/** Throw unless `layers` are strictly increasing integers in 1..L−1. */
export function validateExitLayers(layers: readonly number[], numLayers: number, where = "exitLayers"): void {
  let previous = 0;
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer <= previous || layer >= numLayers) {
      throw new Error(`${where} must be strictly increasing integers in 1..${numLayers - 1} (L = ${numLayers} is the catch-all, not an exit), got [${layers.join(", ")}]`);
    }
    previous = layer;
  }
}

/**
 * Merge overrides into the defaults, resolve E for a model with `numLayers` layers (explicit
 * list > the checkpoint's `early_exit_layers` > every `exitEvery`-th layer), and validate.
 */
export function resolveEarlyExitConfig(
  model: { readonly numLayers: number; readonly exitLayers?: readonly number[] | null },
  overrides: EarlyExitConfigOverrides = {},
): ResolvedEarlyExitConfig {
  const lora: LoraConfig = { ...DEFAULT_LORA_CONFIG, ...overrides.lora };
  const config = { ...DEFAULT_EARLY_EXIT_CONFIG, ...overrides, lora };
  const L = model.numLayers;
  if (!Number.isInteger(L) || L < 1) throw new Error(`numLayers must be a positive integer, got ${L}`);
  if (!Number.isInteger(config.exitEvery) || config.exitEvery < 1) throw new Error(`exitEvery must be a positive integer, got ${config.exitEvery}`);
  const exitLayers = [...(config.exitLayers ?? model.exitLayers ?? everyNthLayer(L, config.exitEvery))];
  validateExitLayers(exitLayers, L, config.exitLayers ? "exitLayers" : model.exitLayers ? "early_exit_layers (config.json)" : "exitLayers");
  if (!(config.minExitProb >= 0 && config.minExitProb < 1)) throw new Error(`minExitProb must be in [0, 1), got ${config.minExitProb}`);
  if (!Number.isFinite(config.exitOffset)) throw new Error(`exitOffset must be a finite number, got ${config.exitOffset}`);
  if (!Number.isFinite(config.headInitialBias)) throw new Error(`headInitialBias must be a finite number, got ${config.headInitialBias}`);
  if (!Number.isInteger(config.seed)) throw new Error(`seed must be an integer, got ${config.seed}`);
  validateLoraConfig(lora);
  return { ...config, exitLayers, numLayers: L };
}

/** Throw a clear error for a bad LoRA config. */
export function validateLoraConfig(lora: LoraConfig, where = "lora"): void {
  if (!Number.isInteger(lora.rank) || lora.rank < 1) throw new Error(`${where}.rank must be a positive integer, got ${lora.rank}`);
  if (!(lora.alpha > 0) || !Number.isFinite(lora.alpha)) throw new Error(`${where}.alpha must be a positive number, got ${lora.alpha}`);
  if (!(lora.dropout >= 0 && lora.dropout < 1)) throw new Error(`${where}.dropout must be in [0, 1), got ${lora.dropout}`);
  if (lora.targetModules.length === 0) throw new Error(`${where}.targetModules must name at least one projection`);
  for (const name of lora.targetModules) {
    if (!LORA_PROJECTIONS.includes(name)) throw new Error(`${where}.targetModules: unknown projection "${name}" (expected some of ${LORA_PROJECTIONS.join(", ")})`);
  }
  if (new Set(lora.targetModules).size !== lora.targetModules.length) throw new Error(`${where}.targetModules has duplicates: [${lora.targetModules.join(", ")}]`);
}

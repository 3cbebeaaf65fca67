// Sizes of the Figure-2 replication on the bundled tiny model, with the measured choices written
// down (examples/tiny-fig2/README.md has the probe table they come from).
import { stagePromptSets } from "../tiny/data.js";
import type { Fig2Config } from "./run.js";

/** Stage-1 dials chosen by the probe (base 71.7 % on the 60 held-out prompts):
 *  f = 16 starts at 11.7–40.0 % accuracy and 57.9–73.2 % compute (offsets 0…−4), f = 64 at
 *  35.0–63.3 % / 70.1–81.6 % (offsets 0…−9), f = 256 at 36.7–65.0 % / 72.6–82.3 %, f = 1024 at 53.3–66.7 % /
 *  78.4–86.7 % (offsets 0…−6), f = 4096 at 65.0–73.3 % / 81.8–86.4 % (offsets 0…−4). f = 1024 with
 *  offset −4 (66.7 %, 85.4 %) is the first point within 10 points of the base model and inside the
 *  paper's 85–95 % compute band that still leaves RL some accuracy to win back. */
export const FIG2_KL_FACTOR = 1024;
export const FIG2_EXIT_OFFSET = -4;

export interface Fig2Dials {
  readonly klFactor?: number;
  readonly exitOffset?: number;
  readonly rlSteps?: number;
  readonly sweepSteps?: number;
  /** λ of the main runs (default 1.5, the reference code's). */
  readonly mainPenalty?: number;
  /** λ values of the sweep ([] for none). */
  readonly sweepPenalties?: readonly number[];
}

/** The full replication (or, quick, a seconds-long smoke version with the same structure). */
export function fig2Config(quick: boolean, dials: Fig2Dials = {}): Fig2Config {
  const seed = 0;
  const n = quick
    ? { calibration: 3, heldOut: 2, rl: 4, distillSteps: 2, rlSteps: 2, sweepSteps: 1, promptsPerStep: 1, maxNewTokens: 12, evalEvery: 1, seeds: [0, 1], sweepSeeds: [0], penalties: [0, 3] }
    : { calibration: 32, heldOut: 30, rl: 96, distillSteps: 100, rlSteps: 200, sweepSteps: 100, promptsPerStep: 4, maxNewTokens: 48, evalEvery: 20, seeds: [0, 1, 2, 3, 4], sweepSeeds: [0, 1], penalties: [0, 0.5, 1.5, 3] };
  const { calibrationExamples, heldOutExamples, rlExamples } = stagePromptSets(seed, n);
  return {
    calibrationExamples,
    heldOutExamples,
    rlExamples,
    maxNewTokens: n.maxNewTokens,
    distill: {
      klFactor: dials.klFactor ?? FIG2_KL_FACTOR,
      exitLoss: "soft",
      steps: n.distillSteps,
      batchSize: 2,
      learningRates: { lora: 1e-3, heads: 1e-2 },
      checkpointEvery: Math.max(1, Math.floor(n.distillSteps / 2)),
    },
    exitOffset: dials.exitOffset ?? FIG2_EXIT_OFFSET,
    rloo: {
      promptsPerStep: n.promptsPerStep,
      samplesPerPrompt: 4,
      maxNewTokens: n.maxNewTokens,
      klCoefficient: 0.05,
      learningRates: { lora: 2e-4, heads: 2e-3 },
      evalEvery: n.evalEvery,
      checkpointEvery: Math.max(1, Math.floor(n.evalEvery / 2)),
    },
    mainPenalty: dials.mainPenalty ?? 1.5,
    mainSteps: dials.rlSteps ?? n.rlSteps,
    seeds: n.seeds,
    sweep: { penalties: dials.sweepPenalties ?? n.penalties, seeds: n.sweepSeeds, steps: dials.sweepSteps ?? n.sweepSteps },
    seed,
  };
}

// Training and held-out data of the bundled tiny reasoner: GSM-style arithmetic word problems
// and theory-of-mind stories from @eecot/datasets, in the chat format every pipeline uses.
import {
  buildAssistantAnswer,
  generateGsmProblems,
  generateTomStories,
  gsmSyntheticToTaskExample,
  tomStoriesToTaskExamples,
  type TaskExample,
} from "@eecot/datasets";

/** What the tiny model is trained and evaluated on. */
export interface TinyDataConfig {
  /** GSM-style training problems, e.g. 12000. */
  readonly gsmTrain: number;
  /** Theory-of-mind training stories (one question each), e.g. 12000. */
  readonly tomTrain: number;
  /** Held-out examples per task for evaluation, e.g. 200. */
  readonly heldOut: number;
  /** Seed of the training data; held-out data uses seed + 1_000_003 (disjoint streams). */
  readonly seed: number;
}

/** The arithmetic the tiny model can learn on 2 CPU cores: + and −, numbers ≤ 20, results ≤ 99. */
export const TINY_GSM_SETTINGS = { minSteps: 1, maxSteps: 2, minNumber: 1, maxNumber: 20, maxResult: 99, operations: ["+", "-"] as const };

/** Theory-of-mind stories kept short: 2–3 people, 2–3 moves, at most 10 sentences. */
export const TINY_TOM_SETTINGS = { minPeople: 2, maxPeople: 3, minMoves: 2, maxMoves: 3, maxSentences: 10 };

export const HELD_OUT_SEED_OFFSET = 1_000_003;

export function gsmExamples(count: number, seed: number): TaskExample[] {
  return generateGsmProblems({ count, seed, ...TINY_GSM_SETTINGS, operations: [...TINY_GSM_SETTINGS.operations] }).map(gsmSyntheticToTaskExample);
}

export function tomExamples(count: number, seed: number, order?: -1 | 1 | 2): TaskExample[] {
  const stories = generateTomStories({ count, seed, ...TINY_TOM_SETTINGS });
  return tomStoriesToTaskExamples(stories, { questions: "all", seed, ...(order === undefined ? {} : { order }) });
}

export interface TinyData {
  readonly train: TaskExample[];
  readonly heldOutGsm: TaskExample[];
  /** First-order theory-of-mind questions (the model card's ToM score). */
  readonly heldOutTom: TaskExample[];
}

export function buildTinyData(config: TinyDataConfig): TinyData {
  const train = [...gsmExamples(config.gsmTrain, config.seed), ...tomExamples(config.tomTrain, config.seed)];
  const heldSeed = config.seed + HELD_OUT_SEED_OFFSET;
  const trainPrompts = new Set(train.map((e) => e.prompt));
  // Held-out = different seeds, and any prompt that also occurs in training is dropped.
  const heldOutGsm = gsmExamples(config.heldOut * 2, heldSeed).filter((e) => !trainPrompts.has(e.prompt)).slice(0, config.heldOut);
  const heldOutTom = tomExamples(config.heldOut * 3, heldSeed, 1).filter((e) => !trainPrompts.has(e.prompt)).slice(0, config.heldOut);
  return { train, heldOutGsm, heldOutTom };
}

/** The assistant's answer for supervised training (worked steps + `#### N`, or reasoning + `Answer: X`). */
export function targetAnswer(example: TaskExample): string {
  return buildAssistantAnswer(example, { includeReasoning: true, keepCalculatorAnnotations: true });
}

/** GSM-style + first-order ToM prompt sets on disjoint seeds (calibration, held-out, RL, sweep), as the demo and Figure 2 use them; held-out prompts also differ from the bundled model's training data. */
export function stagePromptSets(seed: number, counts: { calibration: number; heldOut: number; rl: number; sweep?: number }) {
  const mix = (count: number, s: number) => [...gsmExamples(count, s), ...tomExamples(count, s, 1)];
  return {
    calibrationExamples: mix(counts.calibration, seed + 101),
    heldOutExamples: mix(counts.heldOut, seed + HELD_OUT_SEED_OFFSET + 17),
    rlExamples: mix(counts.rl, seed + 202),
    sweepExamples: mix(counts.sweep ?? 0, seed + 303),
  };
}

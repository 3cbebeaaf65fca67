// Seeded generator of small multi-step arithmetic word problems whose worked solutions use the
// exact GSM8K answer format: one step per line with `<<a*b=c>>c` calculator annotations, then
// `#### N`. Language is templated from a small fixed vocabulary so a 1–3M-parameter model can
// learn it; every number and result is a positive integer (no division remainders).
//
// Each problem tracks one quantity q (how many items a person has). A step applies one
// operation to q: buy more (+), give away (−), end up with b times as many (*), split into b
// equal groups and keep one (/). Every solution is re-checked by evaluating its annotations.

import { checkCalculatorAnnotations } from "./calculator.js";
import { createRandom, deriveSeed, type Random } from "./random.js";

export type ArithmeticOperation = "+" | "-" | "*" | "/";

export interface GsmSyntheticConfig {
  /** Number of problems. Example: 200. */
  readonly count: number;
  /** Seed; same seed and config → same problems. Problem i depends only on (seed, i). Example: 0. */
  readonly seed: number;
  /** Fewest solution steps (annotated operations). Default 1. */
  readonly minSteps: number;
  /** Most solution steps. Default 3. */
  readonly maxSteps: number;
  /** Smallest number written in a problem. Default 1 (must be ≥ 1). */
  readonly minNumber: number;
  /** Largest number written in a problem. Default 20. */
  readonly maxNumber: number;
  /** Every intermediate and final result stays ≤ this. Default 999. */
  readonly maxResult: number;
  /** Operations to draw from. Default ["+", "-", "*", "/"]. */
  readonly operations: readonly ArithmeticOperation[];
}

export const DEFAULT_GSM_SYNTHETIC_CONFIG: GsmSyntheticConfig = {
  count: 100,
  seed: 0,
  minSteps: 1,
  maxSteps: 3,
  minNumber: 1,
  maxNumber: 20,
  maxResult: 999,
  operations: ["+", "-", "*", "/"],
};

/** Merges overrides into the defaults and validates; errors name the field. */
export function resolveGsmSyntheticConfig(overrides: Partial<GsmSyntheticConfig> = {}): GsmSyntheticConfig {
  const config = { ...DEFAULT_GSM_SYNTHETIC_CONFIG, ...overrides };
  const integer = (name: keyof GsmSyntheticConfig, min: number) => {
    const value = config[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw new Error(`gsm-synthetic config: ${name} must be an integer >= ${min}, got ${String(value)}`);
    }
  };
  integer("count", 0);
  integer("minSteps", 1);
  integer("maxSteps", 1);
  integer("minNumber", 1);
  integer("maxNumber", 1);
  integer("maxResult", 1);
  if (!Number.isFinite(config.seed)) throw new Error(`gsm-synthetic config: seed must be a finite number`);
  if (config.maxSteps < config.minSteps) throw new Error("gsm-synthetic config: maxSteps must be >= minSteps");
  if (config.maxSteps > 10) throw new Error("gsm-synthetic config: maxSteps must be <= 10");
  if (config.maxNumber < config.minNumber) throw new Error("gsm-synthetic config: maxNumber must be >= minNumber");
  if (config.maxResult < config.maxNumber) throw new Error("gsm-synthetic config: maxResult must be >= maxNumber");
  if (config.operations.length === 0) throw new Error("gsm-synthetic config: operations must not be empty");
  for (const operation of config.operations) {
    if (!["+", "-", "*", "/"].includes(operation)) {
      throw new Error(`gsm-synthetic config: unknown operation ${JSON.stringify(operation)} (use + - * /)`);
    }
  }
  return config;
}

/** One generated problem. */
export interface GsmSyntheticProblem {
  /** `gsm-synthetic:<seed>:<index>`. */
  id: string;
  question: string;
  /** Worked solution in GSM8K format, ending with `#### N`. */
  answer: string;
  /** Final answer as a string, e.g. `"24"`. */
  finalAnswer: string;
  /** The operations in solution order (length = number of steps). */
  operations: ArithmeticOperation[];
}

// A small fixed vocabulary.
const PEOPLE: readonly (readonly [name: string, subject: string, object: string])[] = [
  ["Mia", "she", "her"], ["Tom", "he", "him"], ["Ava", "she", "her"], ["Leo", "he", "him"],
  ["Emma", "she", "her"], ["Sam", "he", "him"], ["Lily", "she", "her"], ["Ben", "he", "him"],
  ["Zoe", "she", "her"], ["Max", "he", "him"], ["Ella", "she", "her"], ["Jack", "he", "him"],
];
const ITEMS = ["apple", "marble", "sticker", "pencil", "cookie", "book", "stamp", "card", "shell", "balloon", "toy", "coin"];
const GROUPS = ["bags", "boxes", "jars", "baskets"];

const capitalize = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
/** "1 apple", "3 apples" (every item forms its plural with -s). */
const counted = (count: number, item: string) => `${count} ${item}${count === 1 ? "" : "s"}`;

interface Draft {
  sentences: string[];
  steps: string[];
  operations: ArithmeticOperation[];
  quantity: number;
}

/** Numbers b that keep `quantity op b` a positive integer within the limits, or [] if none. */
function validOperands(operation: ArithmeticOperation, quantity: number, config: GsmSyntheticConfig): number[] {
  const operands: number[] = [];
  for (let b = config.minNumber; b <= config.maxNumber; b++) {
    if (operation === "+" && quantity + b <= config.maxResult) operands.push(b);
    if (operation === "-" && quantity - b >= 1) operands.push(b);
    if (operation === "*" && b >= 2 && quantity * b <= config.maxResult) operands.push(b);
    if (operation === "/" && b >= 2 && quantity % b === 0) operands.push(b);
  }
  return operands;
}

function draftProblem(random: Random, config: GsmSyntheticConfig, stepCount: number): Draft | null {
  const [name, subject, object] = random.choice(PEOPLE);
  const friend = random.choice(PEOPLE.filter((person) => person[0] !== name))[0];
  const item = random.choice(ITEMS);
  const items = `${item}s`;
  const draft: Draft = { sentences: [], steps: [], operations: [], quantity: 0 };

  // Start: "Mia has 5 apples." or, using one multiplication step, "Mia has 3 bags with 4 apples in each."
  const start = random.integer(config.minNumber, config.maxNumber);
  const perGroup = validOperands("*", start, config);
  if (config.operations.includes("*") && start >= 2 && perGroup.length > 0 && random.chance(0.3)) {
    const b = random.choice(perGroup);
    const group = random.choice(GROUPS);
    const result = start * b;
    draft.sentences.push(`${name} has ${start} ${group} with ${counted(b, item)} in each.`);
    draft.steps.push(`${name} has ${start} * ${b} = <<${start}*${b}=${result}>>${counted(result, item)}.`);
    draft.operations.push("*");
    draft.quantity = result;
  } else {
    draft.sentences.push(`${name} has ${counted(start, item)}.`);
    draft.quantity = start;
  }

  while (draft.operations.length < stepCount) {
    const usable = config.operations.filter((operation) => validOperands(operation, draft.quantity, config).length > 0);
    if (usable.length === 0) return null;
    const operation = random.choice(usable);
    const b = random.choice(validOperands(operation, draft.quantity, config));
    const q = draft.quantity;
    let result: number;
    let sentence: string;
    if (operation === "+") {
      result = q + b;
      sentence = random.choice([`${capitalize(subject)} buys ${b} more ${b === 1 ? item : items}.`, `${friend} gives ${object} ${b} more ${b === 1 ? item : items}.`]);
    } else if (operation === "-") {
      result = q - b;
      sentence = random.choice([`${capitalize(subject)} gives ${counted(b, item)} to ${friend}.`, `${capitalize(subject)} loses ${counted(b, item)}.`]);
    } else if (operation === "*") {
      result = q * b;
      sentence = `Then ${subject} ends up with ${b} times as many ${items} as before.`;
    } else {
      result = q / b;
      sentence = `${capitalize(subject)} splits the ${items} into ${b} equal groups and keeps one group.`;
    }
    draft.sentences.push(sentence);
    draft.steps.push(`Now ${subject} has ${q} ${operation} ${b} = <<${q}${operation}${b}=${result}>>${counted(result, item)}.`);
    draft.operations.push(operation);
    draft.quantity = result;
  }
  draft.sentences.push(`How many ${items} does ${name} have now?`);
  return draft;
}

/** Result of `verifyGsmSolution`. */
export interface GsmSolutionCheck {
  ok: boolean;
  /** What is wrong, empty when ok. */
  problems: string[];
}

/**
 * Checks a worked solution: at least one annotation, every annotation evaluates to its claimed
 * integer and is followed by it, the last line is `#### N` with N the last annotation's result.
 */
export function verifyGsmSolution(answer: string): GsmSolutionCheck {
  const problems: string[] = [];
  const checks = checkCalculatorAnnotations(answer);
  if (checks.length === 0) problems.push("no calculator annotations");
  for (const check of checks) {
    if (!check.ok) problems.push(`annotation ${check.expression}=${check.claimed} evaluates to ${check.computed} (followed by ${check.followedBy})`);
    if (!Number.isInteger(check.computed) || check.computed < 0) problems.push(`annotation ${check.expression} is not a non-negative integer`);
  }
  const lines = answer.split("\n");
  const last = /^#### (-?\d+)$/.exec(lines[lines.length - 1] ?? "");
  if (last === null) problems.push("last line is not '#### N'");
  else if (checks.length > 0 && Number(last[1]) !== checks[checks.length - 1]!.claimed) {
    problems.push(`final answer ${last[1]} differs from the last annotation's result ${checks[checks.length - 1]!.claimed}`);
  }
  return { ok: problems.length === 0, problems };
}

/** Generates `config.count` problems; each one is verified before it is returned. */
export function generateGsmProblems(overrides: Partial<GsmSyntheticConfig> = {}): GsmSyntheticProblem[] {
  const config = resolveGsmSyntheticConfig(overrides);
  const problems: GsmSyntheticProblem[] = [];
  for (let index = 0; index < config.count; index++) {
    const random = createRandom(deriveSeed(config.seed, index));
    let draft: Draft | null = null;
    for (let attempt = 0; attempt < 200 && draft === null; attempt++) {
      draft = draftProblem(random, config, random.integer(config.minSteps, config.maxSteps));
    }
    if (draft === null) {
      throw new Error(`gsm-synthetic: could not build problem ${index} with ${JSON.stringify(config)}; widen the number range or operations`);
    }
    const answer = [...draft.steps, `#### ${draft.quantity}`].join("\n");
    const check = verifyGsmSolution(answer);
    if (!check.ok) throw new Error(`gsm-synthetic: internal error, problem ${index} fails verification: ${check.problems.join("; ")}`);
    problems.push({
      id: `gsm-synthetic:${config.seed}:${index}`,
      question: draft.sentences.join(" "),
      answer,
      finalAnswer: String(draft.quantity),
      operations: draft.operations,
    });
  }
  return problems;
}

// Data specs for the CLI: a comma-separated list of sources, each `kind[:argument][:key=value]…`.
//
//   gsm8k:/path/test.jsonl[:limit=100][:skipInvalid=true]   GSM8K JSONL file
//   gsm-synthetic:200[:seed=7][:minSteps=1][:maxSteps=3][:minNumber=1][:maxNumber=20][:maxResult=999][:operations=+-*/]
//   tom:100[:seed=7][:types=tomi|tomi+asymmetric][:questions=interesting|all][:order=1]
//        [:minPeople=2][:maxPeople=4][:minMoves=2][:maxMoves=4][:minRooms=1][:maxRooms=2]
//   tom-csv:/path/exploretom.csv[:limit=100][:skipInvalid=true]
//
// Options are the trailing `key=value` segments, so a path may itself contain ':' (not ',').
// `tom:N` gives N examples, one question from each of N generated stories.

import { loadGsm8k } from "./gsm8k.js";
import { generateGsmProblems, type ArithmeticOperation, type GsmSyntheticConfig } from "./gsm-synthetic.js";
import type { SkippedRecords } from "./errors.js";
import { rewardFor, type RewardFunction, type TaskName } from "./rewards.js";
import { exploreTomToTaskExample, gsm8kToTaskExample, gsmSyntheticToTaskExample, tomStoriesToTaskExamples, type TaskExample } from "./task.js";
import { loadExploreTomCsv } from "./tom/exploretom-csv.js";
import { generateTomStories, TOM_STORY_TYPES, type TomGeneratorConfig, type TomStoryType } from "./tom/generator.js";

export type DataSourceKind = "gsm8k" | "gsm-synthetic" | "tom" | "tom-csv";

/** One parsed source of a data spec. */
export interface DataSource {
  kind: DataSourceKind;
  /** The file path (file sources) or the example count (generated sources), as written. */
  argument: string;
  /** The `key=value` options. */
  options: Record<string, string>;
  /** The source's text in the spec, for messages. */
  text: string;
}

const OPTIONS: Record<DataSourceKind, readonly string[]> = {
  "gsm8k": ["limit", "skipInvalid"],
  "tom-csv": ["limit", "skipInvalid"],
  "gsm-synthetic": ["seed", "minSteps", "maxSteps", "minNumber", "maxNumber", "maxResult", "operations"],
  "tom": ["seed", "types", "questions", "order", "minPeople", "maxPeople", "minMoves", "maxMoves", "minRooms", "maxRooms"],
};

/** Splits and checks a data spec without loading anything. */
export function parseDataSpec(spec: string): DataSource[] {
  const parts = spec.split(",").map((part) => part.trim());
  if (parts.length === 0 || parts.every((part) => part === "")) throw new Error("data spec is empty");
  return parts.map((text) => {
    if (text === "") throw new Error(`data spec ${JSON.stringify(spec)}: empty source between commas`);
    const segments = text.split(":");
    const kind = segments.shift()!;
    if (!(kind in OPTIONS)) {
      throw new Error(`data spec ${JSON.stringify(text)}: unknown source ${JSON.stringify(kind)} (use ${Object.keys(OPTIONS).join(", ")})`);
    }
    const options: Record<string, string> = {};
    while (segments.length > 1 && /^[A-Za-z]+=/.test(segments[segments.length - 1]!)) {
      const segment = segments.pop()!;
      const key = segment.slice(0, segment.indexOf("="));
      if (!OPTIONS[kind as DataSourceKind].includes(key)) {
        throw new Error(`data spec ${JSON.stringify(text)}: unknown option ${JSON.stringify(key)} for ${kind} (use ${OPTIONS[kind as DataSourceKind].join(", ")})`);
      }
      if (key in options) throw new Error(`data spec ${JSON.stringify(text)}: option ${key} given twice`);
      options[key] = segment.slice(key.length + 1);
    }
    const argument = segments.join(":");
    if (argument === "") {
      const what = kind === "gsm8k" || kind === "tom-csv" ? "a file path" : "an example count";
      throw new Error(`data spec ${JSON.stringify(text)}: ${kind} needs ${what}, e.g. ${kind === "gsm8k" ? "gsm8k:/path/test.jsonl" : kind === "tom-csv" ? "tom-csv:/path/file.csv" : `${kind}:100`}`);
    }
    return { kind: kind as DataSourceKind, argument, options, text };
  });
}

/** What one source contributed. */
export interface DataSourceReport {
  source: string;
  task: TaskName;
  count: number;
  /** Records skipped as invalid (file sources with skipInvalid=true). */
  skipped: SkippedRecords;
}

export interface LoadedData {
  examples: TaskExample[];
  sources: DataSourceReport[];
}

function integerOption(source: DataSource, key: string, min: number): number | undefined {
  const value = source.options[key];
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) throw new Error(`data spec ${JSON.stringify(source.text)}: ${key} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return Number(value);
}

function booleanOption(source: DataSource, key: string): boolean | undefined {
  const value = source.options[key];
  if (value === undefined) return undefined;
  if (value !== "true" && value !== "false") throw new Error(`data spec ${JSON.stringify(source.text)}: ${key} must be true or false`);
  return value === "true";
}

function countArgument(source: DataSource): number {
  if (!/^\d+$/.test(source.argument) || Number(source.argument) < 1) {
    throw new Error(`data spec ${JSON.stringify(source.text)}: expected a positive example count, got ${JSON.stringify(source.argument)}`);
  }
  return Number(source.argument);
}

/** Defined entries only, so config defaults apply to the rest. */
function defined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function loadSource(source: DataSource): { examples: TaskExample[]; skipped: SkippedRecords } {
  const none: SkippedRecords = { count: 0, errors: [] };
  switch (source.kind) {
    case "gsm8k": {
      const options = defined({ limit: integerOption(source, "limit", 1), skipInvalid: booleanOption(source, "skipInvalid") });
      const { examples, skipped } = loadGsm8k(source.argument, options);
      return { examples: examples.map((example) => gsm8kToTaskExample(example, source.argument)), skipped };
    }
    case "tom-csv": {
      const options = defined({ limit: integerOption(source, "limit", 1), skipInvalid: booleanOption(source, "skipInvalid") });
      const { records, skipped } = loadExploreTomCsv(source.argument, options);
      return { examples: records.map((record) => exploreTomToTaskExample(record, source.argument)), skipped };
    }
    case "gsm-synthetic": {
      const operations = source.options.operations;
      const config: Partial<GsmSyntheticConfig> = defined({
        count: countArgument(source),
        seed: integerOption(source, "seed", 0),
        minSteps: integerOption(source, "minSteps", 1),
        maxSteps: integerOption(source, "maxSteps", 1),
        minNumber: integerOption(source, "minNumber", 1),
        maxNumber: integerOption(source, "maxNumber", 1),
        maxResult: integerOption(source, "maxResult", 1),
        operations: operations === undefined ? undefined : ([...operations] as ArithmeticOperation[]),
      });
      return { examples: generateGsmProblems(config).map(gsmSyntheticToTaskExample), skipped: none };
    }
    case "tom": {
      const count = countArgument(source);
      const types = source.options.types?.split("|");
      for (const type of types ?? []) {
        if (!TOM_STORY_TYPES.includes(type as TomStoryType)) throw new Error(`data spec ${JSON.stringify(source.text)}: unknown story type ${JSON.stringify(type)} (use ${TOM_STORY_TYPES.join(", ")})`);
      }
      const questions = source.options.questions;
      if (questions !== undefined && questions !== "interesting" && questions !== "all") throw new Error(`data spec ${JSON.stringify(source.text)}: questions must be interesting or all`);
      const order = source.options.order;
      if (order !== undefined && !["-1", "1", "2"].includes(order)) throw new Error(`data spec ${JSON.stringify(source.text)}: order must be -1, 1 or 2`);
      const seed = integerOption(source, "seed", 0) ?? 0;
      const config: Partial<TomGeneratorConfig> = defined({
        count,
        seed,
        storyTypes: types as TomStoryType[] | undefined,
        minPeople: integerOption(source, "minPeople", 0),
        maxPeople: integerOption(source, "maxPeople", 0),
        minMoves: integerOption(source, "minMoves", 0),
        maxMoves: integerOption(source, "maxMoves", 0),
        minRooms: integerOption(source, "minRooms", 0),
        maxRooms: integerOption(source, "maxRooms", 0),
      });
      const selection = defined({ seed, questions: questions as "interesting" | "all" | undefined, order: order === undefined ? undefined : (Number(order) as -1 | 1 | 2) });
      // Stories without an eligible question (possible with an order filter) are replaced by further stories.
      let examples: TaskExample[] = [];
      for (let total = count; examples.length < count && total <= count * 20; total *= 2) {
        examples = tomStoriesToTaskExamples(generateTomStories({ ...config, count: total }), selection);
      }
      if (examples.length < count) throw new Error(`data spec ${JSON.stringify(source.text)}: too few stories have a question matching the filters`);
      return { examples: examples.slice(0, count), skipped: none };
    }
  }
}

/** Loads every source of a data spec, in order; reports what each contributed and skipped. */
export function loadDataSpec(spec: string): LoadedData {
  const examples: TaskExample[] = [];
  const sources: DataSourceReport[] = [];
  for (const source of parseDataSpec(spec)) {
    const loaded = loadSource(source);
    examples.push(...loaded.examples);
    sources.push({ source: source.text, task: source.kind === "gsm8k" || source.kind === "gsm-synthetic" ? "gsm8k" : "tom", count: loaded.examples.length, skipped: loaded.skipped });
  }
  return { examples, sources };
}

/** The reward function of an example's task (re-exported here for the CLI). */
export function rewardForExample(example: TaskExample): RewardFunction {
  return rewardFor(example.task);
}

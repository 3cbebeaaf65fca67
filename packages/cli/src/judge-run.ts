// The LLM judge over an evaluation that is already on disk. `eecot eval` writes its generations
// and metrics (the file of --out) before the judge runs; the judge then scores the samples in
// small batches and saves each batch's scores into the same file, so a judge that hangs, fails
// or answers off the scale costs no generation: `eecot judge FILE` scores what is still
// unscored (or, with --again, everything) without loading a model.
import { readFile, rename, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { judgeConfigFromEnv, judgeResponses, summarizeJudgeScores, type JudgeConfig, type JudgeScores } from "@eecot/eval";
import type { EvaluationMetrics, EvaluationSample } from "./evaluate-model.js";
import { createProgress } from "./progress.js";
import { numberFlag, nonNegativeIntegerFlag, optionalFlag } from "./flags.js";

/** A sample as saved: the evaluation sample plus, once judged, its scores. */
export type SavedSample = EvaluationSample & { judge?: JudgeScores };

/** The document `eecot eval --out FILE` writes. */
export interface SavedEvaluation {
  readonly model: string;
  readonly adapter: string | null;
  readonly data: string;
  readonly settings: Record<string, unknown>;
  readonly results: { label: string; metrics: EvaluationMetrics }[];
  readonly samples: Record<string, SavedSample[]>;
  /** The judge's state: off, pending (samples still unscored) or done. */
  readonly judge: { readonly status: "off" | "pending" | "done"; readonly model?: string };
}

/** Write the document atomically, naming the file when that fails. */
export async function saveEvaluation(path: string, document: SavedEvaluation): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, JSON.stringify(document, null, 2) + "\n");
    await rename(temporary, path);
  } catch (error) {
    throw new Error(`cannot write ${path}: ${(error as Error).message}`);
  }
}

/** Read a saved evaluation, with errors that name the file. */
export async function readEvaluation(path: string): Promise<SavedEvaluation> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error as NodeJS.ErrnoException;
    if (reason.code === "EISDIR") throw new Error(`${path} is a directory; pass the JSON file written by eecot eval --out`);
    throw new Error(`cannot read ${path}: ${reason.message}`);
  }
  let document: Partial<SavedEvaluation>;
  try {
    document = JSON.parse(text) as Partial<SavedEvaluation>;
  } catch (error) {
    throw new Error(`${path} is not JSON (${(error as Error).message}); pass the file written by eecot eval --out`);
  }
  if (!Array.isArray(document.results) || document.samples === null || typeof document.samples !== "object") {
    throw new Error(`${path} has no "results" and "samples": it was not written by eecot eval --out`);
  }
  for (const { label } of document.results) {
    if (!Array.isArray(document.samples[label])) throw new Error(`${path}: no samples for the result "${label}"`);
  }
  return document as SavedEvaluation;
}

/** Samples scored per saved batch (a failure loses at most one batch of judge calls). */
const BATCH = 8;

/**
 * Judge every unscored sample of the evaluation in `path` (all of them with `again`), saving
 * the scores batch by batch; then each result's metrics.judge is the mean over its samples.
 * A judge failure is rethrown with the file named and the command that continues.
 */
export async function judgeSavedEvaluation(path: string, config: JudgeConfig, options: { again?: boolean; quiet?: boolean } = {}): Promise<SavedEvaluation> {
  let document = await readEvaluation(path);
  if (options.again) {
    document = { ...document, samples: Object.fromEntries(Object.entries(document.samples).map(([label, samples]) => [label, samples.map(({ judge: _, ...sample }) => sample)])) };
  }
  const samples = document.results.flatMap(({ label }) => document.samples[label]!);
  const todo = samples.filter((sample) => sample.judge === undefined);
  document = { ...document, judge: { status: "pending", model: config.model } };
  await saveEvaluation(path, document);
  const progress = createProgress(`judge ${config.model}`, samples.length, { unit: "responses", quiet: options.quiet, initial: samples.length - todo.length });
  try {
    for (let start = 0; start < todo.length; start += BATCH) {
      const batch = todo.slice(start, start + BATCH);
      const scores = await judgeResponses(config, batch.map((s) => ({ question: s.prompt, response: s.completion })));
      batch.forEach((sample, i) => {
        const { coherence, completeness, clarity, repetitionAvoidance, overall } = scores[i]!;
        sample.judge = { coherence, completeness, clarity, repetitionAvoidance, overall };
      });
      await saveEvaluation(path, document);
      progress.update(samples.length - todo.length + start + batch.length);
    }
  } catch (error) {
    const scored = samples.filter((s) => s.judge !== undefined).length;
    throw new Error(
      `${(error as Error).message}\nthe generations and metrics are saved in ${path} (${scored} of ${samples.length} responses judged); ` +
        `judge the rest with: eecot judge ${path}`,
    );
  } finally {
    progress.stop();
  }
  document = {
    ...document,
    results: document.results.map(({ label, metrics }) => ({ label, metrics: { ...metrics, judge: summarizeJudgeScores(document.samples[label]!.map((s) => s.judge!)) } })),
    judge: { status: "done", model: config.model },
  };
  await saveEvaluation(path, document);
  return document;
}

/** --judge-timeout (seconds) and --judge-retries as JudgeConfig overrides, checked before anything loads. */
export function judgeOverridesFromFlags(options: { judgeTimeout?: string; judgeRetries?: string }): Partial<JudgeConfig> {
  const seconds = optionalFlag(options.judgeTimeout, (value) => numberFlag(value, "--judge-timeout", { above: 0 }));
  const retries = optionalFlag(options.judgeRetries, (value) => nonNegativeIntegerFlag(value, "--judge-retries"));
  return { ...(seconds !== undefined ? { timeoutMs: Math.round(seconds * 1000) } : {}), ...(retries !== undefined ? { maxRetries: retries } : {}) };
}

/** Help of --judge-timeout and --judge-retries. */
export const JUDGE_TIMEOUT_HELP = "seconds per judge request before it is retried (or EECOT_JUDGE_TIMEOUT_MS; default 60)";
export const JUDGE_RETRIES_HELP = "judge retries after a failed request (or EECOT_JUDGE_RETRIES; default 3)";

/** The judge flags shared by eval, sweep-kl and judge. */
export function addJudgeFlags(command: Command): Command {
  return command.option("--judge-timeout <seconds>", JUDGE_TIMEOUT_HELP).option("--judge-retries <n>", JUDGE_RETRIES_HELP);
}

export function registerJudge(program: Command): void {
  addJudgeFlags(
    program
      .command("judge")
      .description("score the responses of a saved evaluation (eecot eval --out FILE) with the LLM judge (EECOT_JUDGE_URL, EECOT_JUDGE_MODEL), without generating again")
      .argument("<file>", "the JSON file written by eecot eval --out")
      .option("--again", "score every response again (default: only those not yet scored)")
      .option("--json", "print the judge summaries as one JSON document on stdout"),
  ).action(async (file: string, options: { again?: boolean; json?: boolean; judgeTimeout?: string; judgeRetries?: string }) => {
    const overrides = judgeOverridesFromFlags(options);
    const config = judgeConfigFromEnv(process.env, overrides);
    if (!config) throw new Error("judge: no judge configured; set EECOT_JUDGE_URL and EECOT_JUDGE_MODEL (and EECOT_JUDGE_API_KEY if the server needs one)");
    const document = await judgeSavedEvaluation(file, config, { again: options.again });
    const summaries = document.results.map(({ label, metrics }) => ({ label, judge: metrics.judge }));
    if (options.json) {
      process.stdout.write(JSON.stringify({ file, judge: config.model, results: summaries }) + "\n");
      return;
    }
    for (const { label, judge } of summaries) {
      process.stdout.write(
        `${label}: judge ${config.model} over ${judge!.count}: coherence ${judge!.coherence.toFixed(2)}, completeness ${judge!.completeness.toFixed(2)}, ` +
          `clarity ${judge!.clarity.toFixed(2)}, repetition avoidance ${judge!.repetitionAvoidance.toFixed(2)}, overall ${judge!.overall.toFixed(2)}\n`,
      );
    }
    process.stderr.write(`judge: wrote ${file}\n`);
  });
}

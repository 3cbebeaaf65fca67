// Stage 2 composed with the real model: an EarlyExitPolicy (stage-1 adapters + heads, frozen
// copy as π_ref) trained by @eecot/rloo on task rewards from @eecot/datasets, with periodic
// held-out evaluation. rloo itself never sees the transformer.
//
// <out>/rl-metrics.jsonl holds one JSON record per line, {"type": "step", ...RlooStepMetrics} after
// every step and {"type": "eval", ...RlCurvePoint} at step 0, every evalEvery steps and at the end;
// each append is awaited, so the records are in order and a write error (a full disk) fails the
// run with the file's name. --resume cuts the records back to the checkpoint it continues from, so
// the file of an interrupted and resumed run equals an uninterrupted run's.
import { appendFile, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rewardFor, type TaskExample } from "@eecot/datasets";
import { EarlyExitPolicy, saveEarlyExitAdapters, type EarlyExitModel } from "@eecot/early-exit";
import { writeFailureHint } from "@eecot/tensor-core";
import { checkpointSteps, findLatestCheckpoint, resolveRlooConfig, trainRloo, type RlooConfigOverrides, type RlooStepMetrics } from "@eecot/rloo";
import type { QwenModel, Tokenizer } from "@eecot/transformer";
import { evaluateModel, type EvaluationMetrics } from "./evaluate-model.js";
import { createProgress } from "./progress.js";
import { makeOutputFolder, refuseUsedOutputFolder, removeStaleRunTemporaries } from "./run-folder.js";

/** The metrics file of an RL run folder. */
export const RL_METRICS_FILE = "rl-metrics.jsonl";

export interface RlRunOptions {
  readonly base: QwenModel;
  /** The stage-1 model (adapters + heads); trained in place. */
  readonly model: EarlyExitModel;
  readonly tokenizer: Tokenizer;
  readonly train: readonly TaskExample[];
  readonly heldOut: readonly TaskExample[];
  readonly config: RlooConfigOverrides;
  readonly outDir: string;
  readonly resume?: boolean;
  /** Held-out generation limit. */
  readonly evalMaxNewTokens?: number;
  readonly shouldStop?: () => boolean;
  readonly quiet?: boolean;
  /** Ask the judge configured by EECOT_JUDGE_* at each held-out evaluation (default false). */
  readonly evalJudge?: boolean;
  /** Notes (resume, cleaned temporaries) go here; default stderr. */
  readonly log?: (line: string) => void;
}

export interface RlCurvePoint {
  readonly step: number;
  readonly accuracy: number;
  readonly averageCompute: number;
  readonly totalCompute: number;
  readonly repeatedNgramRate: number;
  /** Coherence proxies and format of the held-out completions (absent in records before 0.x). */
  readonly perplexity?: number;
  readonly formatRate?: number;
  /** The judge's overall 0–10 score, when the run asked for the judge and one is configured. */
  readonly judgeOverall?: number;
  readonly reward?: number;
  readonly kl?: number;
}

export interface RlRunResult {
  readonly steps: RlooStepMetrics[];
  readonly curve: RlCurvePoint[];
  readonly final: EvaluationMetrics;
  readonly adapterDir: string;
  readonly stopped: boolean;
}

/** Append one JSON line, naming the file when the write fails (ENOSPC, EROFS...). */
async function appendRecord(path: string, record: Record<string, unknown>): Promise<void> {
  try {
    await appendFile(path, JSON.stringify(record) + "\n");
  } catch (error) {
    throw new Error(`rl: cannot write ${path}: ${(error as Error).message}${writeFailureHint(error)}`);
  }
}

/**
 * The records an uninterrupted run has written once it has checkpointed step `step` of
 * `total`: everything before the step, the step's own record and, when evalEvery falls on it and
 * the run goes on, its evaluation (a stop-time or final evaluation is made again). Unreadable
 * lines (cut by a kill) are dropped. The file is rewritten atomically.
 */
export async function truncateRlMetrics(path: string, step: number, total: number, evalEvery: number): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  const kept: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let record: { type?: unknown; step?: unknown };
    try {
      record = JSON.parse(line) as { type?: unknown; step?: unknown };
    } catch {
      continue;
    }
    if (typeof record.step !== "number") continue;
    const keep =
      record.step < step ||
      (record.step === step && record.type === "step") ||
      (record.step === step && record.type === "eval" && evalEvery > 0 && step % evalEvery === 0 && step < total);
    if (keep) kept.push(record as Record<string, unknown>);
  }
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, kept.map((r) => JSON.stringify(r) + "\n").join(""));
    await rename(temporary, path);
  } catch (error) {
    throw new Error(`rl: cannot rewrite ${path}: ${(error as Error).message}${writeFailureHint(error)}`);
  }
  return kept;
}

export async function runRl(options: RlRunOptions): Promise<RlRunResult> {
  const { base, model, tokenizer, outDir } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const config = resolveRlooConfig(options.config);
  const metricsFile = join(outDir, RL_METRICS_FILE);
  const checkpointsDir = join(outDir, "checkpoints");
  await makeOutputFolder(outDir);
  if (!options.resume) await refuseUsedOutputFolder("rl", outDir, [RL_METRICS_FILE]);
  for (const path of await removeStaleRunTemporaries(outDir)) log(`rl: removed ${path} (left by an interrupted run)`);
  const resumeFrom = options.resume ? await findLatestCheckpoint(checkpointsDir) : null;
  const resumeStep = resumeFrom ? (await checkpointSteps(checkpointsDir)).at(-1)! : 0;
  if (options.resume) log(resumeFrom ? `rl: resuming from ${resumeFrom} (step ${resumeStep})` : `rl: no checkpoint in ${checkpointsDir}: starting fresh`);
  const earlier = resumeFrom ? await truncateRlMetrics(metricsFile, resumeStep, config.steps, config.evalEvery) : [];
  if (!resumeFrom) {
    try {
      await writeFile(metricsFile, "");
    } catch (error) {
      throw new Error(`rl: cannot write ${metricsFile}: ${(error as Error).message}${writeFailureHint(error)}`);
    }
  }
  const taskOf = new Map(options.train.map((e) => [e.prompt, e.task]));
  const policy = new EarlyExitPolicy(model, { codec: tokenizer, stopTokenIds: tokenizer.eosTokenIds, padTokenId: tokenizer.padTokenId ?? 0 });
  const steps = earlier.filter((r) => r.type === "step").map(({ type: _, ...r }) => r as unknown as RlooStepMetrics);
  const curve = earlier.filter((r) => r.type === "eval").map(({ type: _, ...r }) => r as unknown as RlCurvePoint);
  let latest: { step: number; metrics: EvaluationMetrics } | null = null;
  const evaluate = async (step: number) => {
    const result = await evaluateModel(base, model, tokenizer, options.heldOut, { maxNewTokens: options.evalMaxNewTokens ?? 96, seed: 7, label: `held-out eval @${step}`, quiet: options.quiet, judge: options.evalJudge === true });
    const last = steps.at(-1);
    const point: RlCurvePoint = {
      step,
      accuracy: result.metrics.accuracy,
      averageCompute: result.metrics.averageCompute,
      totalCompute: result.metrics.totalCompute,
      repeatedNgramRate: result.metrics.repeatedNgramRate,
      perplexity: result.metrics.perplexity,
      formatRate: result.metrics.formatRate,
      ...(result.metrics.judge ? { judgeOverall: result.metrics.judge.overall } : {}),
      ...(last ? { reward: last.reward, kl: last.klToReference } : {}),
    };
    curve.push(point);
    await appendRecord(metricsFile, { type: "eval", ...point });
    latest = { step, metrics: result.metrics };
  };
  let progress: ReturnType<typeof createProgress> | null = null;
  try {
    if (!resumeFrom) await evaluate(0);
    const bar = (progress = createProgress("stage 2: RLOO", config.steps, { unit: "steps", quiet: options.quiet, initial: resumeStep }));
    const result = await trainRloo({
      policy,
      examples: options.train.map((e) => ({ prompt: e.prompt, reference: e.reference })),
      taskReward: (prompt, completion, reference) => rewardFor(taskOf.get(prompt) ?? "gsm8k")(completion, reference),
      config,
      checkpointDirectory: checkpointsDir,
      resume: resumeFrom !== null,
      shouldStop: options.shouldStop,
      onLog: async (metrics) => {
        steps.push(metrics);
        await appendRecord(metricsFile, { type: "step", ...metrics });
        bar.update(metrics.step, { reward: metrics.reward, acc: metrics.taskAccuracy, compute: metrics.averageCompute });
      },
      evaluate: async (step) => {
        await evaluate(step);
      },
    });
    bar.stop();
    if (latest === null || (latest as { step: number }).step !== result.step) await evaluate(result.step);
    const adapterDir = join(outDir, "adapter");
    await saveEarlyExitAdapters(adapterDir, model);
    return { steps, curve, final: (latest as unknown as { metrics: EvaluationMetrics }).metrics, adapterDir, stopped: result.stopped };
  } finally {
    (progress as ReturnType<typeof createProgress> | null)?.stop();
    policy.dispose();
  }
}

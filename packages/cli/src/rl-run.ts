// Stage 2 composed with the real model: an EarlyExitPolicy (stage-1 adapters + heads, frozen
// copy as π_ref) trained by @eecot/rloo on task rewards from @eecot/datasets, with periodic
// held-out evaluation. rloo itself never sees the transformer.
import { existsSync } from "node:fs";
import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { rewardFor, type TaskExample } from "@eecot/datasets";
import { EarlyExitPolicy, saveEarlyExitAdapters, type EarlyExitModel } from "@eecot/early-exit";
import { trainRloo, type RlooConfigOverrides, type RlooStepMetrics } from "@eecot/rloo";
import type { QwenModel, Tokenizer } from "@eecot/transformer";
import { evaluateModel, type EvaluationMetrics } from "./evaluate-model.js";
import { createProgress } from "./progress.js";

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
}

export interface RlCurvePoint {
  readonly step: number;
  readonly accuracy: number;
  readonly averageCompute: number;
  readonly totalCompute: number;
  readonly repeatedNgramRate: number;
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

export async function runRl(options: RlRunOptions): Promise<RlRunResult> {
  const { base, model, tokenizer, outDir } = options;
  await mkdir(outDir, { recursive: true });
  const metricsFile = join(outDir, "rl-metrics.jsonl");
  if (!options.resume) await rm(metricsFile, { force: true });
  // A resumed run keeps the curve written before it stopped (steps after the checkpoint are
  // replayed, identically, and replace their first records).
  const previous = options.resume ? await readRlRecords(metricsFile) : { steps: [], curve: [] };
  const taskOf = new Map(options.train.map((e) => [e.prompt, e.task]));
  const policy = new EarlyExitPolicy(model, { codec: tokenizer, stopTokenIds: tokenizer.eosTokenIds, padTokenId: tokenizer.padTokenId ?? 0 });
  const steps: RlooStepMetrics[] = [];
  const curve: RlCurvePoint[] = [];
  let latest: { step: number; metrics: EvaluationMetrics } | null = null;
  const evaluate = async (step: number) => {
    const result = await evaluateModel(base, model, tokenizer, options.heldOut, { maxNewTokens: options.evalMaxNewTokens ?? 96, seed: 7, label: `held-out eval @${step}`, quiet: options.quiet, judge: false });
    const last = steps.at(-1);
    const point: RlCurvePoint = {
      step,
      accuracy: result.metrics.accuracy,
      averageCompute: result.metrics.averageCompute,
      totalCompute: result.metrics.totalCompute,
      repeatedNgramRate: result.metrics.repeatedNgramRate,
      ...(last ? { reward: last.reward, kl: last.klToReference } : {}),
    };
    curve.push(point);
    await appendFile(metricsFile, JSON.stringify({ type: "eval", ...point }) + "\n");
    latest = { step, metrics: result.metrics };
  };
  const start = previous.curve.find((point) => point.step === 0);
  if (start) curve.push(start);
  else await evaluate(0);
  const total = options.config.steps ?? 380;
  const progress = createProgress("stage 2: RLOO", total, { unit: "steps", quiet: options.quiet });
  const result = await trainRloo({
    policy,
    examples: options.train.map((e) => ({ prompt: e.prompt, reference: e.reference })),
    taskReward: (prompt, completion, reference) => rewardFor(taskOf.get(prompt) ?? "gsm8k")(completion, reference),
    config: options.config,
    checkpointDirectory: join(outDir, "checkpoints"),
    resume: options.resume,
    shouldStop: options.shouldStop,
    onLog: (metrics) => {
      steps.push(metrics);
      void appendFile(metricsFile, JSON.stringify({ type: "step", ...metrics }) + "\n");
      progress.update(metrics.step, { reward: metrics.reward, acc: metrics.taskAccuracy, compute: metrics.averageCompute });
    },
    evaluate: async (step) => {
      await evaluate(step);
    },
  });
  progress.stop();
  if (latest === null || (latest as { step: number }).step !== result.step) await evaluate(result.step);
  const adapterDir = join(outDir, "adapter");
  await saveEarlyExitAdapters(adapterDir, model);
  policy.dispose();
  return {
    steps: latestPerStep([...previous.steps, ...steps]),
    curve: latestPerStep([...previous.curve, ...curve]),
    final: (latest as unknown as { metrics: EvaluationMetrics }).metrics,
    adapterDir,
    stopped: result.stopped,
  };
}

/** The records of an earlier (stopped) run in rl-metrics.jsonl; none when the file is absent. */
async function readRlRecords(file: string): Promise<{ steps: RlooStepMetrics[]; curve: RlCurvePoint[] }> {
  if (!existsSync(file)) return { steps: [], curve: [] };
  const lines = (await readFile(file, "utf8")).split("\n").filter((line) => line.trim() !== "");
  const records = lines.flatMap((line, i) => {
    try {
      return [JSON.parse(line) as { type: string; step: number }];
    } catch (error) {
      if (i === lines.length - 1) return []; // a line torn by the kill
      throw new Error(`${file}:${i + 1}: not JSON (${(error as Error).message})`);
    }
  });
  const strip = <T>(record: { type: string }): T => {
    const { type: _type, ...rest } = record;
    return rest as T;
  };
  return {
    steps: records.filter((r) => r.type === "step").map((r) => strip<RlooStepMetrics>(r)),
    curve: records.filter((r) => r.type === "eval").map((r) => strip<RlCurvePoint>(r)),
  };
}

/** One record per step, the last written winning, in step order. */
function latestPerStep<T extends { readonly step: number }>(records: readonly T[]): T[] {
  return [...new Map(records.map((r) => [r.step, r])).values()].sort((a, b) => a.step - b.step);
}

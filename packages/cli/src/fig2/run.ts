// The paper's Figure 2 on one model (`eecot replicate fig2`, examples/tiny-fig2): stage 1 once,
// then several RLOO runs from the same stage-1 adapter (main seeds at one λ, plus a λ sweep), each
// evaluated every few steps on the same held-out prompts. Every piece is resumable: stage 1 is
// skipped when its summary exists, an RL run continues from its newest checkpoint, a finished run
// leaves done.json. Runs can be split over processes (`shard`), one per core.
//
//   <dir>/config.json
//   <dir>/teacher-cache/                 teacher trajectories (cached)
//   <dir>/stage1/                        calibration output (adapter/, metrics.jsonl, checkpoints/)
//   <dir>/stage1/summary.json            base and stage-1 evaluations on the held-out prompts
//   <dir>/rl/<run>/                      one RLOO run: rl-metrics.jsonl, checkpoints/, adapter/, done.json
import { mkdir, readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TaskExample } from "@eecot/datasets";
import { buildTeacherTrajectories, calibrate, type DistillConfigOverrides } from "@eecot/distill";
import { EarlyExitModel, loadEarlyExitAdapters } from "@eecot/early-exit";
import type { RlooConfigOverrides } from "@eecot/rloo";
import type { QwenModel, Tokenizer } from "@eecot/transformer";
import { writeJsonAtomic } from "../atomic-write.js";
import { promptIds } from "../chat.js";
import { evaluateModel, type EvaluationMetrics } from "../evaluate-model.js";
import { createProgress } from "../progress.js";
import { runRl, type RlCurvePoint } from "../rl-run.js";

/** Everything one Figure-2 replication needs. */
export interface Fig2Config {
  /** Stage-1 prompts (teacher trajectories). */
  readonly calibrationExamples: readonly TaskExample[];
  /** The held-out prompts every evaluation uses (the paper: 60). */
  readonly heldOutExamples: readonly TaskExample[];
  /** RL training prompts. */
  readonly rlExamples: readonly TaskExample[];
  /** Teacher and evaluation generation limit, e.g. 64. */
  readonly maxNewTokens: number;
  /** Stage 1 (f, steps, warm-up, rates...). */
  readonly distill: DistillConfigOverrides;
  /** Inference-time exit offset stored with the stage-1 policy (RL samples and scores with it), e.g. -1. */
  readonly exitOffset: number;
  /** Stage 2 settings shared by every run (λ, seed and length are per run). */
  readonly rloo: Omit<RlooConfigOverrides, "exitPenalty" | "seed" | "steps">;
  /** λ of the main runs, e.g. 1.5. */
  readonly mainPenalty: number;
  /** RL steps of each main run (the paper: 380). */
  readonly mainSteps: number;
  /** Seeds of the main runs (the paper: 5). */
  readonly seeds: readonly number[];
  /** λ sweep: these penalties × these seeds, `steps` long (runs equal to a main run are shared and read at that step). */
  readonly sweep: { readonly penalties: readonly number[]; readonly seeds: readonly number[]; readonly steps: number };
  readonly seed: number;
}

/** One RL run of the replication. */
export interface Fig2RunSpec {
  readonly name: string;
  readonly exitPenalty: number;
  readonly seed: number;
  /** RL steps. */
  readonly steps: number;
  /** Part of the five-seed main figure. */
  readonly main: boolean;
}

export interface Stage1Summary {
  readonly base: EvaluationMetrics;
  readonly stage1: EvaluationMetrics;
  readonly exitOffset: number;
  readonly klFactor: number;
  readonly seconds: number;
}

export interface Fig2RunRecord extends Fig2RunSpec {
  /** Held-out evaluations by step (deduplicated, increasing). */
  readonly curve: RlCurvePoint[];
  readonly finished: boolean;
  /** Wall-clock seconds of the process(es) that ran it (sum over resumes). */
  readonly seconds: number;
}

export const STAGE1_SUMMARY = "summary.json";
export const RUN_DONE = "done.json";

/** The run list: main seeds at the main λ first, then the sweep points not already covered. */
export function fig2Runs(config: Pick<Fig2Config, "mainPenalty" | "mainSteps" | "seeds" | "sweep">): Fig2RunSpec[] {
  const name = (lambda: number, seed: number) => `lambda-${lambda}-seed-${seed}`;
  const runs: Fig2RunSpec[] = config.seeds.map((seed) => ({ name: name(config.mainPenalty, seed), exitPenalty: config.mainPenalty, seed, steps: config.mainSteps, main: true }));
  for (const lambda of config.sweep.penalties) {
    for (const seed of config.sweep.seeds) {
      if (!runs.some((r) => r.exitPenalty === lambda && r.seed === seed)) runs.push({ name: name(lambda, seed), exitPenalty: lambda, seed, steps: config.sweep.steps, main: false });
    }
  }
  return runs;
}

/** Split the runs over `count` processes by RL steps (longest first, to the least loaded), each
 *  shard keeping the list's order (main runs first). */
export function shardRuns(runs: readonly Fig2RunSpec[], shard: { index: number; count: number }): Fig2RunSpec[] {
  const load = new Array<number>(shard.count).fill(0);
  const owner = new Map<string, number>();
  for (const run of [...runs].sort((a, b) => b.steps - a.steps || runs.indexOf(a) - runs.indexOf(b))) {
    const target = load.indexOf(Math.min(...load));
    owner.set(run.name, target);
    load[target]! += run.steps;
  }
  return runs.filter((run) => owner.get(run.name) === shard.index);
}

/** Parse "i/n" (0 ≤ i < n). */
export function parseShard(text: string, flag = "--shard"): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index < count)) throw new Error(`${flag} must be "i/n" with 0 ≤ i < n, got ${JSON.stringify(text)}`);
  return { index, count };
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

/** Stage 1 once (teacher trajectories, calibration, base and stage-1 evaluation); skipped when done. */
export async function fig2Stage1(base: QwenModel, tokenizer: Tokenizer, config: Fig2Config, dir: string, log: (line: string) => void): Promise<Stage1Summary> {
  const summaryPath = join(dir, "stage1", STAGE1_SUMMARY);
  if (existsSync(summaryPath)) return readJson<Stage1Summary>(summaryPath);
  const started = performance.now();
  await mkdir(dir, { recursive: true });
  const decode = (ids: readonly number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const padTokenId = tokenizer.padTokenId ?? 0;
  const prompts = config.calibrationExamples.map((e) => ({ id: e.id, promptTokens: promptIds(tokenizer, e) }));
  const teacherProgress = createProgress("teacher trajectories", prompts.length, { unit: "prompts" });
  const teacher = await buildTeacherTrajectories(base, prompts, {
    maxNewTokens: config.maxNewTokens,
    stopTokenIds: tokenizer.eosTokenIds,
    padTokenId,
    decode,
    cacheDir: join(dir, "teacher-cache"),
    onProgress: (done) => teacherProgress.update(done),
  });
  teacherProgress.stop();
  const fresh = EarlyExitModel.create(base, { seed: config.seed });
  const steps = config.distill.steps ?? 100;
  const progress = createProgress("stage 1: self-distillation", steps, { unit: "steps" });
  const calibration = await calibrate(fresh, teacher.trajectories, {
    outDir: join(dir, "stage1"),
    config: { seed: config.seed, ...config.distill },
    padTokenId,
    resume: true,
    onStep: (record) => progress.update(record.step, { loss: record.loss }),
  });
  progress.stop();
  fresh.dispose();
  if (!calibration.adapterDir) throw new Error("stage 1 stopped before it finished");
  const evalOptions = { maxNewTokens: config.maxNewTokens, seed: 7, judge: false };
  const baseEval = await evaluateModel(base, null, tokenizer, config.heldOutExamples, { ...evalOptions, label: "evaluate base" });
  const stage1 = await loadStage1(base, dir, config.exitOffset);
  const stage1Eval = await evaluateModel(base, stage1, tokenizer, config.heldOutExamples, { ...evalOptions, label: "evaluate stage 1" });
  stage1.dispose();
  const summary: Stage1Summary = {
    base: baseEval.metrics,
    stage1: stage1Eval.metrics,
    exitOffset: config.exitOffset,
    klFactor: config.distill.klFactor ?? 1,
    seconds: (performance.now() - started) / 1000,
  };
  await writeJsonAtomic(summaryPath, summary);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  log(`stage 1: accuracy ${pct(summary.stage1.accuracy)} (base ${pct(summary.base.accuracy)}), average compute ${pct(summary.stage1.averageCompute)}`);
  return summary;
}

/** The stage-1 policy with the replication's exit offset. */
export function loadStage1(base: QwenModel, dir: string, exitOffset: number): Promise<EarlyExitModel> {
  return loadEarlyExitAdapters(join(dir, "stage1", "adapter"), base, { overrides: { exitOffset } });
}

/** Held-out evaluations of a run's metrics file, one per step (the first of duplicates after a resume). */
export async function readRunCurve(runDir: string): Promise<RlCurvePoint[]> {
  const file = join(runDir, "rl-metrics.jsonl");
  if (!existsSync(file)) return [];
  const byStep = new Map<number, RlCurvePoint>();
  for (const line of (await readFile(file, "utf8")).split("\n")) {
    if (!line.trim()) continue;
    let row: { type?: string } & Partial<RlCurvePoint>;
    try {
      row = JSON.parse(line) as typeof row;
    } catch {
      continue; // a line cut by a kill
    }
    if (row.type !== "eval" || typeof row.step !== "number" || byStep.has(row.step)) continue;
    const { type: _type, ...point } = row;
    byStep.set(row.step, point as RlCurvePoint);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Run (or continue) the RL runs of this shard; each finished run leaves done.json. */
export async function fig2Rl(
  base: QwenModel,
  tokenizer: Tokenizer,
  config: Fig2Config,
  dir: string,
  options: { shard?: { index: number; count: number }; shouldStop?: () => boolean; log: (line: string) => void },
): Promise<void> {
  const shard = options.shard ?? { index: 0, count: 1 };
  const runs = shardRuns(fig2Runs(config), shard);
  for (const [i, run] of runs.entries()) {
    const runDir = join(dir, "rl", run.name);
    if (existsSync(join(runDir, RUN_DONE))) continue;
    if (options.shouldStop?.()) return;
    options.log(`\n== RL run ${i + 1}/${runs.length} of shard ${shard.index}/${shard.count}: ${run.name}`);
    const started = performance.now();
    const timePath = join(runDir, "seconds.json");
    const before = existsSync(timePath) ? (await readJson<{ seconds: number }>(timePath)).seconds : 0;
    const model = await loadStage1(base, dir, config.exitOffset);
    const result = await runRl({
      base,
      model,
      tokenizer,
      train: config.rlExamples,
      heldOut: config.heldOutExamples,
      config: { ...config.rloo, steps: run.steps, exitPenalty: run.exitPenalty, seed: run.seed },
      outDir: runDir,
      resume: existsSync(join(runDir, "checkpoints")),
      evalMaxNewTokens: config.maxNewTokens,
      ...(options.shouldStop ? { shouldStop: options.shouldStop } : {}),
    });
    model.dispose();
    const seconds = before + (performance.now() - started) / 1000;
    await writeJsonAtomic(timePath, { seconds });
    if (result.stopped) return;
    const record: Fig2RunRecord = { ...run, curve: await readRunCurve(runDir), finished: true, seconds };
    await writeJsonAtomic(join(runDir, RUN_DONE), record);
  }
}

/** Every run's record: done.json when finished, else what its metrics file holds so far. */
export async function collectFig2Runs(config: Pick<Fig2Config, "mainPenalty" | "mainSteps" | "seeds" | "sweep">, dir: string): Promise<Fig2RunRecord[]> {
  const records: Fig2RunRecord[] = [];
  for (const run of fig2Runs(config)) {
    const runDir = join(dir, "rl", run.name);
    if (existsSync(join(runDir, RUN_DONE))) {
      records.push({ ...(await readJson<Fig2RunRecord>(join(runDir, RUN_DONE))), main: run.main });
      continue;
    }
    const timePath = join(runDir, "seconds.json");
    const seconds = existsSync(timePath) ? (await readJson<{ seconds: number }>(timePath)).seconds : 0;
    records.push({ ...run, curve: await readRunCurve(runDir), finished: false, seconds });
  }
  return records;
}

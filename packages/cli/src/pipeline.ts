// The whole method on one model, as `eecot demo` and the examples run it:
// load → teacher trajectories → stage-1 calibration → A.1 KL sweep → A.2 check → evaluation
// before RL → stage-2 RLOO → evaluation after RL → report. Everything lands in one run folder.
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { makeOutputFolder } from "./run-folder.js";
import { join } from "node:path";
import type { TaskExample } from "@eecot/datasets";
import { buildTeacherTrajectories, calibrate, calibrationReport, sweepKlFactors, type DistillConfigOverrides } from "@eecot/distill";
import { EarlyExitModel, loadEarlyExitAdapters, type EarlyExitConfigOverrides } from "@eecot/early-exit";
import { judgeConfigFromEnv, type ReportData, type TokenViewerSample, type ViewerToken } from "@eecot/eval";
import type { RlooConfigOverrides } from "@eecot/rloo";
import { currentBackend } from "@eecot/tensor-core";
import type { QwenModel, Tokenizer } from "@eecot/transformer";
import { promptIds } from "./chat.js";
import { evaluateModel, formatMetrics, type EvaluationResult, type EvaluationSample } from "./evaluate-model.js";
import { createProgress, klSweepProgress } from "./progress.js";
import { buildRunReport, REPORT_DATA_FILE } from "./commands/report.js";
import { runRl } from "./rl-run.js";

/** Sizes and settings of one pipeline run. */
export interface PipelineConfig {
  /** Stage-1 prompts (teacher trajectories). */
  readonly calibrationExamples: readonly TaskExample[];
  /** Held-out prompts for the A.2 check and the before/after evaluation. */
  readonly heldOutExamples: readonly TaskExample[];
  /** Stage-2 training prompts. */
  readonly rlExamples: readonly TaskExample[];
  /** Prompts of the A.1 sweep. */
  readonly sweepExamples: readonly TaskExample[];
  /** KL factors of the A.1 sweep, e.g. [0.25, 0.5, 1, 2, 4]. */
  readonly klFactors: readonly number[];
  /** Teacher / evaluation generation limit, e.g. 96. */
  readonly maxNewTokens: number;
  /** Stage 1 (f, steps, rates...). */
  readonly distill: DistillConfigOverrides;
  /** Stage 2 (λ, β, k, steps, rates...). */
  readonly rloo: RlooConfigOverrides;
  /** Exit layers, gate and LoRA (rank, α, targets); default DEFAULT_EARLY_EXIT_CONFIG / the model's early_exit_layers. */
  readonly earlyExit?: EarlyExitConfigOverrides;
  /** Token-depth viewer samples per task. */
  readonly viewerSamples: number;
  readonly seed: number;
}

export interface PipelineResult {
  readonly runDir: string;
  readonly reportPath: string;
  readonly before: EvaluationResult;
  readonly after: EvaluationResult;
  readonly base: EvaluationResult;
  /** Stage-1 adapters (PEFT LoRA + exit heads), e.g. runs/<ts>/stage1/adapter. */
  readonly stage1AdapterDir: string;
  /** Stage-2 adapters after RL, e.g. runs/<ts>/stage2/adapter: what `eecot generate --adapter` takes. */
  readonly stage2AdapterDir: string;
  readonly seconds: number;
}

function exitProbabilities(sample: EvaluationSample, t: number, exitLayers: readonly number[]): number[] {
  // Stick-breaking over the heads evaluated for this token; the remaining mass goes to L.
  const probs = sample.headProbabilities[t] ?? [];
  const out: number[] = [];
  let survive = 1;
  exitLayers.forEach((_, k) => {
    const p = probs[k];
    if (p === null || p === undefined) {
      out.push(0);
      return;
    }
    out.push(survive * p);
    survive *= 1 - p;
  });
  out.push(Math.max(0, survive));
  return out;
}

function viewerTokens(sample: EvaluationSample, exitLayers: readonly number[]): ViewerToken[] {
  return sample.pieces.map((text, t) => ({ text, exitLayer: sample.exitLayers[t]!, exitProbabilities: exitProbabilities(sample, t, exitLayers) }));
}

export interface PipelineOptions {
  /** Where progress lines go; default stderr. */
  readonly log?: (line: string) => void;
  /**
   * Continue a stopped run in the same folder: the teacher cache, stage 1 and stage 2 pick up
   * from their newest checkpoints (the sweep, evaluations and report are redone). The run's
   * config.json must match this config.
   */
  readonly resume?: boolean;
}

/** config.json of a run: the config with example lists replaced by their counts. */
function runConfigDocument(model: string, config: PipelineConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify({ model, ...config, calibrationExamples: config.calibrationExamples.length, heldOutExamples: config.heldOutExamples.length, rlExamples: config.rlExamples.length, sweepExamples: config.sweepExamples.length })) as Record<string, unknown>;
}

/** With resume: refuse when the folder's config.json differs from this run's config (names the fields). */
async function checkResumedConfig(file: string, document: Record<string, unknown>): Promise<void> {
  if (!existsSync(file)) return;
  const saved = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(saved), ...Object.keys(document)])];
  const differing = keys.filter((key) => JSON.stringify(saved[key]) !== JSON.stringify(document[key]));
  if (differing.length > 0) {
    const detail = differing.map((key) => `${key}: ${JSON.stringify(saved[key])} there, ${JSON.stringify(document[key])} now`).join("; ");
    throw new Error(`--resume: ${file} was written with other settings (${detail}); resume with the same flags or start a new --out folder`);
  }
}

/** Run the method end to end; returns the evaluation before/after RL and the report path. */
export async function runPipeline(base: QwenModel, tokenizer: Tokenizer, config: PipelineConfig, runDir: string, options: PipelineOptions = {}): Promise<PipelineResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const resume = options.resume ?? false;
  const started = performance.now();
  const durations: { stage: string; seconds: number }[] = [];
  const stage = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    log(`\n== ${name}`);
    const result = await fn();
    durations.push({ stage: name, seconds: (performance.now() - t0) / 1000 });
    return result;
  };
  await makeOutputFolder(runDir);
  const configDocument = runConfigDocument(base.directory, config);
  if (resume) await checkResumedConfig(join(runDir, "config.json"), configDocument);
  await writeFile(join(runDir, "config.json"), JSON.stringify(configDocument, null, 2));
  const decode = (ids: readonly number[]) => tokenizer.decode(ids, { skipSpecialTokens: true });
  const padTokenId = tokenizer.padTokenId ?? 0;
  const stopTokenIds = tokenizer.eosTokenIds;
  const fresh = EarlyExitModel.create(base, { seed: config.seed, ...config.earlyExit });
  const exitLayers = [...fresh.exitLayers];
  const L = base.config.numLayers;

  // Stage 1: teacher trajectories (cached) and calibration.
  const teacher = await stage("stage 1: teacher trajectories", async () => {
    const prompts = [...config.calibrationExamples, ...config.heldOutExamples].map((e) => ({ id: e.id, promptTokens: promptIds(tokenizer, e) }));
    const progress = createProgress("teacher trajectories", prompts.length, { unit: "prompts" });
    const result = await buildTeacherTrajectories(base, prompts, {
      maxNewTokens: config.maxNewTokens,
      stopTokenIds,
      padTokenId,
      decode,
      cacheDir: join(runDir, "teacher-cache"),
      onProgress: (done) => progress.update(done),
    });
    progress.stop();
    return result.trajectories;
  });
  const calibrationTrajectories = teacher.slice(0, config.calibrationExamples.length);
  const heldOutTrajectories = teacher.slice(config.calibrationExamples.length);
  const stage1Dir = join(runDir, "stage1");
  const calibration = await stage("stage 1: calibration", async () => {
    const steps = config.distill.steps ?? 100;
    const progress = createProgress("stage 1: self-distillation", steps, { unit: "steps" });
    const result = await calibrate(fresh, calibrationTrajectories, {
      outDir: stage1Dir,
      config: { seed: config.seed, ...config.distill },
      resume,
      padTokenId,
      onStep: (record) => progress.update(record.step, { loss: record.loss }),
    });
    progress.stop();
    return result;
  });
  fresh.dispose();
  if (!calibration.adapterDir) throw new Error("stage 1 stopped before it finished");
  log(`stage 1: target early-exit rate ${(100 * calibration.targets.earlyExitRate).toFixed(1)}%, ALS ${(100 * calibration.targets.averageLayerSavings).toFixed(1)}%`);

  // A.2: learned vs target exit distributions on held-out teacher trajectories.
  const stage1 = await loadEarlyExitAdapters(calibration.adapterDir, base);
  const a2 = await stage("A.2: learned vs target exits", () =>
    calibrationReport(stage1, heldOutTrajectories, { klFactor: config.distill.klFactor ?? 1, padTokenId, description: `stage-1 student vs KL-heuristic target, f = ${config.distill.klFactor ?? 1}, ${heldOutTrajectories.length} held-out prompts` }),
  );
  log(`A.2: learned early-exit rate ${(100 * a2.comparison.learnedEarlyExitRate).toFixed(1)}% vs target ${(100 * a2.comparison.targetEarlyExitRate).toFixed(1)}%, mean per-token TV ${a2.comparison.meanTokenTotalVariation.toFixed(3)}`);

  // A.1: exits sampled from the target distribution itself, per KL factor.
  const judge = judgeConfigFromEnv();
  const sweep = await stage("A.1: KL-factor sweep", async () => {
    const total = (config.klFactors.length + 1) * config.sweepExamples.length;
    const progress = createProgress("A.1 sweep", total, { unit: "prompts" });
    const result = await sweepKlFactors(base, exitLayers, config.sweepExamples.map((e) => ({ promptTokens: promptIds(tokenizer, e), question: e.prompt })), {
      factors: config.klFactors,
      maxNewTokens: config.maxNewTokens,
      stopTokenIds,
      padTokenId,
      seed: config.seed,
      decode,
      judge,
      onProgress: klSweepProgress(progress),
    });
    progress.stop();
    return result;
  });

  // Evaluation of the base model and of the stage-1 policy (before RL).
  const evalOptions = { maxNewTokens: config.maxNewTokens, seed: config.seed + 17 };
  const baseEval = await stage("evaluation: base model", () => evaluateModel(base, null, tokenizer, config.heldOutExamples, { ...evalOptions, label: "evaluate base" }));
  const before = await stage("evaluation: before RL", () => evaluateModel(base, stage1, tokenizer, config.heldOutExamples, { ...evalOptions, label: "evaluate before RL" }));

  // Stage 2: RLOO with the exit-depth penalty, starting from the stage-1 adapters.
  const rl = await stage("stage 2: RLOO", () =>
    runRl({ base, model: stage1, tokenizer, train: config.rlExamples, heldOut: config.heldOutExamples, config: { seed: config.seed, ...config.rloo }, outDir: join(runDir, "stage2"), evalMaxNewTokens: config.maxNewTokens, resume }),
  );
  const after = await stage("evaluation: after RL", () => evaluateModel(base, stage1, tokenizer, config.heldOutExamples, { ...evalOptions, label: "evaluate after RL" }));
  stage1.dispose();
  log("\n" + formatMetrics([{ label: "base", metrics: baseEval.metrics }, { label: "before RL", metrics: before.metrics }, { label: "after RL", metrics: after.metrics }]));

  // Report.
  const samples: TokenViewerSample[] = [];
  for (const task of ["gsm8k", "tom"]) {
    const ids = before.samples.filter((s) => s.task === task).slice(0, config.viewerSamples).map((s) => s.id);
    for (const id of ids) {
      const b = before.samples.find((s) => s.id === id)!;
      const a = after.samples.find((s) => s.id === id);
      samples.push({ title: `${task === "gsm8k" ? "GSM-style" : "theory of mind"} ${id}`, prompt: b.prompt, before: viewerTokens(b, exitLayers), ...(a ? { after: viewerTokens(a, exitLayers) } : {}) });
    }
  }
  const variant = (label: string, r: EvaluationResult) => ({
    label,
    accuracy: r.metrics.accuracy,
    formatRate: r.metrics.formatRate,
    earlyExitRate: r.metrics.earlyExitRate,
    averageLayerSavings: r.metrics.averageLayerSavings,
    averageCompute: r.metrics.averageCompute,
    totalCompute: r.metrics.totalCompute,
    meanGeneratedLength: r.metrics.meanLength,
    flopsSavedFraction: r.metrics.flopsSavedFraction,
    wallClockMsPerToken: r.metrics.wallClockMsPerToken,
    repeatedNgramRate: r.metrics.repeatedNgramRate,
    perplexity: r.metrics.perplexity,
    ...(r.metrics.judge ? { judgeCoherence: r.metrics.judge.coherence } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const data: ReportData = {
    title: `Early-exit chain of thought: ${base.directory}`,
    run: {
      model: base.directory,
      date: new Date().toISOString(),
      seed: config.seed,
      backend: currentBackend()?.name ?? "unknown",
      durations,
      numLayers: L,
      exitableLayers: exitLayers,
      dataset: `${config.calibrationExamples.length} stage-1 prompts, ${config.rlExamples.length} RL prompts, ${config.heldOutExamples.length} held-out prompts (GSM-style + theory of mind)`,
      settings: {
        klFactor: config.distill.klFactor ?? 1,
        stage1Steps: config.distill.steps ?? 100,
        exitPenalty: config.rloo.exitPenalty ?? 1.5,
        klCoefficient: config.rloo.klCoefficient ?? 0.05,
        samplesPerPrompt: config.rloo.samplesPerPrompt ?? 4,
        rlSteps: config.rloo.steps ?? 0,
        maxNewTokens: config.maxNewTokens,
      },
      notes: [
        `total ${(seconds / 60).toFixed(1)} minutes`,
        "evaluation: greedy tokens, exits sampled from the heads (seeded)",
        `try the adapters live in a browser (the exit-offset slider, per-token depth colours, base vs adapter side by side): eecot playground --model ${base.directory} --adapter ${rl.adapterDir} --serve`,
        "longer RL over five seeds and a λ sweep (the paper's Figure 2): eecot replicate fig2, results in examples/tiny-fig2/README.md",
      ],
    },
    judge: { enabled: judge !== null, ...(judge ? { model: judge.model } : {}) },
    klSweep: { promptCount: sweep.promptCount, rows: sweep.rows },
    calibration: { comparison: a2.comparison, numLayers: L, description: a2.description },
    rlCurves: {
      runs: [
        {
          name: `seed ${config.seed}`,
          steps: rl.curve.map((p) => ({ step: p.step, accuracy: p.accuracy, averageCompute: p.averageCompute, totalCompute: p.totalCompute, repeatedNgramRate: p.repeatedNgramRate, ...(p.reward !== undefined ? { reward: p.reward } : {}), ...(p.kl !== undefined ? { kl: p.kl } : {}) })),
        },
      ],
      baseline: { accuracy: baseEval.metrics.accuracy, averageCompute: 1, totalCompute: baseEval.metrics.totalCompute, repeatedNgramRate: baseEval.metrics.repeatedNgramRate },
      evaluationPromptCount: config.heldOutExamples.length,
    },
    evaluation: { promptCount: config.heldOutExamples.length, variants: [variant("before RL", before), variant("after RL", after), variant("base (no exits)", baseEval)] },
    tokenViewer: { numLayers: L, layers: [...exitLayers, L], samples },
  };
  await writeFile(join(runDir, REPORT_DATA_FILE), JSON.stringify(data, null, 2));
  await writeFile(join(runDir, "evaluation.json"), JSON.stringify({ base: baseEval, before, after }, null, 2));
  const reportPath = await buildRunReport(runDir, data);
  return { runDir, reportPath, before, after, base: baseEval, stage1AdapterDir: calibration.adapterDir, stage2AdapterDir: rl.adapterDir, seconds };
}

// The paper's Qwen3-4B pipeline: stage 1 on GSM8K + theory of mind, the A.1 sweep, then RLOO
// with the paper's settings, evaluation and the report. Every hyperparameter is a flag whose
// default is the paper's (or the reference code's) value; --quick keeps the hyperparameters and
// shrinks only the sizes (prompts, steps, tokens), so the test suite runs this same code path.
// Without --model it runs on the bundled tiny model. `--help` lists everything.
import type { TaskExample } from "@eecot/datasets";
import { gsmExamples, numberFlag, positiveIntegerFlag, runPipeline, runScript, tomExamples, type PipelineConfig } from "@eecot/cli";
import { exampleCommand, gsm8kExamples, parseExample, setUp, takeExamples } from "../example-args.js";

const NAME = "qwen3-4b-rl";

/** The paper's (and its reference code's) settings: the defaults of the flags. */
export const PAPER_SETTINGS = {
  // Data: GSM8K + theory of mind, per task.
  calibrationPrompts: 128,
  heldOut: 50,
  rlPrompts: 2000,
  rlTomPrompts: 1000,
  sweepPrompts: 50,
  klFactors: [0.25, 0.5, 1, 2, 4],
  maxNewTokens: 512,
  // Early exits: one head every 5 layers (Qwen3-4B: 5, 10, …, 35), LoRA r 8, α 16 on q, k, v, o.
  exitEvery: 5,
  loraRank: 8,
  loraAlpha: 16,
  // Stage 1, reference code: f = 1, Adam 1e-5 for both groups, 4 prescriptions per sequence.
  klFactor: 1,
  stage1Steps: 200,
  batchSize: 2,
  gradientAccumulation: 4,
  exitSamples: 4,
  lrLora: 1e-5,
  lrHeads: 1e-5,
  stage1CheckpointEvery: 25,
  // Stage 2 on Qwen3-4B: 380 steps, k = 4, λ = 1.5, β = 0.05 (the small-model runs).
  rlSteps: 380,
  promptsPerStep: 8,
  samplesPerPrompt: 4,
  exitPenalty: 1.5,
  kl: 0.05,
  rlLrLora: 1e-5,
  rlLrHeads: 1e-5,
  evalEvery: 20,
  checkpointEvery: 20,
};

export type PaperSettings = typeof PAPER_SETTINGS;

/** --quick: the same hyperparameters, tiny sizes (about a minute on 2 CPU cores with the bundled model). */
export const QUICK_SIZES: Partial<PaperSettings> = {
  calibrationPrompts: 3,
  heldOut: 2,
  rlPrompts: 4,
  rlTomPrompts: 4,
  sweepPrompts: 2,
  maxNewTokens: 24,
  stage1Steps: 2,
  gradientAccumulation: 1,
  stage1CheckpointEvery: 1,
  rlSteps: 2,
  promptsPerStep: 2,
  evalEvery: 1,
  checkpointEvery: 1,
};

/** Flag name, description and parser of each setting ("--kl-factor" ↔ klFactor). */
const FLAGS: { readonly [K in keyof PaperSettings]: { readonly flag: string; readonly help: string; readonly parse: (value: string, flag: string) => PaperSettings[K] } } = {
  calibrationPrompts: { flag: "--calibration-prompts <n>", help: "stage-1 prompts per task (GSM8K and theory of mind)", parse: positiveIntegerFlag },
  heldOut: { flag: "--held-out <n>", help: "held-out evaluation prompts per task", parse: positiveIntegerFlag },
  rlPrompts: { flag: "--rl-prompts <n>", help: "stage-2 GSM8K prompts", parse: positiveIntegerFlag },
  rlTomPrompts: { flag: "--rl-tom-prompts <n>", help: "stage-2 theory-of-mind prompts", parse: positiveIntegerFlag },
  sweepPrompts: { flag: "--sweep-prompts <n>", help: "A.1 sweep prompts (GSM8K)", parse: positiveIntegerFlag },
  klFactors: { flag: "--kl-factors <list>", help: "A.1 sweep KL factors, comma-separated", parse: (value, flag) => value.split(",").map((part) => positiveNumber(part.trim(), flag)) },
  maxNewTokens: { flag: "--max-new-tokens <n>", help: "generation limit (teacher, rollouts, evaluation)", parse: positiveIntegerFlag },
  exitEvery: { flag: "--exit-every <n>", help: "an exit head every n layers (unless the model's config lists early_exit_layers)", parse: positiveIntegerFlag },
  loraRank: { flag: "--lora-rank <r>", help: "LoRA rank r", parse: positiveIntegerFlag },
  loraAlpha: { flag: "--lora-alpha <α>", help: "LoRA α (the update is scaled by α / r)", parse: positiveNumber },
  klFactor: { flag: "--kl-factor <f>", help: "stage-1 KL factor f", parse: positiveNumber },
  stage1Steps: { flag: "--stage1-steps <n>", help: "stage-1 optimiser steps", parse: positiveIntegerFlag },
  batchSize: { flag: "--batch-size <n>", help: "stage-1 sequences per micro-batch", parse: positiveIntegerFlag },
  gradientAccumulation: { flag: "--gradient-accumulation <n>", help: "stage-1 micro-batches per optimiser step", parse: positiveIntegerFlag },
  exitSamples: { flag: "--exit-samples <n>", help: "stage-1 prescribed exit samples per sequence", parse: positiveIntegerFlag },
  lrLora: { flag: "--lr-lora <rate>", help: "stage-1 Adam learning rate for LoRA", parse: positiveNumber },
  lrHeads: { flag: "--lr-heads <rate>", help: "stage-1 Adam learning rate for the exit heads", parse: positiveNumber },
  stage1CheckpointEvery: { flag: "--stage1-checkpoint-every <n>", help: "stage-1 checkpoint every n steps", parse: positiveIntegerFlag },
  rlSteps: { flag: "--rl-steps <n>", help: "stage-2 RLOO steps", parse: positiveIntegerFlag },
  promptsPerStep: { flag: "--prompts-per-step <n>", help: "stage-2 prompts per step", parse: positiveIntegerFlag },
  samplesPerPrompt: { flag: "--samples-per-prompt <k>", help: "stage-2 rollouts per prompt k (≥ 2)", parse: positiveIntegerFlag },
  exitPenalty: { flag: "--exit-penalty <λ>", help: "stage-2 exit-depth penalty λ (the externalisation dial)", parse: nonNegativeNumber },
  kl: { flag: "--kl <β>", help: "stage-2 KL-to-reference coefficient β", parse: nonNegativeNumber },
  rlLrLora: { flag: "--rl-lr-lora <rate>", help: "stage-2 Adam learning rate for LoRA", parse: positiveNumber },
  rlLrHeads: { flag: "--rl-lr-heads <rate>", help: "stage-2 Adam learning rate for the exit heads", parse: positiveNumber },
  evalEvery: { flag: "--eval-every <n>", help: "stage-2 held-out evaluation every n steps", parse: positiveIntegerFlag },
  checkpointEvery: { flag: "--checkpoint-every <n>", help: "stage-2 checkpoint every n steps", parse: positiveIntegerFlag },
};

function positiveNumber(value: string, flag: string): number {
  const parsed = numberFlag(value, flag);
  if (!(parsed > 0)) throw new Error(`${flag} must be a number > 0, got ${JSON.stringify(value)}`);
  return parsed;
}

function nonNegativeNumber(value: string, flag: string): number {
  const parsed = numberFlag(value, flag);
  if (!(parsed >= 0)) throw new Error(`${flag} must be a number ≥ 0, got ${JSON.stringify(value)}`);
  return parsed;
}

const optionName = (flag: string) => flag.split(" ")[0]!;
const keyOf = (flag: string) => optionName(flag).slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/** Settings from the parsed flags: a given flag, else the --quick size, else the paper's value. */
export function resolveSettings(values: Record<string, string | undefined>, quick: boolean): PaperSettings {
  const settings: Record<string, unknown> = { ...PAPER_SETTINGS, ...(quick ? QUICK_SIZES : {}) };
  for (const [key, spec] of Object.entries(FLAGS) as [keyof PaperSettings, (typeof FLAGS)[keyof PaperSettings]][]) {
    const value = values[keyOf(spec.flag)];
    if (value !== undefined) settings[key] = spec.parse(value, optionName(spec.flag));
  }
  const resolved = settings as PaperSettings;
  if (resolved.samplesPerPrompt < 2) throw new Error(`--samples-per-prompt must be at least 2 (leave-one-out needs two rollouts), got ${resolved.samplesPerPrompt}`);
  return resolved;
}

/** Where the GSM8K prompts come from: files, or synthetic problems. */
export interface GsmSources {
  /** --gsm8k: stage-1 and stage-2 prompts (and held-out ones without a test file). */
  readonly train: string | null;
  /** --gsm8k-test: held-out and A.1 prompts (the GSM8K test split). */
  readonly test: string | null;
}

/** The pipeline config of the paper path for these settings and data. */
export function paperConfig(settings: PaperSettings, sources: GsmSources, seed: number, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): PipelineConfig {
  const s = settings;
  let calibrationGsm: TaskExample[];
  let rlGsm: TaskExample[];
  let heldOutGsm: TaskExample[];
  let sweepGsm: TaskExample[];
  const train = sources.train ? gsm8kExamples(sources.train) : null;
  if (train) {
    calibrationGsm = takeExamples(train, 0, s.calibrationPrompts, `stage-1 prompts from ${sources.train}`, log);
    rlGsm = takeExamples(train, calibrationGsm.length, s.rlPrompts, `stage-2 prompts from ${sources.train}`, log, "pass fewer --calibration-prompts");
  } else {
    calibrationGsm = gsmExamples(s.calibrationPrompts, seed);
    rlGsm = gsmExamples(s.rlPrompts, seed + 128);
  }
  if (sources.test) {
    // Held-out and A.1 prompts are evaluation only: both start at the top of the test split.
    const test = gsm8kExamples(sources.test);
    heldOutGsm = takeExamples(test, 0, s.heldOut, `held-out prompts from ${sources.test}`, log);
    sweepGsm = takeExamples(test, 0, s.sweepPrompts, `A.1 prompts from ${sources.test}`, log);
  } else if (train) {
    // Without the test split: the training file's problems after those used for training.
    const used = calibrationGsm.length + rlGsm.length;
    const hint = "pass the GSM8K test split with --gsm8k-test test.jsonl, or fewer --rl-prompts";
    heldOutGsm = takeExamples(train, used, s.heldOut, `held-out prompts from ${sources.train}`, log, hint);
    sweepGsm = takeExamples(train, used, s.sweepPrompts, `A.1 prompts from ${sources.train}`, log, hint);
  } else {
    heldOutGsm = gsmExamples(s.heldOut, seed + 5000);
    sweepGsm = gsmExamples(s.sweepPrompts, seed + 6000);
  }
  return {
    calibrationExamples: [...calibrationGsm, ...tomExamples(s.calibrationPrompts, seed + 1)],
    heldOutExamples: [...heldOutGsm, ...tomExamples(s.heldOut, seed + 2, 1)],
    rlExamples: [...rlGsm, ...tomExamples(s.rlTomPrompts, seed + 3)],
    sweepExamples: sweepGsm,
    klFactors: s.klFactors,
    maxNewTokens: s.maxNewTokens,
    earlyExit: { exitEvery: s.exitEvery, lora: { rank: s.loraRank, alpha: s.loraAlpha } },
    distill: {
      klFactor: s.klFactor,
      steps: s.stage1Steps,
      batchSize: s.batchSize,
      gradientAccumulation: s.gradientAccumulation,
      exitSamplesPerSequence: s.exitSamples,
      learningRates: { lora: s.lrLora, heads: s.lrHeads },
      checkpointEvery: s.stage1CheckpointEvery,
    },
    rloo: {
      steps: s.rlSteps,
      promptsPerStep: s.promptsPerStep,
      samplesPerPrompt: s.samplesPerPrompt,
      maxNewTokens: s.maxNewTokens,
      exitPenalty: s.exitPenalty,
      klCoefficient: s.kl,
      learningRates: { lora: s.rlLrLora, heads: s.rlLrHeads },
      evalEvery: s.evalEvery,
      checkpointEvery: s.checkpointEvery,
    },
    viewerSamples: 3,
    seed,
  };
}

function format(value: unknown): string {
  if (Array.isArray(value)) return value.join(",");
  return typeof value === "number" && value !== 0 && Math.abs(value) < 1e-3 ? value.toExponential() : String(value); // 1e-5
}

export function buildCommand() {
  const command = exampleCommand(NAME, "The paper's Qwen3-4B pipeline: stage 1, the A.1 sweep and A.2 check, stage 2 (RLOO), evaluation and the report")
    .option("--gsm8k-test <file>", "GSM8K test split (test.jsonl) for the held-out and A.1 prompts (default: --gsm8k's problems after the training ones)")
    .option("--resume", "continue a stopped run in --out from its newest checkpoints (same flags)");
  for (const key of Object.keys(FLAGS) as (keyof PaperSettings)[]) {
    const spec = FLAGS[key];
    const quick = QUICK_SIZES[key];
    command.option(spec.flag, `${spec.help} (paper: ${format(PAPER_SETTINGS[key])}${quick !== undefined ? `; --quick: ${format(quick)}` : ""})`);
  }
  return command;
}

export async function main(argv: readonly string[]): Promise<void> {
  const args = parseExample<Record<string, string | undefined> & { gsm8kTest?: string; resume?: boolean }>(buildCommand(), argv);
  const settings = resolveSettings(args.options, args.quick);
  if (args.options.resume && !args.outGiven) throw new Error(`--resume continues a run: name its folder with --out runs/${NAME}-<timestamp>`);
  // Checked (and the data read) before the backend starts and the model loads.
  const config = paperConfig(settings, { train: args.gsm8k, test: args.options.gsm8kTest ?? null }, args.seed);
  const { model, tokenizer } = await setUp(args);
  if (!args.model && !args.quick) process.stderr.write(`${NAME}: the paper's settings on the bundled tiny model (hours on a CPU; \`eecot demo\` is the tuned tiny run, --quick a smoke run)\n`);
  const result = await runPipeline(model, tokenizer, config, args.out, { resume: args.options.resume ?? false });
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `${NAME}: accuracy ${pct(result.before.metrics.accuracy)} → ${pct(result.after.metrics.accuracy)}, average compute ${pct(result.before.metrics.averageCompute)} → ${pct(result.after.metrics.averageCompute)}\n` +
      `  report   ${result.reportPath}\n  adapters ${result.stage2AdapterDir} (after RL), ${result.stage1AdapterDir} (stage 1)`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await runScript(NAME, () => main(process.argv.slice(2)));

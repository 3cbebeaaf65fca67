// `eecot rl`: stage 2 (RLOO with an exit-depth penalty) on a stage-1 adapter.
import { join } from "node:path";
import type { Command } from "commander";
import { loadDataSpec } from "@eecot/datasets";
import { loadEarlyExitAdapters } from "@eecot/early-exit";
import { resolveRlooConfig, stopOnSignal, type RlooConfig } from "@eecot/rloo";
import { FRESH_HEADS_HELP, loadModelFolder, requireTokenizer, startBackend, TRAINING_WORKLOAD } from "../setup.js";
import { RL_METRICS_FILE, runRl } from "../rl-run.js";
import { openRunFolder } from "../run-guard.js";
import { ALLOW_CHANGED_HELP } from "../run-flags.js";
import { formatMetrics } from "../evaluate-model.js";
import { bundledModelDir } from "../bundled.js";
import { integerFlag, numberFlag, positiveIntegerFlag } from "../flags.js";

interface RlOptions {
  model?: string;
  adapter: string;
  freshHeads?: boolean;
  data: string;
  evalData?: string;
  out: string;
  exitPenalty: string;
  kl: string;
  samplesPerPrompt: string;
  promptsPerStep: string;
  steps: string;
  maxNewTokens: string;
  lrLora: string;
  lrHeads: string;
  evalEvery: string;
  checkpointEvery: string;
  seed: string;
  keepCheckpoints: string;
  resume?: boolean;
  allowChanged?: boolean;
}

/** Every numeric flag of `eecot rl`, checked (errors name the flag as typed) before anything loads. */
export function rlConfigFromFlags(options: RlOptions): RlooConfig {
  return resolveRlooConfig({
    exitPenalty: numberFlag(options.exitPenalty, "--exit-penalty", { min: 0 }),
    klCoefficient: numberFlag(options.kl, "--kl", { min: 0 }),
    samplesPerPrompt: integerFlag(options.samplesPerPrompt, "--samples-per-prompt", { min: 2 }),
    promptsPerStep: positiveIntegerFlag(options.promptsPerStep, "--prompts-per-step"),
    steps: positiveIntegerFlag(options.steps, "--steps"),
    maxNewTokens: positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens"),
    learningRates: { lora: numberFlag(options.lrLora, "--lr-lora", { min: 0 }), heads: numberFlag(options.lrHeads, "--lr-heads", { min: 0 }) },
    evalEvery: integerFlag(options.evalEvery, "--eval-every", { min: 0 }),
    checkpointEvery: integerFlag(options.checkpointEvery, "--checkpoint-every", { min: 0 }),
    keepCheckpoints: positiveIntegerFlag(options.keepCheckpoints, "--keep-checkpoints"),
    seed: integerFlag(options.seed, "--seed"),
  });
}

export function registerRl(program: Command): void {
  program
    .command("rl")
    .description("stage 2: RLOO with an exit-depth penalty (λ) and a KL penalty to the stage-1 policy (β)")
    .option("--model <dir>", "Hugging Face model folder (default: the bundled models/tiny-reasoner)")
    .requiredOption("--adapter <dir>", "stage-1 adapter folder (from eecot calibrate)")
    .option("--fresh-heads", FRESH_HEADS_HELP)
    .requiredOption("--data <spec>", 'training prompts, e.g. "gsm-synthetic:400,tom:400"')
    .option("--eval-data <spec>", "held-out prompts (default: 32 + 32 generated with other seeds)")
    .requiredOption("--out <dir>", "output folder: adapter/, checkpoints/, rl-metrics.jsonl")
    .option("--exit-penalty <λ>", "exit-depth penalty λ", "1.5")
    .option("--kl <β>", "KL-to-reference coefficient β", "0.05")
    .option("--samples-per-prompt <k>", "rollouts per prompt (≥ 2)", "4")
    .option("--prompts-per-step <n>", "prompts per step", "8")
    .option("--steps <n>", "optimiser steps", "50")
    .option("--max-new-tokens <n>", "rollout length limit", "96")
    .option("--lr-lora <rate>", "Adam learning rate for LoRA", "1e-4")
    .option("--lr-heads <rate>", "Adam learning rate for exit heads", "1e-3")
    .option("--eval-every <n>", "held-out evaluation every n steps", "10")
    .option("--checkpoint-every <n>", "checkpoint every n steps", "10")
    .option("--seed <s>", "seed", "1234")
    .option("--keep-checkpoints <n>", "keep the newest n checkpoints (older ones are removed)", "2")
    .option("--resume", "continue from the newest checkpoint in --out")
    .option("--allow-changed", ALLOW_CHANGED_HELP)
    .action(async (options: RlOptions, command: Command) => {
      options.model ??= bundledModelDir();
      // Flags, data and the output folder are checked before the backend starts and the model loads.
      const config = rlConfigFromFlags(options);
      const train = loadDataSpec(options.data).examples;
      const heldOut = loadDataSpec(options.evalData ?? "gsm-synthetic:32:seed=99991:maxSteps=2:operations=+-:maxResult=99,tom:32:seed=99991").examples;
      if (train.length === 0) throw new Error(`--data ${options.data} produced no examples`);
      // The folder is locked until the command returns; a resume's flags are compared with the run's.
      await openRunFolder({ command, outDir: options.out, resume: options.resume, allowChanged: options.allowChanged, records: [RL_METRICS_FILE] });
      await startBackend(command);
      const loaded = await loadModelFolder(options.model, TRAINING_WORKLOAD);
      const tokenizer = requireTokenizer(loaded, "rl");
      const model = await loadEarlyExitAdapters(options.adapter, loaded.model, { allowMissingHeads: options.freshHeads === true });
      const stop = stopOnSignal();
      const result = await runRl({
        base: loaded.model,
        model,
        tokenizer,
        train,
        heldOut,
        outDir: options.out,
        resume: options.resume,
        shouldStop: stop.shouldStop,
        evalMaxNewTokens: config.maxNewTokens,
        config,
      });
      stop.dispose();
      const first = result.curve[0]!;
      process.stdout.write(
        `stage 2 ${result.stopped ? "stopped" : "finished"}: held-out accuracy ${(100 * first.accuracy).toFixed(1)}% → ${(100 * result.final.accuracy).toFixed(1)}%, ` +
          `average compute ${(100 * first.averageCompute).toFixed(1)}% → ${(100 * result.final.averageCompute).toFixed(1)}%, ` +
          `total compute ${first.totalCompute.toFixed(1)} → ${result.final.totalCompute.toFixed(1)}\n`,
      );
      process.stdout.write(formatMetrics([{ label: "after RL", metrics: result.final }]) + "\n");
      process.stderr.write(`rl: adapter in ${result.adapterDir}, metrics in ${join(options.out, RL_METRICS_FILE)}\n`);
    });
}

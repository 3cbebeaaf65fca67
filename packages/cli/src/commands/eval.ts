// `eecot eval`: METHOD.md §4 metrics of a model (optionally with an early-exit adapter) on a data spec.
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { loadDataSpec } from "@eecot/datasets";
import { loadEarlyExitAdapters } from "@eecot/early-exit";
import { FRESH_HEADS_HELP, loadModelFolder, requireTokenizer, startBackend } from "../setup.js";
import { evaluateModel, formatMetrics, type EvaluationResult } from "../evaluate-model.js";
import { bundledModelDir } from "../bundled.js";
import { integerFlag, numberFlag, positiveIntegerFlag } from "../flags.js";
import { judgeConfigFromEnv } from "@eecot/eval";
import { addJudgeFlags, judgeOverridesFromFlags, judgeSavedEvaluation, saveEvaluation, type SavedEvaluation } from "../judge-run.js";
import { makeOutputFolder } from "../run-folder.js";

interface EvalOptions {
  model?: string;
  adapter?: string;
  freshHeads?: boolean;
  data: string;
  maxNewTokens: string;
  temperature: string;
  seed: string;
  exitOffset?: string;
  compareBase?: boolean;
  out?: string;
  json?: boolean;
  judgeTimeout?: string;
  judgeRetries?: string;
}

export function registerEval(program: Command): void {
  addJudgeFlags(
    program
      .command("eval")
      .description("evaluate accuracy, format rate, early-exit rate, ALS, compute, FLOPs and wall-clock saved, coherence proxies and (EECOT_JUDGE_URL, EECOT_JUDGE_MODEL) LLM-judge scores")
      .option("--model <dir>", "Hugging Face model folder (default: the bundled models/tiny-reasoner)")
      .option("--adapter <dir>", "early-exit adapter folder (LoRA + exit heads); without it the base model runs at full depth")
      .option("--fresh-heads", FRESH_HEADS_HELP)
      .requiredOption("--data <spec>", 'data spec, e.g. "gsm-synthetic:100,tom:100" or "gsm8k:/path/test.jsonl:limit=200"')
      .option("--max-new-tokens <n>", "generation limit", "96")
      .option("--temperature <t>", "token temperature (exits are sampled from the heads either way)", "0")
      .option("--seed <s>", "seed for sampled exits/tokens", "0")
      .option("--exit-offset <x>", "inference-time exit dial added to every exit logit")
      .option("--compare-base", "also evaluate the base model (no adapter, no exits) side by side")
      .option("--out <file>", "write metrics and samples as JSON, before the judge runs (default with the judge on: runs/eval-<timestamp>.json); eecot judge FILE scores them again")
      .option("--json", "print the metrics as one JSON document on stdout"),
  ).action(async (options: EvalOptions, command: Command) => {
    options.model ??= bundledModelDir();
    // Flags, the judge's settings, the data and the --out folder are checked before the backend starts and the model loads.
    const settings = {
      maxNewTokens: positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens"),
      temperature: numberFlag(options.temperature, "--temperature", { min: 0 }),
      seed: integerFlag(options.seed, "--seed"),
      ...(options.exitOffset !== undefined ? { exitOffset: numberFlag(options.exitOffset, "--exit-offset") } : {}),
    };
    const judge = judgeConfigFromEnv(process.env, judgeOverridesFromFlags(options));
    const { examples, sources } = loadDataSpec(options.data);
    if (examples.length === 0) throw new Error(`--data ${options.data} produced no examples`);
    for (const source of sources) if (source.skipped.count > 0) process.stderr.write(`eval: skipped ${source.skipped.count} invalid records in ${source.source}\n`);
    const out = options.out ?? (judge ? join("runs", `eval-${new Date().toISOString().replace(/[:.]/g, "-")}.json`) : undefined);
    if (out) await makeOutputFolder(dirname(out));
    await startBackend(command);
    const loaded = await loadModelFolder(options.model);
    const tokenizer = requireTokenizer(loaded, "eval");
    const rows: { label: string; result: EvaluationResult }[] = [];
    if (!options.adapter || options.compareBase) {
      rows.push({ label: "base", result: await evaluateModel(loaded.model, null, tokenizer, examples, { ...settings, label: "evaluate base", judge: false }) });
    }
    if (options.adapter) {
      const model = await loadEarlyExitAdapters(options.adapter, loaded.model, { allowMissingHeads: options.freshHeads === true });
      rows.push({ label: "early-exit", result: await evaluateModel(loaded.model, model, tokenizer, examples, { ...settings, label: "evaluate early-exit", judge: false }) });
      model.dispose();
    }
    let results = rows.map((r) => ({ label: r.label, metrics: r.result.metrics }));
    if (out) {
      // Saved before the judge runs: a judge failure loses no generation.
      const saved: SavedEvaluation = {
        model: options.model,
        adapter: options.adapter ?? null,
        data: options.data,
        settings,
        results,
        samples: Object.fromEntries(rows.map((r) => [r.label, r.result.samples])),
        judge: judge ? { status: "pending", model: judge.model } : { status: "off" },
      };
      await saveEvaluation(out, saved);
      if (judge) {
        if (!options.out) process.stderr.write(`eval: generations and metrics saved in ${out} before the judge runs\n`);
        results = (await judgeSavedEvaluation(out, judge)).results;
      }
    }
    const document = { model: options.model, adapter: options.adapter ?? null, data: options.data, settings, results };
    if (options.json) {
      process.stdout.write(JSON.stringify(document) + "\n");
      return;
    }
    process.stdout.write(formatMetrics(results) + "\n");
    for (const row of results) {
      const tasks = Object.entries(row.metrics.byTask).map(([task, s]) => `${task} ${(100 * s.accuracy).toFixed(1)}% of ${s.prompts}`);
      process.stdout.write(`${row.label}: ${tasks.join(", ")}\n`);
    }
    if (out) process.stderr.write(`eval: wrote ${out}\n`);
  });
}

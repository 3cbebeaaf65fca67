// `eecot eval`: METHOD.md §4 metrics of a model (optionally with an early-exit adapter) on a data spec.
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { loadDataSpec } from "@eecot/datasets";
import { loadEarlyExitAdapters } from "@eecot/early-exit";
import { FRESH_HEADS_HELP, loadModelFolder, requireTokenizer, startBackend } from "../setup.js";
import { evaluateModel, formatMetrics, type EvaluationResult } from "../evaluate-model.js";
import { bundledModelDir } from "../bundled.js";
import { integerFlag, numberFlag, positiveIntegerFlag } from "../flags.js";

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
}

export function registerEval(program: Command): void {
  program
    .command("eval")
    .description("evaluate accuracy, format rate, early-exit rate, ALS, compute, FLOPs and wall-clock saved, coherence proxies")
    .option("--model <dir>", "Hugging Face model folder (default: the bundled models/tiny-reasoner)")
    .option("--adapter <dir>", "early-exit adapter folder (LoRA + exit heads); without it the base model runs at full depth")
    .option("--fresh-heads", FRESH_HEADS_HELP)
    .requiredOption("--data <spec>", 'data spec, e.g. "gsm-synthetic:100,tom:100" or "gsm8k:/path/test.jsonl:limit=200"')
    .option("--max-new-tokens <n>", "generation limit", "96")
    .option("--temperature <t>", "token temperature (exits are sampled from the heads either way)", "0")
    .option("--seed <s>", "seed for sampled exits/tokens", "0")
    .option("--exit-offset <x>", "inference-time exit dial added to every exit logit")
    .option("--compare-base", "also evaluate the base model (no adapter, no exits) side by side")
    .option("--out <file>", "write metrics and samples as JSON")
    .option("--json", "print the metrics as one JSON document on stdout")
    .action(async (options: EvalOptions, command: Command) => {
      options.model ??= bundledModelDir();
      // Flags and data are checked before the backend starts and the model loads.
      const settings = {
        maxNewTokens: positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens"),
        temperature: numberFlag(options.temperature, "--temperature", { min: 0 }),
        seed: integerFlag(options.seed, "--seed"),
        ...(options.exitOffset !== undefined ? { exitOffset: numberFlag(options.exitOffset, "--exit-offset") } : {}),
      };
      const { examples, sources } = loadDataSpec(options.data);
      if (examples.length === 0) throw new Error(`--data ${options.data} produced no examples`);
      for (const source of sources) if (source.skipped.count > 0) process.stderr.write(`eval: skipped ${source.skipped.count} invalid records in ${source.source}\n`);
      await startBackend(command);
      const loaded = await loadModelFolder(options.model);
      const tokenizer = requireTokenizer(loaded, "eval");
      const rows: { label: string; result: EvaluationResult }[] = [];
      if (!options.adapter || options.compareBase) {
        rows.push({ label: "base", result: await evaluateModel(loaded.model, null, tokenizer, examples, { ...settings, label: "evaluate base" }) });
      }
      if (options.adapter) {
        const model = await loadEarlyExitAdapters(options.adapter, loaded.model, { allowMissingHeads: options.freshHeads === true });
        rows.push({ label: "early-exit", result: await evaluateModel(loaded.model, model, tokenizer, examples, { ...settings, label: "evaluate early-exit" }) });
        model.dispose();
      }
      const document = { model: options.model, adapter: options.adapter ?? null, data: options.data, settings, results: rows.map((r) => ({ label: r.label, metrics: r.result.metrics })) };
      if (options.out) await writeFile(options.out, JSON.stringify({ ...document, samples: Object.fromEntries(rows.map((r) => [r.label, r.result.samples])) }, null, 2));
      if (options.json) {
        process.stdout.write(JSON.stringify(document) + "\n");
        return;
      }
      process.stdout.write(formatMetrics(rows.map((r) => ({ label: r.label, metrics: r.result.metrics }))) + "\n");
      for (const row of rows) {
        const tasks = Object.entries(row.result.metrics.byTask).map(([task, s]) => `${task} ${(100 * s.accuracy).toFixed(1)}% of ${s.prompts}`);
        process.stdout.write(`${row.label}: ${tasks.join(", ")}\n`);
      }
      if (options.out) process.stderr.write(`eval: wrote ${options.out}\n`);
    });
}

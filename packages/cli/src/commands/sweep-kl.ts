// `eecot sweep-kl`: the paper's appendix A.1 table. For each KL factor f (and the base model)
// the frozen model generates with exits sampled from the stage-1 target distribution itself;
// reports early-exit rate, ALS, judge-free coherence proxies, perplexity under the base model,
// and LLM-judge coherence when EECOT_JUDGE_URL / EECOT_JUDGE_MODEL are set.
import { writeFile, rename } from "node:fs/promises";
import type { Command } from "commander";
import { loadDataSpec } from "@eecot/datasets";
import { resolveEarlyExitConfig } from "@eecot/early-exit";
import { DEFAULT_KL_FACTORS, sweepKlFactors } from "@eecot/distill";
import { judgeConfigFromEnv } from "@eecot/eval";
import { createProgress, klSweepProgress } from "../progress.js";
import { loadModelFolder, requireTokenizer, startBackend } from "../setup.js";
import { examplePromptIds, parseLayerList } from "./calibrate.js";
import { bundledModelDir } from "../bundled.js";
import { integerFlag, positiveIntegerFlag } from "../flags.js";
import { JUDGE_RETRIES_HELP, JUDGE_TIMEOUT_HELP, judgeOverridesFromFlags } from "../judge-run.js";

interface SweepKlOptions {
  model?: string;
  data: string;
  factors: string;
  maxNewTokens: string;
  exitLayers?: string;
  batchSize: string;
  seed: string;
  out?: string;
  json?: boolean;
  judgeTimeout?: string;
  judgeRetries?: string;
}

export function registerSweepKl(program: Command): void {
  program
    .command("sweep-kl")
    .description("appendix A.1: generate with exits drawn from the KL-heuristic target for several factors f")
    .option("--model <dir>", "Hugging Face model folder (with tokenizer.json) (default: the bundled models/tiny-reasoner)")
    .requiredOption("--data <spec>", 'data spec of the prompts, e.g. "gsm-synthetic:32,tom:32"')
    .option("--factors <list>", "KL factors", DEFAULT_KL_FACTORS.join(","))
    .option("--max-new-tokens <n>", "generation limit", "96")
    .option("--exit-layers <list>", "exitable layers, e.g. 2,4,6 (default: the checkpoint's early_exit_layers, else every 5th)")
    .option("--batch-size <n>", "prompts per generation batch", "16")
    .option("--seed <s>", "seed of the exit draws", "0")
    .option("--out <file>", "write rows, settings and every generated text as JSON")
    .option("--json", "print one JSON document on stdout")
    .option("--judge-timeout <seconds>", JUDGE_TIMEOUT_HELP)
    .option("--judge-retries <n>", JUDGE_RETRIES_HELP)
    .action(async (options: SweepKlOptions, command: Command) => {
      options.model ??= bundledModelDir();
      // Flags and data are checked before the backend starts and the model loads.
      const factors = options.factors.split(",").map((s) => Number(s.trim()));
      if (factors.length === 0 || factors.some((f) => !Number.isFinite(f) || f <= 0)) throw new Error(`--factors must be comma-separated numbers > 0, got "${options.factors}"`);
      const maxNewTokens = positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens");
      const batchSize = positiveIntegerFlag(options.batchSize, "--batch-size");
      const seed = integerFlag(options.seed, "--seed");
      const requestedExitLayers = options.exitLayers ? parseLayerList(options.exitLayers, "--exit-layers") : undefined;
      const { examples } = loadDataSpec(options.data);
      if (examples.length === 0) throw new Error(`--data ${options.data} produced no examples`);
      const judge = judgeConfigFromEnv(process.env, judgeOverridesFromFlags(options));
      const backend = await startBackend(command);
      const loaded = await loadModelFolder(options.model);
      const tokenizer = requireTokenizer(loaded, "sweep-kl");
      const base = loaded.model;
      const exitLayers = resolveEarlyExitConfig(base.config, requestedExitLayers ? { exitLayers: requestedExitLayers } : {}).exitLayers;
      const settingsCount = factors.length + 1;
      const progress = createProgress("sweep-kl", settingsCount * examples.length, { unit: "prompts" });
      const started = performance.now();
      const result = await sweepKlFactors(
        base,
        exitLayers,
        examples.map((e) => ({ promptTokens: examplePromptIds(tokenizer, e), question: e.prompt })),
        {
          factors,
          maxNewTokens,
          stopTokenIds: tokenizer.eosTokenIds,
          padTokenId: tokenizer.padTokenId ?? 0,
          batchSize,
          seed,
          decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
          judge,
          onProgress: klSweepProgress(progress),
        },
      );
      progress.stop();
      const seconds = (performance.now() - started) / 1000;
      const document = {
        model: options.model,
        data: options.data,
        backend: backend.name,
        numLayers: result.numLayers,
        exitLayers: result.exitLayers,
        maxNewTokens,
        judge: judge ? { enabled: true, model: judge.model } : { enabled: false },
        seconds,
        klSweep: { promptCount: result.promptCount, rows: result.rows },
      };
      if (options.out) {
        const samples = result.details.map((d) => ({
          klFactor: d.klFactor,
          perplexity: d.perplexity,
          responses: d.sequences.map((s, i) => ({ prompt: examples[i]!.prompt, text: d.texts[i], tokens: s.tokens, exitLayers: s.exitLayers })),
        }));
        await writeFile(`${options.out}.tmp`, JSON.stringify({ ...document, samples }, null, 2) + "\n");
        await rename(`${options.out}.tmp`, options.out);
      }
      if (options.json) {
        process.stdout.write(JSON.stringify(document) + "\n");
        return;
      }
      const percent = (x: number) => `${(100 * (Math.abs(x) < 5e-5 ? 0 : x)).toFixed(1)}%`;
      const lines = [
        `A.1 sweep on ${result.promptCount} prompts, L = ${result.numLayers}, E = [${result.exitLayers.join(", ")}]${judge ? `, judge ${judge.model}` : " (judge off: set EECOT_JUDGE_URL and EECOT_JUDGE_MODEL)"}`,
        "f      early-exit   ALS     rep-3gram  distinct-3  perplexity" + (judge ? "  judge coherence" : ""),
        ...result.rows.map((row) => {
          const proxies = row.coherence.proxies!;
          return [
            String(row.klFactor).padEnd(6),
            percent(row.earlyExitRate).padStart(10),
            percent(row.averageLayerSavings).padStart(7),
            percent(proxies.words.repeatedNgramRate).padStart(10),
            percent(proxies.words.distinctN).padStart(11),
            (proxies.perplexity?.toFixed(2) ?? "n/a").padStart(11),
            ...(row.coherence.judge ? [row.coherence.judge.coherence.toFixed(2).padStart(16)] : []),
          ].join(" ");
        }),
      ];
      process.stdout.write(lines.join("\n") + "\n");
      if (options.out) process.stderr.write(`sweep-kl: wrote ${options.out}\n`);
    });
}

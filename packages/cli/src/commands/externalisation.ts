// `eecot externalisation`: does the answer depend on the written chain of thought? Early
// answering, no-CoT / filler / CoT accuracy, corrupted CoT and the depth of the load-bearing
// tokens (@eecot/eval), for the base model and each adapter given, with a resumable cache, a JSON
// record and an HTML report section.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { loadDataSpec } from "@eecot/datasets";
import { loadEarlyExitAdapters } from "@eecot/early-exit";
import { DEFAULT_FRACTIONS, measureExternalisation, writeReport, type ExternalisationRecord, type ExternalisationSection, type ExternalisationSummary, type ReportData } from "@eecot/eval";
import { currentBackend } from "@eecot/tensor-core";
import { writeJsonAtomic } from "../atomic-write.js";
import { bundledModelDir } from "../bundled.js";
import { externalisationProblem, modelAnswerer, openContinuationStore, readTaskAnswer } from "../externalisation-model.js";
import { integerFlag, positiveIntegerFlag } from "../flags.js";
import { makeOutputFolder } from "../run-folder.js";
import { createProgress, type Progress } from "../progress.js";
import { FRESH_HEADS_HELP, loadModelFolder, requireTokenizer, startBackend } from "../setup.js";
import { buildRunReport, REPORT_DATA_FILE } from "./report.js";

/** 30 GSM-style problems and 30 first-order ToM questions, seeds the demo never trains on. */
export const DEFAULT_EXTERNALISATION_DATA =
  "gsm-synthetic:30:seed=777:minSteps=1:maxSteps=2:minNumber=1:maxNumber=20:maxResult=99:operations=+-," +
  "tom:30:seed=777:order=1:questions=all:minPeople=2:maxPeople=3:minMoves=2:maxMoves=3";
const QUICK_DATA = "gsm-synthetic:3:seed=777:maxSteps=2:operations=+-:maxResult=99,tom:3:seed=777:order=1:questions=all:maxPeople=3:maxMoves=3";

interface ExternalisationOptions {
  model?: string;
  adapter: string[];
  freshHeads?: boolean;
  base: boolean;
  data?: string;
  out?: string;
  seed: string;
  batchSize: string;
  maxNewTokens: string;
  answerTokens: string;
  corruptions: string;
  fractions?: string;
  exits: string;
  intoRun?: string;
  quick?: boolean;
}

/** "LABEL=DIR" → { label, dir }, with errors that name the flag. */
export function parseAdapterFlag(value: string): { label: string; dir: string } {
  const at = value.indexOf("=");
  if (at <= 0 || at === value.length - 1) throw new Error(`--adapter must be LABEL=DIR (e.g. "stage 1=runs/x/stage1/adapter"), got ${JSON.stringify(value)}`);
  const label = value.slice(0, at).trim();
  const dir = value.slice(at + 1).trim();
  if (!existsSync(join(dir, "adapter_config.json"))) throw new Error(`--adapter ${JSON.stringify(value)}: ${join(dir, "adapter_config.json")} not found (pass an adapter folder written by eecot calibrate / rl / demo)`);
  return { label, dir };
}

function parseFractions(text: string): number[] {
  const values = text.split(",").map((s) => Number(s.trim()));
  if (values.length < 2 || values.some((v) => !(v >= 0 && v <= 1)) || values.some((v, i) => i > 0 && !(v > values[i - 1]!))) {
    throw new Error(`--fractions must be increasing numbers in [0, 1], at least two, e.g. "0,0.5,1"; got ${JSON.stringify(text)}`);
  }
  return values;
}

const summaryOf = ({ details: _details, ...summary }: ExternalisationRecord): ExternalisationSummary => summary;

/** The terminal table: one column per model. */
export function formatExternalisationTable(records: readonly ExternalisationSummary[]): string {
  const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : "—");
  const rows: [string, (r: ExternalisationSummary) => string][] = [
    ["CoT accuracy", (r) => pct(r.cotAccuracy)],
    ["no-CoT accuracy", (r) => pct(r.noCotAccuracy)],
    ["filler accuracy", (r) => pct(r.fillerAccuracy)],
    ["early answering AOC", (r) => r.earlyAnswering.areaOverCurve.toFixed(3)],
    ["corruption changes answer", (r) => `${pct(r.corruption.changedRate)} /${r.corruption.corruptions}`],
    ["follows corrupted result", (r) => `${pct(r.corruption.carried.followsRate)} /${r.corruption.carried.corruptions}`],
    ["compute: all CoT tokens", (r) => pct(r.depth.all.meanCompute)],
    ["compute: load-bearing", (r) => `${pct(r.depth.loadBearing.meanCompute)} /${r.depth.loadBearing.tokens}`],
    ["compute: inert", (r) => `${pct(r.depth.inert.meanCompute)} /${r.depth.inert.tokens}`],
    ["mean CoT tokens", (r) => r.meanCotTokens.toFixed(1)],
    ["measured / problems", (r) => `${r.measured}/${r.problems}`],
  ];
  const widths = [Math.max(...rows.map(([n]) => n.length)), ...records.map((r) => Math.max(r.label.length, 12))];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(["measure", ...records.map((r) => r.label)]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(([name, get]) => line([name, ...records.map(get)]))].join("\n");
}

export function registerExternalisation(program: Command): void {
  program
    .command("externalisation")
    .description("beyond the paper: does the answer depend on the written CoT? early answering, no-CoT/filler/CoT accuracy, corrupted CoT, depth of load-bearing tokens")
    .option("--model <dir>", "Hugging Face model folder (default: the bundled models/tiny-reasoner)")
    .option("--adapter <label=dir>", 'a model to measure besides the base model, e.g. "stage 1=runs/x/stage1/adapter" (repeatable, in column order)', (value: string, all: string[]) => [...all, value], [] as string[])
    .option("--fresh-heads", FRESH_HEADS_HELP)
    .option("--no-base", "leave out the base model (exits and LoRA off)")
    .option("--data <spec>", "problems (default: 30 GSM-style + 30 first-order ToM on held-out seeds)")
    .option("--out <dir>", "output folder: externalisation.json, cache.jsonl, report/ (default runs/externalisation-<timestamp>)")
    .option("--seed <s>", "seed of exits and corruption choices", "0")
    .option("--batch-size <n>", "requests per model call", "16")
    .option("--max-new-tokens <n>", "length limit of an answer and of a regeneration after a corruption", "64")
    .option("--answer-tokens <n>", "length limit of a forced answer", "8")
    .option("--corruptions <n>", "corruptions per problem", "4")
    .option("--fractions <list>", "CoT fractions for early answering (default 0,0.1,…,1)")
    .option("--exits <mode>", "exit rule of the adapters: sample or threshold", "sample")
    .option("--into-run <dir>", "also add the section to that run's report (a folder written by eecot demo)")
    .option("--quick", "6 problems, 3 fractions, 2 corruptions each: a smoke run")
    .action(async (options: ExternalisationOptions, command: Command) => {
      const started = performance.now();
      // Every flag is checked before the model loads.
      const adapters = options.adapter.map(parseAdapterFlag);
      const variants = [...(options.base ? [{ label: "base", dir: null as string | null }] : []), ...adapters];
      if (variants.length === 0) throw new Error("nothing to measure: --no-base and no --adapter");
      const labels = variants.map((v) => v.label);
      if (new Set(labels).size !== labels.length) throw new Error(`--adapter labels must differ, got ${labels.join(", ")}`);
      if (!["sample", "threshold"].includes(options.exits)) throw new Error(`--exits must be "sample" or "threshold", got ${JSON.stringify(options.exits)}`);
      const quick = options.quick ?? false;
      const settings = {
        seed: integerFlag(options.seed, "--seed"),
        batchSize: positiveIntegerFlag(options.batchSize, "--batch-size"),
        maxNewTokens: positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens"),
        answerTokens: positiveIntegerFlag(options.answerTokens, "--answer-tokens"),
        corruptionsPerProblem: quick ? 2 : positiveIntegerFlag(options.corruptions, "--corruptions"),
        fractions: options.fractions !== undefined ? parseFractions(options.fractions) : quick ? [0, 0.5, 1] : [...DEFAULT_FRACTIONS],
      };
      if (options.intoRun !== undefined && !existsSync(join(options.intoRun, REPORT_DATA_FILE))) throw new Error(`--into-run: ${join(options.intoRun, REPORT_DATA_FILE)} not found (pass a run folder written by eecot demo)`);
      const dataSpec = options.data ?? (quick ? QUICK_DATA : DEFAULT_EXTERNALISATION_DATA);
      const problems = loadDataSpec(dataSpec).examples.map(externalisationProblem);
      const out = options.out ?? join("runs", `externalisation-${new Date().toISOString().replace(/[:.]/g, "-")}`);

      await makeOutputFolder(out);
      await startBackend(command);
      const modelDir = options.model ?? bundledModelDir();
      const loaded = await loadModelFolder(modelDir);
      const tokenizer = requireTokenizer(loaded, "externalisation");
      const store = await openContinuationStore(join(out, "cache.jsonl"));
      process.stderr.write(`externalisation: ${problems.length} problems × ${variants.length} models → ${out}${store.size > 0 ? ` (resuming: ${store.size} cached batches)` : ""}\n`);

      const records: ExternalisationRecord[] = [];
      const durations: { stage: string; seconds: number }[] = [];
      for (const variant of variants) {
        const t0 = performance.now();
        const model = variant.dir === null ? null : await loadEarlyExitAdapters(variant.dir, loaded.model, { allowMissingHeads: options.freshHeads === true });
        const answerer = modelAnswerer(loaded.model, model, tokenizer, { id: variant.dir ?? "base", exitMode: options.exits as "sample" | "threshold" });
        let progress: Progress | null = null;
        let phase = "";
        try {
          records.push(
            await measureExternalisation(variant.label, answerer, problems, readTaskAnswer, {
              ...settings,
              store,
              onProgress: (name, done, total) => {
                if (name !== phase) {
                  progress?.stop();
                  phase = name;
                  progress = createProgress(`${variant.label}: ${name}`, total, { unit: "requests" });
                }
                progress!.update(done);
              },
            }),
          );
        } finally {
          (progress as Progress | null)?.stop();
          answerer.dispose();
          model?.dispose();
        }
        durations.push({ stage: variant.label, seconds: (performance.now() - t0) / 1000 });
      }

      const seconds = (performance.now() - started) / 1000;
      const description = `${dataSpec}; exits ${options.exits}, greedy tokens, seed ${settings.seed}`;
      await writeJsonAtomic(join(out, "externalisation.json"), { model: modelDir, data: dataSpec, settings, variants: variants.map((v) => ({ label: v.label, adapter: v.dir })), seconds, durations, records });
      const section: ExternalisationSection = { problemCount: problems.length, description, variants: records.map(summaryOf) };
      const report: ReportData = {
        title: `Externalisation: ${modelDir}`,
        run: {
          model: modelDir,
          date: new Date().toISOString(),
          seed: settings.seed,
          backend: currentBackend()?.name ?? "unknown",
          durations,
          numLayers: loaded.model.config.numLayers,
          dataset: `${problems.length} problems (${dataSpec})`,
          settings: { ...settings, fractions: settings.fractions.join(", "), exits: options.exits },
          notes: [`total ${(seconds / 60).toFixed(1)} minutes`, ...variants.map((v) => `${v.label}: ${v.dir ?? "base model, exits and LoRA off"}`)],
        },
        judge: { enabled: false },
        externalisation: section,
      };
      const written = await writeReport(join(out, "report"), report, { onWarning: (w) => process.stderr.write(`report: ${w}\n`) });
      if (options.intoRun !== undefined) {
        const file = join(options.intoRun, REPORT_DATA_FILE);
        const runData = JSON.parse(await readFile(file, "utf8")) as ReportData;
        const merged: ReportData = { ...runData, externalisation: section };
        await writeJsonAtomic(file, merged);
        process.stderr.write(`externalisation: added to ${await buildRunReport(options.intoRun, merged)}\n`);
      }
      process.stdout.write(`${formatExternalisationTable(section.variants)}\n\nexternalisation finished in ${(seconds / 60).toFixed(1)} minutes: ${join(out, "externalisation.json")}, report ${written.htmlPath}\n`);
    });
}

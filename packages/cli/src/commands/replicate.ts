// `eecot replicate fig2`: the paper's Figure 2 on a model (default: the bundled one): stage 1
// once, five RL seeds at λ 1.5 and a λ sweep, every run evaluated on the same held-out prompts,
// then the four-panel figure (PNG + SVG) and its numbers (JSON + Markdown). Resumable: run the
// same command again and it continues where it stopped; --jobs N splits the RL runs over N
// processes (one per core: the wasm backend uses one thread).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { loadResvgRasterizer } from "@eecot/eval";
import { writeFileAtomic as writeAtomic } from "../atomic-write.js";
import { bundledModelDir } from "../bundled.js";
import { fig2Config, FIG2_EXIT_OFFSET, FIG2_KL_FACTOR } from "../fig2/config.js";
import { fig2FigureSvg, fig2SweepSvg, formatFig2Summary, summarizeFig2, type Fig2Summary } from "../fig2/figure.js";
import { collectFig2Runs, fig2Rl, fig2Runs, fig2Stage1, parseShard, shardRuns, type Fig2Config, type Fig2RunRecord, type Stage1Summary } from "../fig2/run.js";
import { integerFlag, numberFlag, positiveIntegerFlag } from "../flags.js";
import { createProgress } from "../progress.js";
import { loadModelFolder, requireTokenizer, startBackend, TRAINING_WORKLOAD } from "../setup.js";

interface ReplicateOptions {
  model?: string;
  out?: string;
  quick?: boolean;
  jobs: string;
  shard?: string;
  steps?: string;
  sweepSteps?: string;
  klFactor?: string;
  exitOffset?: string;
  exitPenalty?: string;
  sweep?: string;
  figure: boolean;
}

/** What fixes a replication's results; a second start on the folder must agree with the first. */
interface Fig2Identity {
  readonly model: string;
  readonly quick: boolean;
  readonly klFactor: number;
  readonly exitOffset: number;
  readonly mainSteps: number;
  readonly sweepSteps: number;
  readonly mainPenalty: number;
  readonly sweepPenalties: readonly number[];
}

export const FIG2_FILES = { identity: "replication.json", json: "fig2.json", svg: "fig2.svg", png: "fig2.png", sweepSvg: "fig2-sweep.svg", sweepPng: "fig2-sweep.png", markdown: "fig2.md" } as const;

/** Refuse a folder started with other settings (naming each), else record the settings. */
async function checkIdentity(dir: string, identity: Fig2Identity): Promise<void> {
  const path = join(dir, FIG2_FILES.identity);
  if (existsSync(path)) {
    const before = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    const changed = Object.entries(identity).filter(([key, value]) => JSON.stringify(before[key]) !== JSON.stringify(value));
    if (changed.length > 0) {
      throw new Error(
        `replicate fig2: ${dir} holds a replication started with other settings (${changed.map(([k, v]) => `${k} ${JSON.stringify(before[k])} → ${JSON.stringify(v)}`).join(", ")}); ` +
          `use a new --out, or the first run's flags to continue it`,
      );
    }
    return;
  }
  await mkdir(dir, { recursive: true });
  await writeAtomic(path, JSON.stringify(identity, null, 2) + "\n");
}

/** RL steps logged so far over all runs (the parent's progress while children train). */
async function stepsDone(dir: string): Promise<number> {
  const rlDir = join(dir, "rl");
  if (!existsSync(rlDir)) return 0;
  let done = 0;
  for (const name of await readdir(rlDir)) {
    const file = join(rlDir, name, "rl-metrics.jsonl");
    if (!existsSync(file)) continue;
    const text = await readFile(file, "utf8");
    done += new Set(text.split("\n").filter((l) => l.includes('"type":"step"')).map((l) => /"step":(\d+)/.exec(l)?.[1])).size;
  }
  return done;
}

/** The `eecot` entry point next to this module (source under tsx, or the built bin), whatever started this process (e.g. examples/tiny-fig2/run.ts). */
function cliScript(): string {
  for (const relative of ["../bin.ts", "./bin.js", "../bin.js"]) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`replicate fig2 --jobs: cannot find the eecot entry point next to ${fileURLToPath(import.meta.url)}; run the shards yourself with --shard i/n`);
}

/** Run the shards as child processes of this same command, each logging to <dir>/logs/shard-i.log. */
async function runShards(dir: string, jobs: number, argv: readonly string[], totalSteps: number): Promise<void> {
  await mkdir(join(dir, "logs"), { recursive: true });
  const script = cliScript();
  const progress = createProgress(`fig2 RL over ${jobs} processes`, totalSteps, { unit: "steps", initial: await stepsDone(dir) });
  const timer = setInterval(() => {
    void stepsDone(dir).then((n) => progress.update(n));
  }, 5000);
  try {
    await Promise.all(
      Array.from({ length: jobs }, async (_, index) => {
        const log = join(dir, "logs", `shard-${index}.log`);
        const handle = await open(log, "a");
        try {
          const code = await new Promise<number | null>((resolve, reject) => {
            const child = spawn(process.execPath, [...process.execArgv, script, ...argv, "--shard", `${index}/${jobs}`, "--no-figure"], { stdio: ["ignore", handle.fd, handle.fd], env: { ...process.env, EECOT_QUIET: process.env.EECOT_QUIET ?? "" } });
            child.on("error", reject);
            child.on("exit", (c) => resolve(c));
          });
          if (code !== 0) throw new Error(`replicate fig2: shard ${index}/${jobs} exited with ${code}; see ${log}`);
        } finally {
          await handle.close();
        }
      }),
    );
  } finally {
    clearInterval(timer);
    progress.update(await stepsDone(dir));
    progress.stop();
  }
}

/** Write fig2.json, fig2.md, the SVGs and their PNGs. */
export async function writeFig2Outputs(dir: string, config: Fig2Config, stage1: Stage1Summary, records: readonly Fig2RunRecord[], meta: Record<string, unknown>): Promise<{ summary: Fig2Summary; files: string[] }> {
  const summary = summarizeFig2(records, stage1, { mainPenalty: config.mainPenalty, sweepStep: config.sweep.steps });
  const title = `Figure 2 on ${String(meta.model)}: ${summary.seeds.length} RL seeds at λ ${config.mainPenalty} (light), their mean (bold), base model (dashed)`;
  const svg = fig2FigureSvg(records, stage1, { title, mainPenalty: config.mainPenalty });
  const sweepSvg = fig2SweepSvg(summary.sweep);
  const files = [join(dir, FIG2_FILES.json), join(dir, FIG2_FILES.markdown), join(dir, FIG2_FILES.svg), join(dir, FIG2_FILES.sweepSvg)];
  await writeAtomic(files[0]!, JSON.stringify({ ...meta, stage1, summary, runs: records }, null, 2) + "\n");
  await writeAtomic(files[1]!, `# ${title}\n\n${formatFig2Summary(summary)}\n`);
  await writeAtomic(files[2]!, svg);
  await writeAtomic(files[3]!, sweepSvg);
  try {
    const rasterize = await loadResvgRasterizer();
    await writeAtomic(join(dir, FIG2_FILES.png), rasterize(svg));
    await writeAtomic(join(dir, FIG2_FILES.sweepPng), rasterize(sweepSvg));
    files.push(join(dir, FIG2_FILES.png), join(dir, FIG2_FILES.sweepPng));
  } catch (error) {
    process.stderr.write(`replicate fig2: PNGs skipped (${(error as Error).message}); the SVGs are written\n`);
  }
  return { summary, files };
}

export function registerReplicate(program: Command): void {
  const replicate = program.command("replicate").description("reproduce one of the paper's results");
  replicate
    .command("fig2")
    .description(
      "Figure 2: stage 1, then five RL seeds at λ 1.5 and a λ sweep {0, 0.5, 1.5, 3} × 2 seeds, each evaluated every 20 steps on 60 held-out prompts; " +
        "writes fig2.png/svg/json/md into --out. Resumable (run it again); ~1.5 h on 2 cores with --jobs 2",
    )
    .option("--model <dir>", "Hugging Face model folder (default: the bundled tiny model)")
    .option("--out <dir>", "output folder (default runs/fig2, or runs/fig2-quick with --quick)")
    .option("--quick", "a seconds-long version with the same structure (tests, smoke checks)")
    .option("--jobs <n>", "processes to split the RL runs over (wasm is single-threaded: one per core)", "1")
    .option("--shard <i/n>", "run only shard i of n of the RL runs (what --jobs starts; no figure unless all are done)")
    .option("--steps <n>", "RL steps of each main run (default 200, quick 2)")
    .option("--sweep-steps <n>", "RL steps of each λ-sweep run (default 100, quick 1)")
    .option("--kl-factor <f>", `stage-1 KL factor (default ${FIG2_KL_FACTOR}, chosen by measurement: see examples/tiny-fig2/README.md)`)
    .option("--exit-offset <o>", `exit offset of the stage-1 policy RL starts from (default ${FIG2_EXIT_OFFSET})`)
    .option("--exit-penalty <λ>", "λ of the five main runs (default 1.5)")
    .option("--sweep <list>", 'λ values of the sweep, e.g. "0,0.5,1.5,3" (the default), or "none"')
    .option("--no-figure", "train only; leave the figure to a later run")
    .action(async (options: ReplicateOptions, command: Command) => {
      const jobs = positiveIntegerFlag(options.jobs, "--jobs");
      const shard = options.shard === undefined ? undefined : parseShard(options.shard);
      const dials = {
        ...(options.steps !== undefined ? { rlSteps: positiveIntegerFlag(options.steps, "--steps") } : {}),
        ...(options.sweepSteps !== undefined ? { sweepSteps: positiveIntegerFlag(options.sweepSteps, "--sweep-steps") } : {}),
        ...(options.klFactor !== undefined ? { klFactor: numberFlag(options.klFactor, "--kl-factor", { above: 0 }) } : {}),
        ...(options.exitOffset !== undefined ? { exitOffset: integerFlag(options.exitOffset, "--exit-offset") } : {}),
        ...(options.exitPenalty !== undefined ? { mainPenalty: numberFlag(options.exitPenalty, "--exit-penalty", { min: 0 }) } : {}),
        ...(options.sweep !== undefined ? { sweepPenalties: options.sweep === "none" ? [] : options.sweep.split(",").map((v) => numberFlag(v.trim(), "--sweep", { min: 0 })) } : {}),
      };
      if (shard && jobs > 1) throw new Error("replicate fig2: give --jobs or --shard, not both");
      const quick = options.quick === true;
      const config = fig2Config(quick, dials);
      const dir = options.out ?? (quick ? "runs/fig2-quick" : "runs/fig2");
      const modelDir = options.model ?? bundledModelDir();
      const identity: Fig2Identity = { model: options.model ?? "bundled", quick, klFactor: config.distill.klFactor ?? 1, exitOffset: config.exitOffset, mainSteps: config.mainSteps, sweepSteps: config.sweep.steps, mainPenalty: config.mainPenalty, sweepPenalties: config.sweep.penalties };
      await checkIdentity(dir, identity);
      const started = performance.now();
      await startBackend(command);
      const loaded = await loadModelFolder(modelDir, TRAINING_WORKLOAD);
      const tokenizer = requireTokenizer(loaded, "--model");
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const stage1 = await fig2Stage1(loaded.model, tokenizer, config, dir, log);
      const runs = fig2Runs(config);
      if (jobs > 1) {
        const passOn = [...(quick ? ["--quick"] : []), "--out", dir, ...(options.model ? ["--model", options.model] : []), ...Object.entries({ "--steps": options.steps, "--sweep-steps": options.sweepSteps, "--kl-factor": options.klFactor, "--exit-offset": options.exitOffset, "--exit-penalty": options.exitPenalty, "--sweep": options.sweep }).flatMap(([k, v]) => (v === undefined ? [] : [k, v]))];
        const backend = (command.optsWithGlobals() as { backend?: string }).backend;
        await runShards(dir, jobs, [...(backend ? ["--backend", backend] : []), "replicate", "fig2", ...passOn], runs.reduce((n, r) => n + r.steps, 0));
      } else {
        let stop = false;
        const onSignal = () => {
          stop = true;
          log("replicate fig2: stopping after this step (run the command again to continue)");
        };
        process.once("SIGINT", onSignal);
        try {
          await fig2Rl(loaded.model, tokenizer, config, dir, { ...(shard ? { shard } : {}), shouldStop: () => stop, log });
        } finally {
          process.off("SIGINT", onSignal);
        }
        if (shard) log(`replicate fig2: shard ${shard.index}/${shard.count} done (${shardRuns(runs, shard).map((r) => r.name).join(", ")})`);
      }
      if (!options.figure) return;
      const records = await collectFig2Runs(config, dir);
      const unfinished = records.filter((r) => !r.finished).map((r) => r.name);
      if (unfinished.length > 0) log(`replicate fig2: not finished yet: ${unfinished.join(", ")} (the figure shows what they have)`);
      const seconds = records.reduce((s, r) => s + r.seconds, 0) + stage1.seconds;
      const { summary, files } = await writeFig2Outputs(dir, config, stage1, records, {
        model: options.model ?? "bundled tiny-reasoner",
        identity,
        heldOutPrompts: config.heldOutExamples.length,
        rolloutsPerStep: (config.rloo.promptsPerStep ?? 0) * (config.rloo.samplesPerPrompt ?? 0),
        evalEvery: config.rloo.evalEvery,
        processSeconds: seconds,
        wallSecondsThisInvocation: (performance.now() - started) / 1000,
      });
      process.stdout.write(`${formatFig2Summary(summary)}\n\nfigure: ${files.join(", ")}\n`);
    });
}

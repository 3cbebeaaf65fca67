// SIGKILL fault script (issue 19): starts `eecot calibrate` and `eecot rl` on the bundled model
// with tiny settings, kills each with SIGKILL at random moments (half of them while a checkpoint
// is being written: as soon as a temporary checkpoint folder appears), resumes each time, and
// compares the final adapter, exit heads, optimizer state and metrics with an uninterrupted run of
// the same seed. After every kill every checkpoint in the folder is loaded (safetensors with the
// finite check, state.json, the calibrate adapters onto the model). Prints the counts; exits 1 on
// any difference or unloadable checkpoint.
//
//   nice -n 10 npx -y pnpm@10 exec tsx scripts/faults.ts [--kills 10] [--seed 1] [--only calibrate|rl] [--work DIR]
//
// Not part of the test suite (a few minutes on 2 cores); the in-suite variants are
// packages/cli/src/rl-run.test.ts and packages/distill/src/calibrate.test.ts (interrupted + resumed
// == uninterrupted) and packages/cli/src/run-lock.test.ts (a SIGKILLed holder's lock).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { initBackend, openSafetensors, Rng } from "@eecot/tensor-core";
import { loadQwenModel, disposeModel, type QwenModel } from "@eecot/transformer";
import { loadEarlyExitAdapters } from "@eecot/early-exit";

const repo = fileURLToPath(new URL("..", import.meta.url));
const bin = join(repo, "packages", "cli", "src", "bin.ts");
const { values: flags } = parseArgs({ options: { kills: { type: "string", default: "10" }, seed: { type: "string", default: "1" }, only: { type: "string" }, work: { type: "string" } } });
const kills = Number(flags.kills);
const rng = new Rng(Number(flags.seed));

interface RunOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  readonly seconds: number;
  /** Whether a temporary checkpoint folder existed when the kill was sent. */
  readonly duringCheckpoint: boolean;
}

/** One `eecot` process (node --import tsx, so the pid killed is the command's own); killed after `killAfter` ms or when a checkpoint write starts. */
function eecot(args: readonly string[], kill: { readonly afterMs?: number; readonly duringCheckpointOf?: string; readonly latestMs?: number } = {}): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(process.execPath, ["--import", "tsx", bin, "--backend", "wasm", ...args], { cwd: repo, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let duringCheckpoint = false;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    // This process's own temporary checkpoint folder (.step-NNNNNN.tmp-<pid>-…), not one a killed run left.
    const checkpointWriteInProgress = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).some((n) => n.startsWith(".step-") && n.includes(`.tmp-${child.pid}-`));
    const killNow = async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (kill.duringCheckpointOf) duringCheckpoint = await checkpointWriteInProgress(kill.duringCheckpointOf);
      child.kill("SIGKILL");
    };
    if (kill.afterMs !== undefined) timer = setTimeout(() => void killNow(), kill.afterMs);
    if (kill.duringCheckpointOf) {
      const dir = kill.duringCheckpointOf;
      const tick = async () => {
        if (await checkpointWriteInProgress(dir)) {
          duringCheckpoint = true;
          child.kill("SIGKILL");
          return;
        }
        if (child.exitCode === null && child.signalCode === null) poll = setTimeout(() => void tick(), 2);
      };
      void tick();
      if (kill.latestMs !== undefined) timer = setTimeout(() => void killNow(), kill.latestMs);
    }
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      clearTimeout(poll);
      resolve({ code, signal, stderr, seconds: (performance.now() - started) / 1000, duringCheckpoint });
    });
  });
}

/** Every file under `dir` (relative path → bytes). */
async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  if (!existsSync(dir)) return out;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out.set(relative(dir, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return out;
}

function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): string | null {
  const names = new Set([...a.keys(), ...b.keys()]);
  for (const name of names) {
    if (!a.has(name) || !b.has(name)) return `${name} only in one`;
    if (!a.get(name)!.equals(b.get(name)!)) return `${name} differs`;
  }
  return null;
}

/** Load every checkpoint of a folder; returns the number loaded, throws on the first that fails. */
async function loadAllCheckpoints(outDir: string, base: QwenModel, kind: "calibrate" | "rl"): Promise<number> {
  const dir = join(outDir, "checkpoints");
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^step-\d+$/.test(n));
  for (const name of names) {
    const folder = join(dir, name);
    JSON.parse(await readFile(join(folder, "state.json"), "utf8"));
    for (const [file] of await filesOf(folder)) {
      if (!file.endsWith(".safetensors")) continue;
      const tensors = await openSafetensors(join(folder, file));
      await tensors.readMany(tensors.tensorNames); // the finite check included
    }
    if (kind === "calibrate") (await loadEarlyExitAdapters(join(folder, "adapter"), base)).dispose();
  }
  return names.length;
}

/** metrics.jsonl without its timings and with the folder's name replaced. */
const normalisedMetrics = async (path: string, outDir: string) =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.stringify({ ...(JSON.parse(l.replaceAll(outDir, "OUT")) as Record<string, unknown>), seconds: undefined }))
    .join("\n");

const newest = async (outDir: string) => (await readdir(join(outDir, "checkpoints"))).filter((n) => /^step-\d+$/.test(n)).sort().at(-1)!;

/** The results that must be bit-identical between a reference run and a killed-and-resumed one. */
async function results(outDir: string, kind: "calibrate" | "rl"): Promise<Record<string, Map<string, Buffer> | string>> {
  const last = join(outDir, "checkpoints", await newest(outDir));
  if (kind === "calibrate") {
    return {
      adapter: await filesOf(join(outDir, "adapter")),
      "last checkpoint (adapter, heads, optimizer, state)": await filesOf(last),
      "metrics.jsonl (without timings)": await normalisedMetrics(join(outDir, "metrics.jsonl"), outDir),
      "calibration.json (report)": JSON.stringify((JSON.parse(await readFile(join(outDir, "calibration.json"), "utf8")) as { calibration: unknown }).calibration),
    };
  }
  return {
    adapter: await filesOf(join(outDir, "adapter")),
    "last checkpoint (policy, optimizer, state)": await filesOf(last),
    "rl-metrics.jsonl": await readFile(join(outDir, "rl-metrics.jsonl"), "utf8"),
  };
}

function compare(reference: Awaited<ReturnType<typeof results>>, run: Awaited<ReturnType<typeof results>>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(reference)) {
    const other = run[key]!;
    const problem = typeof value === "string" ? (value === other ? null : "differs") : sameFiles(value, other as Map<string, Buffer>);
    if (problem) problems.push(`${key}: ${problem}`);
  }
  return problems;
}

interface Tally {
  kills: number;
  duringCheckpoint: number;
  resumes: number;
  chains: number;
  checkpointsLoaded: number;
  staleLocksTakenOver: number;
  identical: number;
  problems: string[];
}

async function campaign(kind: "calibrate" | "rl", args: (out: string) => string[], work: string, base: QwenModel): Promise<Tally> {
  const tally: Tally = { kills: 0, duringCheckpoint: 0, resumes: 0, chains: 0, checkpointsLoaded: 0, staleLocksTakenOver: 0, identical: 0, problems: [] };
  const referenceDir = join(work, `${kind}-reference`);
  // A finished reference in --work is reused (its time read from the file recorded with it).
  const timing = join(work, `${kind}-reference.seconds`);
  let reference: { seconds: number };
  if (existsSync(join(referenceDir, "adapter")) && existsSync(timing)) reference = { seconds: Number(await readFile(timing, "utf8")) };
  else {
    await rm(referenceDir, { recursive: true, force: true });
    const outcome = await eecot(args(referenceDir));
    if (outcome.code !== 0) throw new Error(`${kind} reference run failed:\n${outcome.stderr}`);
    await writeFile(timing, String(outcome.seconds));
    reference = outcome;
  }
  const expected = await results(referenceDir, kind);
  process.stdout.write(`${kind}: reference run ${reference.seconds.toFixed(1)} s\n`);
  while (tally.kills < kills) {
    const out = join(work, `${kind}-chain-${++tally.chains}`);
    await rm(out, { recursive: true, force: true });
    let resume = false;
    for (;;) {
      const killHere = tally.kills < kills;
      const inCheckpoint = killHere && tally.kills % 2 === 1;
      const outcome = await eecot([...args(out), ...(resume ? ["--resume"] : [])], !killHere ? {} : inCheckpoint ? { duringCheckpointOf: join(out, "checkpoints"), latestMs: reference.seconds * 1000 } : { afterMs: rng.uniform() * reference.seconds * 1000 });
      if (resume) tally.resumes++;
      tally.staleLocksTakenOver += (outcome.stderr.match(/taking over the stale lock/g) ?? []).length;
      if (outcome.signal === "SIGKILL") {
        tally.kills++;
        if (outcome.duringCheckpoint) tally.duringCheckpoint++;
        try {
          tally.checkpointsLoaded += await loadAllCheckpoints(out, base, kind);
        } catch (error) {
          tally.problems.push(`${out}: a checkpoint failed to load after kill ${tally.kills}: ${(error as Error).message}`);
        }
        process.stdout.write(`${kind}: kill ${tally.kills} after ${outcome.seconds.toFixed(1)} s${outcome.duringCheckpoint ? " (inside a checkpoint write)" : ""}\n`);
        resume = true;
        continue;
      }
      if (outcome.code !== 0) {
        tally.problems.push(`${out}: run exited with ${outcome.code}:\n${outcome.stderr.slice(-2000)}`);
        break;
      }
      const problems = compare(expected, await results(out, kind));
      if (problems.length === 0) tally.identical++;
      else tally.problems.push(`${out}: ${problems.join("; ")}`);
      process.stdout.write(`${kind}: chain ${tally.chains} finished: ${problems.length === 0 ? "bit-identical to the reference" : problems.join("; ")}\n`);
      break;
    }
  }
  return tally;
}

async function main(): Promise<void> {
  await initBackend({ backend: "wasm", quiet: true });
  const base = await loadQwenModel(join(repo, "models", "tiny-reasoner"));
  const work = flags.work ?? (await mkdtemp(join(tmpdir(), "eecot-faults-")));
  await mkdir(work, { recursive: true });
  const cache = join(work, "teacher-cache");
  const calibrateArgs = (out: string) => ["calibrate", "--data", "tom:6", "--steps", "8", "--checkpoint-every", "2", "--max-new-tokens", "6", "--held-out", "2", "--seed", "5", "--cache", cache, "--out", out];
  const tallies: Record<string, Tally> = {};
  if (flags.only !== "rl") tallies.calibrate = await campaign("calibrate", calibrateArgs, work, base);
  const adapter = join(work, "calibrate-reference", "adapter");
  if (!existsSync(adapter)) {
    const made = await eecot(calibrateArgs(join(work, "calibrate-reference")));
    if (made.code !== 0) throw new Error(`calibrate for the rl adapter failed:\n${made.stderr}`);
  }
  const rlArgs = (out: string) => ["rl", "--adapter", adapter, "--data", "tom:3,gsm-synthetic:3:maxSteps=1", "--eval-data", "tom:2", "--steps", "6", "--prompts-per-step", "1", "--samples-per-prompt", "2", "--max-new-tokens", "6", "--eval-every", "3", "--checkpoint-every", "2", "--keep-checkpoints", "2", "--seed", "9", "--out", out];
  if (flags.only !== "calibrate") tallies.rl = await campaign("rl", rlArgs, work, base);
  disposeModel(base);
  process.stdout.write("\ncommand     kills  in-checkpoint  resumes  chains  identical  checkpoints-loaded  stale-locks  problems\n");
  for (const [kind, t] of Object.entries(tallies)) {
    process.stdout.write(`${kind.padEnd(10)}  ${String(t.kills).padStart(5)}  ${String(t.duringCheckpoint).padStart(13)}  ${String(t.resumes).padStart(7)}  ${String(t.chains).padStart(6)}  ${String(t.identical).padStart(9)}  ${String(t.checkpointsLoaded).padStart(18)}  ${String(t.staleLocksTakenOver).padStart(11)}  ${t.problems.length}\n`);
    for (const problem of t.problems) process.stdout.write(`  ${problem}\n`);
  }
  if (!flags.work) await rm(work, { recursive: true, force: true });
  if (Object.values(tallies).some((t) => t.problems.length > 0)) process.exitCode = 1;
}

await main();

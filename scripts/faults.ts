// SIGKILL fault script (issue 19): starts `eecot calibrate` and `eecot rl` on the bundled model
// with tiny settings, kills each with SIGKILL while it is live and mid-work, resumes each time, and
// compares the final adapter, exit heads, optimizer state, metrics and printed summary with an
// uninterrupted run of the same seed.
//
// Kill moments come from the live run, not from a clock guess:
//   - "random moment" kills: from the moment the run holds its folder's lock (run.lock with its
//     pid), uniform over the time this attempt still has to run, estimated from
//     the reference run's timeline (when each checkpoint appeared, when it ended), the measured
//     start-up of earlier resumed attempts, and rescaled by every attempt that outlived its kill;
//   - "write" kills: the run folder is polled every 2 ms; a chosen checkpoint write (or the final
//     adapter write) is killed when its temporary folder holds a chosen number of entries (0 = just
//     made, up to all the files it held in the reference run: so inside each file's write too).
// After each kill the run folder says what was interrupted (a temporary checkpoint folder and
// which of its files exist, the last metrics record, the run's log lines), and the kill is
// tallied under that phase (teacher answers, head warm-up, joint step N, RL step N, held-out
// eval, checkpoint write, final adapter write...). A kill that lands after the run's work was done
// (its report written, the process exiting) or after the process ended is not counted as a kill.
// After every kill every checkpoint in the folder is loaded (safetensors with the finite check,
// state.json, the calibrate adapters onto the model); after every resumed chain the folder must
// hold no temporary file. Prints the counts; exits 1 on any difference, unloadable checkpoint or
// leftover temporary.
//
//   nice -n 10 npx -y pnpm@10 exec tsx scripts/faults.ts [--kills 10] [--kills-per-chain 3] [--seed 1] [--only calibrate|rl] [--work DIR]
//
// Not part of the test suite (about five minutes on 2 cores); the in-suite variants are
// packages/cli/src/rl-run.test.ts and packages/distill/src/calibrate.test.ts (interrupted + resumed
// == uninterrupted) and packages/cli/src/run-lock.test.ts (a SIGKILLed holder's lock).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
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
const { values: flags } = parseArgs({ options: { kills: { type: "string", default: "10" }, "kills-per-chain": { type: "string", default: "3" }, seed: { type: "string", default: "1" }, only: { type: "string" }, work: { type: "string" } } });
const kills = Number(flags.kills);
// A chain (one run folder) takes at most this many kills, then runs to its end: more chains, each fresh start through teacher answers and warm-up again.
const killsPerChain = Number(flags["kills-per-chain"]);
const rng = new Rng(Number(flags.seed));
const POLL_MS = 2;

type Kind = "calibrate" | "rl";

/** The settings of one campaign that the phase of a kill depends on. */
interface Plan {
  readonly kind: Kind;
  readonly steps: number;
  readonly checkpointEvery: number;
  readonly evalEvery: number;
  readonly headWarmup: number;
  readonly args: (out: string) => string[];
}

/** When to kill an attempt: at a time, or inside a write (a checkpoint's step, or the final adapter). */
type KillAt = { readonly atMs: number } | { readonly write: number | "adapter"; readonly entries: number };

/** What the reference run's folder showed, in ms from its start. */
interface Timeline {
  end: number;
  /** When the run's lock (run.lock with this pid) was first seen: the run holds its folder. */
  locked: number | null;
  /** First time each checkpoint's final folder was seen. */
  checkpoint: Map<number, number>;
  /** How long each write's temporary folder was seen (checkpoint step, or "adapter"). */
  writeMs: Map<number | "adapter", number>;
  /** The most entries (files and folders, recursively) each write's temporary folder was seen with. */
  writeEntries: Map<number | "adapter", number>;
}

interface Attempt {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  readonly pid: number;
  /** ms from the start to the run's "resuming from" / "no checkpoint" line (null when not seen). */
  readonly resumedAtMs: number | null;
  readonly timeline: Timeline;
  /** Whether the chosen write's temporary folder was seen (a write kill). */
  readonly writeSeen: boolean;
}

const stepOfTemporary = (name: string, pid: number) => {
  const match = /^\.step-(\d+)\.tmp-(\d+)-/.exec(name);
  return match && Number(match[2]) === pid ? Number(match[1]) : null;
};
const isAdapterTemporary = (name: string, pid: number) => name.startsWith(`.adapter.tmp-${pid}-`);
const list = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [] as string[];
  }
};

/** One `eecot` process (node --import tsx, so the pid killed is the command's own), its folder polled every 2 ms. */
function eecot(args: readonly string[], out: string, kill?: KillAt): Promise<Attempt> {
  return new Promise((resolve) => {
    const started = performance.now();
    const now = () => performance.now() - started;
    const child = spawn(process.execPath, ["--import", "tsx", bin, "--backend", "wasm", ...args], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    const pid = child.pid!;
    let stdout = "";
    let stderr = "";
    let resumedAtMs: number | null = null;
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (resumedAtMs === null && /resuming from|no checkpoint in/.test(stderr)) resumedAtMs = now();
    });
    const timeline: Timeline = { end: 0, locked: null, checkpoint: new Map(), writeMs: new Map(), writeEntries: new Map() };
    const writeSeenAt = new Map<number | "adapter", number>();
    let writeSeen = false;
    let killTimer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    let exited = false;
    const killNow = () => {
      if (!exited) child.kill("SIGKILL");
    };
    const tick = () => {
      if (exited) return;
      const t = now();
      if (timeline.locked === null) {
        let lock = "";
        try {
          lock = readFileSync(join(out, "run.lock"), "utf8");
        } catch {}
        if (new RegExp(`"pid":\\s*${pid}\\b`).test(lock)) {
          timeline.locked = t;
          // A random-moment kill counts from here: the run has started its work.
          if (kill && "atMs" in kill) killTimer = setTimeout(killNow, kill.atMs);
        }
      }
      const checkpoints = list(join(out, "checkpoints"));
      const visible = new Map<number | "adapter", number>(); // write → entries in its temporary folder
      const entries = (dir: string) => {
        try {
          return readdirSync(dir, { recursive: true }).length;
        } catch {
          return 0;
        }
      };
      for (const name of checkpoints) {
        const step = stepOfTemporary(name, pid);
        if (step !== null) visible.set(step, entries(join(out, "checkpoints", name)));
        const final = /^step-(\d+)$/.exec(name);
        if (final && !timeline.checkpoint.has(Number(final[1]))) timeline.checkpoint.set(Number(final[1]), t);
      }
      const staging = list(out).find((n) => isAdapterTemporary(n, pid));
      if (staging) visible.set("adapter", entries(join(out, staging)));
      for (const [write, count] of visible) {
        if (!writeSeenAt.has(write)) writeSeenAt.set(write, t);
        timeline.writeEntries.set(write, Math.max(count, timeline.writeEntries.get(write) ?? 0));
      }
      for (const [write, seen] of writeSeenAt) if (!visible.has(write) && !timeline.writeMs.has(write)) timeline.writeMs.set(write, t - seen);
      if (kill && "write" in kill && visible.has(kill.write)) {
        writeSeen = true;
        if (visible.get(kill.write)! >= kill.entries) return killNow();
      }
      poll = setTimeout(tick, POLL_MS);
    };
    tick();
    child.on("exit", () => {
      exited = true;
      timeline.end = now();
      clearTimeout(killTimer);
      clearTimeout(poll);
    });
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, ms: timeline.end, pid, resumedAtMs, timeline, writeSeen }));
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

const bytesOf = (files: Map<string, Buffer>) => [...files.values()].reduce((sum, b) => sum + b.length, 0);

/** Load every checkpoint of a folder; returns the number loaded, throws on the first that fails. */
async function loadAllCheckpoints(outDir: string, base: QwenModel, kind: Kind): Promise<number> {
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

/** Temporary files or folders (`.tmp-`, `.old-`) anywhere under `dir`. */
const temporariesIn = async (dir: string) =>
  (await readdir(dir, { recursive: true }).catch(() => [] as string[])).filter((p) => /\.(tmp|old)(-\d+|$)/.test(p) && !p.includes("teacher-cache"));

/** A JSONL file's lines without the timing field and with the folder's name replaced. */
const normalisedRecords = async (path: string, outDir: string) =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.stringify({ ...(JSON.parse(l.replaceAll(outDir, "OUT")) as Record<string, unknown>), seconds: undefined }))
    .join("\n");

const newest = async (outDir: string) => (await readdir(join(outDir, "checkpoints")).catch(() => [] as string[])).filter((n) => /^step-\d+$/.test(n)).sort().at(-1);

/** The results that must be bit-identical between a reference run and a killed-and-resumed one. */
async function results(outDir: string, kind: Kind, stdout: string): Promise<Record<string, Map<string, Buffer> | string>> {
  const last = join(outDir, "checkpoints", (await newest(outDir))!);
  // The printed summary without its one timing (wall-clock ms/token).
  const summary = stdout
    .replaceAll(outDir, "OUT")
    .split("\n")
    .filter((l) => !l.startsWith("wall-clock"))
    .join("\n");
  if (kind === "calibrate") {
    return {
      "adapter (LoRA + exit heads)": await filesOf(join(outDir, "adapter")),
      "last checkpoint (adapter, heads, optimizer, state)": await filesOf(last),
      "metrics.jsonl (without timings)": await normalisedRecords(join(outDir, "metrics.jsonl"), outDir),
      "calibration.json (report)": JSON.stringify((JSON.parse(await readFile(join(outDir, "calibration.json"), "utf8")) as { calibration: unknown }).calibration),
      "printed summary": summary,
    };
  }
  return {
    "adapter (LoRA + exit heads)": await filesOf(join(outDir, "adapter")),
    "last checkpoint (policy, optimizer, state)": await filesOf(last),
    "rl-metrics.jsonl": await readFile(join(outDir, "rl-metrics.jsonl"), "utf8"),
    "printed summary": summary,
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

/** The last JSON record of a JSONL file (null when none). */
function lastRecord(path: string): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return null;
  }
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  if (lines.length === 0) return null;
  try {
    return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
  } catch {
    return { event: "partial line" };
  }
}

/** How far a killed write got, from what its temporary folder holds (files being written end in .tmp-<pid>-…). */
function writeStage(dir: string): string {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true }) as string[];
  } catch {
    return "folder gone";
  }
  const named = entries.map((p) => p.replace(/\.([^/]+?)\.tmp-\d+-[^/]*/g, "$1 (being written)"));
  // The files being written (not the staging folder that holds them).
  const partial = named.filter((p) => p.endsWith("(being written)") && !named.some((q) => q.startsWith(`${p}/`)));
  if (entries.length === 0) return "folder just made";
  if (partial.length > 0) return `writing ${partial.join(", ")}`;
  if (entries.includes("state.json") || entries.includes("exit_heads.safetensors")) return "every file written, before the rename";
  return `between files (holds ${named.join(", ")})`;
}

/**
 * What a killed attempt was doing, read from its folder and log: [phase, detail, inside a write
 * (a temporary folder of this process present)]. "finished" = its work was done.
 */
function phaseOf(plan: Plan, out: string, attempt: Attempt, resume: boolean, startedAtMs: number): [string, string, boolean] {
  const checkpointsDir = join(out, "checkpoints");
  for (const name of list(checkpointsDir)) {
    const step = stepOfTemporary(name, attempt.pid);
    if (step === null) continue;
    const stage = writeStage(join(checkpointsDir, name));
    return ["checkpoint write", `step ${step}: ${stage}`, true];
  }
  const staging = list(out).find((n) => isAdapterTemporary(n, attempt.pid));
  if (staging) return ["final adapter write", writeStage(join(out, staging)), true];
  const [phase, detail] = phaseBetweenWrites(plan, out, attempt, resume, startedAtMs);
  return [phase, detail, false];
}

/** phaseOf when no temporary folder of the attempt is present. */
function phaseBetweenWrites(plan: Plan, out: string, attempt: Attempt, resume: boolean, startedAtMs: number): [string, string] {
  const { kind, steps, checkpointEvery, evalEvery, headWarmup } = plan;
  const checkpointsDir = join(out, "checkpoints");
  const adapterWritten = (() => {
    try {
      return statSync(join(out, "adapter")).mtimeMs >= startedAtMs;
    } catch {
      return false;
    }
  })();
  const checkpointDone = (step: number) => existsSync(join(checkpointsDir, `step-${String(step).padStart(6, "0")}`));
  const isCheckpointStep = (step: number) => step % checkpointEvery === 0 || step === steps;
  const started = !resume || /resuming from|no checkpoint in/.test(attempt.stderr);
  if (kind === "calibrate") {
    if (existsSync(join(out, "calibration.json")) && statSync(join(out, "calibration.json")).mtimeMs >= startedAtMs) return ["finished", "report written"];
    if (!started) return [/teacher trajectories/.test(attempt.stderr) ? "teacher divergences (resume)" : "start-up (resume)", ""];
    const record = lastRecord(join(out, "metrics.jsonl"));
    if (record === null) return [/teacher trajectories/.test(attempt.stderr) ? "teacher divergences" : "start-up / teacher answers", ""];
    const step = Number(record.step);
    switch (record.event) {
      case "targets":
        return headWarmup > 0 ? ["head warm-up", ""] : ["joint steps", "step 1"];
      case "head-warmup":
        return ["joint steps", "step 1"];
      case "step":
        if (!isCheckpointStep(step)) return ["joint steps", `step ${step + 1}`];
        return ["checkpoint write", `step ${step}: ${checkpointDone(step) ? "after the rename, before its record" : "before its folder"}`];
      case "checkpoint":
        return step === steps ? (adapterWritten ? ["final adapter write", "after the rename"] : ["final adapter write", "before its folder"]) : ["joint steps", `step ${step + 1}`];
      case "done":
        return ["held-out report", ""];
      default:
        return ["unknown", JSON.stringify(record)];
    }
  }
  if (adapterWritten) return ["finished", "adapter written"];
  if (!started) return ["start-up (resume)", ""];
  const record = lastRecord(join(out, "rl-metrics.jsonl"));
  if (record === null) return ["start-up / held-out eval @0", ""];
  const step = Number(record.step);
  if (record.type === "eval") {
    if (isCheckpointStep(step) && step > 0 && !checkpointDone(step)) return ["checkpoint write", `step ${step}: before its folder`];
    if (step === steps) return ["final adapter write", "before its folder"];
    return ["RL steps", `step ${step + 1}`];
  }
  if (evalEvery > 0 && step % evalEvery === 0) return ["held-out eval", `@${step}`];
  if (isCheckpointStep(step) && !checkpointDone(step)) return ["checkpoint write", `step ${step}: before its folder`];
  if (step === steps) return ["held-out eval", `@${step} (final)`];
  return ["RL steps", `step ${step + 1}`];
}

interface Tally {
  attempts: number;
  kills: number;
  /** Kills that landed inside a write (a temporary folder of this process present). */
  insideWrites: number;
  phases: Map<string, number>;
  /** Kills inside writes by how far the write got. */
  writeStages: Map<string, number>;
  details: string[];
  /** Kills sent after the run's work was done, and kill moments the run outlived. */
  late: number;
  missed: number;
  resumes: number;
  chains: number;
  checkpointsLoaded: number;
  staleLocksTakenOver: number;
  identical: number;
  identicalBytes: number;
  problems: string[];
}

async function campaign(plan: Plan, work: string, base: QwenModel): Promise<Tally> {
  const { kind } = plan;
  const tally: Tally = { attempts: 0, kills: 0, insideWrites: 0, phases: new Map(), writeStages: new Map(), details: [], late: 0, missed: 0, resumes: 0, chains: 0, checkpointsLoaded: 0, staleLocksTakenOver: 0, identical: 0, identicalBytes: 0, problems: [] };
  const referenceDir = join(work, `${kind}-reference`);
  await rm(referenceDir, { recursive: true, force: true });
  const reference = await eecot(plan.args(referenceDir), referenceDir);
  if (reference.code !== 0) throw new Error(`${kind} reference run failed:\n${reference.stderr}`);
  await writeFile(join(work, `${kind}-reference.stdout`), reference.stdout);
  const expected = await results(referenceDir, kind, reference.stdout);
  const ref = reference.timeline;
  const writes: (number | "adapter")[] = [...[...ref.checkpoint.keys()].sort((a, b) => a - b), "adapter"];
  process.stdout.write(
    `${kind}: reference run ${(ref.end / 1000).toFixed(1)} s; checkpoints seen at ${[...ref.checkpoint].map(([s, t]) => `${s}: ${(t / 1000).toFixed(1)} s`).join(", ")}; writes seen for ${[...ref.writeMs].map(([w, ms]) => `${w}: ${ms.toFixed(0)} ms, ${ref.writeEntries.get(w)} entries`).join("; ")}\n`,
  );
  // From the lock to a resumed attempt's "resuming from" line: measured on each resume, guessed before the first.
  const locked = ref.locked ?? 0;
  let resumeStartMs = 0.5 * (Math.min(...ref.checkpoint.values()) - locked);
  // Attempts run faster or slower than the reference (a cold first start, the machine's load): every attempt that outlives its kill rescales.
  let scale = 1;
  // Time from the lock to the end of an attempt resumed from checkpoint `from` (0: from the start).
  const predictedMs = (from: number) => (from === 0 ? ref.end - locked : resumeStartMs + ref.end - ref.checkpoint.get(from)!);
  while (tally.kills < kills) {
    const out = join(work, `${kind}-chain-${++tally.chains}`);
    await rm(out, { recursive: true, force: true });
    let resume = false;
    let n = 0;
    let chainKills = 0;
    for (;;) {
      const killHere = tally.kills < kills && chainKills < killsPerChain;
      const from = resume ? Number((await newest(out))?.slice(5) ?? 0) : 0;
      const remaining = writes.filter((w) => w === "adapter" || w > from);
      // Odd attempts of the campaign: inside a write; even ones: a random moment of what is left to run.
      let killAt: KillAt | undefined;
      if (killHere && tally.attempts % 2 === 1) {
        const write = remaining[Math.floor(rng.uniform() * remaining.length)]!;
        killAt = { write, entries: Math.floor(rng.uniform() * ((ref.writeEntries.get(write) ?? 0) + 1)) };
      } else if (killHere) {
        killAt = { atMs: (0.02 + 0.93 * rng.uniform()) * scale * predictedMs(from) };
      }
      const startedAt = Date.now();
      tally.attempts++;
      const attempt = await eecot([...plan.args(out), ...(resume ? ["--resume"] : [])], out, killAt);
      n++;
      if (resume) tally.resumes++;
      if (resume && attempt.resumedAtMs !== null && attempt.timeline.locked !== null) resumeStartMs = attempt.resumedAtMs - attempt.timeline.locked;
      tally.staleLocksTakenOver += (attempt.stderr.match(/taking over the stale lock/g) ?? []).length;
      const how = killAt === undefined ? "" : "atMs" in killAt ? `random moment ${(killAt.atMs / 1000).toFixed(2)} s` : `write ${killAt.write === "adapter" ? "of the final adapter" : `of checkpoint ${killAt.write}`} at ${killAt.entries} entries${attempt.writeSeen ? "" : " (never seen)"}`;
      if (attempt.signal === "SIGKILL") {
        const [phase, detail, inside] = phaseOf(plan, out, attempt, resume, startedAt);
        try {
          tally.checkpointsLoaded += await loadAllCheckpoints(out, base, kind);
        } catch (error) {
          tally.problems.push(`${out}: a checkpoint failed to load after a kill in ${phase}: ${(error as Error).message}`);
        }
        if (phase === "finished") {
          tally.late++;
          process.stdout.write(`${kind}: chain ${tally.chains} attempt ${n}: killed (${how}) after its work was done (${detail}); not counted\n`);
        } else {
          tally.kills++;
          chainKills++;
          if (inside) {
            tally.insideWrites++;
            const stage = `${phase === "final adapter write" ? "final adapter: " : ""}${detail.replace(/^step \d+: /, "")}`;
            tally.writeStages.set(stage, (tally.writeStages.get(stage) ?? 0) + 1);
          }
          tally.phases.set(phase, (tally.phases.get(phase) ?? 0) + 1);
          tally.details.push(`${phase}${detail ? ` (${detail})` : ""}`);
          process.stdout.write(`${kind}: kill ${tally.kills}: chain ${tally.chains} attempt ${n}${resume ? ` (resumed from step ${from})` : ""}, ${how}, after ${(attempt.ms / 1000).toFixed(2)} s: ${phase}${detail ? ` (${detail})` : ""}\n`);
        }
        resume = true;
        continue;
      }
      if (attempt.code !== 0) {
        tally.problems.push(`${out}: run exited with ${attempt.code}:\n${attempt.stderr.slice(-2000)}`);
        break;
      }
      if (killAt !== undefined) {
        tally.missed++;
        if ("atMs" in killAt && attempt.timeline.locked !== null) scale = (attempt.ms - attempt.timeline.locked) / predictedMs(from);
        process.stdout.write(`${kind}: chain ${tally.chains} attempt ${n}: ended after ${(attempt.ms / 1000).toFixed(2)} s before its kill (${how}); not counted\n`);
      }
      await writeFile(`${out}.stdout`, attempt.stdout);
      const problems = compare(expected, await results(out, kind, attempt.stdout));
      const left = await temporariesIn(out);
      if (left.length > 0) problems.push(`temporaries left: ${left.join(", ")}`);
      if (problems.length === 0) {
        tally.identical++;
        tally.identicalBytes = bytesOf(expected["adapter (LoRA + exit heads)"] as Map<string, Buffer>) + bytesOf(expected[Object.keys(expected)[1]!] as Map<string, Buffer>);
      } else tally.problems.push(`${out}: ${problems.join("; ")}`);
      process.stdout.write(`${kind}: chain ${tally.chains} finished after ${chainKills} kills: ${problems.length === 0 ? "bit-identical to the reference" : problems.join("; ")}\n`);
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
  // Each chain generates its own teacher answers (the default <out>/teacher-cache), so kills land there too.
  const calibrate: Plan = {
    kind: "calibrate",
    steps: 8,
    checkpointEvery: 2,
    evalEvery: 0,
    headWarmup: 2,
    args: (out) => ["calibrate", "--data", "tom:6", "--steps", "8", "--checkpoint-every", "2", "--keep-checkpoints", "2", "--head-warmup", "2", "--max-new-tokens", "6", "--held-out", "2", "--seed", "5", "--out", out],
  };
  const tallies: Partial<Record<Kind, Tally>> = {};
  if (flags.only !== "rl") tallies.calibrate = await campaign(calibrate, work, base);
  const adapter = join(work, "calibrate-reference", "adapter");
  if (!existsSync(adapter)) {
    const made = await eecot(calibrate.args(join(work, "calibrate-reference")), join(work, "calibrate-reference"));
    if (made.code !== 0) throw new Error(`calibrate for the rl adapter failed:\n${made.stderr}`);
  }
  const rl: Plan = {
    kind: "rl",
    steps: 6,
    checkpointEvery: 2,
    evalEvery: 3,
    headWarmup: 0,
    args: (out) => ["rl", "--adapter", adapter, "--data", "tom:3,gsm-synthetic:3:maxSteps=1", "--eval-data", "tom:2", "--steps", "6", "--prompts-per-step", "1", "--samples-per-prompt", "2", "--max-new-tokens", "6", "--eval-every", "3", "--checkpoint-every", "2", "--keep-checkpoints", "2", "--seed", "9", "--out", out],
  };
  if (flags.only !== "calibrate") tallies.rl = await campaign(rl, work, base);
  disposeModel(base);
  process.stdout.write("\ncommand     attempts  kills  inside-writes  late  missed  resumes  chains  identical  checkpoints-loaded  stale-locks  problems\n");
  for (const [kind, t] of Object.entries(tallies)) {
    process.stdout.write(
      `${kind.padEnd(10)}  ${String(t.attempts).padStart(8)}  ${String(t.kills).padStart(5)}  ${String(t.insideWrites).padStart(13)}  ${String(t.late).padStart(4)}  ${String(t.missed).padStart(6)}  ${String(t.resumes).padStart(7)}  ${String(t.chains).padStart(6)}  ${String(t.identical).padStart(9)}  ${String(t.checkpointsLoaded).padStart(18)}  ${String(t.staleLocksTakenOver).padStart(11)}  ${t.problems.length}\n`,
    );
    process.stdout.write(`  kills by phase: ${[...t.phases].map(([p, c]) => `${p} ${c}`).join(", ")}\n`);
    process.stdout.write(`  kills inside writes by stage: ${[...t.writeStages].map(([p, c]) => `${p} ${c}`).join(", ") || "none"}\n`);
    process.stdout.write(`  compared bit for bit per chain: ${t.identicalBytes} bytes of adapter, heads and checkpoint, the metrics records and the printed summary\n`);
    for (const problem of t.problems) process.stdout.write(`  ${problem}\n`);
  }
  if (!flags.work) await rm(work, { recursive: true, force: true });
  if (Object.values(tallies).some((t) => t.problems.length > 0)) process.exitCode = 1;
}

await main();

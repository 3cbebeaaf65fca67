// Output folders of the long commands (calibrate, rl): created with the file system's real
// reason when that fails, refused when they hold an earlier run and --resume is not given, and
// cleared of the temporary checkpoint folders a killed run leaves behind.
import { existsSync, statSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { checkpointSteps } from "@eecot/tensor-core";
import { processAlive } from "./run-lock.js";

/**
 * `mkdir -p` with the real reason on failure. Node's recursive mkdir reports ENOENT on a
 * read-only file system; then the first missing level is created alone, which fails with EROFS.
 */
export async function makeOutputFolder(path: string, flag = "--out"): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
    return;
  } catch (error) {
    let reason = error as NodeJS.ErrnoException;
    if (reason.code === "ENOENT") {
      let missing = path;
      while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
      try {
        await mkdir(missing);
      } catch (inner) {
        reason = inner as NodeJS.ErrnoException;
      }
    }
    throw new Error(`${flag} ${path}: cannot create the folder: ${reason.message}`);
  }
}

/**
 * Remove what a killed run left in its folder (those of a process still running are kept): the
 * `.step-NNNNNN.tmp-<pid>-<random>` folders of checkpoint writes in `<out>/checkpoints`, and in
 * `<out>` the staging folders and files of the final adapter and other atomic writes
 * (`.adapter.tmp-<pid>-…`, `metrics.jsonl.tmp-<pid>`) and a replaced folder's `adapter.old-<pid>-…`.
 * Returns the paths removed.
 */
export async function removeStaleRunTemporaries(outDir: string): Promise<string[]> {
  const checkpointsDir = join(outDir, "checkpoints");
  return [
    ...(await removeStale(checkpointsDir, /^\.step-\d+\.tmp-(\d+)-/)),
    // run.lock's own temporaries are run-lock.ts's (removed when the lock is taken).
    ...(await removeStale(outDir, /^(?!run\.lock)[^/]+\.(?:tmp|old)-(\d+)(?:-|$)/)),
  ];
}

async function removeStale(directory: string, pattern: RegExp): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match || processAlive(Number(match[1]))) continue;
    await rm(join(directory, name), { recursive: true, force: true });
    removed.push(join(directory, name));
  }
  return removed;
}

/**
 * Refuse an output folder that holds an earlier run (checkpoints, or one of `records` non-empty)
 * when the command does not --resume it: a fresh run there would mix the two runs' files and a
 * later --resume would pick up the old run's checkpoints.
 */
export async function refuseUsedOutputFolder(command: string, outDir: string, records: readonly string[] = []): Promise<void> {
  const checkpointsDir = join(outDir, "checkpoints");
  const steps = await checkpointSteps(checkpointsDir);
  const used = records.filter((file) => {
    try {
      return statSync(join(outDir, file)).size > 0;
    } catch {
      return false;
    }
  });
  if (steps.length === 0 && used.length === 0) return;
  const what = [...(steps.length > 0 ? [`checkpoints at steps ${steps.join(", ")}`] : []), ...used].join(", ");
  throw new Error(`${command}: --out ${outDir} already holds an earlier run (${what}); continue it with --resume or choose a new --out folder`);
}

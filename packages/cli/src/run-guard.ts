// Opening a run folder for a long command (calibrate, rl): create it, lock it (run-lock.ts),
// refuse one holding an earlier run unless --resume, and compare the flags of a resumed run with
// the ones it started with (run-flags.ts). Everything here runs before the backend starts.
import { join } from "node:path";
import type { Command } from "commander";
import { checkpointSteps } from "@eecot/tensor-core";
import { makeOutputFolder, refuseUsedOutputFolder } from "./run-folder.js";
import { acquireRunLock, type RunLock } from "./run-lock.js";
import { checkRunFlags, runChangingFlags } from "./run-flags.js";

export interface RunFolderOptions {
  /** The parsed command (its options are the run's flags). */
  readonly command: Command;
  readonly outDir: string;
  readonly resume?: boolean;
  readonly allowChanged?: boolean;
  /** Record files whose content marks an earlier run (see refuseUsedOutputFolder). */
  readonly records?: readonly string[];
  readonly log?: (line: string) => void;
}

/** Open `outDir` for the run; the caller releases the lock when the run ends (also on errors). */
export async function openRunFolder(options: RunFolderOptions): Promise<RunLock> {
  const name = options.command.name();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await makeOutputFolder(options.outDir);
  const lock = await acquireRunLock(options.outDir, name, log);
  try {
    if (!options.resume) await refuseUsedOutputFolder(name, options.outDir, options.records ?? []);
    const continuing = options.resume === true && (await checkpointSteps(join(options.outDir, "checkpoints"))).length > 0;
    await checkRunFlags(name, options.outDir, runChangingFlags(options.command), { continuing, allowChanged: options.allowChanged, log });
  } catch (error) {
    lock.release();
    throw error;
  }
  return lock;
}

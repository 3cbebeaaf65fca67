// The lock of a run folder (calibrate, rl): <out>/run.lock holds the holder's pid, hostname,
// command and start time. A second run on the same folder is refused with the holder's pid; a
// lock whose process is gone (kill -9, a crash, a reboot) is taken over with a note.
//
// The lock file is written whole under a temporary name and hard-linked into place, so it never
// exists half-written and two starts cannot both create it (link fails with EEXIST). On Linux the
// process's start time (/proc/<pid>/stat) is recorded too, so a pid reused by an unrelated
// process after a reboot or a kill -9 does not keep the folder locked.
import { readFileSync, unlinkSync } from "node:fs";
import { link, readdir, readFile, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

/** The lock file's name inside the run folder. */
export const RUN_LOCK_FILE = "run.lock";

/** Contents of run.lock. */
export interface RunLockHolder {
  readonly pid: number;
  readonly hostname: string;
  readonly command: string;
  /** ISO time the lock was taken. */
  readonly started: string;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot), where there is one. */
  readonly processStart?: string;
}

/** A folder locked by a running process (its pid in the message). */
export class RunLockError extends Error {
  constructor(
    message: string,
    readonly holder: RunLockHolder | null,
  ) {
    super(message);
    this.name = "RunLockError";
  }
}

/** A held lock; `release` removes the file (only while it is still ours) and is idempotent. */
export interface RunLock {
  readonly path: string;
  readonly holder: RunLockHolder;
  release(): void;
}

/** Start time of a process from /proc (Linux), or undefined. */
function processStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from its end.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether a process with this id is running (EPERM: it runs under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Why a recorded holder no longer holds the folder, or null while it may still run. */
function staleReason(holder: RunLockHolder): string | null {
  if (holder.hostname !== hostname()) return null; // cannot look at another machine's processes
  if (!processAlive(holder.pid)) return `process ${holder.pid} is not running`;
  const start = processStartOf(holder.pid);
  if (holder.processStart !== undefined && start !== undefined && start !== holder.processStart) return `pid ${holder.pid} now belongs to another process`;
  return null;
}

function parseHolder(text: string): RunLockHolder | null {
  try {
    const value = JSON.parse(text) as RunLockHolder;
    return Number.isSafeInteger(value?.pid) && typeof value.hostname === "string" ? value : null;
  } catch {
    return null;
  }
}

function describe(holder: RunLockHolder): string {
  return `${holder.command} (pid ${holder.pid} on ${holder.hostname}, started ${holder.started})`;
}

/**
 * Lock `outDir` (which must exist) for `command`. Refuses with a RunLockError naming the holder's
 * pid while another live process holds it; takes over a stale lock, calling `log` with a note.
 */
export async function acquireRunLock(outDir: string, command: string, log: (line: string) => void = () => {}): Promise<RunLock> {
  const path = join(outDir, RUN_LOCK_FILE);
  const holder: RunLockHolder = { pid: process.pid, hostname: hostname(), command, started: new Date().toISOString(), ...(processStartOf(process.pid) !== undefined ? { processStart: processStartOf(process.pid) } : {}) };
  const text = JSON.stringify(holder) + "\n";
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(temporary, text);
  } catch (error) {
    throw new Error(`${command}: cannot write the lock ${path}: ${(error as Error).message}`);
  }
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(temporary, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw new Error(`${command}: cannot create the lock ${path}: ${(error as Error).message}`);
      }
      let existing: string;
      try {
        existing = await readFile(path, "utf8");
      } catch {
        continue; // released meanwhile: try again
      }
      const other = parseHolder(existing);
      const reason = other === null ? "it is not a lock file this program wrote" : staleReason(other);
      if (other !== null && (reason === null || attempt >= 3)) {
        throw new RunLockError(
          `${command}: --out ${outDir} is in use by ${describe(other)}; wait for it to finish, stop it, or choose another --out folder (if that process is gone, delete ${path})`,
          other,
        );
      }
      if (attempt >= 3) throw new RunLockError(`${command}: cannot take the lock ${path}: it keeps changing`, null);
      log(`${command}: taking over the stale lock ${path} of ${other ? describe(other) : "an unknown process"}: ${reason}`);
      await unlink(path).catch(() => {});
    }
  } finally {
    await unlink(temporary).catch(() => {});
  }
  // Temporaries of lock attempts killed between writing and linking.
  for (const name of await readdir(outDir).catch(() => [] as string[])) {
    const match = /^run\.lock\.tmp-(\d+)-/.exec(name);
    if (match && !processAlive(Number(match[1]))) await unlink(join(outDir, name)).catch(() => {});
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    held.delete(lock);
    process.removeListener("exit", release);
    try {
      if (readFileSync(path, "utf8") === text) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  const lock = { path, holder, release };
  held.add(lock);
  process.on("exit", release);
  return lock;
}

const held = new Set<RunLock>();

/** The locks this process holds now. */
export function heldRunLocks(): RunLock[] {
  return [...held];
}

/** Release the locks taken since `before` was listed, or all (runCli does when its command returns or throws). */
export function releaseRunLocks(before: readonly RunLock[] = []): void {
  for (const lock of held) if (!before.includes(lock)) lock.release();
}

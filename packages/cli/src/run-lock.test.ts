// The run-folder lock against real processes: a live holder (a child process) is refused by pid,
// the lock of a process killed with SIGKILL is taken over with a note, a pid now used by another
// process (start time differs) counts as stale, and release removes only our own lock.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { acquireRunLock, releaseRunLocks, RUN_LOCK_FILE, RunLockError, type RunLockHolder } from "./run-lock.js";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  releaseRunLocks();
});

/** A live process that is not us. */
function sleeper(): ChildProcess {
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(child);
  return child;
}

const folder = () => mkdtemp(join(tmpdir(), "eecot-lock-"));
const writeHolder = (dir: string, holder: RunLockHolder) => writeFile(join(dir, RUN_LOCK_FILE), JSON.stringify(holder));

describe("run.lock", () => {
  test("holds pid, hostname, command and start time; a second acquisition is refused with the holder's pid", async () => {
    const dir = await folder();
    const lock = await acquireRunLock(dir, "rl");
    const holder = JSON.parse(await readFile(join(dir, RUN_LOCK_FILE), "utf8")) as RunLockHolder;
    expect(holder).toMatchObject({ pid: process.pid, hostname: hostname(), command: "rl" });
    expect(Date.now() - Date.parse(holder.started)).toBeLessThan(60_000);
    const second = acquireRunLock(dir, "calibrate");
    await expect(second).rejects.toThrow(RunLockError);
    await expect(second).rejects.toThrow(`calibrate: --out ${dir} is in use by rl (pid ${process.pid} on ${hostname()}, started ${holder.started}); wait for it to finish, stop it, or choose another --out folder (if that process is gone, delete ${join(dir, RUN_LOCK_FILE)})`);
    lock.release();
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    (await acquireRunLock(dir, "calibrate")).release();
    expect(await readdir(dir)).toEqual([]); // no temporaries left
  });

  test("another live process holds it: refused naming that pid; after SIGKILL the lock is taken over with a note", async () => {
    const dir = await folder();
    const child = sleeper();
    await writeHolder(dir, { pid: child.pid!, hostname: hostname(), command: "calibrate", started: "2026-01-01T00:00:00.000Z" });
    await expect(acquireRunLock(dir, "calibrate")).rejects.toThrow(`is in use by calibrate (pid ${child.pid} on ${hostname()}, started 2026-01-01T00:00:00.000Z)`);
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
    const notes: string[] = [];
    const lock = await acquireRunLock(dir, "calibrate", (line) => notes.push(line));
    expect(notes).toEqual([`calibrate: taking over the stale lock ${join(dir, RUN_LOCK_FILE)} of calibrate (pid ${child.pid} on ${hostname()}, started 2026-01-01T00:00:00.000Z): process ${child.pid} is not running`]);
    expect((JSON.parse(await readFile(lock.path, "utf8")) as RunLockHolder).pid).toBe(process.pid);
  });

  test.skipIf(!existsSync("/proc/self/stat"))("a pid reused by another process (different start time) is stale", async () => {
    const dir = await folder();
    const child = sleeper();
    await writeHolder(dir, { pid: child.pid!, hostname: hostname(), command: "rl", started: "2026-01-01T00:00:00.000Z", processStart: "1" });
    const notes: string[] = [];
    await acquireRunLock(dir, "rl", (line) => notes.push(line));
    expect(notes[0]).toMatch(new RegExp(`: pid ${child.pid} now belongs to another process$`));
  });

  test("a lock of another machine is never taken over; a file that is not a lock is; release leaves a lock that is not ours", async () => {
    const dir = await folder();
    const dead = spawnSync("true").pid!;
    await writeHolder(dir, { pid: dead, hostname: `not-${hostname()}`, command: "rl", started: "2026-01-01T00:00:00.000Z" });
    await expect(acquireRunLock(dir, "rl")).rejects.toThrow(`is in use by rl (pid ${dead} on not-${hostname()}`);
    await writeFile(join(dir, RUN_LOCK_FILE), "garbage");
    const notes: string[] = [];
    const lock = await acquireRunLock(dir, "rl", (line) => notes.push(line));
    expect(notes[0]).toContain("of an unknown process: it is not a lock file this program wrote");
    await writeHolder(dir, { pid: dead, hostname: hostname(), command: "rl", started: "x" }); // someone took it over meanwhile
    lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(true);
  });

  test("the temporary of a lock attempt killed before linking is removed", async () => {
    const dir = await folder();
    const dead = spawnSync("true").pid!;
    await writeFile(join(dir, `${RUN_LOCK_FILE}.tmp-${dead}-abc`), "{}");
    await writeFile(join(dir, `${RUN_LOCK_FILE}.tmp-${process.pid}-live`), "{}");
    const lock = await acquireRunLock(dir, "rl");
    expect((await readdir(dir)).sort()).toEqual([RUN_LOCK_FILE, `${RUN_LOCK_FILE}.tmp-${process.pid}-live`]);
    lock.release();
  });
});

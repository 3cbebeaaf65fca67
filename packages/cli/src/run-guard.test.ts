// The long commands' run folders through `eecot` in process: a locked --out is refused with the
// holder's pid before the model loads, a stale lock is taken over and the lock released when the
// command ends, and --resume with flags that change the run is refused naming each flag with its
// old and new value unless --allow-changed (which records the change in run.json).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { runCli } from "./program.js";
import { acquireRunLock, RUN_LOCK_FILE } from "./run-lock.js";
import { RUN_FLAGS_FILE, type RunFlagsRecord } from "./run-flags.js";

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);

/** Runs the CLI with stderr captured (and stdout silenced); returns stderr and the error thrown, if any. */
async function stderrOf(...args: string[]): Promise<{ stderr: string; error: Error | null }> {
  const chunks: string[] = [];
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  let error: Error | null = null;
  try {
    await run(...args);
  } catch (caught) {
    error = caught as Error;
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
  return { stderr: chunks.join(""), error };
}

const CALIBRATE = ["--data", "tom:4", "--steps", "1", "--max-new-tokens", "4", "--held-out", "1", "--checkpoint-every", "1"];
const RL = ["--data", "tom:2", "--eval-data", "tom:1", "--steps", "1", "--prompts-per-step", "1", "--samples-per-prompt", "2", "--max-new-tokens", "4", "--checkpoint-every", "1"];
let root: string;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  root = await mkdtemp(join(tmpdir(), "eecot-guard-"));
});

describe("one run per --out folder", () => {
  test("calibrate and rl on a locked folder are refused with the holder's pid, before the model loads", async () => {
    const out = join(root, "locked");
    await run("calibrate", "--data", "tom:4", "--out", out, "--model", "/nonexistent").catch(() => {}); // creates the folder
    const lock = await acquireRunLock(out, "calibrate");
    const holder = `calibrate (pid ${process.pid} on ${hostname()}, started ${lock.holder.started})`;
    // --model /nonexistent: a refusal about the model would mean the lock was checked too late.
    await expect(run("calibrate", "--data", "tom:4", "--out", out, "--model", "/nonexistent")).rejects.toThrow(`calibrate: --out ${out} is in use by ${holder}; wait for it to finish`);
    await expect(run("rl", "--adapter", "/nonexistent", "--data", "tom:2", "--out", out, "--model", "/nonexistent")).rejects.toThrow(`rl: --out ${out} is in use by ${holder}`);
    lock.release();
  });

  test("a lock left by a killed run is taken over with a note, and released when the command fails or ends", async () => {
    const out = join(root, "stale");
    await run("calibrate", "--data", "tom:4", "--out", out, "--model", "/nonexistent").catch(() => {});
    const dead = spawnSync("true").pid!;
    await writeFile(join(out, RUN_LOCK_FILE), JSON.stringify({ pid: dead, hostname: hostname(), command: "calibrate", started: "2026-01-01T00:00:00.000Z" }));
    const { stderr, error } = await stderrOf("calibrate", "--data", "tom:4", "--out", out, "--model", "/nonexistent");
    expect(stderr).toContain(`calibrate: taking over the stale lock ${join(out, RUN_LOCK_FILE)} of calibrate (pid ${dead} on ${hostname()}, started 2026-01-01T00:00:00.000Z): process ${dead} is not running`);
    expect(error?.message).toContain("/nonexistent"); // got past the lock to the model
    expect(existsSync(join(out, RUN_LOCK_FILE))).toBe(false);
  });
});

describe("--resume with flags that change the run", () => {
  test("calibrate: refused naming each changed flag; the same flags (and output-only ones) resume; --allow-changed continues and records it", async () => {
    const out = join(root, "calibrate");
    await stderrOf("calibrate", ...CALIBRATE, "--out", out);
    const first = JSON.parse(await readFile(join(out, RUN_FLAGS_FILE), "utf8")) as RunFlagsRecord;
    expect(first.flags).toMatchObject({ "--data": "tom:4", "--seed": "0", "--lr-lora": "1e-3", "--kl-factor": "1" });
    expect(Object.keys(first.flags)).not.toContain("--checkpoint-every");
    await expect(run("calibrate", ...CALIBRATE, "--out", out, "--resume", "--seed", "7", "--lr-lora", "1e-2", "--kl-factor", "2")).rejects.toThrow(
      `calibrate --resume: 3 flags differ from the run in ${out} (${join(out, RUN_FLAGS_FILE)}): --kl-factor "1" → "2", --lr-lora "1e-3" → "1e-2", --seed "0" → "7"; resume with the same flags, pass --allow-changed to continue with the new ones, or choose a new --out folder`,
    );
    await expect(run("calibrate", ...CALIBRATE, "--out", out, "--resume", "--data", "tom:5")).rejects.toThrow(`calibrate --resume: a flag differs`);
    await expect(run("calibrate", ...CALIBRATE, "--out", out, "--resume", "--data", "tom:5")).rejects.toThrow(`--data "tom:4" → "tom:5"`);
    const same = await stderrOf("calibrate", ...CALIBRATE, "--out", out, "--resume", "--checkpoint-every", "5", "--json");
    expect(same.error).toBeNull();
    const allowed = await stderrOf("calibrate", ...CALIBRATE, "--out", out, "--resume", "--seed", "7", "--allow-changed");
    expect(allowed.error).toBeNull();
    expect(allowed.stderr).toContain(`calibrate: --allow-changed: continuing with --seed "0" → "7"`);
    const record = JSON.parse(await readFile(join(out, RUN_FLAGS_FILE), "utf8")) as RunFlagsRecord;
    expect(record.flags["--seed"]).toBe("7");
    expect(record.changes?.map((c) => c.flags)).toEqual([{ "--seed": ["0", "7"] }]);
  }, 120_000);

  test("rl: refused naming λ, β and --fresh-heads; --keep-checkpoints is not compared; --allow-changed continues", async () => {
    const adapter = join(root, "calibrate", "adapter");
    if (!existsSync(adapter)) await stderrOf("calibrate", ...CALIBRATE, "--out", join(root, "calibrate"));
    const out = join(root, "rl");
    expect((await stderrOf("rl", "--adapter", adapter, ...RL, "--out", out)).error).toBeNull();
    await expect(run("rl", "--adapter", adapter, ...RL, "--out", out, "--resume", "--exit-penalty", "2", "--kl", "0.1", "--keep-checkpoints", "5")).rejects.toThrow(
      `rl --resume: 2 flags differ from the run in ${out} (${join(out, RUN_FLAGS_FILE)}): --exit-penalty "1.5" → "2", --kl "0.05" → "0.1"; resume with the same flags, pass --allow-changed`,
    );
    await expect(run("rl", "--adapter", adapter, ...RL, "--out", out, "--resume", "--fresh-heads")).rejects.toThrow(`--fresh-heads (not set) → (set)`);
    const allowed = await stderrOf("rl", "--adapter", adapter, ...RL, "--out", out, "--resume", "--exit-penalty", "2", "--allow-changed");
    expect(allowed.error).toBeNull();
    expect(allowed.stderr).toContain(`rl: --allow-changed: continuing with --exit-penalty "1.5" → "2"`);
  }, 120_000);
});

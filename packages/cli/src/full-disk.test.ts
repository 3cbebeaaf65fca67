// A full disk during a checkpoint, for `eecot calibrate` and `eecot rl`: the run stops with a
// message naming the checkpoint folder and ENOSPC (and what to do), leaves no temporary behind,
// the previous checkpoint stays loadable, and (calibrate, injected fault) once there is space again
// --resume finishes with the same adapter and checkpoint as a run that never failed.
//
// Two ways to fill the disk: a real 8 MiB tmpfs mounted as --out's parent (root only; skipped,
// saying why, where mounting is not permitted), and everywhere a write failure injected into
// node:fs/promises that answers ENOSPC once the second checkpoint's temporary folder has been
// given half a checkpoint's bytes (what a disk with that much room left does).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { mkdtemp, readdir, readFile, statfs, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend, openSafetensors } from "@eecot/tensor-core";
import { readCheckpointState } from "@eecot/distill";
import { loadEarlyExitAdapters } from "@eecot/early-exit";
import { disposeModel, loadQwenModel } from "@eecot/transformer";
import { bundledModelDir } from "./bundled.js";
import { runCli } from "./program.js";

/** The injected fault: given a path and the bytes about to be written there, whether to fail. */
const disk = vi.hoisted(() => ({ fail: null as null | ((path: string, bytes: number) => boolean) }));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const check = (path: unknown, bytes: number) => {
    if (disk.fail?.(String(path), bytes)) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
  };
  const size = (data: unknown) => (typeof data === "string" ? Buffer.byteLength(data) : ArrayBuffer.isView(data) ? data.byteLength : 0);
  const mocked = {
    ...real,
    writeFile: (async (path, data, ...rest) => (check(path, size(data)), real.writeFile(path, data, ...rest))) as typeof real.writeFile,
    appendFile: (async (path, data, ...rest) => (check(path, size(data)), real.appendFile(path, data, ...rest))) as typeof real.appendFile,
    open: (async (path, ...rest) => {
      const handle = await real.open(path, ...rest);
      const write = handle.write.bind(handle) as (...args: unknown[]) => Promise<unknown>;
      (handle as unknown as { write: unknown }).write = (buffer: unknown, offset?: unknown, length?: unknown) => {
        check(path, typeof length === "number" ? length : size(buffer));
        return write(buffer, offset, length);
      };
      return handle;
    }) as typeof real.open,
  };
  return { ...mocked, default: mocked };
});

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);
const quietly = async (...args: string[]) => {
  const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  try {
    await run(...args);
  } finally {
    err.mockRestore();
    out.mockRestore();
  }
};

let root: string;
let cache: string;
const calibrateFlags = () => ["--data", "tom:4", "--steps", "2", "--checkpoint-every", "1", "--max-new-tokens", "4", "--held-out", "1", "--cache", cache];
const rlFlags = () => ["--adapter", join(root, "calibrate-reference", "adapter"), "--data", "tom:2", "--eval-data", "tom:1", "--steps", "2", "--prompts-per-step", "1", "--samples-per-prompt", "2", "--max-new-tokens", "4", "--checkpoint-every", "1"];

/** Every file under `dir`, relative path → bytes. */
async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(relative(dir, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return files;
}
const bytesOf = async (dir: string) => [...(await filesOf(dir)).values()].reduce((sum, b) => sum + b.length, 0);

/** Fail writes into the temporary folder of checkpoint 2 once it has received `room` bytes. */
function fillDuringSecondCheckpoint(room: number): void {
  let written = 0;
  disk.fail = (path, bytes) => path.includes(".step-000002.tmp-") && (written += bytes) > room;
}

/** Checkpoint 1 of a calibrate folder loads: state, adapter (finite check included), optimizer moments. */
async function expectCalibrateCheckpointLoads(checkpoint: string): Promise<void> {
  expect((await readCheckpointState(checkpoint)).step).toBe(1);
  const base = await loadQwenModel(bundledModelDir());
  (await loadEarlyExitAdapters(join(checkpoint, "adapter"), base)).dispose();
  disposeModel(base);
  const optimizer = await openSafetensors(join(checkpoint, "optimizer.safetensors"));
  expect((await optimizer.readMany(optimizer.tensorNames)).length).toBeGreaterThan(0);
}

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  root = await mkdtemp(join(tmpdir(), "eecot-full-disk-"));
  cache = join(root, "teacher-cache");
  await quietly("calibrate", ...calibrateFlags(), "--out", join(root, "calibrate-reference"));
}, 300_000);

describe("full disk, injected ENOSPC (runs everywhere)", () => {
  test("calibrate: stops naming the checkpoint and ENOSPC; checkpoint 1 loads; --resume ends as if nothing happened", async () => {
    const reference = join(root, "calibrate-reference");
    const out = join(root, "calibrate-injected");
    fillDuringSecondCheckpoint((await bytesOf(join(reference, "checkpoints", "step-000002"))) / 2);
    try {
      await expect(run("calibrate", ...calibrateFlags(), "--out", out)).rejects.toThrow(
        new RegExp(`^distill: failed to write checkpoint ${join(out, "checkpoints", "step-000002")}: .*ENOSPC: no space left on device.*; the disk is full \\(or over quota\\): free space, then resume the run; earlier checkpoints are untouched$`),
      );
    } finally {
      disk.fail = null;
    }
    expect(await readdir(join(out, "checkpoints"))).toEqual(["step-000001"]);
    await expectCalibrateCheckpointLoads(join(out, "checkpoints", "step-000001"));
    await quietly("calibrate", ...calibrateFlags(), "--out", out, "--resume");
    expect(await filesOf(join(out, "adapter"))).toEqual(await filesOf(join(reference, "adapter")));
    expect(await filesOf(join(out, "checkpoints", "step-000002"))).toEqual(await filesOf(join(reference, "checkpoints", "step-000002")));
  }, 300_000);

  test("rl: stops naming the checkpoint and ENOSPC; checkpoint 1 stays and loads", async () => {
    const out = join(root, "rl-injected");
    // Half of checkpoint 1's size: checkpoint 2 has the same files and shapes.
    let room: number | null = null;
    let written = 0;
    disk.fail = (path, bytes) => {
      if (!path.includes(".step-000002.tmp-")) return false;
      room ??= readdirSync(join(out, "checkpoints", "step-000001")).reduce((sum, name) => sum + statSync(join(out, "checkpoints", "step-000001", name)).size, 0) / 2;
      return (written += bytes) > room;
    };
    try {
      await expect(run("rl", ...rlFlags(), "--out", out)).rejects.toThrow(
        new RegExp(`^rloo: failed to write checkpoint ${join(out, "checkpoints", "step-000002")}: .*ENOSPC: no space left on device.*; the disk is full`),
      );
    } finally {
      disk.fail = null;
    }
    expect(room).not.toBeNull();
    expect(await readdir(join(out, "checkpoints"))).toEqual(["step-000001"]);
    const state = JSON.parse(await readFile(join(out, "checkpoints", "step-000001", "state.json"), "utf8")) as { step: number };
    expect(state.step).toBe(1);
    const tensors = await openSafetensors(join(out, "checkpoints", "step-000001", "trainable.safetensors"));
    expect((await tensors.readMany(tensors.tensorNames)).length).toBe(tensors.tensorNames.length); // finite check included
    // Resuming it equals an uninterrupted run: packages/cli/src/rl-run.test.ts and scripts/faults.ts.
  }, 300_000);
});

// A real full file system: a tmpfs, where this process may mount one (root on Linux).
const mountPoint = join(tmpdir(), `eecot-tmpfs-${process.pid}`);
const mountRefusal = ((): string | null => {
  if (process.platform !== "linux") return `tmpfs needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "mounting a tmpfs needs root (the injected-ENOSPC tests above cover the same path)";
  mkdirSync(mountPoint, { recursive: true });
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint], { encoding: "utf8" });
  if (mounted.status !== 0) return `mount -t tmpfs was refused here (${(mounted.stderr || mounted.error?.message || "").trim()})`;
  return null;
})();
if (mountRefusal !== null) process.stderr.write(`full-disk.test: real tmpfs test skipped: ${mountRefusal}\n`);
afterAll(() => {
  if (mountRefusal === null) spawnSync("umount", [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

describe.skipIf(mountRefusal !== null)("full disk, a real 8 MiB tmpfs", () => {
  test("calibrate: ENOSPC during checkpoint 2 names the folder; checkpoint 1 loads (resuming is as in the injected test)", async () => {
    const reference = join(root, "calibrate-reference");
    const out = join(mountPoint, "run");
    // Room for everything the run writes before checkpoint 2 (pages of 4 KiB), plus half a checkpoint.
    const before = [...(await filesOf(reference)).entries()].filter(([name]) => !/^(adapter\/|checkpoints\/step-000002\/|calibration\.json)/.test(name));
    const needed = before.reduce((sum, [, bytes]) => sum + Math.ceil((bytes.length + 256) / 4096) * 4096, 0) + (await bytesOf(join(reference, "checkpoints", "step-000002"))) / 2;
    const fs = await statfs(mountPoint);
    const ballast = join(mountPoint, "ballast");
    await writeFile(ballast, Buffer.alloc(Math.floor(fs.bavail * fs.bsize - needed)));
    await expect(run("calibrate", ...calibrateFlags(), "--out", out)).rejects.toThrow(
      new RegExp(`^distill: failed to write checkpoint ${join(out, "checkpoints", "step-000002")}: .*ENOSPC: no space left on device.*; the disk is full`),
    );
    expect(await readdir(join(out, "checkpoints"))).toEqual(["step-000001"]);
    await expectCalibrateCheckpointLoads(join(out, "checkpoints", "step-000001"));
    await unlink(ballast);
  }, 300_000);
});

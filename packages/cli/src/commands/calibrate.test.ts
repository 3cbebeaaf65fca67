// `eecot calibrate`'s flags and run folder: every flag is checked before the model loads (the
// errors name the flag and quote the value), --held-out past half the prompts is refused, a
// used folder is refused without --resume, a kill's temporaries (checkpoint, adapter) are removed
// and --keep-checkpoints keeps the newest n; a resumed run reports (summary, calibration.json) what
// an uninterrupted one reports, head warm-up included.
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { runCli } from "../program.js";
import { heldOutCountFor } from "./calibrate.js";

const calibrate = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", "calibrate", ...args]);

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("eecot calibrate: checked before the model loads", () => {
  test("each bad flag names the flag and quotes the value (the model folder does not exist: nothing loads)", async () => {
    const out = join(tmpdir(), "eecot-calibrate-never");
    const cases: [string[], string][] = [
      [["--lr-lora", "abc"], '--lr-lora must be a finite number ≥ 0, got "abc"'],
      [["--lr-heads", "-1"], '--lr-heads must be a finite number ≥ 0, got "-1"'],
      [["--kl-factor", "0"], '--kl-factor must be a finite number > 0, got "0"'],
      [["--steps", "2.5"], '--steps must be a positive integer, got "2.5"'],
      [["--samples", "0"], '--samples must be a positive integer, got "0"'],
      [["--batch-size", "x"], '--batch-size must be a positive integer, got "x"'],
      [["--gradient-accumulation", ""], '--gradient-accumulation must be a positive integer, got ""'],
      [["--checkpoint-every", "0"], '--checkpoint-every must be a positive integer, got "0"'],
      [["--keep-checkpoints", "0"], '--keep-checkpoints must be a positive integer, got "0"'],
      [["--held-out", "-2"], '--held-out must be an integer ≥ 0, got "-2"'],
      [["--lora-rank", "1e9x"], '--lora-rank must be a positive integer, got "1e9x"'],
      [["--max-new-tokens", "0"], '--max-new-tokens must be a positive integer, got "0"'],
      [["--seed", "0.5"], '--seed must be an integer, got "0.5"'],
      [["--head-warmup-lr", "0"], '--head-warmup-lr must be a finite number > 0, got "0"'],
      [["--kl-direction", "sideways"], '--kl-direction must be "reverse" or "forward", got "sideways"'],
      [["--exit-loss", "hard"], '--exit-loss must be "sampled" or "soft", got "hard"'],
      [["--lr-schedule", "linear"], '--lr-schedule must be "constant" or "cosine", got "linear"'],
      [["--exit-layers", "2,x"], '--exit-layers must be comma-separated positive integers, got "2,x"'],
    ];
    for (const [args, message] of cases) {
      await expect(calibrate("--model", "/nonexistent/eecot-model", "--data", "tom:8", "--out", out, ...args), args.join(" ")).rejects.toThrow(message);
    }
  });

  test("--held-out past half the prompts is refused; the default is cut to half (and the run says so)", async () => {
    await expect(calibrate("--model", "/nonexistent/eecot-model", "--data", "tom:8", "--out", join(tmpdir(), "eecot-calibrate-never"), "--held-out", "100")).rejects.toThrow(
      "--held-out 100: --data tom:8 gives 8 prompts, and at most half of them (4) can be held out; lower --held-out or add prompts",
    );
    expect(heldOutCountFor(16, 8, "tom:8", false)).toBe(4);
    expect(heldOutCountFor(3, 8, "tom:8", true)).toBe(3);
    expect(heldOutCountFor(4, 8, "tom:8", true)).toBe(4);
  });

  test("a used folder is refused without --resume, before the model loads", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-calibrate-used-"));
    await writeFile(join(out, "metrics.jsonl"), '{"event":"targets","step":0}\n');
    await mkdir(join(out, "checkpoints", "step-000004"), { recursive: true });
    await expect(calibrate("--model", "/nonexistent/eecot-model", "--data", "tom:8", "--out", out)).rejects.toThrow(
      `calibrate: --out ${out} already holds an earlier run (checkpoints at steps 4, metrics.jsonl); continue it with --resume or choose a new --out folder`,
    );
  });
});

describe("eecot calibrate: run folder", () => {
  test("a kill's temporaries are removed (checkpoint, final adapter, replaced folder, records), a live process's kept; --keep-checkpoints 1 keeps the newest", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-calibrate-keep-"));
    const deadPid = spawnSync("true").pid!;
    const temporary = join(out, "checkpoints", `.step-000002.tmp-${deadPid}-abc`);
    await mkdir(temporary, { recursive: true });
    // A kill inside the final adapter write (found by scripts/faults.ts: never removed before).
    const staging = join(out, `.adapter.tmp-${deadPid}-1796315402319-x1`);
    await mkdir(staging);
    await writeFile(join(staging, `.adapter_model.safetensors.tmp-${deadPid}-y2`), "partial");
    const replaced = join(out, `adapter.old-${deadPid}-1796315402319`);
    await mkdir(replaced);
    const records = join(out, `metrics.jsonl.tmp-${deadPid}`);
    await writeFile(records, "");
    const live = join(out, `.adapter.tmp-${process.pid}-1-z3`);
    await mkdir(live);
    const lines: string[] = [];
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      await calibrate("--data", "tom:2,gsm-synthetic:2:maxSteps=1", "--out", out, "--steps", "3", "--checkpoint-every", "1", "--keep-checkpoints", "1", "--max-new-tokens", "4", "--held-out", "1");
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
    for (const path of [temporary, staging, replaced, records]) expect(lines.join("")).toContain(`calibrate: removed ${path} (left by an interrupted run)`);
    expect(await readdir(join(out, "checkpoints"))).toEqual(["step-000003"]);
    expect((await readdir(out)).filter((name) => name.includes(".tmp-") || name.includes(".old-"))).toEqual([`.adapter.tmp-${process.pid}-1-z3`]);
  }, 120_000);

  test("a resumed run's summary and calibration.json say what an uninterrupted run says (head warm-up, final loss)", async () => {
    // Found by scripts/faults.ts: a run resumed after the head warm-up printed no warm-up and wrote
    // an empty training.headWarmup (its own result holds only the steps it ran).
    const folder = await mkdtemp(join(tmpdir(), "eecot-calibrate-resumed-"));
    const flags = ["--data", "tom:4", "--steps", "3", "--checkpoint-every", "1", "--head-warmup", "2", "--max-new-tokens", "4", "--held-out", "1", "--seed", "3"];
    const printed = async (...args: string[]) => {
      const lines: string[] = [];
      const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
      const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
      try {
        await calibrate(...flags, ...args);
      } finally {
        stderr.mockRestore();
        stdout.mockRestore();
      }
      return lines.join("");
    };
    const whole = join(folder, "whole");
    const killed = join(folder, "killed");
    const expected = (await printed("--out", whole)).replaceAll(whole, "OUT");
    expect(expected).toMatch(/^stage 1: head warm-up 2 epochs \(total variation \d\.\d{3} on its last\), then 3 steps/);
    // A run killed after checkpoint 2 (of 3): its step-3 checkpoint, adapter and report never written.
    await printed("--out", killed);
    for (const path of ["checkpoints/step-000003", "adapter", "calibration.json"]) await rm(join(killed, path), { recursive: true });
    expect((await printed("--out", killed, "--resume")).replaceAll(killed, "OUT")).toBe(expected);
    const training = async (out: string) => {
      const { training: t } = JSON.parse(await readFile(join(out, "calibration.json"), "utf8")) as { training: { headWarmup: { seconds: number }[]; finalLoss: number; finalKl: number; finalExitNll: number; resumedFrom: number | null } };
      return { headWarmup: t.headWarmup.map(({ seconds: _, ...epoch }) => epoch), finalLoss: t.finalLoss, finalKl: t.finalKl, finalExitNll: t.finalExitNll, resumedFrom: t.resumedFrom };
    };
    const resumed = await training(killed);
    expect(resumed.headWarmup).toHaveLength(2);
    expect(resumed).toEqual({ ...(await training(whole)), resumedFrom: 2 });
  }, 180_000);
});

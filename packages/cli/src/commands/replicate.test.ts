// `eecot replicate fig2 --quick` on the bundled model: the whole replication tiny (stage 1, main
// seeds, λ sweep, figure); a killed run continues bit-exactly; other settings on the same folder
// are refused; bad flags fail before anything loads.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { runCli } from "../program.js";

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);
const stepsOf = (file: string) => readFileSync(file, "utf8").split("\n").filter((l) => l.includes('"type":"step"')).map((l) => (JSON.parse(l) as { step: number }).step);

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("eecot replicate fig2", () => {
  test("--quick: stage 1, every run, the figure and its numbers; a killed run continues exactly", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-fig2-")), "fig2");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await run("replicate", "fig2", "--quick", "--out", out);
      for (const file of ["fig2.json", "fig2.md", "fig2.svg", "fig2.png", "fig2-sweep.svg", "fig2-sweep.png", "stage1/summary.json"]) expect(existsSync(join(out, file)), file).toBe(true);
      const record = JSON.parse(readFileSync(join(out, "fig2.json"), "utf8"));
      // Quick: main λ 1.5 × seeds {0, 1} for 2 steps, sweep λ {0, 3} × seed 0 for 1 step.
      expect(record.runs.map((r: { name: string }) => r.name)).toEqual(["lambda-1.5-seed-0", "lambda-1.5-seed-1", "lambda-0-seed-0", "lambda-3-seed-0"]);
      expect(record.runs.map((r: { curve: { step: number }[] }) => r.curve.map((p) => p.step))).toEqual([[0, 1, 2], [0, 1, 2], [0, 1], [0, 1]]);
      expect(record.runs.every((r: { finished: boolean }) => r.finished)).toBe(true);
      // Every run starts from the same stage-1 policy, so their step-0 evaluations are identical.
      const zero = record.runs.map((r: { curve: { accuracy: number; averageCompute: number; perplexity: number }[] }) => r.curve[0]);
      expect(new Set(zero.map((p: object) => JSON.stringify(p))).size).toBe(1);
      expect(zero[0].averageCompute).toBeCloseTo(record.stage1.stage1.averageCompute, 12);
      expect(record.summary.seeds).toHaveLength(2);
      expect(record.summary.sweep.map((r: { exitPenalty: number }) => r.exitPenalty)).toEqual([0, 1.5, 3]);
      expect(readFileSync(join(out, "fig2.png")).subarray(1, 4).toString()).toBe("PNG");
      expect(stdout.mock.calls.map((c) => String(c[0])).join("")).toContain("| **mean** | 0→2 |");

      // "Kill" seed 1 after step 1: its last checkpoint, adapter and done.json go; the rerun takes
      // only step 2 again and ends with the same adapter bytes and the same records.
      const seed1 = join(out, "rl", "lambda-1.5-seed-1");
      const adapter = readFileSync(join(seed1, "adapter", "adapter_model.safetensors"));
      const heads = readFileSync(join(seed1, "adapter", "exit_heads.safetensors"));
      for (const gone of ["done.json", "adapter", "checkpoints/step-000002"]) await rm(join(seed1, gone), { recursive: true });
      await run("replicate", "fig2", "--quick", "--out", out);
      expect(stepsOf(join(seed1, "rl-metrics.jsonl"))).toEqual([1, 2]);
      expect(readFileSync(join(seed1, "adapter", "adapter_model.safetensors")).equals(adapter)).toBe(true);
      expect(readFileSync(join(seed1, "adapter", "exit_heads.safetensors")).equals(heads)).toBe(true);
      const again = JSON.parse(readFileSync(join(out, "fig2.json"), "utf8"));
      expect(again.summary).toEqual(record.summary);

      await expect(run("replicate", "fig2", "--quick", "--out", out, "--steps", "3")).rejects.toThrow(/holds a replication started with other settings \(mainSteps 2 → 3\)/);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }, 600_000);

  test("bad flags name the flag before anything loads", async () => {
    await expect(run("replicate", "fig2", "--jobs", "0")).rejects.toThrow(/--jobs/);
    await expect(run("replicate", "fig2", "--shard", "2/2")).rejects.toThrow(/--shard must be "i\/n" with 0 ≤ i < n, got "2\/2"/);
    await expect(run("replicate", "fig2", "--steps", "abc")).rejects.toThrow(/--steps/);
    await expect(run("replicate", "fig2", "--kl-factor", "-1")).rejects.toThrow(/--kl-factor/);
    await expect(run("replicate", "fig2", "--sweep", "0,abc")).rejects.toThrow(/--sweep/);
    await expect(run("replicate", "fig2", "--exit-penalty", "-1")).rejects.toThrow(/--exit-penalty/);
    await expect(run("replicate", "fig2", "--jobs", "2", "--shard", "0/2")).rejects.toThrow(/--jobs or --shard, not both/);
  });
});

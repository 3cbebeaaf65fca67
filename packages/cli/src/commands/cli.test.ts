// The `eecot` command in process: the demo's --quick run writes its whole run folder, and bad
// input fails with a message that names the flag or the file.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { runCli } from "../program.js";

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("eecot demo --quick", () => {
  test("writes config, stage-1 and stage-2 metrics, adapters and the report", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-demo-")), "run");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write");
    try {
      await run("demo", "--quick", "--out", out, "--rl-steps", "2", "--stage1-steps", "3", "--exit-penalty", "0.3");
      // The summary says where the adapters are, and how to use them.
      const summary = stdout.mock.calls.map((c) => String(c[0])).join("");
      expect(summary).toContain(`adapters        stage 1 ${join(out, "stage1", "adapter")}, after RL ${join(out, "stage2", "adapter")}`);
      expect(summary).toContain(`eecot generate --adapter ${join(out, "stage2", "adapter")}`);
      // The A.1 progress line names its row once ("row f=0.25", not "f f=0.25").
      const messages = stderr.mock.calls.map((c) => String(c[0])).join("");
      expect(messages).toMatch(/A\.1 sweep: .*row f=0\.25/);
      expect(messages).not.toMatch(/\bf f=/);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    for (const file of ["config.json", "report-data.json", "stage1/metrics.jsonl", "stage2/rl-metrics.jsonl", "stage2/adapter/adapter_config.json", "report/report.html"]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    // The flags reached the pipeline: 3 stage-1 steps, 2 RL steps, λ 0.3.
    const stage1Steps = readFileSync(join(out, "stage1/metrics.jsonl"), "utf8").split("\n").filter((l) => l.includes('"event":"step"'));
    expect(stage1Steps).toHaveLength(3);
    const rlSteps = readFileSync(join(out, "stage2/rl-metrics.jsonl"), "utf8").split("\n").filter((l) => l.includes('"type":"step"'));
    expect(rlSteps).toHaveLength(2);
    expect(readFileSync(join(out, "config.json"), "utf8")).toMatch(/"exitPenalty":\s*0\.3/);
  }, 300_000);
});

describe("eecot calibrate", () => {
  test("defaults to the bundled model, runs the head warm-up and records it", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-calibrate-")), "run");
    await run("calibrate", "--data", "gsm-synthetic:5:maxSteps=1,tom:5", "--out", out, "--steps", "2", "--max-new-tokens", "12", "--held-out", "2", "--head-warmup", "2", "--kl-factor", "4");
    const document = JSON.parse(readFileSync(join(out, "calibration.json"), "utf8"));
    expect(document.model).toMatch(/models\/tiny-reasoner$/);
    expect(document.config.headWarmupEpochs).toBe(2);
    expect(document.training.headWarmup.map((r: { epoch: number }) => r.epoch)).toEqual([1, 2]);
    expect(document.training.steps).toBe(2);
    expect(document.teacher.heldOut).toBe(2);
    const events = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).event);
    expect(events.filter((e) => e === "head-warmup")).toHaveLength(2);
    expect(existsSync(join(out, "adapter", "adapter_config.json"))).toBe(true);
  }, 300_000);

  test("a bad warm-up flag names the flag", async () => {
    await expect(run("calibrate", "--data", "tom:4", "--out", "/tmp/eecot-never", "--head-warmup", "-1")).rejects.toThrow(/--head-warmup must be an integer ≥ 0, got "-1"/);
    await expect(run("calibrate", "--data", "tom:4", "--out", "/tmp/eecot-never", "--head-warmup-tokens", "0")).rejects.toThrow(/--head-warmup-tokens must be a positive integer/);
  });
});

describe("eecot generate", () => {
  test("exits on without --adapter: the output says the untrained heads never exit and where adapters are", async () => {
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      await run("generate", "--prompt", "What is 2 + 3?", "--exits", "sample", "--max-new-tokens", "6", "--json");
      const document = JSON.parse(stdout.mock.calls.map((c) => String(c[0])).join(""));
      expect(document.exitLayers).toEqual(Array(document.tokens.length).fill(document.numLayers)); // indeed: no exits
      const messages = stderr.mock.calls.map((c) => String(c[0])).join("");
      expect(messages).toContain("the exit heads are untrained and no token exits early");
      expect(messages).toContain("--adapter runs/<timestamp>/stage2/adapter");
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
  });
});

describe("bad input", () => {
  test("a step count that is not a positive integer names the flag", async () => {
    await expect(run("demo", "--quick", "--rl-steps", "0")).rejects.toThrow(/--rl-steps must be a positive integer, got "0"/);
    await expect(run("demo", "--quick", "--stage1-steps", "2.5")).rejects.toThrow(/--stage1-steps must be a positive integer/);
    await expect(run("demo", "--quick", "--kl-factor", "-1")).rejects.toThrow(/--kl-factor must be a finite number > 0, got "-1"/);
    await expect(run("demo", "--quick", "--exit-penalty", "lots")).rejects.toThrow(/--exit-penalty must be a finite number ≥ 0, got "lots"/);
  });

  test("a missing model folder is named", async () => {
    await expect(run("generate", "--model", "/nonexistent/eecot-model", "--prompt", "hi")).rejects.toThrow(/\/nonexistent\/eecot-model/);
  });

  test("a corrupt config.json is named", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-bad-model-"));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "config.json"), "{ not json");
    await expect(run("generate", "--model", dir, "--prompt", "hi")).rejects.toThrow(/config\.json/);
  });
});

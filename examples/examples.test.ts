// The examples as a user runs them: qwen3-4b-rl's --quick is the paper path with tiny sizes
// (same code), a killed run continues with --resume, its command line has --help, "did you mean"
// and clear errors, and its GSM8K data refuses to run with no held-out prompts.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { main as qwen3, paperConfig, PAPER_SETTINGS, resolveSettings } from "./qwen3-4b-rl/run.js";
import { main as r1 } from "./r1-distill-calibration/run.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const qwen3Script = fileURLToPath(new URL("./qwen3-4b-rl/run.ts", import.meta.url));

function runQwen3Script(...args: string[]) {
  const result = spawnSync(process.execPath, ["--import", "tsx", qwen3Script, ...args], { cwd: root, encoding: "utf8", timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const stepsIn = (file: string, marker: string) =>
  readFileSync(file, "utf8").split("\n").filter((line) => line.includes(marker)).map((line) => (JSON.parse(line) as { step: number }).step);

describe("qwen3-4b-rl --quick: the paper path with tiny sizes", () => {
  test("runs every phase with the paper's hyperparameters; a killed run continues with --resume", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-example-qwen3-"));
    await qwen3(["--quick", "--backend", "wasm", "--out", out]);
    expect(existsSync(join(out, "report", "report.html"))).toBe(true);
    expect(existsSync(join(out, "stage2", "adapter", "adapter_config.json"))).toBe(true);
    // The paper's hyperparameters, the --quick sizes.
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(config.distill).toMatchObject({ klFactor: 1, batchSize: 2, exitSamplesPerSequence: 4, learningRates: { lora: 1e-5, heads: 1e-5 }, steps: 2 });
    expect(config.rloo).toMatchObject({ exitPenalty: 1.5, klCoefficient: 0.05, samplesPerPrompt: 4, learningRates: { lora: 1e-5, heads: 1e-5 }, steps: 2 });
    expect(config.earlyExit).toEqual({ exitEvery: 5, lora: { rank: 8, alpha: 16 } });
    expect(config.klFactors).toEqual([0.25, 0.5, 1, 2, 4]);
    expect([config.calibrationExamples, config.heldOutExamples, config.rlExamples, config.sweepExamples]).toEqual([6, 4, 8, 2]);

    // "Kill" the run after step 1 of each stage: drop the last checkpoints and the outputs after them.
    await rm(join(out, "stage1", "checkpoints", "step-000002"), { recursive: true });
    await rm(join(out, "stage2", "checkpoints", "step-000002"), { recursive: true });
    await rm(join(out, "stage2", "adapter"), { recursive: true });
    await rm(join(out, "report"), { recursive: true });
    await qwen3(["--quick", "--backend", "wasm", "--out", out, "--resume"]);
    // Each stage took only the missing step: stage 1's metrics were cut back to step 1 and
    // continued; stage 2's records were cut back to its checkpoint and step 2 taken again (no repeats).
    expect(stepsIn(join(out, "stage1", "metrics.jsonl"), '"event":"step"')).toEqual([1, 2]);
    expect(stepsIn(join(out, "stage2", "rl-metrics.jsonl"), '"type":"step"')).toEqual([1, 2]);
    expect(existsSync(join(out, "stage2", "adapter", "adapter_config.json"))).toBe(true);
    expect(existsSync(join(out, "report", "report.html"))).toBe(true);
    // The report's RL curve has one point per evaluated step, the ones before the "kill" included.
    const report = JSON.parse(readFileSync(join(out, "report-data.json"), "utf8"));
    expect(report.rlCurves.runs[0].steps.map((p: { step: number }) => p.step)).toEqual([0, 1, 2]);

    // Resuming with other settings is refused, naming what differs.
    await expect(qwen3(["--quick", "--backend", "wasm", "--out", out, "--resume", "--exit-penalty", "2"])).rejects.toThrow(/--resume: .*config\.json was written with other settings \(rloo: .*"exitPenalty":1\.5.*"exitPenalty":2/);
  }, 600_000);

  test("--resume needs --out", async () => {
    await expect(qwen3(["--quick", "--resume"])).rejects.toThrow(/--resume continues a run: name its folder with --out/);
  });
});

describe("qwen3-4b-rl command line", () => {
  test("--help lists every paper hyperparameter with the paper's default", () => {
    const { status, stdout } = runQwen3Script("--help");
    expect(status).toBe(0);
    const help = stdout.replace(/\s+/g, " "); // commander wraps at 80 columns
    for (const line of ["--exit-penalty <λ>", "(paper: 1.5)", "--kl <β>", "(paper: 0.05)", "--samples-per-prompt <k>", "--rl-steps <n>", "(paper: 380; --quick: 2)", "--kl-factor <f>", "--lr-lora <rate>", "(paper: 1e-5)", "--gsm8k-test <file>", "--resume"]) {
      expect(help).toContain(line);
    }
  });

  test("a mistyped flag gets 'did you mean', a bad value names the flag; exit code 1, no stack trace", () => {
    const typo = runQwen3Script("--modle", "/data/Qwen3-4B");
    expect(typo.status).toBe(1);
    expect(typo.stderr).toContain("unknown option '--modle'");
    expect(typo.stderr).toContain("Did you mean --model?");
    expect(typo.stderr).not.toMatch(/\n\s+at /);
    const bad = runQwen3Script("--rl-steps", "0");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^qwen3-4b-rl: --rl-steps must be a positive integer/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  test("flags override the paper's values and the --quick sizes; k < 2 is refused", () => {
    expect(resolveSettings({}, false)).toEqual(PAPER_SETTINGS);
    expect(resolveSettings({}, true)).toMatchObject({ rlSteps: 2, exitPenalty: 1.5, samplesPerPrompt: 4 });
    expect(resolveSettings({ rlSteps: "7", exitPenalty: "0.5", klFactors: "1,4" }, true)).toMatchObject({ rlSteps: 7, exitPenalty: 0.5, klFactors: [1, 4] });
    expect(() => resolveSettings({ samplesPerPrompt: "1" }, false)).toThrow(/--samples-per-prompt must be at least 2/);
    expect(() => resolveSettings({ lrLora: "-1" }, false)).toThrow(/--lr-lora must be a number > 0/);
  });
});

describe("qwen3-4b-rl GSM8K data", () => {
  const problems = (n: number, start = 0) =>
    Array.from({ length: n }, (_, i) => JSON.stringify({ question: `Ann has ${start + i} apples and buys 2. How many?`, answer: `${start + i} + 2 = ${start + i + 2}\n#### ${start + i + 2}` })).join("\n") + "\n";
  const quiet = { ...resolveSettings({}, true), calibrationPrompts: 2, rlPrompts: 3, heldOut: 2, sweepPrompts: 2 };

  test("--gsm8k is used with or without --model; a training file with nothing left for held-out prompts is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-example-gsm8k-"));
    const train = join(dir, "train.jsonl");
    await writeFile(train, problems(5));
    expect(() => paperConfig(quiet, { train, test: null }, 0, () => {})).toThrow(/held-out prompts from .*train\.jsonl: none found \(the file has 5 problems and 5 are used before these\); pass the GSM8K test split with --gsm8k-test/);
    const lines: string[] = [];
    const config = paperConfig({ ...quiet, rlPrompts: 2 }, { train, test: null }, 0, (line) => lines.push(line));
    expect(config.calibrationExamples.slice(0, 2).map((e) => e.prompt)).toEqual([expect.stringContaining("Ann has 0 apples"), expect.stringContaining("Ann has 1 apples")]);
    expect(config.heldOutExamples.filter((e) => e.task === "gsm8k").map((e) => e.reference)).toEqual(["6"]); // problem 4 is the only one left
    expect(lines).toEqual([expect.stringMatching(/held-out prompts from .*train\.jsonl: only 1 of 2 found/), expect.stringMatching(/A\.1 prompts from .*train\.jsonl: only 1 of 2 found/)]);
  });

  test("--gsm8k-test gives the held-out and A.1 prompts; an empty test file is refused", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-example-gsm8k-test-"));
    const train = join(dir, "train.jsonl");
    const test = join(dir, "test.jsonl");
    await writeFile(train, problems(5));
    await writeFile(test, problems(3, 100));
    const config = paperConfig(quiet, { train, test }, 0, () => {});
    expect(config.heldOutExamples.filter((e) => e.task === "gsm8k").map((e) => e.reference)).toEqual(["102", "103"]);
    expect(config.sweepExamples.map((e) => e.reference)).toEqual(["102", "103"]);
    await writeFile(test, "");
    expect(() => paperConfig(quiet, { train, test }, 0, () => {})).toThrow(/held-out prompts from .*test\.jsonl: none found \(the file has 0 problems/);
  });
});

describe("r1-distill-calibration --quick", () => {
  test("a GSM8K file too short for the held-out prompts is refused, saying how many it has", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-example-r1-gsm8k-"));
    const file = join(dir, "test.jsonl");
    await writeFile(file, Array.from({ length: 4 }, (_, i) => JSON.stringify({ question: `What is ${i} + 1?`, answer: `#### ${i + 1}` })).join("\n") + "\n");
    await expect(r1(["--quick", "--backend", "wasm", "--gsm8k", file, "--out", join(dir, "run")])).rejects.toThrow(/A\.1 prompts from .*test\.jsonl: none found \(the file has 4 problems and 6 are used before these\)/);
  });

  test("writes the A.1 / A.2 report", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-example-r1-"));
    await r1(["--quick", "--backend", "wasm", "--out", out]);
    expect(existsSync(join(out, "report", "report.html"))).toBe(true);
    expect(existsSync(join(out, "stage1"))).toBe(true);
  }, 600_000);
});

// Stage 2 on the bundled tiny model: rl-metrics.jsonl is written in order and awaited, an
// interrupted (killed) and resumed run leaves the same file as an uninterrupted one, a used
// folder is refused without --resume, and a full disk fails with the file's name.
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, symlink, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { EarlyExitModel, saveEarlyExitAdapters } from "@eecot/early-exit";
import { initBackend } from "@eecot/tensor-core";
import type { QwenModel, Tokenizer } from "@eecot/transformer";
import { bundledModelDir } from "./bundled.js";
import { runCli } from "./program.js";
import { RL_METRICS_FILE, runRl, type RlRunOptions } from "./rl-run.js";
import { loadModelFolder } from "./setup.js";
import { gsmExamples, tomExamples } from "./tiny/data.js";

let base: QwenModel;
let tokenizer: Tokenizer;
const train = [...gsmExamples(2, 501), ...tomExamples(2, 501, 1)];
const heldOut = [...gsmExamples(1, 777), ...tomExamples(1, 777, 1)];
const config = { steps: 4, promptsPerStep: 1, samplesPerPrompt: 2, maxNewTokens: 6, evalEvery: 1, checkpointEvery: 2, seed: 3 };

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  const loaded = await loadModelFolder(bundledModelDir());
  base = loaded.model;
  tokenizer = loaded.tokenizer!;
});

const fresh = () => EarlyExitModel.create(base, { seed: 5 });
const rl = (outDir: string, extra: Partial<RlRunOptions> = {}) => {
  const model = fresh();
  return runRl({ base, model, tokenizer, train, heldOut, config, outDir, evalMaxNewTokens: 6, quiet: true, log: () => {}, ...extra }).finally(() => model.dispose());
};
const records = async (dir: string) => (await readFile(join(dir, RL_METRICS_FILE), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { type: string; step: number });

describe("rl-metrics.jsonl", () => {
  test("in order; killed after step 3 and resumed, it equals the uninterrupted run's file", async () => {
    const root = await mkdtemp(join(tmpdir(), "eecot-rl-"));
    const straight = join(root, "straight");
    await rl(straight);
    const order = (await records(straight)).map((r) => `${r.type} ${r.step}`);
    expect(order).toEqual(["eval 0", "step 1", "eval 1", "step 2", "eval 2", "step 3", "eval 3", "step 4", "eval 4"]);

    // A kill -9 after step 3 was logged and evaluated, before its checkpoint (the last is step 2),
    // with a line cut short and a temporary checkpoint folder left behind.
    const killed = join(root, "killed");
    let polls = 0;
    await expect(rl(killed, { shouldStop: () => { if (++polls === 3) throw new Error("killed"); return false; } })).rejects.toThrow("killed");
    await appendFile(join(killed, RL_METRICS_FILE), '{"type":"step","step":4,"rew');
    const deadPid = spawnSync("true").pid!;
    await mkdir(join(killed, "checkpoints", `.step-000004.tmp-${deadPid}-abc`));
    expect((await readdir(join(killed, "checkpoints"))).sort()).toEqual([`.step-000004.tmp-${deadPid}-abc`, "step-000002"]);

    const lines: string[] = [];
    const resumed = await rl(killed, { resume: true, log: (line) => lines.push(line) });
    expect(lines).toContain(`rl: resuming from ${join(killed, "checkpoints", "step-000002")} (step 2)`);
    expect(lines.some((l) => l.includes(`removed ${join(killed, "checkpoints", `.step-000004.tmp-${deadPid}-abc`)}`))).toBe(true);
    expect(await readFile(join(killed, RL_METRICS_FILE), "utf8")).toBe(await readFile(join(straight, RL_METRICS_FILE), "utf8"));
    // The result carries the whole curve, eval 0 included, once.
    expect(resumed.curve.map((p) => p.step)).toEqual([0, 1, 2, 3, 4]);
    expect(resumed.steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    // Default retention: the newest 2 checkpoints, no temporaries.
    expect((await readdir(join(killed, "checkpoints"))).sort()).toEqual(["step-000002", "step-000004"]);
  }, 120_000);

  test("a used folder is refused without --resume", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-rl-")), "run");
    await rl(out, { config: { ...config, steps: 1, evalEvery: 0 } });
    await expect(rl(out)).rejects.toThrow(`rl: --out ${out} already holds an earlier run (checkpoints at steps 1, rl-metrics.jsonl); continue it with --resume or choose a new --out folder`);
  }, 60_000);
});

describe("eecot rl", () => {
  let adapter: string;
  beforeAll(async () => {
    adapter = join(await mkdtemp(join(tmpdir(), "eecot-rl-adapter-")), "adapter");
    const model = fresh();
    await saveEarlyExitAdapters(adapter, model);
    model.dispose();
  });
  const cli = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", "rl", "--adapter", adapter, "--data", "gsm-synthetic:2,tom:2", "--eval-data", "tom:1", ...args]);

  test("a full disk: a clear error naming the metrics file, no unhandled rejection", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-rl-full-"));
    await symlink("/dev/full", join(out, RL_METRICS_FILE));
    await expect(cli("--out", out, "--steps", "1", "--max-new-tokens", "4", "--prompts-per-step", "1", "--samples-per-prompt", "2")).rejects.toThrow(
      new RegExp(`rl: cannot write ${join(out, RL_METRICS_FILE)}: ENOSPC`),
    );
  }, 60_000);

  test("flags are checked before the model loads, naming the flag and quoting the value", async () => {
    const out = join(tmpdir(), "eecot-rl-never");
    const cases: [string[], string][] = [
      [["--lr-lora", "abc"], '--lr-lora must be a finite number ≥ 0, got "abc"'],
      [["--lr-heads", "-1"], '--lr-heads must be a finite number ≥ 0, got "-1"'],
      [["--exit-penalty", "-0.5"], '--exit-penalty must be a finite number ≥ 0, got "-0.5"'],
      [["--kl", "NaN"], '--kl must be a finite number ≥ 0, got "NaN"'],
      [["--steps", "0"], '--steps must be a positive integer, got "0"'],
      [["--samples-per-prompt", "1"], '--samples-per-prompt must be an integer ≥ 2, got "1"'],
      [["--max-new-tokens", "12.5"], '--max-new-tokens must be a positive integer, got "12.5"'],
      [["--eval-every", ""], '--eval-every must be an integer ≥ 0, got ""'],
      [["--keep-checkpoints", "0"], '--keep-checkpoints must be a positive integer, got "0"'],
      [["--seed", "x"], '--seed must be an integer, got "x"'],
      [["--model", "/nonexistent/eecot-model", "--steps", "abc"], '--steps must be a positive integer, got "abc"'],
    ];
    for (const [args, message] of cases) await expect(cli("--out", out, ...args), args.join(" ")).rejects.toThrow(message);
  });
});

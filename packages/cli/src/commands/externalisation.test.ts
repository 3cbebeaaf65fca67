// `eecot externalisation --quick` on the bundled model: the record, the report section, a resumed
// rerun that replays the cache, and flags that fail before the model loads.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { runCli } from "../program.js";

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("eecot externalisation", () => {
  test("--quick writes the record and the report, and a rerun replays the cache", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-externalisation-")), "run");
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await run("externalisation", "--quick", "--out", out);
      const first = JSON.parse(readFileSync(join(out, "externalisation.json"), "utf8"));
      expect(first.records).toHaveLength(1);
      const base = first.records[0];
      expect(base.label).toBe("base");
      expect(base.problems).toBe(6);
      expect(base.earlyAnswering.fractions).toEqual([0, 0.5, 1]);
      expect(base.depth.all.meanCompute).toBe(1); // the base model never exits
      expect(base.details.every((d: { completion: string }) => !d.completion.includes("<|im_end|>"))).toBe(true);
      const html = readFileSync(join(out, "report", "report.html"), "utf8");
      expect(html).toContain('<table id="externalisation-table">');
      const cached = readFileSync(join(out, "cache.jsonl"), "utf8").trim().split("\n").length;
      await run("externalisation", "--quick", "--out", out);
      expect(readFileSync(join(out, "cache.jsonl"), "utf8").trim().split("\n").length).toBe(cached); // nothing new was generated
      const again = JSON.parse(readFileSync(join(out, "externalisation.json"), "utf8"));
      expect(again.records).toEqual(first.records);
      expect(stderr.mock.calls.map((c) => String(c[0])).join("")).toContain(`(resuming: ${cached} cached batches)`);
      expect(stdout.mock.calls.map((c) => String(c[0])).join("")).toMatch(/early answering AOC/);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(existsSync(join(out, "report", "report.json"))).toBe(true);
  }, 120_000);

  test("bad flags name the flag before anything loads", async () => {
    await expect(run("externalisation", "--adapter", "stage1")).rejects.toThrow(/--adapter must be LABEL=DIR/);
    await expect(run("externalisation", "--adapter", "s=/nonexistent/adapter")).rejects.toThrow(/adapter_config\.json not found/);
    await expect(run("externalisation", "--no-base")).rejects.toThrow(/nothing to measure/);
    await expect(run("externalisation", "--fractions", "0,2")).rejects.toThrow(/--fractions must be increasing numbers in \[0, 1\]/);
    await expect(run("externalisation", "--batch-size", "0")).rejects.toThrow(/--batch-size must be a positive integer/);
  });
});

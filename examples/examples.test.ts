// Each example runs end to end on the bundled tiny model in --quick mode.
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { main as qwen3 } from "./qwen3-4b-rl/run.js";
import { main as r1 } from "./r1-distill-calibration/run.js";

describe("examples on the bundled tiny model (--quick)", () => {
  test("qwen3-4b-rl writes a report", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-example-qwen3-"));
    await qwen3(["--quick", "--backend", "wasm", "--out", out]);
    expect(existsSync(join(out, "report", "report.html"))).toBe(true);
    expect(existsSync(join(out, "stage2", "adapter", "adapter_config.json"))).toBe(true);
  }, 600_000);

  test("r1-distill-calibration writes the A.1 / A.2 report", async () => {
    const out = await mkdtemp(join(tmpdir(), "eecot-example-r1-"));
    await r1(["--quick", "--backend", "wasm", "--out", out]);
    expect(existsSync(join(out, "report", "report.html"))).toBe(true);
    expect(existsSync(join(out, "stage1"))).toBe(true);
  }, 600_000);
});

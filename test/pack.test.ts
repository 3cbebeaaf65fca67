// Release check: the packed @eecot/early-exit (with its @eecot dependencies) installs with npm in
// a fresh folder and runs there. Needs the npm registry for tfjs; skips when it is unreachable.
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const registryReachable = spawnSync("npm", ["view", "@tensorflow/tfjs-core@4.22.0", "version"], { encoding: "utf8", timeout: 30_000 }).status === 0;

describe("pnpm pack of @eecot/early-exit", () => {
  test.skipIf(!registryReachable)(`installs and imports in a fresh folder${registryReachable ? "" : " (skipped: the npm registry is unreachable)"}`, () => {
    if (!registryReachable) console.log("pack test skipped: the npm registry is unreachable");
    const script = fileURLToPath(new URL("../scripts/pack-test.sh", import.meta.url));
    const output = execFileSync("bash", [script], { encoding: "utf8", timeout: 600_000 });
    const result = JSON.parse(output.trim().split("\n").at(-1)!) as { tokens: number[]; exitLayers: number[] };
    expect(result.tokens).toHaveLength(4);
    expect(result.exitLayers.every((l) => l === 2 || l === 4)).toBe(true);
  }, 900_000);
});

// A skipped test says why in the run's summary: the reporter configured in vitest.config.ts,
// run on a fixture file whose tests skip.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { skipReasonOf } from "./skip-reasons-reporter.js";

const root = fileURLToPath(new URL("..", import.meta.url));

describe("skip reasons in the test summary", () => {
  test("the reason comes from the skip note or the title's 'skipped: …'", () => {
    expect(skipReasonOf("webgpu backend (skipped: no adapter)", undefined)).toBe("no adapter");
    expect(skipReasonOf("suite > test", "from the note")).toBe("from the note");
    expect(skipReasonOf("suite > test", undefined)).toBeNull();
  });

  test("a vitest run ends with every skipped test that gives a reason, and the reason", () => {
    const fixture = join(root, "test", "fixtures", "skips");
    const result = spawnSync(process.execPath, [join(root, "node_modules", "vitest", "vitest.mjs"), "run", "--root", fixture], { cwd: root, encoding: "utf8", timeout: 120_000, env: { ...process.env, CI: "1", NO_COLOR: "1" } });
    expect(result.status, result.stderr).toBe(0);
    const summary = result.stdout.slice(result.stdout.indexOf("Skipped, and why:"));
    expect(summary).toContain("skips.fixture.ts: 1 skipped: no webgpu adapter in this fixture");
    expect(summary).toContain("skips.fixture.ts: 1 skipped: a note given at run time");
    expect(summary).not.toContain("without a reason"); // as a -t filter's skips, unlisted
  });
});

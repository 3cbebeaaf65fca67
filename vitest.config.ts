// The whole suite (`pnpm test`): every package's project plus the repository-level tests, in one
// vitest run with one summary. A package with its own vitest.config.ts is run with that file;
// one without still runs (with the shared settings), so a new package's tests are never skipped.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { packageDirs, packageProject, REPORTERS, repoProject, repoRoot } from "./vitest.shared.js";

export default defineConfig({
  test: {
    projects: [
      ...packageDirs().map((dir) => {
        const own = join(repoRoot, "packages", dir, "vitest.config.ts");
        return existsSync(own) ? own : packageProject(dir);
      }),
      repoProject(),
    ],
    // After the summary: each skipped test file and why (a skipped browser or webgpu test says so).
    reporters: REPORTERS,
    maxWorkers: 2,
  },
});

import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Tests resolve workspace packages to their sources, so no build step is needed.
export default defineConfig({
  resolve: {
    alias: {
      "@eecot/tensor-core": pkg("tensor-core"),
      "@eecot/transformer": pkg("transformer"),
      "@eecot/policy": pkg("policy"),
      "@eecot/early-exit": pkg("early-exit"),
      "@eecot/distill": pkg("distill"),
      "@eecot/rloo": pkg("rloo"),
      "@eecot/datasets": pkg("datasets"),
      "@eecot/eval": pkg("eval"),
      "@eecot/cli": pkg("cli"),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "examples/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // After the summary: each skipped test file and why (a skipped browser or webgpu test says so).
    reporters: ["default", "./test/skip-reasons-reporter.ts"],
    maxWorkers: 2,
  },
});

// The vitest settings every project shares: the root run (vitest.config.ts, the whole suite) and
// each package's own run (packages/<name>/vitest.config.ts, `pnpm --filter @eecot/<name> test`).
// Workspace packages resolve to their sources, so no build step is needed.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineProject, type UserWorkspaceConfig } from "vitest/config";

export const repoRoot = fileURLToPath(new URL(".", import.meta.url));

/** Folders under packages/ that are workspace packages (have a package.json). */
export function packageDirs(): string[] {
  return readdirSync(join(repoRoot, "packages"), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(repoRoot, "packages", entry.name, "package.json")))
    .map((entry) => entry.name)
    .sort();
}

/** `@eecot/<dir>` -> packages/<dir>/src/index.ts for every package with sources (exact matches only). */
export function workspaceAliases(): { find: RegExp; replacement: string }[] {
  return packageDirs()
    .filter((dir) => existsSync(join(repoRoot, "packages", dir, "src", "index.ts")))
    .map((dir) => ({ find: new RegExp(`^@eecot/${dir}$`), replacement: join(repoRoot, "packages", dir, "src", "index.ts") }));
}

/** After the summary: each skipped test file and why (a skipped browser or webgpu test says so). */
export const REPORTERS = ["default", join(repoRoot, "test", "skip-reasons-reporter.ts")];

const shared = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
  pool: "forks",
  maxWorkers: 2,
} as const;

/** The project of one package: its src/**\/*.test.ts and test/**\/*.test.ts. */
export function packageProject(dir: string, overrides: UserWorkspaceConfig["test"] = {}): UserWorkspaceConfig {
  return defineProject({
    root: join(repoRoot, "packages", dir),
    resolve: { alias: workspaceAliases() },
    test: { name: dir, include: ["src/**/*.test.ts", "test/**/*.test.ts"], ...shared, ...overrides },
  });
}

/**
 * A package's own vitest.config.ts: its project, plus the root-only options for when it is the
 * root of a run (`pnpm test` in the package). The whole-suite run uses only the project part.
 */
export function packageConfig(dir: string, overrides: UserWorkspaceConfig["test"] = {}): UserWorkspaceConfig {
  const project = packageProject(dir, overrides);
  return { ...project, test: { ...project.test, reporters: REPORTERS } as UserWorkspaceConfig["test"] };
}

/** The repository-level tests: test/ (architecture, bundled model, pack, gpu) and examples/. */
export function repoProject(): UserWorkspaceConfig {
  return defineProject({
    root: repoRoot,
    resolve: { alias: workspaceAliases() },
    test: { name: "repo", include: ["test/**/*.test.ts", "examples/**/*.test.ts"], ...shared },
  });
}

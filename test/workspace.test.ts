// Every workspace package can be tested and type-checked on its own (`pnpm --filter
// @eecot/<name> test` / `lint`), and the whole-suite config runs every package's tests.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import rootConfig from "../vitest.config.js";
import { packageDirs, repoRoot, workspaceAliases } from "../vitest.shared.js";

interface PackageJson {
  name: string;
  private?: boolean;
  scripts?: Record<string, string>;
  files?: string[];
  exports?: Record<string, unknown>;
  engines?: Record<string, string>;
  repository?: { type: string; url: string; directory?: string };
  homepage?: string;
  bugs?: { url: string };
  keywords?: string[];
  sideEffects?: boolean | string[];
  license?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** The project's URL (chosen for the first release; every package.json points at it). */
const PROJECT_URL = "https://github.com/eecot/eecot";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

describe("workspace packages", () => {
  const dirs = packageDirs();

  test("the packages are found", () => {
    expect(dirs).toEqual(expect.arrayContaining(["cli", "datasets", "distill", "early-exit", "eval", "policy", "rloo", "tensor-core", "transformer"]));
  });

  for (const dir of dirs) {
    test(`${dir}: own vitest config, tsconfig, test and lint scripts`, () => {
      const root = join(repoRoot, "packages", dir);
      const pkg = readJson<PackageJson>(join(root, "package.json"));
      expect(pkg.name).toBe(`@eecot/${dir}`);
      expect(pkg.scripts?.test).toMatch(/^vitest run\b/);
      expect(pkg.scripts?.lint).toBe("tsc -p tsconfig.json --noEmit");
      expect(existsSync(join(root, "vitest.config.ts")), `packages/${dir}/vitest.config.ts`).toBe(true);
      const tsconfig = readJson<{ extends: string }>(join(root, "tsconfig.json"));
      expect(tsconfig.extends).toBe("../../tsconfig.json");
    });
  }

  for (const dir of dirs) {
    test(`${dir}: publishing fields (files, ESM + types exports, engines, repository, keywords, sideEffects, license)`, () => {
      const pkg = readJson<PackageJson>(join(repoRoot, "packages", dir, "package.json"));
      expect(pkg.private).toBeUndefined();
      expect(pkg.files).toEqual(expect.arrayContaining(["dist", "README.md", "LICENSE"])); // what the tarballs hold: test/pack.test.ts
      expect(pkg.exports?.["."]).toEqual({ types: "./dist/index.d.ts", import: "./dist/index.js" });
      expect(pkg.engines?.node).toBe(">=20");
      expect(pkg.repository).toMatchObject({ type: "git", directory: `packages/${dir}` });
      expect(pkg.keywords?.length).toBeGreaterThan(1);
      expect(pkg.sideEffects).toBeDefined();
      expect(pkg.license).toBe("MIT");
    });
  }

  // One project URL everywhere; the LICENSE is the root's (pnpm pack adds it to a package without one).
  for (const dir of [...dirs.map((d) => `packages/${d}`), "models/tiny-reasoner"]) {
    test(`${dir}: repository, homepage and bugs point at the one project URL; MIT, LICENSE in files`, () => {
      const pkg = readJson<PackageJson>(join(repoRoot, dir, "package.json"));
      expect(pkg.repository).toEqual({ type: "git", url: `git+${PROJECT_URL}.git`, directory: dir });
      expect(pkg.homepage).toBe(`${PROJECT_URL}/tree/main/${dir}#readme`);
      expect(pkg.bugs).toEqual({ url: `${PROJECT_URL}/issues` });
      expect(pkg.license).toBe("MIT");
      expect(pkg.files).toEqual(expect.arrayContaining(["README.md", "LICENSE"]));
      expect(existsSync(join(repoRoot, dir, "README.md")), `${dir}/README.md`).toBe(true);
    });
  }

  test("the root LICENSE is the MIT licence the packages declare", () => {
    const text = readFileSync(join(repoRoot, "LICENSE"), "utf8");
    expect(text.startsWith("MIT License\n")).toBe(true);
    expect(text).toMatch(/^Copyright \(c\) \d{4} .+$/m);
    expect(readJson<PackageJson>(join(repoRoot, "package.json")).license).toBe("MIT");
  });

  test("tensor-core: wasm and cpu are dependencies; webgpu and tfjs-node are optional peers only", () => {
    const pkg = readJson<PackageJson>(join(repoRoot, "packages", "tensor-core", "package.json"));
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(expect.arrayContaining(["@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-backend-wasm"]));
    const optional = ["@tensorflow/tfjs-backend-webgpu", "webgpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"];
    for (const name of optional) {
      expect(pkg.peerDependencies?.[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true);
      expect(pkg.dependencies?.[name], name).toBeUndefined();
      expect(pkg.optionalDependencies?.[name], name).toBeUndefined();
    }
  });

  test("the whole-suite config has one project per package plus the repository tests", () => {
    const projects = rootConfig.test?.projects ?? [];
    expect(projects).toHaveLength(dirs.length + 1);
    const names = projects.map((p) => (typeof p === "string" ? p.split("/").at(-2) : (p as { test?: { name?: string } }).test?.name));
    expect(names).toEqual([...dirs, "repo"]);
  });

  test("workspace imports resolve to sources, by exact name only", () => {
    const aliases = workspaceAliases();
    const core = aliases.find((a) => a.find.test("@eecot/tensor-core"))!;
    expect(core.replacement).toBe(join(repoRoot, "packages", "tensor-core", "src", "index.ts"));
    expect(aliases.some((a) => a.find.test("@eecot/tensor-core/package.json"))).toBe(false);
  });
});

// Release check (scripts/pack-test.mjs, offline): every published package is built and packed, the
// tarballs hold only what they should, and npm installs them into an empty folder where the
// bundled model loads, generates with early exits, the same script type-checks against the
// installed .d.ts files, the installed `eecot` bin runs, and missing optional backends say what
// to install. One run of the script (about a minute on 2 cores when turbo's build cache is cold).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";

interface PackResult {
  contents: Record<string, string[]>;
  manifests: Record<string, { dependencies: Record<string, string>; peerDependencies: Record<string, string> }>;
  installed: string[];
  links: string[];
  generated: { backend: string; modelDir: string; layers: number; exitableLayers: number[]; tokens: number[]; exitLayers: number[]; text: string };
  cli: { model: string; backend: string; tokens: number[]; exitLayers: number[] | null; numLayers: number };
  backendErrors: { webgpu: string; tensorflow: string };
}

const PUBLISHED = ["cli", "datasets", "distill", "early-exit", "eval", "policy", "rloo", "tensor-core", "tiny-reasoner", "transformer"];

describe("the packed packages, npm-installed offline into an empty folder", () => {
  let result: PackResult;
  beforeAll(() => {
    const script = fileURLToPath(new URL("../scripts/pack-test.mjs", import.meta.url));
    const run = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
    if (run.status !== 0) throw new Error(`scripts/pack-test.mjs failed (exit ${run.status}):\n${run.stderr.slice(-6000)}`);
    result = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as PackResult;
  }, 900_000);

  test("every published package is packed and installed", () => {
    expect(Object.keys(result.contents).sort()).toEqual(PUBLISHED.map((p) => `@eecot/${p}`));
    expect(result.installed).toEqual(PUBLISHED);
  });

  test("tarballs hold dist/, README, LICENSE and package.json (the model package: the model files); no tests, fixtures or sources", () => {
    for (const [name, files] of Object.entries(result.contents)) {
      expect(files, name).toContain("package.json");
      expect(files, name).toContain("README.md");
      expect(files, name).toContain("LICENSE");
      expect(files.filter((f) => /test|fixture|vitest|tsconfig|tsup/.test(f)), name).toEqual([]);
      if (name === "@eecot/tiny-reasoner") {
        expect(files.filter((f) => f !== "CHANGELOG.md")).toEqual(["LICENSE", "README.md", "config.json", "generation_config.json", "index.d.ts", "index.js", "model.safetensors", "model.safetensors.sha256", "package.json", "tokenizer.json", "tokenizer_config.json"]);
        continue;
      }
      expect(files, name).toEqual(expect.arrayContaining(["dist/index.js", "dist/index.d.ts"]));
      const other = files.filter((f) => !["package.json", "README.md", "LICENSE", "CHANGELOG.md"].includes(f) && !f.startsWith("dist/") && !(name === "@eecot/cli" && f.startsWith("src/playground/")));
      expect(other, name).toEqual([]);
      // Source maps only of the bundles (their sources are src/, never a test file).
      expect(files.filter((f) => f.endsWith(".map")).every((f) => /^dist\/[\w.-]+\.js\.map$/.test(f)), name).toBe(true);
    }
  });

  test("workspace: ranges became the released versions; the webgpu and tfjs-node peers are optional", () => {
    const coreVersion = (JSON.parse(readFileSync(new URL("../packages/tensor-core/package.json", import.meta.url), "utf8")) as { version: string }).version;
    expect(result.manifests["@eecot/early-exit"]!.dependencies).toMatchObject({ "@eecot/tensor-core": coreVersion });
    for (const [name, { dependencies }] of Object.entries(result.manifests)) {
      for (const [dep, range] of Object.entries(dependencies)) {
        if (dep.startsWith("@eecot/")) expect(range, `${name} -> ${dep}`).toMatch(/^\d+\.\d+\.\d+/);
      }
    }
    const core = result.manifests["@eecot/tensor-core"]!;
    expect(Object.keys(core.dependencies)).toEqual(expect.arrayContaining(["@tensorflow/tfjs-backend-wasm", "@tensorflow/tfjs-backend-cpu"]));
    expect(Object.keys(core.peerDependencies)).toEqual(expect.arrayContaining(["webgpu", "@tensorflow/tfjs-backend-webgpu", "@tensorflow/tfjs-node"]));
    // Only what the packages declare was linked in; the optional peers were not.
    expect(result.links).not.toContain("webgpu");
    expect(result.links).not.toContain("@tensorflow/tfjs-backend-webgpu");
  });

  test("the installed packages load the bundled model and generate with exits on wasm", () => {
    const { generated } = result;
    expect(generated.backend).toBe("wasm");
    expect(generated.modelDir).toMatch(/node_modules[/\\]@eecot[/\\]tiny-reasoner$/);
    expect(generated.exitableLayers).toEqual([2, 4, 6]);
    expect(generated.tokens.length).toBeGreaterThan(0);
    expect(generated.exitLayers).toHaveLength(generated.tokens.length);
    expect(generated.exitLayers.every((l) => [...generated.exitableLayers, generated.layers].includes(l))).toBe(true);
  });

  test("the installed eecot bin finds the bundled model through @eecot/tiny-reasoner", () => {
    expect(result.cli.model).toMatch(/node_modules[/\\]@eecot[/\\]tiny-reasoner$/);
    expect(result.cli.backend).toBe("wasm");
    expect(result.cli.tokens.length).toBeGreaterThan(0);
    expect(result.cli.exitLayers).toHaveLength(result.cli.tokens.length);
  });

  test("asking for a backend that is not installed names the packages to install", () => {
    expect(result.backendErrors.webgpu).toBe(
      'backend: "webgpu" but webgpu and @tensorflow/tfjs-backend-webgpu are not installed: run `npm install webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0` (or `pnpm add webgpu@0.6.2 @tensorflow/tfjs-backend-webgpu@4.22.0`; optional peer dependencies of @eecot/tensor-core, not installed with it) and have a Vulkan driver (a GPU\'s own, or Mesa >= 24 lavapipe for software rendering: scripts/install-vulkan.sh)',
    );
    expect(result.backendErrors.tensorflow).toMatch(/^backend: "tensorflow" but neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed: run `npm install @tensorflow\/tfjs-node@4\.22\.0`/);
  });
});

// The package dependency graph of ARCHITECTURE.md, enforced: every import in packages/*/src
// must be allowed for its package.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

export const ALLOWED: Record<string, readonly string[]> = {
  "tensor-core": [],
  policy: [],
  transformer: ["tensor-core"],
  "early-exit": ["tensor-core", "transformer", "policy"],
  distill: ["tensor-core", "transformer", "early-exit", "datasets", "eval"],
  rloo: ["tensor-core", "policy"],
  datasets: [],
  eval: [],
  cli: ["tensor-core", "transformer", "early-exit", "distill", "rloo", "datasets", "eval", "policy", "tiny-reasoner"],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx|js|mjs)$/.test(name) ? [path] : [];
  });
}

export function importsOf(source: string): string[] {
  const pattern = /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|import\s*["']([^"']+)["']/g;
  return [...source.matchAll(pattern)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

describe("package dependency graph (ARCHITECTURE.md)", () => {
  const packages = readdirSync(join(root, "packages")).filter((p) => statSync(join(root, "packages", p)).isDirectory());

  test("every package is listed", () => {
    expect(packages.filter((p) => !(p in ALLOWED))).toEqual([]);
  });

  for (const name of packages) {
    test(`${name} imports only what it may`, () => {
      const violations: string[] = [];
      for (const file of sourceFiles(join(root, "packages", name, "src"))) {
        for (const spec of importsOf(readFileSync(file, "utf8"))) {
          const workspace = /^@eecot\/([^/]+)/.exec(spec);
          if (workspace && workspace[1] !== name && !ALLOWED[name]?.includes(workspace[1]!)) {
            violations.push(`${relative(root, file)} imports ${spec}`);
          }
          if (spec.startsWith("@tensorflow/") && name !== "tensor-core" && !(name === "policy" && spec === "@tensorflow/tfjs-core")) {
            violations.push(`${relative(root, file)} imports ${spec} (use tf from @eecot/tensor-core)`);
          }
          if (spec.includes("/shared/") || spec.startsWith("../../shared")) violations.push(`${relative(root, file)} reads ../shared`);
        }
      }
      expect(violations).toEqual([]);
    });
  }

  test("the checker catches a forbidden import", () => {
    const spec = importsOf(`import { qwenForward } from "@eecot/transformer";\nimport type { X } from '@eecot/policy';`);
    expect(spec).toEqual(["@eecot/transformer", "@eecot/policy"]);
    expect(ALLOWED.rloo!.includes("transformer")).toBe(false);
  });
});

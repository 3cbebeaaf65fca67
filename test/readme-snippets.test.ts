// Every ```ts snippet in the READMEs (root, packages, examples) runs, as written, against the
// bundled model: each in a fresh folder where models/ links to the repository's (so what a
// snippet writes under runs/ stays there), through tsx with the repository's tsconfig paths.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
/** tsx's loader, by path: the snippet's folder has no node_modules. */
const tsxLoader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** The READMEs a user reads: the root one and every package's and example's. */
function readmes(): string[] {
  const inFolders = (folder: string) =>
    readdirSync(join(root, folder))
      .map((name) => join(folder, name, "README.md"))
      .filter((path) => existsSync(join(root, path)));
  return ["README.md", ...inFolders("packages"), ...inFolders("examples")];
}

/** The ```ts blocks of a markdown text, in order. */
export function typescriptSnippets(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

const snippets = readmes().flatMap((file) => typescriptSnippets(readFileSync(join(root, file), "utf8")).map((code, index) => ({ file, index, code })));

describe("README snippets", () => {
  test("are found (one per package README with an API)", () => {
    expect(typescriptSnippets("text\n```ts\nconst a = 1;\n```\n```sh\nls\n```\n```ts\nb();\n```\n")).toEqual(["const a = 1;\n", "b();\n"]);
    expect(snippets.map((s) => s.file)).toEqual(expect.arrayContaining(["packages/tensor-core/README.md", "packages/transformer/README.md", "packages/early-exit/README.md", "packages/distill/README.md", "packages/rloo/README.md", "packages/datasets/README.md", "packages/eval/README.md"]));
  });

  test.each(snippets.map((s) => [`${s.file} #${s.index + 1}`, s] as const))("%s runs against the bundled model", (_name, snippet) => {
    const dir = mkdtempSync(join(tmpdir(), "eecot-readme-snippet-"));
    symlinkSync(join(root, "models"), join(dir, "models"));
    writeFileSync(join(dir, "snippet.mts"), snippet.code);
    const result = spawnSync(process.execPath, ["--import", tsxLoader, "snippet.mts"], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, TSX_TSCONFIG_PATH: join(root, "tsconfig.json"), EECOT_QUIET: "1" },
      timeout: 300_000,
    });
    expect(result.status, `${snippet.file} snippet ${snippet.index + 1} failed:\n${result.stderr.slice(-3000)}`).toBe(0);
  }, 300_000);
});

#!/usr/bin/env node
// Release check, offline: build every published package, `pnpm pack` it (workspace: ranges become
// versions), check what each tarball holds, then `npm install --offline` all tarballs into an
// empty folder and, there: run a script that loads the bundled model from @eecot/tiny-reasoner,
// generates with early exits and prints the exit layers; type-check the same script with tsc
// (strict, against the installed .d.ts files); run the installed `eecot` bin; and ask for the
// webgpu and tensorflow backends, which are not installed, to read the errors a user gets.
//
// Third-party dependencies are not downloaded: the install folder's package.json links each one
// (`file:` + the real path of the copy pnpm installed for the workspace). npm symlinks a folder
// outside the project without installing its dependencies, and Node resolves those from the
// link's real path inside node_modules/.pnpm, where pnpm put them. So only the @eecot packages
// are npm-installed from their tarballs, and each can see only root-level packages: what the
// published packages declare (plus @types/node for tsc), nothing else of the workspace.
//
// Prints one JSON line at the end (test/pack.test.ts reads it). Flags: --keep (keep the folder).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const keep = process.argv.includes("--keep");
const log = (line) => process.stderr.write(`pack-test: ${line}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/** Published workspace packages: folder, package.json. */
const published = [
  ...readdirSync(join(root, "packages")).map((name) => join(root, "packages", name)),
  join(root, "models", "tiny-reasoner"),
]
  .filter((dir) => existsSync(join(dir, "package.json")))
  .map((dir) => ({ dir, pkg: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
  .filter(({ pkg }) => !pkg.private);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}${result.error ? `, ${result.error.message}` : ""}):\n${(result.stdout ?? "").slice(-4000)}\n${(result.stderr ?? "").slice(-4000)}`);
  }
  return result.stdout;
}

const work = mkdtempSync(join(tmpdir(), "eecot-pack-test-"));
try {
  // 1. Build (turbo: dist/ comes from its cache when the sources did not change) and pack.
  run("npx", ["-y", "pnpm@10", "exec", "turbo", "run", "build", "--output-logs=errors-only", ...published.map(({ pkg }) => `--filter=${pkg.name}`)], { cwd: root });
  log(`built (${elapsed()})`);
  const tgz = join(work, "tgz");
  mkdirSync(tgz);
  // One pnpm process packs them all (ten `npx pnpm pack` calls cost minutes on a loaded machine).
  run("npx", ["-y", "pnpm@10", "-r", ...published.flatMap(({ pkg }) => ["--filter", pkg.name]), "pack", "--pack-destination", tgz], { cwd: root });
  log(`packed ${published.length} packages (${elapsed()})`);

  // 2. What the tarballs hold: package.json, README, LICENSE (the root's: pnpm pack adds it to a
  //    package that has none), dist/ (plus the model files and the cli's playground sources); no
  //    tests, fixtures or test source maps; no workspace: ranges.
  const tarballs = {};
  for (const file of readdirSync(tgz)) {
    const entries = run("tar", ["-tzf", join(tgz, file)]).trim().split("\n");
    const manifest = JSON.parse(run("tar", ["-xzOf", join(tgz, file), "package/package.json"]));
    tarballs[manifest.name] = { file, entries, manifest };
  }
  const version = Object.fromEntries(published.map(({ pkg }) => [pkg.name, pkg.version]));
  const contents = {};
  for (const [name, { entries, manifest }] of Object.entries(tarballs)) {
    for (const required of ["package/package.json", "package/README.md", "package/LICENSE"]) {
      if (!entries.includes(required)) throw new Error(`${name}: the tarball has no ${required.slice("package/".length)} (it holds ${entries.join(", ")})`);
    }
    const bad = entries.filter((entry) => /\.test\.|\/test\/|fixtures|__snapshots__|\/src\/(?!playground\/)|vitest\.config|tsconfig|tsup\.config|\.turbo/.test(entry));
    if (bad.length > 0) throw new Error(`${name}: the tarball holds files it should not: ${bad.join(", ")}`);
    const text = JSON.stringify(manifest);
    if (text.includes("workspace:")) throw new Error(`${name}: the packed package.json still has workspace: ranges: ${text}`);
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
      if (dep in version && range !== version[dep]) throw new Error(`${name}: dependency ${dep}@${range}, expected the workspace version ${version[dep]}`);
    }
    contents[name] = entries.map((entry) => entry.replace(/^package\//, "")).sort();
  }

  // 3. Install into an empty folder: the tarballs, and every third-party dependency they declare
  //    linked to the workspace's installed copy.
  const app = join(work, "app");
  mkdirSync(app);
  const links = {};
  for (const { dir, pkg } of published) {
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies })) {
      if (dep.startsWith("@eecot/") || links[dep]) continue;
      const installed = join(dir, "node_modules", dep);
      if (!existsSync(installed)) {
        if (pkg.peerDependenciesMeta?.[dep]?.optional) continue; // an optional peer the workspace lacks
        throw new Error(`${pkg.name} depends on ${dep}, which is not installed in ${dir}; run pnpm install`);
      }
      if (pkg.peerDependenciesMeta?.[dep]?.optional) continue; // optional peers stay out: the user opts in
      links[dep] = `file:${realpathSync(installed)}`;
    }
  }
  links["@types/node"] = `file:${realpathSync(join(root, "node_modules", "@types", "node"))}`;
  const tarballDeps = Object.fromEntries(Object.entries(tarballs).map(([name, { file }]) => [name, `file:../tgz/${file}`]));
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "eecot-pack-test", private: true, type: "module", dependencies: { ...tarballDeps, ...links } }, null, 2));
  run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", "--loglevel=error"], { cwd: app });
  log(`npm-installed ${Object.keys(tarballDeps).length} tarballs offline, ${Object.keys(links).length} linked dependencies (${elapsed()})`);

  // 4. The script, valid as JavaScript and as TypeScript: the .mjs runs, the .mts is type-checked.
  //    The @ts-expect-error lines fail tsc if the imports were untyped (any). skipLibCheck: tfjs-core's
  //    own .d.ts files need @types/long as a global, which an application does not have.
  const script = `import { initBackend } from "@eecot/tensor-core";
import { loadQwenModel, loadTokenizer } from "@eecot/transformer";
import { EarlyExitModel } from "@eecot/early-exit";
import { modelDir } from "@eecot/tiny-reasoner";

const backend = await initBackend({ backend: "wasm", quiet: true });
const base = await loadQwenModel(modelDir);
const tokenizer = await loadTokenizer(modelDir);
const model = EarlyExitModel.create(base, { exitOffset: 2 });
const prompt = tokenizer.encode(tokenizer.applyChatTemplate([{ role: "user", content: "What is 3 + 4?" }], { addGenerationPrompt: true }));
const { sequences } = await model.generate([prompt], { maxNewTokens: 8, temperature: 1, seed: 1 });
const [first] = sequences;
if (!first) throw new Error("no sequence");
const exitLayers: number[] = first.exitLayers;
const layers: number = base.config.numLayers;
console.log(JSON.stringify({ backend: backend.name, modelDir, layers, exitableLayers: model.exitLayers, tokens: first.tokens, exitLayers, text: tokenizer.decode(first.tokens) }));

export function typesAreReal() {
  // @ts-expect-error the prompt must be token ids
  void model.generate("What is 3 + 4?", { maxNewTokens: 1 });
  // @ts-expect-error no such backend
  void initBackend({ backend: "metal" });
}
`;
  const javascript = script.replace("const exitLayers: number[] =", "const exitLayers =").replace("const layers: number =", "const layers =");
  writeFileSync(join(app, "check.mts"), script);
  writeFileSync(join(app, "check.mjs"), javascript);
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: ["node"] }, files: ["check.mts"] }, null, 2),
  );
  const env = { ...process.env, EECOT_BACKEND: "", NODE_PATH: "" };
  const generated = JSON.parse(run(process.execPath, ["check.mjs"], { cwd: app, env }).trim().split("\n").at(-1));
  log(`generated ${generated.tokens.length} tokens, exit layers ${generated.exitLayers.join(" ")} (${elapsed()})`);
  const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], { cwd: app, encoding: "utf8" });
  if (tsc.status !== 0) throw new Error(`tsc --noEmit on check.mts failed:\n${tsc.stdout}${tsc.stderr}`);
  log(`tsc --noEmit check.mts: no errors (${elapsed()})`);

  // 5. The installed bin, with its default model (no models/ folder here: the package's).
  const cli = JSON.parse(run(join(app, "node_modules", ".bin", "eecot"), ["generate", "--prompt", "What is 3 + 4?", "--max-new-tokens", "4", "--exits", "sample", "--json"], { cwd: app, env }));
  log(`eecot generate: ${JSON.stringify(cli).slice(0, 160)} (${elapsed()})`);

  // 6. Backends the user did not install: the errors name the packages and the command.
  const probe = `import { initBackend } from "@eecot/tensor-core";
const out = {};
for (const backend of ["webgpu", "tensorflow"]) {
  try { await initBackend({ backend, quiet: true }); out[backend] = "started"; } catch (error) { out[backend] = error.message; }
}
console.log(JSON.stringify(out));
`;
  writeFileSync(join(app, "backends.mjs"), probe);
  const backendErrors = JSON.parse(run(process.execPath, ["backends.mjs"], { cwd: app, env }).trim().split("\n").at(-1));

  const installed = readdirSync(join(app, "node_modules", "@eecot")).sort();
  console.log(JSON.stringify({ contents, manifests: Object.fromEntries(Object.entries(tarballs).map(([n, t]) => [n, { dependencies: t.manifest.dependencies ?? {}, peerDependencies: t.manifest.peerDependencies ?? {} }])), installed, links: Object.keys(links).sort(), generated, cli, backendErrors, seconds: (Date.now() - started) / 1000 }));
} finally {
  if (keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

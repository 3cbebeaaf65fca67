// `eecot playground`'s folder: page.ts bundled for the browser (esbuild, minified) with the
// packages' browser entries, the page's HTML and CSS, tfjs-wasm's .wasm binaries, and the model
// and adapter files copied in, so the folder is self-contained (any static server, no network).
// Also a small static server for it on 127.0.0.1.
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { basename, dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { replaceDirectory, wasmBinaryFiles } from "@eecot/tensor-core";

/** What the page starts with. */
export interface PlaygroundDefaults {
  /** Prompt text, e.g. "Tom has 3 apples…". */
  readonly prompt: string;
  /** New tokens per run, e.g. 48. */
  readonly maxNewTokens: number;
  /** Token temperature, e.g. 1. */
  readonly temperature: number;
  /** Seed of the token and exit draws, e.g. 0. */
  readonly seed: number;
}

export const DEFAULT_PLAYGROUND_DEFAULTS: PlaygroundDefaults = {
  prompt: "Tom has 7 apples. He buys 5 more and gives 3 to Ann. How many apples does Tom have now?",
  maxNewTokens: 48,
  temperature: 1,
  seed: 0,
};

export interface PlaygroundOptions {
  /** Hugging Face model folder (config.json, safetensors, tokenizer files). */
  readonly model: string;
  /** Early-exit adapter folder (adapter_config.json, …), or null for fresh exit heads. */
  readonly adapter: string | null;
  /** Folder to write (replaced as a whole). */
  readonly out: string;
  readonly defaults?: Partial<PlaygroundDefaults>;
}

/** Sizes of what was written, in bytes. */
export interface PlaygroundSummary {
  readonly out: string;
  /** The minified JavaScript: the entry and the chunks it always loads. */
  readonly javascriptBytes: number;
  /** The webgpu chunk, loaded only when the browser has WebGPU. */
  readonly webgpuChunkBytes: number;
  /** The .wasm binary a browser with SIMD and no cross-origin isolation loads. */
  readonly wasmBytes: number;
  readonly modelBytes: number;
  readonly adapterBytes: number;
}

/** Files of a model or adapter folder the page reads (with every *.safetensors: shards, adapters, heads). */
const COPIED = new Set([
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "chat_template.jinja",
  "model.safetensors.index.json",
  "adapter_config.json",
  "early_exit_config.json",
]);

/** The folder holding page.ts, page.html, page.css (src/playground, also from dist/). */
function pageSourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [here, resolve(here, "../src/playground")];
  const found = candidates.find((dir) => existsSync(join(dir, "page.ts")));
  if (!found) throw new Error(`the playground page sources were not found (looked in ${candidates.join(", ")})`);
  return found;
}

/**
 * `@eecot/<name>` -> that package's browser entry: src/browser.ts in a clone (sources, no build
 * needed), else the published dist/browser.js (`@eecot/<name>/browser`). policy is types only.
 */
function browserAliases(): Record<string, string> {
  const require = createRequire(import.meta.url);
  const alias: Record<string, string> = {};
  for (const [name, source, built] of [
    ["tensor-core", "src/browser.ts", "dist/browser.js"],
    ["transformer", "src/browser.ts", "dist/browser.js"],
    ["early-exit", "src/browser.ts", "dist/browser.js"],
    ["policy", "src/index.ts", "dist/index.js"],
  ] as const) {
    const dir = dirname(realpathSync(require.resolve(`@eecot/${name}/package.json`)));
    const file = [join(dir, source), join(dir, built)].find((candidate) => existsSync(candidate));
    if (!file) throw new Error(`@eecot/${name} has neither ${source} nor ${built} in ${dir} (build it: pnpm build)`);
    alias[`@eecot/${name}`] = file;
  }
  return alias;
}

async function copyFolder(from: string, to: string, flag: string, required: readonly string[]): Promise<number> {
  let names: string[];
  try {
    names = await readdir(from);
  } catch {
    throw new Error(`${flag} ${from}: folder not found`);
  }
  for (const name of required) if (!names.includes(name)) throw new Error(`${flag} ${from}: no ${name} in the folder`);
  await mkdir(to, { recursive: true });
  let bytes = 0;
  for (const name of names.filter((n) => COPIED.has(n) || n.endsWith(".safetensors"))) {
    const info = await stat(join(from, name));
    if (!info.isFile()) continue;
    await copyFile(join(from, name), join(to, name));
    bytes += info.size;
  }
  return bytes;
}

/** Writes the playground folder `options.out` (atomically: built beside it, then renamed over it). */
export async function writePlayground(options: PlaygroundOptions): Promise<PlaygroundSummary> {
  const pageDir = pageSourceDir();
  const out = resolve(options.out);
  const staging = join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    const modelBytes = await copyFolder(options.model, join(staging, "model"), "--model", ["config.json", "tokenizer.json", "tokenizer_config.json"]);
    const adapterBytes = options.adapter ? await copyFolder(options.adapter, join(staging, "adapter"), "--adapter", ["adapter_config.json"]) : 0;
    const alias = browserAliases();
    // tfjs-backend-webgpu is an optional peer of tensor-core: without it the page runs on wasm
    // (the import is left out of the bundle and fails in the page, which then falls back).
    const hasWebgpu = (() => {
      try {
        createRequire(alias["@eecot/tensor-core"]!).resolve("@tensorflow/tfjs-backend-webgpu");
        return true;
      } catch {
        return false;
      }
    })();
    const result = await build({
      entryPoints: { playground: join(pageDir, "page.ts") },
      bundle: true,
      splitting: true, // the webgpu backend is a chunk of its own, fetched only where WebGPU exists
      format: "esm",
      platform: "browser", // any Node built-in on the browser path fails the build
      target: "es2022",
      minify: true,
      outdir: staging,
      chunkNames: "chunks/[name]-[hash]",
      alias,
      external: hasWebgpu ? [] : ["@tensorflow/tfjs-backend-webgpu"],
      metafile: true,
      logLevel: "silent",
    });
    let javascriptBytes = 0;
    let webgpuChunkBytes = 0;
    for (const [file, output] of Object.entries(result.metafile.outputs)) {
      if (!file.endsWith(".js")) continue;
      const webgpu = Object.keys(output.inputs).some((input) => input.includes("tfjs-backend-webgpu"));
      if (webgpu) webgpuChunkBytes += output.bytes;
      else javascriptBytes += output.bytes;
    }
    await mkdir(join(staging, "wasm"));
    let wasmBytes = 0;
    for (const file of wasmBinaryFiles()) {
      await copyFile(file, join(staging, "wasm", basename(file)));
      if (basename(file) === "tfjs-backend-wasm-simd.wasm") wasmBytes = (await stat(file)).size;
    }
    await copyFile(join(pageDir, "page.html"), join(staging, "index.html"));
    await copyFile(join(pageDir, "page.css"), join(staging, "style.css"));
    const manifest = { model: "model/", adapter: options.adapter ? "adapter/" : null, defaults: { ...DEFAULT_PLAYGROUND_DEFAULTS, ...options.defaults } };
    await writeFile(join(staging, "playground.json"), JSON.stringify(manifest, null, 2) + "\n");
    await replaceDirectory(staging, out);
    return { out, javascriptBytes, webgpuChunkBytes, wasmBytes, modelBytes, adapterBytes };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

const MIME: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".jinja": "text/plain; charset=utf-8",
  ".png": "image/png",
};

/** A running static server. */
export interface PlaygroundServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves folder `dir` on 127.0.0.1:`port` (0 = any free port); only files inside `dir`. */
export async function servePlayground(dir: string, port: number): Promise<PlaygroundServer> {
  const root = resolve(dir);
  const server = createServer(async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = resolve(root, `.${path.endsWith("/") ? `${path}index.html` : path}`);
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405).end();
      return;
    }
    if (file !== root && !file.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      response.writeHead(200, { "content-type": MIME[extname(file)] ?? "application/octet-stream", "content-length": body.length, "cache-control": "no-cache" });
      response.end(request.method === "HEAD" ? undefined : body);
    } catch {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`not found: ${path}\n`);
    }
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(new Error(error.code === "EADDRINUSE" ? `--port ${port}: 127.0.0.1:${port} is already in use` : error.message)));
    server.listen(port, "127.0.0.1", () => resolveListen());
  });
  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actualPort}/`,
    close: () => new Promise<void>((resolveClose) => server.close(() => resolveClose())),
  };
}

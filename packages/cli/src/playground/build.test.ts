// The playground folder's contents and the static server, without a browser (the browser test is
// commands/playground.browser.test.ts).
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { bundledModelDir } from "../bundled.js";
import { servePlayground, writePlayground, type PlaygroundSummary } from "./build.js";

let dir: string;
let summary: PlaygroundSummary;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "eecot-playground-build-"));
  summary = await writePlayground({ model: bundledModelDir(), adapter: null, out: join(dir, "site"), defaults: { seed: 7 } });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writePlayground", () => {
  test("writes the page, the minified bundle, the wasm binaries, the model and the manifest", () => {
    const site = summary.out;
    for (const file of ["index.html", "style.css", "playground.js", "playground.json", "wasm/tfjs-backend-wasm-simd.wasm", "model/config.json", "model/model.safetensors", "model/tokenizer.json"]) {
      expect(existsSync(join(site, file)), file).toBe(true);
    }
    for (const other of ["README.md", "package.json", "model.safetensors.sha256"]) expect(existsSync(join(site, "model", other)), other).toBe(false); // only what the page reads
    const manifest = JSON.parse(readFileSync(join(site, "playground.json"), "utf8"));
    expect(manifest).toMatchObject({ model: "model/", adapter: null, defaults: { seed: 7, maxNewTokens: 48 } });
    expect(summary.modelBytes).toBe(readFileSync(join(site, "model", "model.safetensors")).length + ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"].reduce((n, f) => n + readFileSync(join(site, "model", f)).length, 0));
    expect(summary.javascriptBytes).toBeGreaterThan(100_000);
    expect(summary.webgpuChunkBytes).toBeGreaterThan(0); // split off: fetched only where WebGPU exists
    const html = readFileSync(join(site, "index.html"), "utf8");
    expect(html).toContain('<script type="module" src="playground.js">');
    expect(html).not.toMatch(/https?:\/\//); // nothing from elsewhere
  });

  test("bad folders are errors naming the flag and the file", async () => {
    const empty = join(dir, "empty-model");
    await mkdir(empty);
    await writeFile(join(empty, "config.json"), "{}");
    await expect(writePlayground({ model: empty, adapter: null, out: join(dir, "x") })).rejects.toThrow(`--model ${empty}: no tokenizer.json in the folder`);
    await expect(writePlayground({ model: join(dir, "nope"), adapter: null, out: join(dir, "x") })).rejects.toThrow(`--model ${join(dir, "nope")}: folder not found`);
    await expect(writePlayground({ model: bundledModelDir(), adapter: empty, out: join(dir, "x") })).rejects.toThrow(`--adapter ${empty}: no adapter_config.json in the folder`);
    expect(existsSync(join(dir, "x"))).toBe(false);
  });
});

test("servePlayground serves files with their types on 127.0.0.1, and nothing outside the folder", async () => {
  const server = await servePlayground(summary.out, 0);
  try {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await fetch(server.url);
    expect(index.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await index.text()).toContain("eecot playground");
    const wasm = await fetch(`${server.url}wasm/tfjs-backend-wasm-simd.wasm`);
    expect(wasm.headers.get("content-type")).toBe("application/wasm");
    expect((await wasm.arrayBuffer()).byteLength).toBe(summary.wasmBytes);
    expect((await fetch(`${server.url}model/missing.json`)).status).toBe(404);
    expect((await fetch(`${server.url}..%2F..%2Fetc%2Fpasswd`)).status).toBe(403);
  } finally {
    await server.close();
  }
});

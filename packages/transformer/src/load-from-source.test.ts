// The browser loaders (FileSource: URL or picked files) give the same model, tokenizer and
// errors as the Node folder loaders, and the browser entries bundle without Node built-ins.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, memoryFileSource, urlFileSource, type FetchLike } from "@eecot/tensor-core";
import { disposeModel, loadQwenModelFrom } from "./load.js";
import { loadQwenModel } from "./model-folder.js";

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));
const packagesDir = fileURLToPath(new URL("../../", import.meta.url));

async function filesOf(dir: string): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const name of await readdir(dir)) files.set(name, new Uint8Array(await readFile(join(dir, name))));
  return files;
}

/** A fetch over a map of files (404 for the rest, 500 for "broken"). */
function fakeFetch(files: Map<string, Uint8Array>, base: string): FetchLike {
  return async (url) => {
    const name = url.slice(base.length);
    const bytes = files.get(name);
    const status = name === "broken" ? 500 : bytes ? 200 : 404;
    return { ok: status === 200, status, statusText: status === 500 ? "Internal Server Error" : "", arrayBuffer: async () => (bytes ?? new Uint8Array()).slice().buffer };
  };
}

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("loading from a FileSource", () => {
  for (const name of ["qwen3-tiny-f32", "qwen3-tiny-bf16-sharded"]) {
    test(`${name}: URL and in-memory sources load the same weights as the folder`, async () => {
      const files = await filesOf(fixture(name));
      const fromFolder = await loadQwenModel(fixture(name));
      const fromUrl = await loadQwenModelFrom(urlFileSource("http://x/m", fakeFetch(files, "http://x/m/")));
      const fromMemory = await loadQwenModelFrom(memoryFileSource(files, name));
      expect(fromUrl.config).toEqual(fromFolder.config);
      for (const other of [fromUrl, fromMemory]) {
        expect(Array.from(other.params.embedTokens.dataSync())).toEqual(Array.from(fromFolder.params.embedTokens.dataSync()));
        expect(Array.from(other.params.layers[1]!.downProj.weightT.dataSync())).toEqual(Array.from(fromFolder.params.layers[1]!.downProj.weightT.dataSync()));
      }
      for (const model of [fromFolder, fromUrl, fromMemory]) disposeModel(model);
    });
  }

  test("missing and broken files name the URL", async () => {
    const files = await filesOf(fixture("qwen3-tiny-f32"));
    files.delete("config.json");
    await expect(loadQwenModelFrom(urlFileSource("http://x/m/", fakeFetch(files, "http://x/m/")))).rejects.toThrow(/http:\/\/x\/m\/config\.json: not found/);
    const broken = urlFileSource("http://x/m/", fakeFetch(files, "http://x/m/"));
    await expect(broken.read("broken")).rejects.toThrow("cannot fetch http://x/m/broken: HTTP 500 Internal Server Error");
    const offline = urlFileSource("http://x/m/", async () => {
      throw new Error("Failed to fetch");
    });
    await expect(loadQwenModelFrom(offline)).rejects.toThrow(/cannot fetch http:\/\/x\/m\/config\.json: Failed to fetch/);
  });
});

describe("browser entries", () => {
  for (const name of ["tensor-core", "transformer", "early-exit"]) {
    test(`${name}/src/browser.ts bundles for the browser without Node built-ins`, async () => {
      const alias = {
        "@eecot/tensor-core": join(packagesDir, "tensor-core/src/browser.ts"),
        "@eecot/transformer": join(packagesDir, "transformer/src/browser.ts"),
        "@eecot/policy": join(packagesDir, "policy/src/index.ts"),
      };
      // platform "browser" fails on any fs / path / os import; the metafile lists what was pulled in.
      const result = await build({ entryPoints: [join(packagesDir, name, "src/browser.ts")], bundle: true, platform: "browser", format: "esm", write: false, metafile: true, logLevel: "silent", alias, external: ["@tensorflow/tfjs-backend-webgpu"] });
      const inputs = Object.keys(result.metafile.inputs);
      expect(inputs.some((path) => path.includes("adapter-io.ts") || path.includes("model-folder.ts") || path.includes("directory-source.ts"))).toBe(false);
      // Our own sources in the bundle use no Node globals either (tfjs guards its own uses).
      const ours = inputs.filter((path) => !path.includes("node_modules") && path.endsWith(".ts"));
      expect(ours.length).toBeGreaterThan(5);
      for (const path of ours) expect(await readFile(path, "utf8"), path).not.toMatch(/\bBuffer\.|\bprocess\./);
    });
  }
});

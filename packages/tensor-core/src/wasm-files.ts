// Where tfjs-backend-wasm's .wasm binaries are on disk (Node), so a web page can serve them
// beside its bundle and point initBrowserBackend's `wasmPaths` at them: nothing from a CDN.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Absolute paths of tfjs-backend-wasm's .wasm files (plain, SIMD, threaded SIMD). */
export function wasmBinaryFiles(): string[] {
  const dist = dirname(createRequire(import.meta.url).resolve("@tensorflow/tfjs-backend-wasm"));
  const files = readdirSync(dist).filter((name) => name.endsWith(".wasm")).map((name) => join(dist, name));
  if (files.length === 0) throw new Error(`no .wasm files next to @tensorflow/tfjs-backend-wasm in ${dist} (reinstall it)`);
  return files;
}

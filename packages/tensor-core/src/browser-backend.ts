// Starting a backend in a web page: webgpu when the browser has it (and it was asked for), else
// wasm with its .wasm binaries fetched from `wasmPaths` (served beside the page: nothing comes
// from a CDN), else cpu. The Node counterpart, with tfjs-node and Dawn, is backend.ts.
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { tf } from "./tf.js";
import { avoidSplitKWithTransposedB, splitWebgpuAddN } from "./webgpu-kernels.js";

/** Backends a page can ask for; "auto" = webgpu when navigator.gpu has a hardware adapter, else wasm. */
export type BrowserBackendChoice = "auto" | "wasm" | "webgpu" | "cpu";

export interface BrowserBackendOptions {
  /** Which backend. Default "auto". */
  readonly backend?: BrowserBackendChoice;
  /** URL prefix (ending in "/") of tfjs-backend-wasm's .wasm files, e.g. "./wasm/". */
  readonly wasmPaths: string;
}

/** The backend that runs in the page. */
export interface BrowserBackendInfo {
  readonly name: "wasm" | "webgpu" | "cpu";
  /** wasm: worker threads (more than 1 only in a cross-origin-isolated page). */
  readonly threads: number;
  /** Why a requested backend was not used, when one was skipped. */
  readonly fallbackReason?: string;
}

interface GpuAdapterLike {
  readonly isFallbackAdapter?: boolean;
  readonly info?: { readonly vendor?: string; readonly architecture?: string; readonly description?: string; readonly isFallbackAdapter?: boolean };
}

interface NavigatorWithGpu {
  readonly gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> };
}

/** A CPU-emulated WebGPU adapter (SwiftShader, llvmpipe / lavapipe): slower than wasm for our models. */
export function isSoftwareAdapter(adapter: GpuAdapterLike): boolean {
  if (adapter.isFallbackAdapter === true || adapter.info?.isFallbackAdapter === true) return true;
  const text = `${adapter.info?.vendor ?? ""} ${adapter.info?.architecture ?? ""} ${adapter.info?.description ?? ""}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|software/.test(text);
}

/** Starts a backend for the page; failures of webgpu fall back to wasm, of wasm to cpu. */
export async function initBrowserBackend(options: BrowserBackendOptions): Promise<BrowserBackendInfo> {
  const choice = options.backend ?? "auto";
  let fallbackReason: string | undefined;
  if (choice === "webgpu" || choice === "auto") {
    const gpu = (globalThis.navigator as NavigatorWithGpu | undefined)?.gpu;
    const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
    const software = adapter !== null && isSoftwareAdapter(adapter);
    if (adapter && software && choice === "auto") {
      fallbackReason = `the WebGPU adapter is a software renderer (${adapter.info?.architecture || adapter.info?.vendor || "fallback"}), slower than wasm (backend "webgpu" forces it)`;
    } else if (adapter) {
      try {
        await import("@tensorflow/tfjs-backend-webgpu"); // registers "webgpu" now that navigator.gpu exists
        splitWebgpuAddN();
        avoidSplitKWithTransposedB();
        if (await activate("webgpu")) return { name: "webgpu", threads: 1 };
        fallbackReason = "webgpu failed to start";
      } catch (error) {
        fallbackReason = `webgpu failed: ${(error as Error).message}`;
      }
    } else if (choice === "webgpu") {
      fallbackReason = "this browser has no WebGPU adapter";
    }
  }
  if (choice !== "cpu") {
    setWasmPaths(options.wasmPaths);
    try {
      if (await activate("wasm")) return { name: "wasm", threads: getThreadsCount(), ...(fallbackReason ? { fallbackReason } : {}) };
      fallbackReason = `wasm failed to start (are the .wasm files served at ${options.wasmPaths}?)`;
    } catch (error) {
      fallbackReason = `wasm failed: ${(error as Error).message} (are the .wasm files served at ${options.wasmPaths}?)`;
    }
  }
  if (!(await activate("cpu"))) throw new Error(`no tfjs backend could start${fallbackReason ? ` (${fallbackReason})` : ""}`);
  return { name: "cpu", threads: 1, ...(fallbackReason ? { fallbackReason } : {}) };
}

async function activate(name: string): Promise<boolean> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  return ok && tf.getBackend() === name;
}

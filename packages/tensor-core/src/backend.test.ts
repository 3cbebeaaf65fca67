import { afterEach, describe, expect, it, vi } from "vitest";
import { tf } from "./tf.js";

/** A fresh copy of backend.ts (its cache is module state); tfjs itself stays shared. */
async function freshBackendModule() {
  vi.resetModules();
  return import("./backend.js");
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe("initBackend", () => {
  it("starts wasm with SIMD and the requested matMul threads in Node, prints one line, and is idempotent", async () => {
    const { initBackend, currentBackend } = await freshBackendModule();
    const lines: string[] = [];
    const info = await initBackend({ backend: "wasm", threads: 2, log: (line) => lines.push(line) });
    expect(info).toEqual({ name: "wasm", threads: 2 });
    expect(tf.getBackend()).toBe("wasm");
    expect(lines).toEqual(["eecot: backend wasm (SIMD, 2 threads for matMuls; --threads 1 turns them off)"]);
    // The .wasm binary was found without setWasmPaths: a matMul runs.
    expect(Array.from(await tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).data())).toEqual([3, 3, 3, 3]);
    expect(await initBackend({ backend: "wasm", log: (line) => lines.push(line) })).toBe(info);
    expect(await initBackend({ log: (line) => lines.push(line) })).toBe(info); // no choice: keep what runs
    expect(lines).toHaveLength(1);
    expect(currentBackend()).toBe(info);
  });

  it("says one thread when the kernel threads are off (EECOT_THREADS=1)", async () => {
    vi.stubEnv("EECOT_THREADS", "1");
    const { initBackend } = await freshBackendModule();
    const lines: string[] = [];
    expect(await initBackend({ backend: "wasm", log: (line) => lines.push(line) })).toEqual({ name: "wasm", threads: 1 });
    expect(lines).toEqual(["eecot: backend wasm (SIMD, 1 thread)"]);
  });

  it("switches between started backends and back, keeping each info object", async () => {
    const { initBackend } = await freshBackendModule();
    const wasm = await initBackend({ backend: "wasm", quiet: true });
    const lines: string[] = [];
    const cpu = await initBackend({ backend: "cpu", log: (line) => lines.push(line) });
    expect(cpu).toEqual({ name: "cpu", threads: 1 });
    expect(tf.getBackend()).toBe("cpu");
    expect(lines).toEqual(["eecot: backend cpu (pure JS, 1 thread; slow, prefer wasm)"]);
    expect(await initBackend({ backend: "wasm", quiet: true })).toBe(wasm);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("auto picks wasm when no tensorflow package is installed", async () => {
    const { initBackend } = await freshBackendModule();
    const info = await initBackend({ backend: "auto", quiet: true });
    expect(info.name).toBe("wasm");
  });

  it("reads EECOT_BACKEND, and an explicit option wins over it", async () => {
    vi.stubEnv("EECOT_BACKEND", "cpu");
    let module = await freshBackendModule();
    expect((await module.initBackend({ quiet: true })).name).toBe("cpu");
    module = await freshBackendModule();
    expect((await module.initBackend({ backend: "wasm", quiet: true })).name).toBe("wasm");
  });

  it("names a bad choice", async () => {
    vi.stubEnv("EECOT_BACKEND", "gpu");
    const { initBackend } = await freshBackendModule();
    await expect(initBackend({ quiet: true })).rejects.toThrow("EECOT_BACKEND=gpu is not a backend: expected one of auto, wasm, cpu, tensorflow, webgpu");
    await expect(initBackend({ backend: "metal" as never, quiet: true })).rejects.toThrow('unknown backend "metal": expected one of auto, wasm, cpu, tensorflow, webgpu');
  });

  it("says how to install tensorflow when it is requested but missing", async () => {
    vi.stubEnv("EECOT_BACKEND", "tensorflow");
    const { initBackend } = await freshBackendModule();
    await expect(initBackend({ quiet: true })).rejects.toThrow(
      "EECOT_BACKEND=tensorflow but neither @tensorflow/tfjs-node-gpu nor @tensorflow/tfjs-node is installed: run `npm install @tensorflow/tfjs-node@4.22.0` (or `pnpm add @tensorflow/tfjs-node@4.22.0`, then `pnpm approve-builds` for its install script; or @tensorflow/tfjs-node-gpu@4.22.0 with CUDA 11.2 + cuDNN 8.1; optional peer dependencies of @eecot/tensor-core");
    await expect(initBackend({ backend: "tensorflow", quiet: true })).rejects.toThrow('backend: "tensorflow" but neither');
  });

  it("fails clearly when webgpu is forced but no adapter can be created", async () => {
    // A navigator.gpu whose requestAdapter() answers null, as Dawn does without a Vulkan driver.
    const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    Object.defineProperty(globalThis, "navigator", { value: { gpu: { requestAdapter: async () => null } }, configurable: true, writable: true });
    try {
      vi.stubEnv("EECOT_BACKEND", "webgpu");
      const { initBackend } = await freshBackendModule();
      await expect(initBackend({ quiet: true })).rejects.toThrow(/^EECOT_BACKEND=webgpu: the webgpu backend cannot start: no WebGPU adapter: Dawn found no usable Vulkan driver \(.*\); install a Vulkan driver \(a GPU's own, or Mesa >= 24 lavapipe/);
      expect(tf.getBackend()).not.toBe("webgpu");
    } finally {
      if (saved) Object.defineProperty(globalThis, "navigator", saved);
      else delete (globalThis as { navigator?: unknown }).navigator;
    }
  });

  it("probeWebgpu reports a software adapter as such, and auto never picks it", async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
    const adapter = { info: { vendor: "mesa", architecture: "software", device: "llvmpipe", description: "llvmpipe: Mesa 25.0.7", isFallbackAdapter: true }, limits: { maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 2 ** 32 - 1 } };
    Object.defineProperty(globalThis, "navigator", { value: { gpu: { requestAdapter: async () => adapter } }, configurable: true, writable: true });
    try {
      vi.resetModules();
      const { probeWebgpu } = await import("./webgpu.js");
      expect(await probeWebgpu()).toEqual({
        available: true,
        adapter: { name: "llvmpipe: Mesa 25.0.7", vendor: "mesa", architecture: "software", software: true, maxStorageBufferBindingSize: 134_217_728, maxBufferSize: 2 ** 32 - 1 },
      });
      const { initBackend } = await import("./backend.js"); // same module graph: the probe above is cached
      expect((await initBackend({ backend: "auto", quiet: true })).name).toBe("wasm");
    } finally {
      if (saved) Object.defineProperty(globalThis, "navigator", saved);
      else delete (globalThis as { navigator?: unknown }).navigator;
    }
  });
});

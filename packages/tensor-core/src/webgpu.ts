// WebGPU in Node: Dawn's binding (the `webgpu` npm package) supplies `navigator.gpu`, and
// @tensorflow/tfjs-backend-webgpu runs the same tfjs code on it. Any Vulkan driver works, a
// software one included (Mesa >= 24 lavapipe; scripts/install-vulkan.sh), so the GPU code path
// is testable on a CPU machine. Both packages are optional peer dependencies of tensor-core: an
// application installs them to use webgpu (this repository has them as dev dependencies).
//
// Reads from this backend must be async (`await t.data()`): tfjs-webgpu's dataSync needs an
// OffscreenCanvas, which Node lacks.
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { tf } from "./tf.js";
import { avoidSplitKWithTransposedB, splitWebgpuAddN } from "./webgpu-kernels.js";
import { defaultMaxPooledBytes, limitBufferPool, type BufferManagerLike, type BufferPoolStats } from "./webgpu-buffer-pool.js";

/** The adapter the webgpu backend runs on. */
export interface WebgpuAdapter {
  /** Human-readable name for the start-up line, e.g. "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  /** A CPU renderer (lavapipe, SwiftShader): correct but slow; auto mode does not pick it. */
  readonly software: boolean;
  /** Largest buffer one shader may bind, in bytes (128 MiB on lavapipe); bigger tensors fail. */
  readonly maxStorageBufferBindingSize: number;
  /** Largest buffer that can be created, in bytes. */
  readonly maxBufferSize: number;
}

/** Whether an adapter can be created, and if not, why. */
export type WebgpuProbe = { readonly available: true; readonly adapter: WebgpuAdapter } | { readonly available: false; readonly reason: string };

/** The two packages the webgpu backend needs, with the versions to install. */
export const WEBGPU_PACKAGES = { webgpu: "0.6.2", "@tensorflow/tfjs-backend-webgpu": "4.22.0" } as const;

const VULKAN_HINT = "a Vulkan driver (a GPU's own, or Mesa >= 24 lavapipe for software rendering: scripts/install-vulkan.sh)";

/** What to install for webgpu: the given packages (default: both) and a Vulkan driver. */
export function webgpuInstallHint(packages: readonly string[] = Object.keys(WEBGPU_PACKAGES)): string {
  const specs = packages.map((name) => `${name}@${WEBGPU_PACKAGES[name as keyof typeof WEBGPU_PACKAGES] ?? "latest"}`).join(" ");
  return `run \`npm install ${specs}\` (or \`pnpm add ${specs}\`; optional peer dependencies of @eecot/tensor-core, not installed with it) and have ${VULKAN_HINT}`;
}

export const WEBGPU_INSTALL = webgpuInstallHint();

// Minimal shapes of the WebGPU objects used here (the `webgpu` package ships full types, but it
// is optional, so nothing here may depend on it at compile time).
interface GpuAdapterLike {
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  readonly limits: Record<string, number>;
  requestDevice(descriptor?: { requiredLimits?: Record<string, number> }): Promise<GpuDeviceLike>;
}
interface GpuDeviceLike {
  readonly lost: Promise<{ message: string; reason?: string }>;
  onuncapturederror: ((event: { error: { message: string } }) => void) | null;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

/** The probed adapter (a GPUAdapter can create one device, so it is requested once). */
let probe: Promise<{ result: WebgpuProbe; adapter: GpuAdapterLike | null }> | undefined;
let registered: WebgpuAdapter | undefined;
let poolStats: (() => BufferPoolStats) | undefined;

/**
 * Sets up `navigator.gpu` from the `webgpu` package and asks for an adapter. Cached: later
 * calls return the first answer. Never throws; `reason` says what is missing.
 */
export async function probeWebgpu(): Promise<WebgpuProbe> {
  return (await probeOnce()).result;
}

async function probeOnce(): Promise<{ result: WebgpuProbe; adapter: GpuAdapterLike | null }> {
  probe ??= (async () => {
    const gpu = await installNavigatorGpu();
    if (typeof gpu === "string") return { result: { available: false, reason: gpu }, adapter: null };
    let adapter: GpuAdapterLike | null;
    try {
      adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    } catch (error) {
      return { result: { available: false, reason: `navigator.gpu.requestAdapter() failed: ${(error as Error).message}` }, adapter: null };
    }
    if (!adapter) {
      return {
        result: { available: false, reason: `no WebGPU adapter: Dawn found no usable Vulkan driver (${describeVulkanDrivers()}); install ${VULKAN_HINT}` },
        adapter: null,
      };
    }
    return { result: { available: true, adapter: describeAdapter(adapter) }, adapter };
  })();
  return probe;
}

/** Loads `webgpu` and installs its globals and `navigator.gpu`; returns a reason on failure. */
async function installNavigatorGpu(): Promise<GpuLike | string> {
  const existing = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator?.gpu;
  if (existing) return existing;
  const webgpu = await importOptional("webgpu");
  if (webgpu.kind === "missing") return `the webgpu package (Dawn for Node) is not installed: ${webgpuInstallHint(["webgpu"])}`;
  if (webgpu.kind === "failed") return `the webgpu package failed to load: ${webgpu.message}`;
  const { create, globals } = webgpu.module as { create?: (flags: string[]) => GpuLike; globals?: Record<string, unknown> };
  if (typeof create !== "function" || !globals) return "the webgpu package does not export create() and globals (need webgpu >= 0.6)";
  // GPUBufferUsage, GPUMapMode, ... as globals, without replacing any the runtime already has.
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  let gpu: GpuLike;
  try {
    gpu = create([]);
  } catch (error) {
    return `Dawn's create() failed: ${(error as Error).message}`;
  }
  const navigator = (globalThis as { navigator?: object }).navigator;
  if (navigator) Object.defineProperty(navigator, "gpu", { value: gpu, configurable: true, writable: true });
  else Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

function describeAdapter(adapter: GpuAdapterLike): WebgpuAdapter {
  const info = adapter.info ?? {};
  const vendor = info.vendor ?? "";
  const architecture = info.architecture ?? "";
  const text = `${info.description ?? ""} ${info.device ?? ""}`;
  const software = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter) || architecture === "software" || /llvmpipe|lavapipe|swiftshader/i.test(text);
  // Mesa's description reads "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1".
  const name = (info.description || [vendor, architecture, info.device].filter(Boolean).join(" ") || "unnamed adapter").trim();
  return {
    name,
    vendor,
    architecture,
    software,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize ?? 134_217_728,
    maxBufferSize: adapter.limits.maxBufferSize ?? 268_435_456,
  };
}

/** Which Vulkan drivers (ICD files) are declared on this machine, for error messages. */
function describeVulkanDrivers(): string {
  if (process.platform !== "linux") return `platform ${process.platform}`;
  const folders = ["/usr/share/vulkan/icd.d", "/etc/vulkan/icd.d", "/usr/local/share/vulkan/icd.d"];
  const files = folders.flatMap((folder) => (existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith(".json")) : []));
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return `VK_ICD_FILENAMES/VK_DRIVER_FILES=${process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES}`;
  return files.length ? `driver files ${files.join(", ")}; the lavapipe of Mesa < 24 is rejected by Dawn` : "no Vulkan driver files in /usr/share/vulkan/icd.d";
}

/**
 * True when a hardware GPU may be present (Linux: /dev/dri or /dev/nvidia* exist; other
 * platforms: always). Auto mode probes WebGPU only then, which keeps Vulkan's start-up cost and
 * driver warnings away from CPU-only machines.
 */
export function mayHaveHardwareGpu(): boolean {
  if (process.platform !== "linux") return true;
  if (existsSync("/dev/dri")) return true;
  try {
    return readdirSync("/dev").some((name) => name.startsWith("nvidia"));
  } catch {
    return false;
  }
}

/**
 * Registers tfjs's "webgpu" backend on the probed adapter (once) and returns that adapter.
 * Throws, with the probe's reason, when no adapter can be created. The device asks for the
 * adapter's largest buffers so big weights fit where the hardware allows.
 */
export async function registerWebgpuBackend(source: string, log: (line: string) => void): Promise<WebgpuAdapter> {
  if (registered) return registered;
  // A runtime that has navigator.gpu already (a browser, Deno) needs only tfjs-backend-webgpu.
  const hasGpu = Boolean((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu);
  const missing = Object.keys(WEBGPU_PACKAGES).filter((name) => !(name === "webgpu" && hasGpu) && !isResolvable(name));
  if (missing.length > 0) {
    throw new Error(`${source} but ${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} not installed: ${webgpuInstallHint(missing)}`);
  }
  const { result, adapter } = await probeOnce();
  if (!result.available || !adapter) throw new Error(`${source}: the webgpu backend cannot start: ${result.available ? "no adapter" : result.reason}`);
  // Importing tfjs-backend-webgpu after navigator.gpu exists makes it register its own factory;
  // ours replaces it so the adapter probed above (and its limits) is the one used.
  const backendModule = await importOptional("@tensorflow/tfjs-backend-webgpu");
  if (backendModule.kind === "missing") throw new Error(`${source}: @tensorflow/tfjs-backend-webgpu is not installed: ${webgpuInstallHint(["@tensorflow/tfjs-backend-webgpu"])}`);
  if (backendModule.kind === "failed") throw new Error(`${source}: @tensorflow/tfjs-backend-webgpu failed to load: ${backendModule.message}`);
  const { WebGPUBackend } = backendModule.module as { WebGPUBackend?: new (device: GpuDeviceLike, adapterInfo?: unknown) => tf.KernelBackend };
  if (typeof WebGPUBackend !== "function") throw new Error(`${source}: @tensorflow/tfjs-backend-webgpu does not export WebGPUBackend (need version ${tf.version_core})`);
  if (!tf.getKernel("BatchMatMul", "webgpu")) {
    throw new Error(`${source}: @tensorflow/tfjs-backend-webgpu registered no kernels with @tensorflow/tfjs-core ${tf.version_core}; install the matching version ${tf.version_core}`);
  }
  splitWebgpuAddN();
  avoidSplitKWithTransposedB();
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  const limits = adapter.limits;
  const maxPooledBytes = defaultMaxPooledBytes();
  tf.registerBackend(
    "webgpu",
    async () => {
      const requiredLimits: Record<string, number> = {};
      // tfjs's own choice of limits, plus more storage buffers per shader (AddN, Concat use them).
      for (const name of ["maxComputeWorkgroupStorageSize", "maxComputeWorkgroupsPerDimension", "maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupSizeX", "maxComputeInvocationsPerWorkgroup", "maxStorageBuffersPerShaderStage"]) {
        if (typeof limits[name] === "number") requiredLimits[name] = limits[name]!;
      }
      const device = await adapter.requestDevice({ requiredLimits });
      // Validation errors (e.g. a tensor over the binding limit) otherwise only yield wrong numbers.
      let reported = 0;
      device.onuncapturederror = (event) => {
        if (reported++ < 5) log(`eecot: webgpu error: ${event.error.message.split("\n")[0]}`);
      };
      void device.lost.then((info) => {
        if (info.reason !== "destroyed") log(`eecot: webgpu device lost: ${info.message}`);
      });
      const backend = new WebGPUBackend(device, adapter.info);
      const manager = (backend as unknown as { bufferManager?: BufferManagerLike }).bufferManager;
      if (manager) poolStats = limitBufferPool(manager, maxPooledBytes);
      return backend;
    },
    0, // lowest priority: tfjs never picks it on its own, initBackend does
  );
  registered = result.adapter;
  return registered;
}

/** The adapter the webgpu backend was registered on, if it was. */
export function webgpuAdapter(): WebgpuAdapter | undefined {
  return registered;
}

/** The webgpu buffer pool's state (see webgpu-buffer-pool.ts), once the backend has started. */
export function webgpuBufferPoolStats(): BufferPoolStats | undefined {
  return poolStats?.();
}

export type OptionalImport =
  | { kind: "loaded"; packageName: string; module: unknown }
  | { kind: "missing"; packageName: string }
  | { kind: "failed"; packageName: string; message: string };

/** Modules handed over by a bundle (see provideOptionalModule), by package name. */
const provided = new Map<string, unknown>();

/**
 * Supplies an optional package's module directly, for single-file bundles that cannot resolve
 * packages at run time: `provideOptionalModule("webgpu", await import("webgpu"))` before
 * `initBackend`. Names: "webgpu", "@tensorflow/tfjs-backend-webgpu".
 */
export function provideOptionalModule(packageName: string, module: unknown): void {
  provided.set(packageName, module);
}

/**
 * Imports an optional package: one provided by a bundle, else resolved from this package, else
 * from the current working directory (an application may install it without tensor-core seeing
 * it under pnpm).
 */
export async function importOptional(packageName: string): Promise<OptionalImport> {
  if (provided.has(packageName)) return { kind: "loaded", packageName, module: provided.get(packageName) };
  const specifier: string = packageName; // a variable keeps bundlers and tsc from resolving it
  try {
    return { kind: "loaded", packageName, module: await import(specifier) };
  } catch (error) {
    if (!isNotFound(error, packageName)) return { kind: "failed", packageName, message: (error as Error).message };
  }
  let resolved: string;
  try {
    resolved = createRequire(join(process.cwd(), "noop.js")).resolve(packageName);
  } catch {
    return { kind: "missing", packageName };
  }
  try {
    return { kind: "loaded", packageName, module: await import(pathToFileURL(resolved).href) };
  } catch (error) {
    return { kind: "failed", packageName, message: (error as Error).message };
  }
}

/**
 * Whether an optional package could be imported (provided by a bundle, or resolvable from this
 * package or the working directory), without importing it: tfjs-backend-webgpu must not be
 * imported before navigator.gpu exists.
 */
function isResolvable(packageName: string): boolean {
  if (provided.has(packageName)) return true;
  for (const from of [import.meta.url, join(process.cwd(), "noop.js")]) {
    try {
      createRequire(from).resolve(`${packageName}/package.json`);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

function isNotFound(error: unknown, packageName: string): boolean {
  const { code, message } = error as { code?: string; message?: string };
  const notFound = code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND" || /Cannot find (module|package)|Failed to (load|resolve)|Could not resolve/i.test(message ?? "");
  return notFound && (message ?? "").includes(packageName);
}

// Choosing and starting the TensorFlow.js backend: explicit option > env EECOT_BACKEND > auto.
// auto = tensorflow (libtensorflow via @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node) when
// one is installed, else webgpu when a hardware GPU adapter exists (Dawn via the `webgpu`
// package; software adapters such as lavapipe are left to EECOT_BACKEND=webgpu), else wasm
// (XNNPACK, SIMD), else cpu (pure JS). See ENGINE-NOTES.md and README.md ("Backends").
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { kernelThreads, provideThreadSupport, setKernelThreads } from "./kernels/threads.js";
import { tf } from "./tf.js";
import { importOptional, mayHaveHardwareGpu, probeWebgpu, registerWebgpuBackend, type OptionalImport } from "./webgpu.js";

// The wasm matMul kernels' worker threads (kernels/threads.ts) exist only in Node.
provideThreadSupport({ Worker: Worker as never, availableParallelism });

/** Backends `initBackend` can start; "auto" picks one as described above. */
export type BackendChoice = "auto" | "wasm" | "cpu" | "tensorflow" | "webgpu";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "wasm", "cpu", "tensorflow", "webgpu"];

/** The backend that is running. */
export interface BackendInfo {
  /** tfjs backend name. */
  readonly name: Exclude<BackendChoice, "auto">;
  /** Compute threads the backend uses (wasm in Node: the matMul kernels' threads, kernelThreads(); tensorflow: the intra-op pool). */
  readonly threads: number;
  /** GPU adapter (webgpu) or package that supplied the backend (tensorflow), when known. */
  readonly adapter?: string;
  /** webgpu only: the adapter is a CPU renderer (e.g. lavapipe), correct but slow. */
  readonly software?: boolean;
  /** webgpu only: largest buffer one shader may bind, in bytes; bigger tensors cannot be used. */
  readonly maxStorageBufferBindingSize?: number;
}

export interface InitBackendOptions {
  /** Which backend; default: env EECOT_BACKEND, else "auto". */
  backend?: BackendChoice;
  /** wasm: threads for the matMul kernels (1 = off); default env EECOT_THREADS, else the cores (at most 4). */
  threads?: number;
  /** Suppress the one start-up line. Default false. */
  quiet?: boolean;
  /** Where the start-up line goes. Default: stderr. */
  log?: (line: string) => void;
}

const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;
const TENSORFLOW_INSTALL =
  "run `npm install @tensorflow/tfjs-node@4.22.0` (or `pnpm add @tensorflow/tfjs-node@4.22.0`, then `pnpm approve-builds` for its install script; or @tensorflow/tfjs-node-gpu@4.22.0 with CUDA 11.2 + cuDNN 8.1; optional peer dependencies of @eecot/tensor-core, not installed with it; the install downloads libtensorflow 2.9.1, so it needs network)";

/** Started backends by name, so a repeated call returns the same info object. */
const started = new Map<BackendInfo["name"], Promise<BackendInfo>>();
let autoStart: Promise<BackendInfo> | undefined;
let current: BackendInfo | undefined;

/** The backend `initBackend` last started, or undefined before the first call. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}

/**
 * Starts a backend and returns what runs. Idempotent: calling again without an explicit choice,
 * or with the running backend's name, returns the same info; an explicit different name switches
 * backends (tests use this to run one spec on wasm and cpu). Errors say how to install what is
 * missing.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const log = options.quiet ? () => {} : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const { choice, source } = resolveChoice(options.backend);
  if (options.threads !== undefined) setKernelThreads(options.threads);
  if (current && (choice === "auto" || choice === current.name)) return current;
  let pending: Promise<BackendInfo>;
  if (choice === "auto") {
    pending = autoStart ??= startAuto(log);
  } else {
    pending = started.get(choice) ?? startNamed(choice, source, log);
    started.set(choice, pending);
  }
  try {
    const info = await pending;
    if (!started.has(info.name)) started.set(info.name, pending);
    if (tf.getBackend() !== info.name) await activate(info.name); // switching back
    current = info;
    return info;
  } catch (error) {
    if (choice === "auto") autoStart = undefined; // a failed start may be retried after installing
    else started.delete(choice);
    throw error;
  }
}

function resolveChoice(option: BackendChoice | undefined): { choice: BackendChoice; source: string } {
  if (option !== undefined) {
    if (!BACKEND_CHOICES.includes(option)) throw new Error(`unknown backend "${String(option)}": expected one of ${BACKEND_CHOICES.join(", ")}`);
    return { choice: option, source: `backend: "${option}"` };
  }
  const fromEnv = process.env.EECOT_BACKEND?.trim();
  if (fromEnv) {
    if (!BACKEND_CHOICES.includes(fromEnv as BackendChoice)) {
      throw new Error(`EECOT_BACKEND=${fromEnv} is not a backend: expected one of ${BACKEND_CHOICES.join(", ")}`);
    }
    return { choice: fromEnv as BackendChoice, source: `EECOT_BACKEND=${fromEnv}` };
  }
  return { choice: "auto", source: "auto" };
}

async function startAuto(log: (line: string) => void): Promise<BackendInfo> {
  const tensorflow = await importTensorflow();
  if (tensorflow.kind === "loaded") return finish(await startTensorflow(tensorflow.packageName, "auto"), log);
  if (tensorflow.kind === "failed") log(`eecot: ${tensorflow.packageName} is installed but failed to load (${tensorflow.message}); trying webgpu, then wasm`);
  if (mayHaveHardwareGpu()) {
    const probe = await probeWebgpu();
    if (probe.available && !probe.adapter.software) {
      try {
        return finish(await startWebgpu("auto", log), log);
      } catch (error) {
        log(`eecot: webgpu backend failed (${(error as Error).message}); trying wasm`);
      }
    }
  }
  try {
    return finish(await startWasm(), log);
  } catch (error) {
    log(`eecot: wasm backend failed (${(error as Error).message}); using cpu`);
    return finish(await startCpu(), log);
  }
}

async function startNamed(name: Exclude<BackendChoice, "auto">, source: string, log: (line: string) => void): Promise<BackendInfo> {
  switch (name) {
    case "wasm":
      return finish(await startWasm(), log);
    case "cpu":
      return finish(await startCpu(), log);
    case "tensorflow": {
      const tensorflow = await importTensorflow();
      if (tensorflow.kind === "missing") {
        throw new Error(`${source} but neither ${TENSORFLOW_PACKAGES.join(" nor ")} is installed: ${TENSORFLOW_INSTALL}`);
      }
      if (tensorflow.kind === "failed") {
        throw new Error(`${source} but ${tensorflow.packageName} failed to load: ${tensorflow.message} (libtensorflow missing or incompatible? reinstall with network access, or use EECOT_BACKEND=wasm)`);
      }
      return finish(await startTensorflow(tensorflow.packageName, source), log);
    }
    case "webgpu":
      return finish(await startWebgpu(source, log), log);
  }
}

function finish(info: BackendInfo, log: (line: string) => void): BackendInfo {
  log(`eecot: backend ${describe(info)}`);
  return info;
}

function describe(info: BackendInfo): string {
  const threads = `${info.threads} thread${info.threads === 1 ? "" : "s"}`;
  switch (info.name) {
    case "wasm":
      return `wasm (${tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD"}, ${info.threads > 1 ? `${threads} for matMuls; --threads 1 turns them off` : threads})`;
    case "cpu":
      return `cpu (pure JS, ${threads}; slow, prefer wasm)`;
    case "tensorflow":
      return `tensorflow (${info.adapter ?? "libtensorflow"}, ${threads})`;
    case "webgpu":
      return `webgpu (${info.adapter ?? "unknown adapter"}${info.software ? "; software renderer: for tests, slower than wasm" : ""})`;
  }
}

async function activate(name: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
    await tf.ready();
  } catch (error) {
    throw new Error(`backend ${name} failed to start: ${(error as Error).message}`);
  }
  if (!ok || tf.getBackend() !== name) throw new Error(`backend ${name} failed to start (tf.setBackend returned false)`);
}

async function startWasm(): Promise<BackendInfo> {
  // In Node, tfjs-backend-wasm finds its .wasm files next to its own dist/ (no setWasmPaths).
  await activate("wasm");
  // tfjs-wasm's own pool is 1 thread in Node (getThreadsCount); our matMul kernels add workers.
  return { name: "wasm", threads: Math.max(getThreadsCount(), kernelThreads()) };
}

async function startCpu(): Promise<BackendInfo> {
  await activate("cpu");
  // Silence tfjs-cpu's "install tfjs-node" banner on first use; our start-up line says enough.
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return { name: "cpu", threads: 1 };
}

async function startTensorflow(packageName: string, source: string): Promise<BackendInfo> {
  if (!tf.findBackendFactory("tensorflow")) {
    throw new Error(`${source}: ${packageName} loaded but registered its backend on another copy of @tensorflow/tfjs-core; install versions matching @tensorflow/tfjs-core ${tf.version_core}`);
  }
  await activate("tensorflow");
  return { name: "tensorflow", threads: availableParallelism(), adapter: packageName };
}

async function startWebgpu(source: string, log: (line: string) => void): Promise<BackendInfo> {
  const adapter = await registerWebgpuBackend(source, log);
  await activate("webgpu");
  return { name: "webgpu", threads: 1, adapter: adapter.name, software: adapter.software, maxStorageBufferBindingSize: adapter.maxStorageBufferBindingSize };
}

async function importTensorflow(): Promise<OptionalImport> {
  let firstFailure: OptionalImport | undefined;
  for (const packageName of TENSORFLOW_PACKAGES) {
    const result = await importOptional(packageName);
    if (result.kind === "loaded") return result;
    if (result.kind === "failed") firstFailure ??= result;
  }
  return firstFailure ?? { kind: "missing", packageName: TENSORFLOW_PACKAGES.join(" / ") };
}

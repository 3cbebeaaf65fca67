// The AssemblyScript kernels (assembly/kernels.ts, embedded in wasm-binary.ts), instantiated on
// tfjs-wasm's own WebAssembly.Memory so they read and write tensors in place: a tensor is a
// byte offset into that heap (`dataIdMap.get(dataId).memoryOffset`). The module has no data
// segments, no allocator and never grows memory (scripts/build-kernels.mjs checks this); scratch
// space comes from tfjs-wasm's malloc. Offsets stay valid when the heap grows (the Memory object
// is the same; only JS views of the old buffer detach), so nothing here holds a view.
import { tf } from "../tf.js";
import { KERNELS_WASM_BASE64 } from "./wasm-binary.js";

/** The exported kernels; pointers are byte offsets into tfjs-wasm's heap. */
export interface KernelExports {
  /** Rows [rowStart, rowEnd) of C [N, M, P] = op(A) · op(B); see assembly/kernels.ts. scratch: K·roundUp(P, 8) + 32 floats (32 when M < 8 and B is not transposed). */
  batchMatMul(
    a: number, b: number, c: number, scratch: number,
    n: number, m: number, k: number, p: number,
    aBatch: number, bBatch: number, transposeA: number, transposeB: number,
    rowStart: number, rowEnd: number,
  ): void;
  /** Columns [columnStart, columnEnd) of C [M, P] = op(A) · B for M < 8, B streamed in place. */
  streamColumns(a: number, b: number, c: number, m: number, k: number, p: number, transposeA: number, columnStart: number, columnEnd: number): void;
  /** [N, R, C] -> [N, C, R]. */
  transposeLastTwo(source: number, target: number, n: number, rows: number, columns: number): void;
  /** [N, X, Y, L] -> [N, Y, X, L]. */
  swapMiddleAxes(source: number, target: number, n: number, x: number, y: number, length: number): void;
  /** y [R, D] = x · rsqrt(mean(x²) + eps) · w. */
  rmsNorm(x: number, w: number, y: number, rows: number, d: number, eps: number): void;
  /** dx [R, D] and dw [D] of rmsNorm for dy [R, D]. */
  rmsNormGrad(dy: number, x: number, w: number, dx: number, dw: number, rows: number, d: number, eps: number): void;
  /** Rotate-half RoPE of x [R, N, D] with cos, sin [R, D]; inverse = 1 applies the transpose. */
  rope(x: number, cos: number, sin: number, y: number, rows: number, heads: number, d: number, inverse: number): void;
  /** k, v [B, T, K, D] appended to keysT [B*K, D, P] and values [B*K, P, D]; keys normed (flags & 1) and rotated (flags & 2) first. scratch: 2·D floats. */
  appendKeyValues(
    k: number, v: number, pastKeysT: number, pastValues: number, keysT: number, values: number,
    b: number, t: number, kvHeads: number, d: number, p: number,
    normWeight: number, cos: number, sin: number, eps: number, flags: number, scratch: number,
  ): void;
  /** Softmax attention of q [B, T, H, D] (normed / rotated by flags) over keysT [B*K, D, S], values [B*K, S, D], mask [B, T, S]. scratch: S + 3 + 2·D floats. */
  attentionNoGrad(
    q: number, keysT: number, values: number, mask: number, out: number, scratch: number,
    b: number, t: number, heads: number, kvHeads: number, d: number, s: number, scale: number,
    normWeight: number, cos: number, sin: number, eps: number, flags: number,
  ): void;
  /** y [n] = g · σ(g) · u. */
  swiglu(g: number, u: number, y: number, n: number): void;
  /** dg, du [n] of swiglu for dy [n]. */
  swigluGrad(dy: number, g: number, u: number, dg: number, du: number, n: number): void;
  /** y [B, H, R, S] = softmax(x · scale + mask [B, R, S]). */
  maskedSoftmax(x: number, mask: number, y: number, b: number, heads: number, rows: number, s: number, scale: number): void;
  /** dx = scale · y · (dy − Σ dy·y) for `count` rows of S. */
  maskedSoftmaxGrad(dy: number, y: number, dx: number, count: number, s: number, scale: number): void;
}

/** The parts of tfjs-wasm's BackendWasm the kernels use (not in its public typings). */
export interface WasmBackendInternals {
  readonly wasm: {
    readonly asm?: { readonly memory?: unknown };
    readonly wasmMemory?: unknown;
    _malloc(bytes: number): number;
    _free(pointer: number): void;
  };
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number | null } | undefined };
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
}

/**
 * True while a gradient tape records ops (inside tf.grad / variableGrads / minimize, outside a
 * kernel): the inference-only kernels (no gradient) must not run then. Reads tfjs's engine
 * state (`isTapeOn`, not in the public typings).
 */
export function isRecordingGradients(): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number; kernelDepth: number } }).state;
  return state.gradientDepth > 0 && state.kernelDepth === 0;
}

/** A started wasm backend's kernels, or null when the backend or memory is not reachable. */
export interface WasmKernels {
  readonly exports: KernelExports;
  readonly backend: WasmBackendInternals;
  /** tfjs-wasm's heap (views of it must be made afresh: it detaches when the heap grows). */
  readonly memory: WebAssembly.Memory;
}

let compiled: WebAssembly.Module | undefined;
/** Kernels per tfjs-wasm Module (a backend re-created after setBackend gets a new heap). */
const instances = new WeakMap<object, WasmKernels | null>();

function compiledModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(Uint8Array.from(atob(KERNELS_WASM_BASE64), (c) => c.charCodeAt(0))); // atob: Node and browsers
  return compiled;
}

/** The heap of a tfjs-wasm backend: emscripten exposes it as Module.asm.memory (or wasmMemory). */
function findMemory(backend: WasmBackendInternals): WebAssembly.Memory | null {
  const candidates = [backend.wasm?.asm?.memory, backend.wasm?.wasmMemory];
  for (const candidate of candidates) if (candidate instanceof WebAssembly.Memory) return candidate;
  return null;
}

/**
 * The kernels bound to `backend`'s heap, or null when `backend` is not a tfjs-wasm backend whose
 * memory can be imported (then callers fall back to plain tf ops).
 */
export function wasmKernelsFor(backend: unknown): WasmKernels | null {
  const internals = backend as WasmBackendInternals;
  const module = internals?.wasm as object | undefined;
  if (!module || typeof module !== "object" || !internals.dataIdMap || typeof internals.makeOutput !== "function") return null;
  const cached = instances.get(module);
  if (cached !== undefined) return cached;
  let kernels: WasmKernels | null = null;
  const memory = findMemory(internals);
  if (memory) {
    try {
      const instance = new WebAssembly.Instance(compiledModule(), { env: { memory } });
      kernels = { exports: instance.exports as unknown as KernelExports, backend: internals, memory };
    } catch {
      kernels = null; // e.g. a shared (threaded) heap: the module imports an unshared memory
    }
  }
  instances.set(module, kernels);
  return kernels;
}

/** The kernels of the active backend when it is tfjs-wasm, else null. */
export function activeWasmKernels(): WasmKernels | null {
  if (tf.getBackend() !== "wasm") return null;
  return wasmKernelsFor(tf.backend());
}

/** Size of the active tfjs-wasm heap in bytes (it only grows, up to 4 GiB), or null off wasm. */
export function wasmHeapBytes(): number | null {
  if (tf.getBackend() !== "wasm") return null;
  const memory = findMemory(tf.backend() as unknown as WasmBackendInternals);
  return memory ? memory.buffer.byteLength : null;
}

/**
 * Why a wasm allocation failed, in numbers: the heap's size against its 4 GiB wasm32 ceiling and
 * what tfjs counts in live tensors (the heap also holds XNNPACK's packed weight copies, scratch,
 * and free space too fragmented for the request).
 */
export function heapReport(): string {
  const heap = wasmHeapBytes();
  const tensors = tf.memory().numBytes;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return heap === null
    ? `tfjs counts ${mib(tensors)} in ${tf.memory().numTensors} tensors`
    : `the wasm heap is ${mib(heap)} of its ${mib(WASM32_HEAP_MAX_BYTES)} wasm32 ceiling; tfjs counts ${mib(tensors)} in ${tf.memory().numTensors} tensors (data shared by several tensors counted for each)`;
}

/** emscripten's getHeapMax() in tfjs-backend-wasm: 4 GiB less one 64 KiB page. */
export const WASM32_HEAP_MAX_BYTES = 4 * 2 ** 30 - 65_536;

/** Byte offset of a float32 tensor in the wasm heap. */
export function heapOffset(kernels: WasmKernels, tensor: tf.TensorInfo): number {
  const offset = kernels.backend.dataIdMap.get(tensor.dataId)?.memoryOffset;
  if (offset === null || offset === undefined) throw new Error(`wasm-kernels: tensor [${tensor.shape.join(", ")}] has no wasm heap offset`);
  // tfjs-wasm's makeOutput does not check its malloc: 0 is a failed allocation (writing there runs
  // out of bounds), never a tensor's place.
  if (offset === 0 && tensor.shape.every((size) => size > 0)) {
    throw new Error(`wasm-kernels: no room in the wasm heap for a tensor [${tensor.shape.join(", ")}] (${tensor.shape.reduce((a, b) => a * b, 4)} bytes): ${heapReport()}`);
  }
  return offset;
}

/** Scratch requests up to this size reuse one buffer per heap instead of malloc + free per call. */
const REUSED_SCRATCH_BYTES = 256 * 1024;
const reusedScratch = new WeakMap<WasmKernels, { pointer: number; bytes: number; busy: boolean }>();

/**
 * Runs `fn` with `bytes` of scratch heap (16-byte aligned). Small requests share one buffer per
 * heap, kept between calls (kernels run synchronously and never nest, so one is enough; a nested
 * request falls back to malloc); larger ones are malloc'd and freed afterwards.
 */
export function withScratch<T>(kernels: WasmKernels, bytes: number, fn: (pointer: number) => T): T {
  if (bytes <= REUSED_SCRATCH_BYTES) {
    let reused = reusedScratch.get(kernels);
    if (!reused) {
      const raw = kernels.backend.wasm._malloc(REUSED_SCRATCH_BYTES + 16) >>> 0;
      if (raw === 0) throw new Error(`wasm-kernels: malloc(${REUSED_SCRATCH_BYTES + 16}) failed: ${heapReport()}`);
      reused = { pointer: ((raw + 15) & ~15) >>> 0, bytes: REUSED_SCRATCH_BYTES, busy: false };
      reusedScratch.set(kernels, reused);
    }
    if (!reused.busy) {
      reused.busy = true;
      try {
        return fn(reused.pointer);
      } finally {
        reused.busy = false;
      }
    }
  }
  const raw = kernels.backend.wasm._malloc(bytes + 16) >>> 0;
  if (raw === 0) throw new Error(`wasm-kernels: malloc(${bytes + 16}) failed: ${heapReport()}`);
  try {
    return fn(((raw + 15) & ~15) >>> 0);
  } finally {
    kernels.backend.wasm._free(raw);
  }
}

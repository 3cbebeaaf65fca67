// Worker threads for the SIMD matMul kernel on tfjs-wasm (Node). tfjs-wasm's heap is an
// unshared WebAssembly.Memory (its threaded build does not start in Node, and tfjs disables it
// there), so a worker cannot read tensors in place. Instead each worker runs the same kernels
// (assembly/kernels.ts, built a second time importing a *shared* memory) on a heap of ours, a
// SharedArrayBuffer-backed WebAssembly.Memory: for one product the main thread copies a worker's
// share of the operands there, wakes it (Atomics.notify), computes its own share in place on
// tfjs-wasm's heap, sleeps until the worker is done (Atomics.wait, no spinning), and copies the
// worker's rows of the output back. Every output element is computed by exactly one thread with
// the same code in the same order, so results are bit-identical to one thread.
//
// Split: by batch when the product has at least as many batches as threads (attention), else by
// rows of the output (2-D projections and their gradients). Products under MIN_PARALLEL_FLOPS or
// with fewer than MIN_ROWS_PER_THREAD rows a thread stay on one thread (waking a worker costs
// ~10–50 µs; decoding's few-row products would copy a whole weight to save less).
//
// Threads: setKernelThreads(n) or env EECOT_THREADS (1 turns them off); default: the machine's
// available parallelism, at most 4. Workers are unref'd (they never keep a process alive) and
// only exist once a product needs them. Node only: the Node entry (backend.ts) provides
// worker_threads; in a browser everything runs on one thread.
import { KERNELS_SHARED_WASM_BASE64 } from "./wasm-binary.js";
import type { WasmKernels } from "./wasm-kernels.js";

/** What the Node entry provides: worker_threads' Worker and the machine's parallelism. */
export interface ThreadSupport {
  readonly Worker: new (source: string, options: { eval: true; workerData: unknown; execArgv: string[] }) => WorkerLike;
  readonly availableParallelism: () => number;
}

interface WorkerLike {
  unref(): void;
  terminate(): Promise<number>;
  on(event: "error" | "exit", listener: (value: unknown) => void): unknown;
}

/** Products below this many floating-point operations run on one thread. */
export const MIN_PARALLEL_FLOPS = 1 << 22;
/** A thread's share is at least this many output rows (row split). */
export const MIN_ROWS_PER_THREAD = 16;
/** The most threads `setKernelThreads` accepts. */
export const MAX_KERNEL_THREADS = 16;
/** A worker that has not answered in this long is reported as hung (an error, never a hang). */
const WORKER_TIMEOUT_MS = 120_000;

// Control block of one worker (Int32 slots): a request counter the worker waits on, the counter
// of the last request it finished, a stop flag, an error flag, a started flag (1, or -1 when the
// kernels failed to instantiate), then the kernel's 14 arguments.
const SEQ = 0;
const DONE = 1;
const STOP = 2;
const FAILED = 3;
const READY = 4;
const OP = 5; // 0: batchMatMul (14 arguments), 1: streamColumns (9)
const ARGS = 6;
/** A worker that has not started in this long is reported (main blocks; its events cannot arrive). */
const START_TIMEOUT_MS = 30_000;
const CONTROL_SLOTS = ARGS + 14;

/** The worker's whole program (CommonJS, evaluated by worker_threads). */
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const { module, memory, control } = workerData;
const slots = new Int32Array(control);
let kernels;
try {
  kernels = new WebAssembly.Instance(module, { env: { memory } }).exports;
  Atomics.store(slots, ${READY}, 1);
} catch (error) {
  Atomics.store(slots, ${READY}, -1);
  Atomics.notify(slots, ${DONE});
  throw error;
}
let seen = 0;
for (;;) {
  Atomics.wait(slots, ${SEQ}, seen);
  const seq = Atomics.load(slots, ${SEQ});
  if (seq === seen) continue;
  seen = seq;
  if (Atomics.load(slots, ${STOP}) !== 0) break;
  const a = (i) => slots[${ARGS} + i];
  const u = (i) => slots[${ARGS} + i] >>> 0;
  try {
    if (slots[${OP}] === 1) kernels.streamColumns(u(0), u(1), u(2), a(3), a(4), a(5), a(6), a(7), a(8));
    else kernels.batchMatMul(u(0), u(1), u(2), u(3), a(4), a(5), a(6), a(7), a(8), a(9), a(10), a(11), a(12), a(13));
    slots[${FAILED}] = 0;
  } catch (error) {
    slots[${FAILED}] = 1;
  }
  Atomics.store(slots, ${DONE}, seq);
  Atomics.notify(slots, ${DONE});
}
`;

let support: ThreadSupport | undefined;
let requested: number | undefined;
let pool: Pool | undefined;
let sharedModule: WebAssembly.Module | undefined;

/** Called once by the Node entry: worker threads become available. */
export function provideThreadSupport(provided: ThreadSupport): void {
  support = provided;
}

/** A thread count from text (an environment variable); an invalid value is an error naming it. */
export function parseThreadCount(raw: string, name: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < 1 || value > MAX_KERNEL_THREADS) {
    throw new Error(`${name}=${JSON.stringify(raw)}: expected an integer from 1 to ${MAX_KERNEL_THREADS} (1 turns the kernel threads off)`);
  }
  return value;
}

function threadsFromEnvironment(): number | undefined {
  const raw = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.EECOT_THREADS;
  return raw === undefined || raw.trim() === "" ? undefined : parseThreadCount(raw, "EECOT_THREADS");
}

/**
 * Threads the wasm matMul kernels use (the main thread included): set by setKernelThreads, else
 * EECOT_THREADS, else the machine's available parallelism capped at 4; 1 where worker threads
 * are unavailable (browsers).
 */
export function kernelThreads(): number {
  if (!support) return 1;
  requested ??= threadsFromEnvironment() ?? Math.max(1, Math.min(4, support.availableParallelism()));
  return requested;
}

/** Sets the kernel threads (1 = off). Fewer threads than running workers stops the extra ones. */
export function setKernelThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_KERNEL_THREADS) {
    throw new Error(`setKernelThreads: expected an integer from 1 to ${MAX_KERNEL_THREADS}, got ${threads}`);
  }
  requested = threads;
  if (pool && pool.workers.length > threads - 1) pool.shrink(threads - 1);
}

/** Stops every worker (tests; a process exits without this: workers are unref'd). */
export async function stopKernelThreads(): Promise<void> {
  const stopping = pool;
  pool = undefined;
  if (stopping) await stopping.stopAll();
}

/** Worker count and shared-heap size, for benchmarks and tests. */
export function kernelThreadStats(): { workers: number; sharedHeapBytes: number; parallelCalls: number; mirroredBytes: number } {
  return { workers: pool?.workers.length ?? 0, sharedHeapBytes: pool?.memory.buffer.byteLength ?? 0, parallelCalls: pool?.parallelCalls ?? 0, mirroredBytes: pool?.mirroredBytes ?? 0 };
}

interface PoolWorker {
  readonly worker: WorkerLike;
  readonly slots: Int32Array;
  dead: string | undefined;
}

class Pool {
  readonly memory: WebAssembly.Memory;
  readonly workers: PoolWorker[] = [];
  parallelCalls = 0;

  constructor(private readonly provided: ThreadSupport) {
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: 65536, shared: true });
  }

  /** Grows the worker list to `count` (started workers instantiate the kernels themselves). */
  ensure(count: number): void {
    sharedModule ??= new WebAssembly.Module(Uint8Array.from(atob(KERNELS_SHARED_WASM_BASE64), (c) => c.charCodeAt(0)));
    while (this.workers.length < count) {
      const slots = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
      const worker = new this.provided.Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: sharedModule, memory: this.memory, control: slots.buffer },
        execArgv: [], // the parent's loaders (tsx, vitest) have nothing to do in a kernel worker
      });
      worker.unref();
      const entry: PoolWorker = { worker, slots, dead: undefined };
      worker.on("error", (error) => (entry.dead = `failed: ${(error as Error)?.message ?? String(error)}`));
      worker.on("exit", (code) => (entry.dead ??= `exited with code ${String(code)}`));
      this.workers.push(entry);
    }
  }

  shrink(count: number): void {
    for (const entry of this.workers.splice(count)) stopWorker(entry);
  }

  async stopAll(): Promise<void> {
    const all = this.workers.splice(0);
    for (const entry of all) stopWorker(entry);
    await Promise.all(all.map((entry) => entry.worker.terminate()));
  }

  /** Free blocks of the shared heap, [byte offset, bytes], sorted by offset; the rest is in use. */
  private readonly free: [number, number][] = [[64, 16 * 65536 - 64]];

  /**
   * `bytes` of the shared heap (64-byte aligned; first fit, growing the memory when nothing
   * fits), or undefined when it cannot grow that far (4 GiB).
   */
  alloc(bytes: number): number | undefined {
    const size = align(Math.max(bytes, 64));
    for (let i = 0; i < this.free.length; i++) {
      const [at, length] = this.free[i]!;
      if (length < size) continue;
      if (length === size) this.free.splice(i, 1);
      else this.free[i] = [at + size, length - size];
      return at;
    }
    const end = this.memory.buffer.byteLength;
    const last = this.free.at(-1);
    const tail = last && last[0] + last[1] === end ? last[1] : 0;
    try {
      this.memory.grow(Math.ceil((size - tail) / 65536));
    } catch {
      return undefined;
    }
    this.release(end, this.memory.buffer.byteLength - end);
    return this.alloc(bytes);
  }

  /** Returns a block to the free list, merging it with its neighbours. */
  release(at: number, bytes: number): void {
    const size = align(Math.max(bytes, 64));
    let i = 0;
    while (i < this.free.length && this.free[i]![0] < at) i++;
    this.free.splice(i, 0, [at, size]);
    if (i + 1 < this.free.length && at + size === this.free[i + 1]![0]) {
      this.free[i]![1] += this.free[i + 1]![1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1]![0] + this.free[i - 1]![1] === at) {
      this.free[i - 1]![1] += this.free[i]![1];
      this.free.splice(i, 1);
    }
  }

  /** Shared copies of frozen weights for decoding, by tfjs dataId; freed when the dataId is collected. */
  readonly mirrors = new WeakMap<object, { at: number; floats: number }>();
  readonly mirrorRegistry = new FinalizationRegistry<{ at: number; floats: number }>((held) => this.releaseMirror(held));
  mirroredBytes = 0;

  releaseMirror(mirror: { at: number; floats: number }): void {
    this.release(mirror.at, mirror.floats * 4);
    this.mirroredBytes -= mirror.floats * 4;
  }

  /** The weight's shared copy goes when tfjs frees it (disposeData), not only when it is collected. */
  dropMirror(dataId: object): void {
    const mirror = this.mirrors.get(dataId);
    if (!mirror) return;
    this.mirrors.delete(dataId);
    this.mirrorRegistry.unregister(mirror);
    this.releaseMirror(mirror);
  }
}

function stopWorker(entry: PoolWorker): void {
  Atomics.store(entry.slots, STOP, 1);
  Atomics.add(entry.slots, SEQ, 1);
  Atomics.notify(entry.slots, SEQ);
}

function post(entry: PoolWorker, args: readonly number[], op = 0): number {
  entry.slots[OP] = op;
  for (let i = 0; i < args.length; i++) entry.slots[ARGS + i] = args[i]! | 0;
  const seq = Atomics.add(entry.slots, SEQ, 1) + 1;
  Atomics.notify(entry.slots, SEQ);
  return seq;
}

function awaitWorker(entry: PoolWorker, seq: number, index: number): void {
  const started = Date.now();
  for (;;) {
    const done = Atomics.load(entry.slots, DONE);
    if (done === seq) break;
    if (entry.dead) throw new Error(`kernel threads: worker ${index} ${entry.dead}; set EECOT_THREADS=1 to run on one thread`);
    const ready = Atomics.load(entry.slots, READY);
    if (ready === -1) throw new Error(`kernel threads: worker ${index} could not instantiate the shared-memory kernels; set EECOT_THREADS=1 to run on one thread`);
    if (ready === 0 && Date.now() - started > START_TIMEOUT_MS) throw new Error(`kernel threads: worker ${index} did not start in ${START_TIMEOUT_MS / 1000} s; set EECOT_THREADS=1 to run on one thread`);
    if (Date.now() - started > WORKER_TIMEOUT_MS) throw new Error(`kernel threads: worker ${index} did not finish a matMul in ${WORKER_TIMEOUT_MS / 1000} s; set EECOT_THREADS=1 to run on one thread`);
    Atomics.wait(entry.slots, DONE, done, 1000);
  }
  if (entry.slots[FAILED] !== 0) throw new Error(`kernel threads: worker ${index}'s batchMatMul trapped; set EECOT_THREADS=1 to run on one thread`);
}

/** [N, M, K, P] with the layout flags of one runBatchMatMul call; pointers are tfjs heap bytes. */
export interface ParallelProduct {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly dims: readonly [number, number, number, number];
  /** Batch strides in elements (0: one matrix broadcast over the batch). */
  readonly aBatch: number;
  readonly bBatch: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
  /** Scratch floats one thread needs for this product (the packed panel + tile). */
  readonly scratchFloats: number;
}

/** Contiguous shares of `total` items over `parts` threads, the first share the main thread's. */
function shares(total: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < parts; i++) out.push([Math.floor((total * i) / parts), Math.floor((total * (i + 1)) / parts)]);
  return out;
}

const align = (bytes: number) => (bytes + 63) & ~63;

/**
 * Runs one product over the kernel threads, or returns false (nothing done) when it should run
 * on one thread: threads off or unavailable, a small product, too few rows or batches to share.
 * `runMain(batchStart, batchEnd, rowStart, rowEnd)` computes the main thread's share in place.
 */
export function runParallelBatchMatMul(
  kernels: WasmKernels,
  product: ParallelProduct,
  runMain: (batchStart: number, batchEnd: number, rowStart: number, rowEnd: number) => void,
): boolean {
  const threads = kernelThreads();
  if (threads < 2 || !support) return false;
  const [N, M, K, P] = product.dims;
  if (2 * N * M * K * P < MIN_PARALLEL_FLOPS || M < 8) return false;
  const byBatch = N >= threads;
  // Rows of several batches are not contiguous: fewer batches than threads but more than one
  // stays on one thread (not worth the copies).
  if (!byBatch && N > 1) return false;
  const parts = byBatch ? threads : Math.min(threads, Math.floor(M / MIN_ROWS_PER_THREAD));
  if (parts < 2) return false;
  pool ??= new Pool(support);
  pool.ensure(parts - 1);
  const split = shares(byBatch ? N : M, parts);
  const heap = new Float32Array(kernels.memory.buffer);
  const aMatrix = M * K;
  const bMatrix = K * P;
  const flags = [product.transposeA ? 1 : 0, product.transposeB ? 1 : 0];
  // Each worker's operands, output and scratch on the shared heap; a B every worker reads (row
  // split, or a broadcast B in a batch split) is copied once.
  const plans: Plan[] = [];
  const copies: [number, number, number][] = []; // [tfjs heap float index, shared byte offset, floats]
  let offset = 0; // relative to the call's block of the shared heap, allocated below
  const place = (floats: number) => {
    const at = offset;
    offset = align(offset + floats * 4);
    return at;
  };
  const copyIn = (from: number, floats: number) => {
    const at = place(floats);
    copies.push([from, at, floats]);
    return at;
  };
  let sharedB: number | undefined;
  const wholeB = () => (sharedB ??= copyIn(product.b / 4, bMatrix));
  for (let w = 1; w < parts; w++) {
    const [start, end] = split[w]!;
    const count = end - start;
    if (byBatch) {
      const aAt = product.aBatch === 0 ? copyIn(product.a / 4, aMatrix) : copyIn(product.a / 4 + start * aMatrix, count * aMatrix);
      const bAt = product.bBatch === 0 ? wholeB() : copyIn(product.b / 4 + start * bMatrix, count * bMatrix);
      const cAt = place(count * M * P);
      const scratchAt = place(product.scratchFloats);
      plans.push({ args: [aAt, bAt, cAt, scratchAt, count, M, K, P, product.aBatch, product.bBatch, ...flags, 0, M], copyBack: [[product.c / 4 + start * M * P, cAt, count * M * P]] });
    } else if (!product.transposeA) {
      // Rows [start, end) of A [M, K] are contiguous and their strides do not depend on M: the
      // worker's share is the product of those rows alone.
      const aAt = copyIn(product.a / 4 + start * K, count * K);
      const bAt = wholeB();
      const cAt = place(count * P);
      const scratchAt = place(product.scratchFloats);
      plans.push({ args: [aAt, bAt, cAt, scratchAt, 1, count, K, P, 0, 0, ...flags, 0, count], copyBack: [[product.c / 4 + start * P, cAt, count * P]] });
    } else {
      // A stored [K, M]: its rows are strided by M, so the worker reads all of A and computes
      // rows [start, end) of the whole product.
      const aAt = copyIn(product.a / 4, aMatrix);
      const bAt = wholeB();
      const cAt = place(M * P);
      const scratchAt = place(product.scratchFloats);
      plans.push({ args: [aAt, bAt, cAt, scratchAt, 1, M, K, P, 0, 0, ...flags, start, end], copyBack: [[product.c / 4 + start * P, cAt + start * P * 4, count * P]] });
    }
  }
  const base = pool.alloc(offset);
  if (base === undefined) return false;
  try {
    for (const plan of plans) {
      for (let i = 0; i < 4; i++) plan.args[i]! += base;
      for (const back of plan.copyBack) back[1] += base;
    }
    const shared = new Float32Array(pool.memory.buffer);
    for (const [from, to, floats] of copies) shared.set(heap.subarray(from, from + floats), (base + to) / 4);
    runShares(kernels, pool, plans, () => {
      const [start, end] = split[0]!;
      if (byBatch) runMain(start, end, 0, M);
      else runMain(0, N, start, end);
    }, shared);
  } finally {
    pool.release(base, offset);
  }
  return true;
}

/** Posts each plan to its worker, runs the main share, waits, copies the workers' outputs back. */
/** One worker's call: its kernel arguments and the [tfjs float index, shared byte offset, floats] copies of its output. */
interface Plan {
  readonly args: number[];
  readonly copyBack: [number, number, number][];
}

function runShares(kernels: WasmKernels, pool: Pool, plans: readonly Plan[], runMain: () => void, shared: Float32Array, op = 0): void {
  pool.parallelCalls++;
  const posted = plans.map((plan, i) => post(pool.workers[i]!, plan.args, op));
  let mainError: unknown;
  try {
    runMain();
  } catch (error) {
    mainError = error;
  }
  for (let i = 0; i < plans.length; i++) awaitWorker(pool.workers[i]!, posted[i]!, i + 1);
  if (mainError) throw mainError;
  // A fresh view: the main thread's share may have malloc'd scratch and grown tfjs's heap.
  const out = new Float32Array(kernels.memory.buffer);
  for (const plan of plans) for (const [to, from, floats] of plan.copyBack) out.set(shared.subarray(from / 4, from / 4 + floats), to);
}

/** Decoding's projections: weights from this many elements (4 MiB) are shared between threads. */
export const MIN_STREAM_WEIGHTS = 1 << 20;

/** One decoding product x [M, K] @ w [K, P] (M < 8), pointers in tfjs heap bytes. */
export interface ParallelStream {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly dims: readonly [number, number, number];
  readonly transposeA: boolean;
  /** The weight's tfjs dataId: its shared copy is made on its second use and kept while it lives. */
  readonly bDataId: object;
}

/** tfjs-wasm backends whose disposeData also drops shared copies. */
const watched = new WeakSet<object>();

function watchDisposals(kernels: WasmKernels, owner: Pool): void {
  const backend = kernels.backend as unknown as { disposeData?: (dataId: object, force?: boolean) => boolean };
  if (watched.has(backend) || typeof backend.disposeData !== "function") return;
  watched.add(backend);
  const dispose = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: object, force?: boolean) => {
    const freed = dispose(dataId, force);
    if (freed) (pool ?? owner).dropMirror(dataId);
    return freed;
  };
}

/** Weights seen once (a slice made per step is never copied; a weight used again is). */
const seenOnce = new WeakSet<object>();

/**
 * A few rows times a large weight over the kernel threads, split by columns: the weight is copied
 * once into the shared heap (on its second use; kept until tfjs frees it), each decode step then
 * copies only x and the worker's columns of the output. False (nothing done): run on one thread.
 * `runMain(columnStart, columnEnd)` computes the main thread's columns in place.
 */
export function runParallelStream(kernels: WasmKernels, product: ParallelStream, runMain: (columnStart: number, columnEnd: number) => void): boolean {
  const threads = kernelThreads();
  if (threads < 2 || !support) return false;
  const [M, K, P] = product.dims;
  if (K * P < MIN_STREAM_WEIGHTS || P < 64 * threads) return false;
  pool ??= new Pool(support);
  let mirror = pool.mirrors.get(product.bDataId);
  if (!mirror) {
    if (!seenOnce.has(product.bDataId)) {
      seenOnce.add(product.bDataId);
      return false;
    }
    const at = pool.alloc(K * P * 4);
    if (at === undefined) return false; // the shared heap is full: this weight stays on one thread
    new Float32Array(pool.memory.buffer).set(new Float32Array(kernels.memory.buffer, product.b, K * P), at / 4);
    mirror = { at, floats: K * P };
    pool.mirrors.set(product.bDataId, mirror);
    pool.mirrorRegistry.register(product.bDataId, mirror, mirror);
    pool.mirroredBytes += K * P * 4;
    watchDisposals(kernels, pool);
  }
  pool.ensure(threads - 1);
  // Column shares in multiples of 16 (aligned vectors), the first the main thread's.
  const edges = Array.from({ length: threads + 1 }, (_, i) => (i === threads ? P : Math.floor((P * i) / threads / 16) * 16));
  const aFloats = M * K;
  const bytes = align(aFloats * 4) + align(M * P * 4);
  const base = pool.alloc(bytes);
  if (base === undefined) return false;
  try {
    const aAt = base;
    const cAt = base + align(aFloats * 4);
    const shared = new Float32Array(pool.memory.buffer);
    shared.set(new Float32Array(kernels.memory.buffer, product.a, aFloats), aAt / 4);
    const plans: Plan[] = [];
    for (let w = 1; w < threads; w++) {
      const [start, end] = [edges[w]!, edges[w + 1]!];
      const copyBack: [number, number, number][] = [];
      for (let r = 0; r < M; r++) copyBack.push([product.c / 4 + r * P + start, cAt + (r * P + start) * 4, end - start]);
      plans.push({ args: [aAt, mirror.at, cAt, M, K, P, product.transposeA ? 1 : 0, start, end], copyBack });
    }
    runShares(kernels, pool, plans, () => runMain(0, edges[1]!), shared, 1);
  } finally {
    pool.release(base, bytes);
  }
  return true;
}

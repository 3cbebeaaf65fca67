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
const ARGS = 5;
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
  const a = (i) => slots[${ARGS} + i] >>> 0;
  try {
    kernels.batchMatMul(a(0), a(1), a(2), a(3), slots[${ARGS} + 4], slots[${ARGS} + 5], slots[${ARGS} + 6], slots[${ARGS} + 7],
      slots[${ARGS} + 8], slots[${ARGS} + 9], slots[${ARGS} + 10], slots[${ARGS} + 11], slots[${ARGS} + 12], slots[${ARGS} + 13]);
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
export function kernelThreadStats(): { workers: number; sharedHeapBytes: number; parallelCalls: number } {
  return { workers: pool?.workers.length ?? 0, sharedHeapBytes: pool?.memory.buffer.byteLength ?? 0, parallelCalls: pool?.parallelCalls ?? 0 };
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

  /** Shared heap of at least `bytes`; false when it cannot grow that far (4 GiB). */
  reserve(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return true;
    try {
      this.memory.grow(Math.ceil((bytes - have) / 65536));
      return true;
    } catch {
      return false;
    }
  }
}

function stopWorker(entry: PoolWorker): void {
  Atomics.store(entry.slots, STOP, 1);
  Atomics.add(entry.slots, SEQ, 1);
  Atomics.notify(entry.slots, SEQ);
}

function post(entry: PoolWorker, args: readonly number[]): number {
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
  const plans: { args: number[]; copyBack: [number, number, number] }[] = [];
  const copies: [number, number, number][] = []; // [tfjs heap float index, shared byte offset, floats]
  let offset = 64;
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
      plans.push({ args: [aAt, bAt, cAt, scratchAt, count, M, K, P, product.aBatch, product.bBatch, ...flags, 0, M], copyBack: [product.c / 4 + start * M * P, cAt, count * M * P] });
    } else if (!product.transposeA) {
      // Rows [start, end) of A [M, K] are contiguous and their strides do not depend on M: the
      // worker's share is the product of those rows alone.
      const aAt = copyIn(product.a / 4 + start * K, count * K);
      const bAt = wholeB();
      const cAt = place(count * P);
      const scratchAt = place(product.scratchFloats);
      plans.push({ args: [aAt, bAt, cAt, scratchAt, 1, count, K, P, 0, 0, ...flags, 0, count], copyBack: [product.c / 4 + start * P, cAt, count * P] });
    } else {
      // A stored [K, M]: its rows are strided by M, so the worker reads all of A and computes
      // rows [start, end) of the whole product.
      const aAt = copyIn(product.a / 4, aMatrix);
      const bAt = wholeB();
      const cAt = place(M * P);
      const scratchAt = place(product.scratchFloats);
      plans.push({ args: [aAt, bAt, cAt, scratchAt, 1, M, K, P, 0, 0, ...flags, start, end], copyBack: [product.c / 4 + start * P, cAt + start * P * 4, count * P] });
    }
  }
  if (!pool.reserve(offset)) return false;
  const shared = new Float32Array(pool.memory.buffer);
  for (const [from, to, floats] of copies) shared.set(heap.subarray(from, from + floats), to / 4);
  const posted = plans.map((plan, i) => post(pool!.workers[i]!, plan.args));
  pool.parallelCalls++;
  let mainError: unknown;
  try {
    const [start, end] = split[0]!;
    if (byBatch) runMain(start, end, 0, M);
    else runMain(0, N, start, end);
  } catch (error) {
    mainError = error;
  }
  for (let i = 0; i < plans.length; i++) awaitWorker(pool.workers[i]!, posted[i]!, i + 1);
  if (mainError) throw mainError;
  // A fresh view: the main thread's share may have malloc'd scratch and grown tfjs's heap.
  const out = new Float32Array(kernels.memory.buffer);
  for (const [to, from, floats] of plans.map((plan) => plan.copyBack)) out.set(shared.subarray(from / 4, from / 4 + floats), to);
  return true;
}

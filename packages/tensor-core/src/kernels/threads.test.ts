// The matMul kernels' worker threads (threads.ts): results bit-identical to one thread (and to an
// independent float32 loop) for every split the pool makes, gradients identical, no leaks, small
// products left on one thread, bad thread counts refused, and a process whose workers are idle
// exits by itself.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { expectNoLeaks } from "../testing.js";
import { tf } from "../tf.js";
import { batchMatMul } from "./batch-mat-mul.js";
import { matMul2dKernel, SIMD_FORWARD_MAX_WEIGHTS, SIMD_WIDE_MIN_ROWS } from "./mat-mul-2d.js";
import { randomTensor, referenceProduct } from "./test-helpers.js";
import { kernelThreads, kernelThreadStats, MIN_PARALLEL_FLOPS, parseThreadCount, setKernelThreads, stopKernelThreads } from "./threads.js";

/** Runs fn at `threads` kernel threads; returns its values and how many products ran threaded. */
async function at(threads: number, fn: () => tf.Tensor): Promise<{ values: Float32Array; parallel: number }> {
  setKernelThreads(threads);
  const before = kernelThreadStats().parallelCalls;
  const out = fn();
  const values = (await out.data()) as Float32Array;
  out.dispose();
  return { values, parallel: kernelThreadStats().parallelCalls - before };
}

/** [N, M, K, P], flags, broadcast side: every way the pool splits a product (rows odd on purpose). */
const CASES = [
  { name: "2-D rows", dims: [1, 301, 96, 200], transposeA: false, transposeB: false },
  { name: "2-D rows, B transposed (dA of a projection)", dims: [1, 257, 200, 96], transposeA: false, transposeB: true },
  { name: "2-D rows, A transposed (dW of a projection)", dims: [1, 131, 300, 120], transposeA: true, transposeB: false },
  { name: "2-D rows, both transposed", dims: [1, 133, 130, 140], transposeA: true, transposeB: true },
  { name: "batches (attention scores)", dims: [7, 64, 72, 72], transposeA: false, transposeB: true },
  { name: "batches, A broadcast", dims: [5, 40, 64, 300], transposeA: false, transposeB: false, broadcast: "a" },
  { name: "batches, B broadcast, A transposed", dims: [6, 48, 70, 160], transposeA: true, transposeB: false, broadcast: "b" },
] as const;

describe("kernel threads", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });
  afterAll(async () => {
    await stopKernelThreads();
    setKernelThreads(1);
  });

  for (const c of CASES) {
    it(`${c.name}: 2 and 3 threads give the 1-thread bits, equal to a float32 loop`, async () => {
      const [N, M, K, P] = c.dims;
      expect(2 * N * M * K * P).toBeGreaterThanOrEqual(MIN_PARALLEL_FLOPS);
      const broadcast = "broadcast" in c ? c.broadcast : undefined;
      const a = randomTensor(c.transposeA ? [broadcast === "a" ? 1 : N, K, M] : [broadcast === "a" ? 1 : N, M, K], 1);
      const b = randomTensor(c.transposeB ? [broadcast === "b" ? 1 : N, P, K] : [broadcast === "b" ? 1 : N, K, P], 2);
      const product = () => batchMatMul(a, b, { transposeA: c.transposeA, transposeB: c.transposeB });
      const one = await at(1, product);
      expect(one.parallel).toBe(0);
      expect(one.values).toEqual(referenceProduct(a, b, c.transposeA, c.transposeB));
      for (const threads of [2, 3]) {
        const many = await at(threads, product);
        expect(many.parallel, `${threads} threads ran the product on the pool`).toBe(1);
        expect(Buffer.from(many.values.buffer).equals(Buffer.from(one.values.buffer)), `${threads} threads: bit-identical`).toBe(true);
      }
      tf.dispose([a, b]);
    });
  }

  it("gradients of a 2-D matMul through the pool are the 1-thread bits", async () => {
    const a = tf.reshape(randomTensor([1, 256, 128], 3), [256, 128]) as tf.Tensor2D;
    const w = tf.reshape(randomTensor([1, 128, 192], 4), [128, 192]) as tf.Tensor2D;
    const dy = tf.reshape(randomTensor([1, 256, 192], 5), [256, 192]) as tf.Tensor2D;
    const gradients = async (threads: number) => {
      setKernelThreads(threads);
      const before = kernelThreadStats().parallelCalls;
      const grads = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(matMul2dKernel(x as tf.Tensor2D, y as tf.Tensor2D), dy)))([a, w]);
      const values = await Promise.all(grads.map((g) => g.data()));
      tf.dispose(grads);
      return { values, parallel: kernelThreadStats().parallelCalls - before };
    };
    const one = await gradients(1);
    const two = await gradients(2);
    expect(one.parallel).toBe(0);
    expect(two.parallel).toBe(3); // forward, dA, dW
    expect(two.values).toEqual(one.values);
    tf.dispose([a, w, dy]);
  });

  it("runs a wide weight (over SIMD_FORWARD_MAX_WEIGHTS) times 256 rows on the SIMD kernel and the pool, not XNNPACK", async () => {
    const N = SIMD_FORWARD_MAX_WEIGHTS / 64 + 24;
    const x = tf.fill([SIMD_WIDE_MIN_ROWS, 64], 0.5) as tf.Tensor2D;
    const w = tf.fill([64, N], 1.5) as tf.Tensor2D;
    const two = await at(2, () => matMul2dKernel(x, w));
    expect(two.parallel).toBe(1);
    expect(two.values.length).toBe(SIMD_WIDE_MIN_ROWS * N);
    expect(two.values.every((v) => v === 48)).toBe(true);
    tf.dispose([x, w]);
  });

  it("decoding: a weight used twice is shared once and split by columns, bit-identical to one thread", async () => {
    const x = randomTensor([1, 3, 1030], 12); // 3 rows (decoding a batch of 3), K past the 8-row blocks
    const w = randomTensor([1, 1030, 1100], 13); // 1.13M elements, P not a multiple of 16
    const xT = randomTensor([1, 1030, 3], 14); // stored [K, M]: transposeA
    const one = await at(1, () => batchMatMul(x, w));
    const oneT = await at(1, () => batchMatMul(xT, w, { transposeA: true }));
    expect(one.values).toEqual(referenceProduct(x, w, false, false));
    const mirrored = kernelThreadStats().mirroredBytes;
    const first = await at(2, () => batchMatMul(x, w)); // first sight of w: one thread, no copy
    expect(first.parallel).toBe(0);
    expect(kernelThreadStats().mirroredBytes).toBe(mirrored);
    for (let step = 0; step < 3; step++) {
      const again = await at(2, () => batchMatMul(x, w));
      expect(again.parallel).toBe(1);
      expect(Buffer.from(again.values.buffer).equals(Buffer.from(one.values.buffer))).toBe(true);
      expect(kernelThreadStats().mirroredBytes).toBe(mirrored + 1030 * 1100 * 4); // copied once
    }
    const transposed = await at(3, () => batchMatMul(xT, w, { transposeA: true }));
    expect(transposed.parallel).toBe(1);
    expect(transposed.values).toEqual(oneT.values);
    tf.dispose([x, w, xT]);
    expect(kernelThreadStats().mirroredBytes).toBe(mirrored); // disposing w dropped its shared copy
  });

  it("leaves products below MIN_PARALLEL_FLOPS and decoding's small weights on one thread", async () => {
    const small = [randomTensor([1, 16, 16, 16], 6), randomTensor([1, 16, 16], 7)] as const;
    expect((await at(2, () => batchMatMul(randomTensor([1, 16, 16], 6), small[1]))).parallel).toBe(0);
    const row = randomTensor([1, 4, 256], 8);
    const weight = randomTensor([1, 256, 1024], 9); // 2 Mflop, under MIN_STREAM_WEIGHTS
    for (let i = 0; i < 2; i++) expect((await at(2, () => batchMatMul(row, weight))).parallel).toBe(0);
    tf.dispose([...small, row, weight]);
  });

  it("keeps tf.memory().numTensors flat over repeated threaded products", async () => {
    setKernelThreads(2);
    const a = randomTensor([1, 200, 128], 10);
    const b = randomTensor([1, 128, 200], 11);
    await expectNoLeaks(() => {
      for (let i = 0; i < 5; i++) tf.dispose(batchMatMul(a, b));
    });
    tf.dispose([a, b]);
  });

  it("refuses thread counts that are not integers from 1 to 16, naming the setting", () => {
    expect(() => setKernelThreads(0)).toThrow(/setKernelThreads: expected an integer from 1 to 16, got 0/);
    expect(() => setKernelThreads(2.5)).toThrow(/got 2.5/);
    expect(() => parseThreadCount("two", "EECOT_THREADS")).toThrow(/EECOT_THREADS="two": expected an integer from 1 to 16 \(1 turns the kernel threads off\)/);
    expect(parseThreadCount("3", "EECOT_THREADS")).toBe(3);
    setKernelThreads(2);
    expect(kernelThreads()).toBe(2);
  });

  it("a process that used the pool exits on its own (idle workers do not keep it alive)", () => {
    const script = `
      import { initBackend, tf, batchMatMul, kernelThreadStats } from ${JSON.stringify(fileURLToPath(new URL("../index.ts", import.meta.url)))};
      await initBackend({ backend: "wasm", quiet: true, threads: 2 });
      const c = batchMatMul(tf.ones([1, 256, 128]), tf.ones([1, 128, 256]));
      console.log(JSON.stringify({ first: c.dataSync()[0], stats: kernelThreadStats() }));
    `;
    const started = Date.now();
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
    const result = JSON.parse(out.trim().split("\n").at(-1)!) as { first: number; stats: { workers: number; parallelCalls: number } };
    expect(result.first).toBe(128);
    expect(result.stats).toMatchObject({ workers: 1, parallelCalls: 1 });
    expect(Date.now() - started).toBeLessThan(60_000); // exited by itself (execFileSync's timeout would kill it)
  }, 90_000);
});

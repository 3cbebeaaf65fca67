import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { assertClose, expectNoLeaks, finiteDifferenceGradients } from "../testing.js";
import { tf } from "../tf.js";
import { BATCH_MAT_MUL_KERNEL, batchMatMul } from "./batch-mat-mul.js";
import { randomTensor, referenceProduct } from "./test-helpers.js";
import { activeWasmKernels } from "./wasm-kernels.js";

const FLAGS = [
  { transposeA: false, transposeB: false },
  { transposeA: false, transposeB: true },
  { transposeA: true, transposeB: false },
  { transposeA: true, transposeB: true },
] as const;

/**
 * [N, M, K, P]: tiny, odd (not multiples of 4 or 8), decode-like M = 2, K past the 256 block;
 * fewer than 8 rows stream B in 512-column blocks (the [2, 3, 21, 1030] shape crosses two of
 * them); 8 rows or more use the packed panel in 512-column blocks (the last shape: three blocks,
 * the last one ragged, and two shared-dim blocks).
 */
const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [2, 5, 3, 7],
  [3, 9, 13, 17],
  [2, 4, 8, 16],
  [2, 2, 32, 40],
  [1, 11, 6, 33],
  [2, 6, 300, 11],
  [1, 7, 517, 20],
  [2, 3, 21, 1030],
  [1, 10, 260, 1100],
];

const stored = (N: number, rows: number, columns: number, transposed: boolean): number[] => (transposed ? [N, columns, rows] : [N, rows, columns]);
const swapLastTwo = (x: tf.Tensor3D) => tf.transpose(x, [0, 2, 1]) as tf.Tensor3D;

const kernelNames = async (fn: () => tf.Tensor) => (await tf.profile(() => fn())).kernelNames;

describe.each(["wasm", "cpu"] as const)("batchMatMul on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
    expect(tf.getBackend()).toBe(backend);
  });

  it("runs the SIMD kernel on wasm and tf.matMul elsewhere", async () => {
    const a = randomTensor([2, 3, 4], 1);
    const b = randomTensor([2, 4, 5], 2);
    const names = await kernelNames(() => batchMatMul(a, b));
    expect(names).toContain(backend === "wasm" ? BATCH_MAT_MUL_KERNEL : "BatchMatMul");
    expect(activeWasmKernels() !== null).toBe(backend === "wasm");
    tf.dispose([a, b]);
  });

  it("matches a hand-computed product", async () => {
    const a = tf.tensor3d([[[1, 2, 3], [4, 5, 6]]]); // [1, 2, 3]
    const b = tf.tensor3d([[[1, 0], [0, 1], [2, -1]]]); // [1, 3, 2]
    const y = batchMatMul(a, b);
    expect(y.shape).toEqual([1, 2, 2]);
    expect(Array.from(await y.data())).toEqual([7, -1, 16, -1]);
    tf.dispose([a, b, y]);
  });

  it.each(FLAGS)("equals the in-order float32 reference and tf.matMul (transposeA $transposeA, transposeB $transposeB)", async (flags) => {
    let seed = 10;
    for (const [N, M, K, P] of SHAPES) {
      const a = randomTensor(stored(N, M, K, flags.transposeA), seed++);
      const b = randomTensor(stored(N, K, P, flags.transposeB), seed++);
      const y = batchMatMul(a, b, flags);
      const name = `[${N}, ${M}, ${K}, ${P}] ${JSON.stringify(flags)}`;
      expect(y.shape, name).toEqual([N, M, P]);
      const values = await y.data();
      if (backend === "wasm") expect(Array.from(values), name).toEqual(Array.from(referenceProduct(a, b, flags.transposeA, flags.transposeB)));
      const expected = tf.matMul(a, b, flags.transposeA, flags.transposeB);
      assertClose(values, await expected.data(), name, { absolute: 1e-4, relative: 1e-5 });
      tf.dispose([a, b, y, expected]);
    }
  });

  it("broadcasts a batch of 1 on either side", async () => {
    for (const flags of FLAGS) {
      const a = randomTensor(stored(1, 5, 9, flags.transposeA), 30);
      const b = randomTensor(stored(3, 9, 13, flags.transposeB), 31);
      const left = batchMatMul(a, b, flags);
      const right = batchMatMul(swapLastTwo(b), swapLastTwo(a), { transposeA: flags.transposeB, transposeB: flags.transposeA });
      expect(left.shape).toEqual([3, 5, 13]);
      expect(right.shape).toEqual([3, 13, 5]);
      assertClose(await left.data(), await tf.matMul(a, b, flags.transposeA, flags.transposeB).data(), `a broadcast ${JSON.stringify(flags)}`, { absolute: 1e-4 });
      assertClose(await right.data(), await swapLastTwo(left).data(), `b broadcast ${JSON.stringify(flags)}`, { absolute: 1e-4 });
      tf.dispose([a, b, left, right]);
    }
  });

  it("handles empty shared and output dimensions", async () => {
    const a = tf.zeros([2, 3, 0]) as tf.Tensor3D;
    const b = tf.zeros([2, 0, 4]) as tf.Tensor3D;
    const y = batchMatMul(a, b);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(Array.from(await y.data())).toEqual(new Array(24).fill(0));
    const empty = batchMatMul(tf.zeros([2, 0, 3]) as tf.Tensor3D, tf.zeros([2, 3, 4]) as tf.Tensor3D);
    expect(empty.shape).toEqual([2, 0, 4]);
    tf.dispose([a, b, y, empty]);
  });

  it.each(FLAGS)("gradients match finite differences (transposeA $transposeA, transposeB $transposeB)", async (flags) => {
    const a = randomTensor(stored(2, 3, 5, flags.transposeA), 40);
    const b = randomTensor(stored(2, 5, 6, flags.transposeB), 41);
    const weights = randomTensor([2, 3, 6], 42);
    const loss = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(batchMatMul(x as tf.Tensor3D, y as tf.Tensor3D, flags), weights)) as tf.Scalar;
    const analytic = tf.grads(loss)([a, b]);
    const numeric = await finiteDifferenceGradients(loss, [a, b], { step: 1e-2 });
    for (let i = 0; i < 2; i++) {
      expect(analytic[i]!.shape).toEqual([a, b][i]!.shape);
      assertClose(await analytic[i]!.data(), numeric[i]!, `gradient of input ${i} ${JSON.stringify(flags)}`, { absolute: 2e-3, relative: 2e-3 });
    }
    tf.dispose([a, b, weights, ...analytic]);
  });

  it.each(FLAGS)("gradients match tf.matMul's, including broadcasts (transposeA $transposeA, transposeB $transposeB)", async (flags) => {
    // tf.matMul's own gradient fails on a broadcast batch (tfjs 4.22), so the reference
    // broadcasts explicitly (broadcastTo's gradient sums the copies back).
    const wide = (x: tf.Tensor) => tf.broadcastTo(x, [3, x.shape[1]!, x.shape[2]!]) as tf.Tensor3D;
    for (const [aBatch, bBatch] of [[3, 3], [1, 3], [3, 1]] as const) {
      const a = randomTensor(stored(aBatch, 9, 270, flags.transposeA), 50);
      const b = randomTensor(stored(bBatch, 270, 13, flags.transposeB), 51);
      const weights = randomTensor([3, 9, 13], 52);
      const ours = tf.grads((x, y) => tf.sum(tf.mul(batchMatMul(x as tf.Tensor3D, y as tf.Tensor3D, flags), weights)) as tf.Scalar)([a, b]);
      const reference = tf.grads((x, y) => tf.sum(tf.mul(tf.matMul(wide(x), wide(y), flags.transposeA, flags.transposeB), weights)) as tf.Scalar)([a, b]);
      for (let i = 0; i < 2; i++) {
        expect(ours[i]!.shape).toEqual(reference[i]!.shape);
        assertClose(await ours[i]!.data(), await reference[i]!.data(), `batches ${aBatch}/${bBatch} input ${i} ${JSON.stringify(flags)}`, { absolute: 1e-3, relative: 1e-4 });
      }
      tf.dispose([a, b, weights, ...ours, ...reference]);
    }
  });

  it("leaks no tensors, forward or backward", async () => {
    const a = randomTensor([2, 6, 5], 60);
    const b = randomTensor([2, 7, 5], 61);
    await expectNoLeaks(() => batchMatMul(a, b, { transposeB: true }));
    await expectNoLeaks(() => tf.tidy(() => tf.grads((x, y) => tf.sum(batchMatMul(x as tf.Tensor3D, y as tf.Tensor3D, { transposeB: true })) as tf.Scalar)([a, b])));
    tf.dispose([a, b]);
  });

  it("rejects bad shapes and dtypes with the shapes in the message", () => {
    const a = tf.zeros([2, 3, 4]) as tf.Tensor3D;
    expect(() => batchMatMul(a, tf.zeros([2, 5, 6]) as tf.Tensor3D)).toThrow("batchMatMul: inner dimensions differ (4 vs 5) in [2, 3, 4] @ [2, 5, 6]");
    expect(() => batchMatMul(a, tf.zeros([3, 4, 6]) as tf.Tensor3D)).toThrow("batchMatMul: batch sizes 2 and 3 differ");
    expect(() => batchMatMul(a, tf.zeros([4, 6]) as unknown as tf.Tensor3D)).toThrow("batchMatMul: expected rank-3 tensors");
    expect(() => batchMatMul(a, tf.zeros([2, 4, 6], "int32") as tf.Tensor3D)).toThrow("batchMatMul: expected float32 tensors");
    tf.dispose(a);
  });
});

describe("batchMatMul on the wasm heap", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  it("stays correct after tfjs-wasm grows its memory, and writes nothing outside its output", async () => {
    const memory = (tf.backend() as unknown as { wasm: { asm: { memory: WebAssembly.Memory } } }).wasm.asm.memory;
    const a = randomTensor([3, 37, 41], 70);
    const b = randomTensor([3, 43, 41], 71);
    const first = batchMatMul(a, b, { transposeB: true });
    const before = memory.buffer.byteLength;
    const big = tf.fill([before / 4 + (1 << 20)], 7); // forces memory.grow
    expect(memory.buffer.byteLength).toBeGreaterThan(before);
    const canaries = [tf.fill([1000], 3), tf.fill([1001], -2)]; // neighbours of the next output
    const second = batchMatMul(a, b, { transposeB: true });
    const canaries2 = [tf.fill([999], 5)];
    const third = batchMatMul(b, a, { transposeB: true });
    expect(Array.from(await second.data())).toEqual(Array.from(await first.data()));
    expect(Array.from(await third.data())).toEqual(Array.from(referenceProduct(b, a, false, true)));
    for (const [index, canary] of [...canaries, ...canaries2].entries()) {
      const value = [3, -2, 5][index]!;
      expect((await canary.data()).every((x) => x === value), `canary ${index}`).toBe(true);
    }
    expect((await tf.max(big).data())[0]).toBe(7);
    expect((await tf.min(big).data())[0]).toBe(7);
    tf.dispose([a, b, first, second, third, big, ...canaries, ...canaries2]);
  });
});

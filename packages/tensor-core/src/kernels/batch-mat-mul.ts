// Batched matrix products for attention that run fast on tfjs-wasm (ENGINE-NOTES pitfall 2:
// tfjs-wasm sends every batched or transposed matMul to a naive loop at ~1 GFLOP/s). On wasm the
// op runs the SIMD kernel in assembly/kernels.ts on the tensors in place; elsewhere (cpu,
// webgpu, tensorflow) it is tf.matMul. The gradient is four more batchMatMul calls, so the
// backward pass stays on the fast kernel too.
// N batch, M rows, K shared dim, P columns.
import { tf } from "../tf.js";
import { runParallelBatchMatMul, runParallelStream } from "./threads.js";
import { activeWasmKernels, heapOffset, wasmKernelsFor, withScratch, type WasmKernels } from "./wasm-kernels.js";

export const BATCH_MAT_MUL_KERNEL = "EecotBatchMatMul";

export interface BatchMatMulOptions {
  /** Read `a` as stored [N, K, M] (use its transpose). Default false. */
  readonly transposeA?: boolean;
  /** Read `b` as stored [N, P, K] (use its transpose). Default false. */
  readonly transposeB?: boolean;
}

/**
 * op(a) @ op(b) per batch: [N, M, K] @ [N, K, P] -> [N, M, P], op = transpose where asked. A
 * batch size of 1 on either side broadcasts over the other's N. float32 only.
 */
export function batchMatMul(a: tf.Tensor3D, b: tf.Tensor3D, options: BatchMatMulOptions = {}): tf.Tensor3D {
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const [N] = matMulShape(a.shape, b.shape, transposeA, transposeB, a.dtype, b.dtype); // validates
  if (activeWasmKernels()) {
    return tf.engine().runKernel(BATCH_MAT_MUL_KERNEL, { a, b }, { transposeA, transposeB }) as tf.Tensor3D;
  }
  if (a.shape[0] === b.shape[0]) return tf.matMul(a, b, transposeA, transposeB);
  // tf.matMul's gradient does not sum a broadcast batch back (tfjs 4.22); broadcastTo's does.
  return tf.tidy(() => {
    const wide = (x: tf.Tensor3D) => (x.shape[0] === N ? x : (tf.broadcastTo(x, [N, x.shape[1], x.shape[2]]) as tf.Tensor3D));
    return tf.matMul(wide(a), wide(b), transposeA, transposeB);
  });
}

/** [N, M, K, P] of a product, or an error naming the mismatch. */
function matMulShape(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean, aType: string, bType: string): [number, number, number, number] {
  const describe = () => `[${aShape.join(", ")}]${transposeA ? "ᵀ" : ""} @ [${bShape.join(", ")}]${transposeB ? "ᵀ" : ""}`;
  if (aShape.length !== 3 || bShape.length !== 3) throw new Error(`batchMatMul: expected rank-3 tensors, got ${describe()}`);
  if (aType !== "float32" || bType !== "float32") throw new Error(`batchMatMul: expected float32 tensors, got ${aType} and ${bType}`);
  const [aBatch, aRows, aColumns] = aShape as [number, number, number];
  const [bBatch, bRows, bColumns] = bShape as [number, number, number];
  const [M, K] = transposeA ? [aColumns, aRows] : [aRows, aColumns];
  const [bK, P] = transposeB ? [bColumns, bRows] : [bRows, bColumns];
  if (K !== bK) throw new Error(`batchMatMul: inner dimensions differ (${K} vs ${bK}) in ${describe()}`);
  if (aBatch !== bBatch && aBatch !== 1 && bBatch !== 1) throw new Error(`batchMatMul: batch sizes ${aBatch} and ${bBatch} differ in ${describe()}`);
  return [Math.max(aBatch, bBatch), M, K, P];
}

/** The wasm backend kernel: one call into the SIMD kernel for the whole batch. */
function batchMatMulKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const a = inputs.a!;
  const b = inputs.b!;
  const transposeA = Boolean(attrs?.transposeA);
  const transposeB = Boolean(attrs?.transposeB);
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${BATCH_MAT_MUL_KERNEL}: the wasm backend's heap is not reachable`);
  const [N, M, K, P] = matMulShape(a.shape, b.shape, transposeA, transposeB, a.dtype, b.dtype);
  const out = kernels.backend.makeOutput([N, M, P], "float32");
  runBatchMatMul(kernels, a, b, out, [N, M, K, P], a.shape[0] === 1 && N > 1, b.shape[0] === 1 && N > 1, transposeA, transposeB);
  return out;
}

/**
 * One SIMD kernel call writing op(a) @ op(b) into `out` (all on the wasm heap); dims [N, M, K, P];
 * a broadcast side is read as a single matrix.
 */
export function runBatchMatMul(
  kernels: WasmKernels,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  out: tf.TensorInfo,
  [N, M, K, P]: readonly [number, number, number, number],
  broadcastA: boolean,
  broadcastB: boolean,
  transposeA: boolean,
  transposeB: boolean,
): void {
  if (N * M * P === 0) return;
  // The kernel streams B for fewer than 8 rows of a non-transposed B (no panel), else packs it.
  const scratchFloats = M < 8 && !transposeB ? 32 : K * (Math.ceil(P / 8) * 8) + 32;
  const aBatch = broadcastA ? 0 : M * K;
  const bBatch = broadcastB ? 0 : K * P;
  const [aAt, bAt, cAt] = [heapOffset(kernels, a), heapOffset(kernels, b), heapOffset(kernels, out)];
  const flags = [transposeA ? 1 : 0, transposeB ? 1 : 0] as const;
  // One share (all of it on one thread): batches [batchStart, batchEnd), rows [rowStart, rowEnd).
  const run = (batchStart: number, batchEnd: number, rowStart: number, rowEnd: number) =>
    withScratch(kernels, scratchFloats * 4, (scratch) =>
      kernels.exports.batchMatMul(aAt + batchStart * aBatch * 4, bAt + batchStart * bBatch * 4, cAt + batchStart * M * P * 4, scratch, batchEnd - batchStart, M, K, P, aBatch, bBatch, ...flags, rowStart, rowEnd),
    );
  if (M < 8 && !transposeB) {
    // Decoding: a few rows stream the weight; threads split it by columns (a shared copy of it).
    const stream = { a: aAt, b: bAt, c: cAt, dims: [M, K, P] as const, transposeA, bDataId: b.dataId as object };
    const columns = (start: number, end: number) => kernels.exports.streamColumns(aAt, bAt, cAt, M, K, P, flags[0], start, end);
    if (N === 1 && runParallelStream(kernels, stream, columns)) return;
  } else {
    const product = { a: aAt, b: bAt, c: cAt, dims: [N, M, K, P] as const, aBatch, bBatch, transposeA, transposeB, scratchFloats };
    if (runParallelBatchMatMul(kernels, product, run)) return;
  }
  run(0, N, 0, M);
}

/** Sums a broadcast input's gradient [N, ...] back to its batch of 1. */
function reduceBroadcast(gradient: tf.Tensor3D, batch: number): tf.Tensor3D {
  return gradient.shape[0] === batch ? gradient : (tf.sum(gradient, 0, true) as tf.Tensor3D);
}

/**
 * d(op(a) @ op(b)) for C = A·B, dy = dC: dA = dy·Bᵀ, dB = Aᵀ·dy, each written as one batchMatMul
 * on the stored layouts (as tfjs's BatchMatMul gradient does).
 */
function batchMatMulGradient(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): { a: () => tf.Tensor; b: () => tf.Tensor } {
  const gradient = dy as tf.Tensor3D;
  const [a, b] = saved as [tf.Tensor3D, tf.Tensor3D];
  const transposeA = Boolean(attrs.transposeA);
  const transposeB = Boolean(attrs.transposeB);
  const aBatch = a.shape[0];
  const bBatch = b.shape[0];
  if (!transposeA && !transposeB) {
    return {
      a: () => reduceBroadcast(batchMatMul(gradient, b, { transposeB: true }), aBatch), // [N, M, P] @ [N, P, K]
      b: () => reduceBroadcast(batchMatMul(a, gradient, { transposeA: true }), bBatch), // [N, K, M] @ [N, M, P]
    };
  }
  if (!transposeA && transposeB) {
    return {
      a: () => reduceBroadcast(batchMatMul(gradient, b), aBatch), // [N, M, P] @ [N, P, K]
      b: () => reduceBroadcast(batchMatMul(gradient, a, { transposeA: true }), bBatch), // [N, P, M] @ [N, M, K]
    };
  }
  if (transposeA && !transposeB) {
    return {
      a: () => reduceBroadcast(batchMatMul(b, gradient, { transposeB: true }), aBatch), // [N, K, P] @ [N, P, M]
      b: () => reduceBroadcast(batchMatMul(a, gradient), bBatch), // [N, K, M] @ [N, M, P]
    };
  }
  return {
    a: () => reduceBroadcast(batchMatMul(b, gradient, { transposeA: true, transposeB: true }), aBatch), // [N, K, P] @ [N, P, M]
    b: () => reduceBroadcast(batchMatMul(gradient, a, { transposeA: true, transposeB: true }), bBatch), // [N, P, M] @ [N, M, K]
  };
}

if (!tf.getKernel(BATCH_MAT_MUL_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: BATCH_MAT_MUL_KERNEL, backendName: "wasm", kernelFunc: batchMatMulKernel as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: BATCH_MAT_MUL_KERNEL, inputsToSave: ["a", "b"], gradFunc: batchMatMulGradient as unknown as tf.GradFunc });
}

// A 2-D matMul on tfjs-wasm as one registered kernel: the SIMD batchMatMul kernel forward
// (measured 45–50 GFLOP/s against XNNPACK's 36–37 at [2048, 128] @ [128, 384] and similar
// training shapes; XNNPACK for very large weights) and its transposed-operand reads for the
// gradient. Being a registered kernel
// (not a tf.customGrad), it saves its inputs without a custom-gradient scope per call.
// M rows, K inner, N columns.
import { tf } from "../tf.js";
import { batchMatMul, runBatchMatMul } from "./batch-mat-mul.js";
import { wasmKernelsFor } from "./wasm-kernels.js";

export const MAT_MUL_2D_KERNEL = "EecotMatMul2d";

/**
 * Above this many weight elements (K·N), and for XNNPACK_MIN_ROWS rows or more, the forward pass
 * is tfjs-wasm's XNNPACK BatchMatMul: the SIMD kernel packs its right operand per call then (a
 * 151,936-token unembedding would be a 0.5 GB copy), while XNNPACK packs it once and keeps that
 * copy as long as the weight lives. Fewer rows stream the weight in place at any size.
 */
export const SIMD_FORWARD_MAX_WEIGHTS = 4 * 1024 * 1024;
/** Rows from which the SIMD kernel packs its right operand (assembly/kernels.ts) and a weight over SIMD_FORWARD_MAX_WEIGHTS goes to XNNPACK. */
export const XNNPACK_MIN_ROWS = 8;
/**
 * From this many rows the packing is cheap next to the product (under ~5 %), so weights up to
 * SIMD_WIDE_MAX_WEIGHTS (a 32,000 × 768 unembedding; its panel is 128 MiB) stay on the SIMD
 * kernel, which blocks wide products by columns and runs on the kernel threads: [512, 768] @
 * [768, 32000] measured 16–17 GFLOP/s on one thread and 25–27 on two against XNNPACK's 9 (loaded
 * machine, one run). Larger weights (a 151,936-token unembedding) keep XNNPACK.
 */
export const SIMD_WIDE_MIN_ROWS = 256;
export const SIMD_WIDE_MAX_WEIGHTS = 32 * 1024 * 1024;

/** a [M, K] @ b [K, N] as one EecotMatMul2d kernel (wasm only, float32; the caller checks). */
export function matMul2dKernel(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(MAT_MUL_2D_KERNEL, { a, b }, {}) as tf.Tensor2D;
}

function matMul2dKernelFunc({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${MAT_MUL_2D_KERNEL}: the wasm backend's heap is not reachable`);
  const a = inputs.a!;
  const b = inputs.b!;
  const [M, K] = a.shape as [number, number];
  const N = b.shape[1]!;
  const wideOnSimd = M >= SIMD_WIDE_MIN_ROWS && K * N <= SIMD_WIDE_MAX_WEIGHTS;
  if (K * N > SIMD_FORWARD_MAX_WEIGHTS && M >= XNNPACK_MIN_ROWS && !wideOnSimd) {
    const stock = tf.getKernel("BatchMatMul", "wasm");
    if (!stock) throw new Error(`${MAT_MUL_2D_KERNEL}: tfjs-wasm's BatchMatMul kernel is not registered`);
    return stock.kernelFunc({ inputs: { a, b }, backend: backend as tf.KernelBackend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
  }
  const out = kernels.backend.makeOutput([M, N], "float32");
  runBatchMatMul(kernels, a, b, out, [1, M, K, N], false, false, false, false);
  return out;
}

/** dA = dy @ bᵀ, dB = aᵀ @ dy, on the stored layouts (no transpose copies). */
function matMul2dGradient(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): { a: () => tf.Tensor; b: () => tf.Tensor } {
  const [a, b] = saved as [tf.Tensor2D, tf.Tensor2D];
  const gradient = dy as tf.Tensor2D; // [M, N]
  const as3d = (x: tf.Tensor2D) => tf.reshape(x, [1, x.shape[0], x.shape[1]]) as tf.Tensor3D;
  return {
    a: () => tf.reshape(batchMatMul(as3d(gradient), as3d(b), { transposeB: true }), a.shape), // [M, N] @ [N, K]
    b: () => tf.reshape(batchMatMul(as3d(a), as3d(gradient), { transposeA: true }), b.shape), // [K, M] @ [M, N]
  };
}

if (!tf.getKernel(MAT_MUL_2D_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: MAT_MUL_2D_KERNEL, backendName: "wasm", kernelFunc: matMul2dKernelFunc as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: MAT_MUL_2D_KERNEL, inputsToSave: ["a", "b"], gradFunc: matMul2dGradient as unknown as tf.GradFunc });
}

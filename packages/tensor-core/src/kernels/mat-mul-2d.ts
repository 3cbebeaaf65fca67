// A 2-D matMul for training on tfjs-wasm: the forward pass is tfjs-wasm's own BatchMatMul kernel
// (XNNPACK, the fast path), called from inside this kernel; the gradient is the SIMD
// batchMatMul reading the transposed operand in place. Being a registered kernel (not a
// tf.customGrad), it saves its inputs by reference: customGrad copies every saved input
// (an Identity op per input per call) and opens a scope per call.
// M rows, K inner, N columns.
import { tf } from "../tf.js";
import { batchMatMul } from "./batch-mat-mul.js";

export const MAT_MUL_2D_KERNEL = "EecotMatMul2d";

/** a [M, K] @ b [K, N] as one EecotMatMul2d kernel (wasm only; the caller checks the backend). */
export function matMul2dKernel(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.engine().runKernel(MAT_MUL_2D_KERNEL, { a, b }, {}) as tf.Tensor2D;
}

function matMul2dKernelFunc({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const stock = tf.getKernel("BatchMatMul", "wasm");
  if (!stock) throw new Error(`${MAT_MUL_2D_KERNEL}: tfjs-wasm's BatchMatMul kernel is not registered`);
  return stock.kernelFunc({ inputs: { a: inputs.a!, b: inputs.b! }, backend: backend as tf.KernelBackend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
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

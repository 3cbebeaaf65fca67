// RMSNorm over the last axis as one kernel: y = x · rsqrt(mean(x²) + ε) · weight. On tfjs-wasm
// the forward pass is one SIMD kernel call (the tf composite is six ops: square, mean, add,
// rsqrt, mul, mul) and so is the gradient (dx and dweight together); on webgpu WGSL programs
// (webgpu-fused.ts); on cpu and tensorflow the tf composite. R rows (all leading axes merged), D the normalised axis.
import { tf } from "../tf.js";
import { heapOffset, wasmKernelsFor } from "./wasm-kernels.js";
import { fusedKernelsActive, rmsNormGradWebgpu, rmsNormWebgpu } from "./webgpu-fused.js";

export const RMS_NORM_KERNEL = "EecotRmsNorm";
export const RMS_NORM_GRAD_KERNEL = "EecotRmsNormGrad";

/** x · rsqrt(mean(x², −1) + eps) · weight for x [..., D], weight [D]; gradients for x and weight. */
export function rmsNormalize<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  const D = x.shape[x.rank - 1];
  if (x.rank < 1 || weight.rank !== 1 || weight.shape[0] !== D) {
    throw new Error(`rmsNormalize: weight [${weight.shape.join(", ")}] must be [D] for input [${x.shape.join(", ")}]`);
  }
  if (!(eps >= 0)) throw new Error(`rmsNormalize: eps must be ≥ 0, got ${eps}`);
  if (x.dtype === "float32" && weight.dtype === "float32" && fusedKernelsActive(RMS_NORM_KERNEL)) {
    return tf.engine().runKernel(RMS_NORM_KERNEL, { x, weight }, { eps }) as T;
  }
  return rmsNormComposite(x, weight, eps);
}

/** The plain tf version (other backends, and the tests' reference). */
export function rmsNormComposite<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  return tf.tidy(() => {
    const variance = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight) as T;
  });
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function rmsNormKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${RMS_NORM_KERNEL}: the wasm backend's heap is not reachable`);
  const D = x.shape[x.shape.length - 1]!;
  const rows = D === 0 ? 0 : tf.util.sizeFromShape(x.shape) / D;
  const out = kernels.backend.makeOutput([...x.shape], "float32");
  if (rows * D === 0) return out;
  kernels.exports.rmsNorm(heapOffset(kernels, x), heapOffset(kernels, weight), heapOffset(kernels, out), rows, D, Number(attrs?.eps));
  return out;
}

function rmsNormGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { dy, x, weight } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; weight: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${RMS_NORM_GRAD_KERNEL}: the wasm backend's heap is not reachable`);
  const D = x.shape[x.shape.length - 1]!;
  const rows = D === 0 ? 0 : tf.util.sizeFromShape(x.shape) / D;
  const dx = kernels.backend.makeOutput([...x.shape], "float32");
  const dWeight = kernels.backend.makeOutput([D], "float32");
  if (D === 0) return [dx, dWeight];
  kernels.exports.rmsNormGrad(heapOffset(kernels, dy), heapOffset(kernels, x), heapOffset(kernels, weight), heapOffset(kernels, dx), heapOffset(kernels, dWeight), rows, D, Number(attrs?.eps));
  return [dx, dWeight];
}

/**
 * One gradient kernel call yields both dx and dweight. It runs here, not in a thunk: tfjs runs
 * each thunk in its own tidy, which would dispose the other thunk's half. An unused half is
 * disposed by the tidy around the whole backward pass.
 */
function rmsNormGradient(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): { x: () => tf.Tensor; weight: () => tf.Tensor } {
  const [x, weight] = saved as [tf.Tensor, tf.Tensor1D];
  const [dx, dWeight] = tf.engine().runKernel(RMS_NORM_GRAD_KERNEL, { dy: dy as tf.Tensor, x, weight }, { eps: attrs.eps as number }) as tf.Tensor[];
  return { x: () => dx!, weight: () => dWeight! };
}

if (!tf.getKernel(RMS_NORM_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: RMS_NORM_KERNEL, backendName: "wasm", kernelFunc: rmsNormKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: RMS_NORM_GRAD_KERNEL, backendName: "wasm", kernelFunc: rmsNormGradKernel as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: RMS_NORM_KERNEL, inputsToSave: ["x", "weight"], gradFunc: rmsNormGradient as unknown as tf.GradFunc });
}
// The WGSL versions (webgpu-fused.ts) under the same names: the gradient above applies to both.
if (!tf.getKernel(RMS_NORM_KERNEL, "webgpu")) {
  tf.registerKernel({ kernelName: RMS_NORM_KERNEL, backendName: "webgpu", kernelFunc: rmsNormWebgpu as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: RMS_NORM_GRAD_KERNEL, backendName: "webgpu", kernelFunc: rmsNormGradWebgpu as unknown as tf.KernelFunc });
}

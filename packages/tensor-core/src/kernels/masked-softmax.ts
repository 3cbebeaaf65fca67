// Attention's softmax as one kernel: softmax(scores · scale + mask) over the last axis, the mask
// [B, T, S] shared by the H heads of scores [B, H, T, S]. On tfjs-wasm one SIMD pass forward and
// one backward (dx = scale · y · (dy − Σ dy·y)) where the tf composite is a scale mul, a
// broadcast mask add (a slow generic loop on wasm), the softmax and four ops backward;
// on webgpu WGSL programs (webgpu-fused.ts); on cpu and tensorflow the tf composite. The mask is a constant: it gets no gradient.
import { tf } from "../tf.js";
import { heapOffset, wasmKernelsFor } from "./wasm-kernels.js";
import { fusedKernelsActive, maskedSoftmaxGradWebgpu, maskedSoftmaxWebgpu } from "./webgpu-fused.js";

export const MASKED_SOFTMAX_KERNEL = "EecotMaskedSoftmax";
export const MASKED_SOFTMAX_GRAD_KERNEL = "EecotMaskedSoftmaxGrad";

/** softmax(scores · scale + mask, −1) for scores [B, H, T, S] and mask [B, 1, T, S] (or any shape of B·T·S values). */
export function maskedSoftmax(scores: tf.Tensor4D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  const [B, , T, S] = scores.shape;
  if (mask.size !== B * T * S) throw new Error(`maskedSoftmax: mask [${mask.shape.join(", ")}] must hold B·T·S = ${B * T * S} values for scores [${scores.shape.join(", ")}]`);
  if (scores.dtype === "float32" && mask.dtype === "float32" && fusedKernelsActive(MASKED_SOFTMAX_KERNEL)) {
    return tf.engine().runKernel(MASKED_SOFTMAX_KERNEL, { scores, mask }, { scale }) as tf.Tensor4D;
  }
  return maskedSoftmaxComposite(scores, mask, scale);
}

/** The plain tf version (other backends, and the tests' reference). */
export function maskedSoftmaxComposite(scores: tf.Tensor4D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  const [B, , T, S] = scores.shape;
  return tf.tidy(() => tf.softmax(tf.add(tf.mul(scores, scale), tf.reshape(mask, [B, 1, T, S])), -1) as tf.Tensor4D);
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function maskedSoftmaxKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { scores, mask } = inputs as { scores: tf.TensorInfo; mask: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${MASKED_SOFTMAX_KERNEL}: the wasm backend's heap is not reachable`);
  const [B, H, T, S] = scores.shape as [number, number, number, number];
  const out = kernels.backend.makeOutput([B, H, T, S], "float32");
  if (B * H * T * S > 0) kernels.exports.maskedSoftmax(heapOffset(kernels, scores), heapOffset(kernels, mask), heapOffset(kernels, out), B, H, T, S, Number(attrs?.scale));
  return out;
}

function maskedSoftmaxGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${MASKED_SOFTMAX_GRAD_KERNEL}: the wasm backend's heap is not reachable`);
  const S = y.shape[y.shape.length - 1]!;
  const out = kernels.backend.makeOutput([...y.shape], "float32");
  const count = S === 0 ? 0 : tf.util.sizeFromShape(y.shape) / S;
  if (count > 0) kernels.exports.maskedSoftmaxGrad(heapOffset(kernels, dy), heapOffset(kernels, y), heapOffset(kernels, out), count, S, Number(attrs?.scale));
  return out;
}

function maskedSoftmaxGradient(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): { scores: () => tf.Tensor; mask: () => tf.Tensor } {
  const [y] = saved as [tf.Tensor];
  return {
    scores: () => tf.engine().runKernel(MASKED_SOFTMAX_GRAD_KERNEL, { dy: dy as tf.Tensor, y }, { scale: attrs.scale as number }) as tf.Tensor,
    mask: () => {
      throw new Error("maskedSoftmax: the attention mask is a constant and gets no gradient (use maskedSoftmaxComposite to differentiate it)");
    },
  };
}

if (!tf.getKernel(MASKED_SOFTMAX_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: MASKED_SOFTMAX_KERNEL, backendName: "wasm", kernelFunc: maskedSoftmaxKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: MASKED_SOFTMAX_GRAD_KERNEL, backendName: "wasm", kernelFunc: maskedSoftmaxGradKernel as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: MASKED_SOFTMAX_KERNEL, outputsToSave: [true], gradFunc: maskedSoftmaxGradient as unknown as tf.GradFunc });
}
// The WGSL versions (webgpu-fused.ts) under the same names: the gradient above applies to both.
if (!tf.getKernel(MASKED_SOFTMAX_KERNEL, "webgpu")) {
  tf.registerKernel({ kernelName: MASKED_SOFTMAX_KERNEL, backendName: "webgpu", kernelFunc: maskedSoftmaxWebgpu as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: MASKED_SOFTMAX_GRAD_KERNEL, backendName: "webgpu", kernelFunc: maskedSoftmaxGradWebgpu as unknown as tf.KernelFunc });
}

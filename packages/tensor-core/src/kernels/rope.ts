// Rotate-half rotary position embedding as one kernel: y = x · cos + rotate_half(x) · sin with
// rotate_half(x) = [−x₂, x₁]. On tfjs-wasm it is one SIMD kernel call forward and one backward
// (the tf composite is split, neg, concat, two muls and an add, and tfjs-wasm's split copies its
// whole input per output); on webgpu a WGSL program (webgpu-fused.ts); on cpu and
// tensorflow the tf composite.
// B batch, T positions, N heads, D head dim (even), h = D / 2.
import { tf } from "../tf.js";
import { heapOffset, wasmKernelsFor } from "./wasm-kernels.js";
import { fusedKernelsActive, ropeWebgpu } from "./webgpu-fused.js";

export const ROPE_KERNEL = "EecotRope";

/** RoPE of x [B, T, N, D] with tables cos, sin [B, T, 1, D] (broadcast over the N heads). */
export function rotaryEmbedding(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  const [B, T, , D] = x.shape;
  const tableShape = [B, T, 1, D];
  if (D % 2 !== 0) throw new Error(`rotaryEmbedding: head dim must be even, got x [${x.shape.join(", ")}]`);
  const fits = (t: tf.Tensor) => t.rank === 4 && t.shape.every((size, axis) => size === tableShape[axis]);
  if (fits(cos) && fits(sin) && x.dtype === "float32" && cos.dtype === "float32" && sin.dtype === "float32" && fusedKernelsActive(ROPE_KERNEL)) {
    return tf.engine().runKernel(ROPE_KERNEL, { x, cos, sin }, { inverse: false }) as tf.Tensor4D;
  }
  return ropeComposite(x, cos, sin);
}

/** The plain tf version (other backends, other table shapes, and the tests' reference). */
export function ropeComposite(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], 3); // [B, T, N, h] each
    const rotated = tf.concat([tf.neg(x2!), x1!], 3); // [B, T, N, D]
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
  });
}

function ropeKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, cos, sin } = inputs as { x: tf.TensorInfo; cos: tf.TensorInfo; sin: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${ROPE_KERNEL}: the wasm backend's heap is not reachable`);
  const [B, T, N, D] = x.shape as [number, number, number, number];
  const out = kernels.backend.makeOutput([B, T, N, D], "float32");
  if (B * T * N * D === 0) return out;
  kernels.exports.rope(heapOffset(kernels, x), heapOffset(kernels, cos), heapOffset(kernels, sin), heapOffset(kernels, out), B * T, N, D, attrs?.inverse ? 1 : 0);
  return out;
}

/**
 * dx = the transposed rotation of dy (the kernel with inverse = 1). Only the tables are saved
 * (tfjs copies every saved input; x is the big one), so the tables themselves get no gradient:
 * they are constants of the position, never trained.
 */
function ropeGradient(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): Record<string, () => tf.Tensor> {
  const [cos, sin] = saved as [tf.Tensor4D, tf.Tensor4D];
  if (attrs.inverse) throw new Error(`${ROPE_KERNEL}: the inverse rotation has no gradient`);
  const constant = (name: string) => () => {
    throw new Error(`rotaryEmbedding: no gradient for the RoPE table ${name} (tables are constants; use ropeComposite to train them)`);
  };
  return {
    x: () => tf.engine().runKernel(ROPE_KERNEL, { x: dy as tf.Tensor, cos, sin }, { inverse: true }) as tf.Tensor,
    cos: constant("cos"),
    sin: constant("sin"),
  };
}

if (!tf.getKernel(ROPE_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: ROPE_KERNEL, backendName: "wasm", kernelFunc: ropeKernel as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: ROPE_KERNEL, inputsToSave: ["cos", "sin"], gradFunc: ropeGradient as unknown as tf.GradFunc });
}
// The WGSL version (webgpu-fused.ts) under the same name: the gradient above applies to both.
if (!tf.getKernel(ROPE_KERNEL, "webgpu")) {
  tf.registerKernel({ kernelName: ROPE_KERNEL, backendName: "webgpu", kernelFunc: ropeWebgpu as unknown as tf.KernelFunc });
}

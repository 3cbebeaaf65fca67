// SwiGLU's gating as one kernel: silu(gate) · up = gate · σ(gate) · up, elementwise. On tfjs-wasm
// one SIMD pass forward and one backward (dgate and dup together) where the tf composite is
// sigmoid, two muls, and about six ops in the backward pass; on webgpu WGSL programs (webgpu-fused.ts);
// on cpu and tensorflow the tf composite.
import { tf } from "../tf.js";
import { heapOffset, wasmKernelsFor } from "./wasm-kernels.js";
import { fusedKernelsActive, swigluGradWebgpu, swigluWebgpu } from "./webgpu-fused.js";

export const SWIGLU_KERNEL = "EecotSwiglu";
export const SWIGLU_GRAD_KERNEL = "EecotSwigluGrad";

/** gate · sigmoid(gate) · up for two float32 tensors of one shape; gradients for both. */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  if (gate.rank !== up.rank || !gate.shape.every((size, axis) => size === up.shape[axis])) {
    throw new Error(`swiglu: gate [${gate.shape.join(", ")}] and up [${up.shape.join(", ")}] must have one shape`);
  }
  if (gate.dtype === "float32" && up.dtype === "float32" && fusedKernelsActive(SWIGLU_KERNEL)) {
    return tf.engine().runKernel(SWIGLU_KERNEL, { gate, up }, {}) as T;
  }
  return swigluComposite(gate, up);
}

/** The plain tf version (other backends, and the tests' reference). */
export function swigluComposite<T extends tf.Tensor>(gate: T, up: T): T {
  return tf.tidy(() => tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as T);
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown };

function swigluKernel({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { gate, up } = inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${SWIGLU_KERNEL}: the wasm backend's heap is not reachable`);
  const out = kernels.backend.makeOutput([...gate.shape], "float32");
  const n = tf.util.sizeFromShape(gate.shape);
  if (n > 0) kernels.exports.swiglu(heapOffset(kernels, gate), heapOffset(kernels, up), heapOffset(kernels, out), n);
  return out;
}

function swigluGradKernel({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { dy, gate, up } = inputs as { dy: tf.TensorInfo; gate: tf.TensorInfo; up: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${SWIGLU_GRAD_KERNEL}: the wasm backend's heap is not reachable`);
  const dGate = kernels.backend.makeOutput([...gate.shape], "float32");
  const dUp = kernels.backend.makeOutput([...gate.shape], "float32");
  const n = tf.util.sizeFromShape(gate.shape);
  if (n > 0) kernels.exports.swigluGrad(heapOffset(kernels, dy), heapOffset(kernels, gate), heapOffset(kernels, up), heapOffset(kernels, dGate), heapOffset(kernels, dUp), n);
  return [dGate, dUp];
}

/** Both halves from one kernel call, made here (not in a thunk: each thunk runs in its own tidy). */
function swigluGradient(dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]): { gate: () => tf.Tensor; up: () => tf.Tensor } {
  const [gate, up] = saved as [tf.Tensor, tf.Tensor];
  const [dGate, dUp] = tf.engine().runKernel(SWIGLU_GRAD_KERNEL, { dy: dy as tf.Tensor, gate, up }, {}) as tf.Tensor[];
  return { gate: () => dGate!, up: () => dUp! };
}

if (!tf.getKernel(SWIGLU_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: SWIGLU_KERNEL, backendName: "wasm", kernelFunc: swigluKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: SWIGLU_GRAD_KERNEL, backendName: "wasm", kernelFunc: swigluGradKernel as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: SWIGLU_KERNEL, inputsToSave: ["gate", "up"], gradFunc: swigluGradient as unknown as tf.GradFunc });
}
// The WGSL versions (webgpu-fused.ts) under the same names: the gradient above applies to both.
if (!tf.getKernel(SWIGLU_KERNEL, "webgpu")) {
  tf.registerKernel({ kernelName: SWIGLU_KERNEL, backendName: "webgpu", kernelFunc: swigluWebgpu as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: SWIGLU_GRAD_KERNEL, backendName: "webgpu", kernelFunc: swigluGradWebgpu as unknown as tf.KernelFunc });
}

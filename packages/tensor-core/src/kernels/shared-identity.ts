// tfjs-wasm's Identity kernel copies its input into a new heap allocation, and tfjs runs Identity
// (engine.clone) for every tensor it saves for the backward pass: on wasm each saved input is
// duplicated for the tape's lifetime. A frozen weight multiplied by during a training step (each
// LoRA-adapted projection, every MLP matrix) was therefore held twice until the step's gradients
// were computed: for Qwen3-0.6B 1.6 GiB of copies, more than the 4 GiB heap had left. This
// Identity shares the input's data (one more reference, as tfjs's cpu and webgl backends and
// tfjs-wasm's own Reshape do). Tensors are immutable (a Variable's assign swaps its data, never
// writes in place) and no kernel here writes into an input, so the copy bought nothing.
import { tf } from "../tf.js";

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

/** Identity without a copy: the output is the input's data with one more reference. */
function sharedIdentity({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = inputs.x!;
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Whether the wasm backend's Identity is the sharing one (tests). */
export function sharedIdentityRegistered(): boolean {
  return tf.getKernel("Identity", "wasm")?.kernelFunc === (sharedIdentity as unknown as tf.KernelFunc);
}

// Replaces the stock kernel (unregistered first: registering over it only warns and keeps both names).
if (tf.getKernel("Identity", "wasm") && !sharedIdentityRegistered()) tf.unregisterKernel("Identity", "wasm");
if (!tf.getKernel("Identity", "wasm")) {
  tf.registerKernel({ kernelName: "Identity", backendName: "wasm", kernelFunc: sharedIdentity as unknown as tf.KernelFunc });
}

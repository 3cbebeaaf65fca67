// Inference-only attention kernels for tfjs-wasm (no gradients): appending new keys/values to a
// layer's cache and grouped-query softmax attention over it, each one SIMD kernel call where the
// tf version is a dozen ops (permutes, reshapes, concats, two batched matMuls, mask add,
// softmax). They run only on wasm while no gradient tape records (`inferenceKernelsAvailable`);
// callers keep a tf path for training and other backends.
// B batch, T new positions, P cached positions, S = P + T, H query heads, K kv heads, D head dim.
import { tf } from "../tf.js";
import { activeWasmKernels, heapOffset, isRecordingGradients, wasmKernelsFor, withScratch } from "./wasm-kernels.js";

export const APPEND_KEY_VALUES_KERNEL = "EecotAppendKeyValues";
export const INFERENCE_ATTENTION_KERNEL = "EecotInferenceAttention";

/** True on tfjs-wasm outside gradient recording: appendKeyValues / inferenceAttention may run. */
export function inferenceKernelsAvailable(): boolean {
  return !isRecordingGradients() && activeWasmKernels() !== null;
}

function requireAvailable(what: string): void {
  if (!inferenceKernelsAvailable()) throw new Error(`${what}: needs the wasm backend and no gradient recording (check inferenceKernelsAvailable() first)`);
}

/**
 * The cache after appending keys k and values v [B, T, K, D] (keys already normed and rotated):
 * keysT [B*K, D, P+T] and values [B*K, P+T, D]; `past` null starts a cache (P = 0).
 */
export function appendKeyValues(
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  past: { readonly keysT: tf.Tensor3D; readonly values: tf.Tensor3D } | null,
): { keysT: tf.Tensor3D; values: tf.Tensor3D } {
  requireAvailable("appendKeyValues");
  const [B, T, K, D] = k.shape;
  const sameShape = v.rank === 4 && v.shape.every((size, axis) => size === k.shape[axis]);
  if (!sameShape) throw new Error(`appendKeyValues: keys [${k.shape.join(", ")}] and values [${v.shape.join(", ")}] differ`);
  if (past) {
    const [n, d] = past.keysT.shape;
    const P = past.keysT.shape[2];
    const ok = n === B * K && d === D && past.values.shape[0] === B * K && past.values.shape[1] === P && past.values.shape[2] === D;
    if (!ok) throw new Error(`appendKeyValues: cache keysT [${past.keysT.shape.join(", ")}], values [${past.values.shape.join(", ")}] do not fit keys [${k.shape.join(", ")}]`);
  }
  const inputs: tf.NamedTensorMap = past ? { k, v, pastKeysT: past.keysT, pastValues: past.values } : { k, v };
  const [keysT, values] = tf.engine().runKernel(APPEND_KEY_VALUES_KERNEL, inputs, {}) as tf.Tensor3D[];
  return { keysT: keysT!, values: values! };
}

/**
 * Grouped-query softmax attention of q [B, T, H, D] over keysT [B*K, D, S] and values
 * [B*K, S, D] with an additive mask of B·T·S values ([B, 1, 1, T, S] as attentionMask makes
 * it): out [B, T, H, D], query head h reading kv head h / (H / K), scores scaled by `scale`.
 */
export function inferenceAttention(q: tf.Tensor4D, keysT: tf.Tensor3D, values: tf.Tensor3D, mask: tf.Tensor, scale: number): tf.Tensor4D {
  requireAvailable("inferenceAttention");
  const [B, T, H, D] = q.shape;
  const [BK, kD, S] = keysT.shape;
  const K = BK / B;
  const ok =
    Number.isInteger(K) && H % K === 0 && kD === D && values.shape[0] === BK && values.shape[1] === S && values.shape[2] === D && mask.size === B * T * S;
  if (!ok) {
    throw new Error(`inferenceAttention: q [${q.shape.join(", ")}], keysT [${keysT.shape.join(", ")}], values [${values.shape.join(", ")}], mask [${mask.shape.join(", ")}] do not fit`);
  }
  return tf.engine().runKernel(INFERENCE_ATTENTION_KERNEL, { q, keysT, values, mask }, { scale }) as tf.Tensor4D;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function appendKeyValuesKernel({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { k, v, pastKeysT, pastValues } = inputs as { k: tf.TensorInfo; v: tf.TensorInfo; pastKeysT?: tf.TensorInfo; pastValues?: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${APPEND_KEY_VALUES_KERNEL}: the wasm backend's heap is not reachable`);
  const [B, T, K, D] = k.shape as [number, number, number, number];
  const P = pastKeysT ? pastKeysT.shape[2]! : 0;
  const keysT = kernels.backend.makeOutput([B * K, D, P + T], "float32");
  const values = kernels.backend.makeOutput([B * K, P + T, D], "float32");
  if (B * K * D * (P + T) === 0) return [keysT, values];
  const pastK = pastKeysT && P > 0 ? heapOffset(kernels, pastKeysT) : 0;
  const pastV = pastValues && P > 0 ? heapOffset(kernels, pastValues) : 0;
  kernels.exports.appendKeyValues(heapOffset(kernels, k), heapOffset(kernels, v), pastK, pastV, heapOffset(kernels, keysT), heapOffset(kernels, values), B, T, K, D, P);
  return [keysT, values];
}

function inferenceAttentionKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { q, keysT, values, mask } = inputs as { q: tf.TensorInfo; keysT: tf.TensorInfo; values: tf.TensorInfo; mask: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${INFERENCE_ATTENTION_KERNEL}: the wasm backend's heap is not reachable`);
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const S = keysT.shape[2]!;
  const K = keysT.shape[0]! / B;
  const out = kernels.backend.makeOutput([B, T, H, D], "float32");
  if (B * T * H * D === 0) return out;
  if (S === 0) throw new Error(`${INFERENCE_ATTENTION_KERNEL}: no keys to attend to`);
  withScratch(kernels, (S + 4) * 4, (scratch) => {
    kernels.exports.attentionNoGrad(
      heapOffset(kernels, q), heapOffset(kernels, keysT), heapOffset(kernels, values), heapOffset(kernels, mask), heapOffset(kernels, out), scratch,
      B, T, H, K, D, S, Number(attrs?.scale),
    );
  });
  return out;
}

if (!tf.getKernel(APPEND_KEY_VALUES_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: APPEND_KEY_VALUES_KERNEL, backendName: "wasm", kernelFunc: appendKeyValuesKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: INFERENCE_ATTENTION_KERNEL, backendName: "wasm", kernelFunc: inferenceAttentionKernel as unknown as tf.KernelFunc });
}

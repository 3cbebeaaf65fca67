// Inference-only attention kernels for tfjs-wasm (no gradients): appending new keys/values to a
// layer's cache and grouped-query softmax attention over it, each one SIMD kernel call where the
// tf version is a dozen ops (permutes, reshapes, concats, two batched matMuls, mask add,
// softmax). Both can first apply the per-head RMSNorm (Qwen3's q/k-norm) and RoPE to the new
// keys / the queries, so a decoder layer's attention is two kernels besides its projections. They
// run on wasm (SIMD) and on webgpu (WGSL programs, webgpu-attention.ts), only while no gradient
// tape records (`inferenceKernelsAvailable`); callers keep a tf path for training and other backends.
// B batch, T new positions, P cached positions, S = P + T, H query heads, K kv heads, D head dim.
import { tf } from "../tf.js";
import { activeWasmKernels, heapOffset, isRecordingGradients, wasmKernelsFor, withScratch } from "./wasm-kernels.js";
import { appendKeyValuesWebgpu, inferenceAttentionWebgpu } from "./webgpu-attention.js";

export const APPEND_KEY_VALUES_KERNEL = "EecotAppendKeyValues";
export const INFERENCE_ATTENTION_KERNEL = "EecotInferenceAttention";

/**
 * True outside gradient recording on tfjs-wasm (its heap reachable) or on webgpu (the WGSL
 * programs registered): appendKeyValues (slab form included) / inferenceAttention may run.
 */
export function inferenceKernelsAvailable(): boolean {
  if (isRecordingGradients()) return false;
  if (tf.getBackend() === "webgpu") return tf.getKernel(APPEND_KEY_VALUES_KERNEL, "webgpu") !== undefined && tf.getKernel(INFERENCE_ATTENTION_KERNEL, "webgpu") !== undefined;
  return activeWasmKernels() !== null;
}

/** Per-head preparation of new keys or queries: RMSNorm by `normWeight` (when given), then RoPE. */
export interface HeadPreparation {
  /** [D] weight of the per-head RMSNorm (q_norm / k_norm), or null for none. */
  readonly normWeight: tf.Tensor1D | null;
  /** The RMSNorm's ε, e.g. 1e-6. */
  readonly eps: number;
  /** RoPE tables [B, T, 1, D] (as ropeTables makes them). */
  readonly cos: tf.Tensor4D;
  readonly sin: tf.Tensor4D;
}

/** Inputs and attrs for a preparation (flags: 1 norm, 2 rope), checked against [B, T, ·, D]. */
function preparationInputs(what: string, prepare: HeadPreparation | undefined, B: number, T: number, D: number): { inputs: tf.NamedTensorMap; flags: number; eps: number } {
  if (!prepare) return { inputs: {}, flags: 0, eps: 0 };
  const tableShape = [B, T, 1, D];
  for (const [name, table] of [["cos", prepare.cos], ["sin", prepare.sin]] as const) {
    if (table.rank !== 4 || !table.shape.every((size, axis) => size === tableShape[axis])) {
      throw new Error(`${what}: RoPE table ${name} [${table.shape.join(", ")}] must be [${tableShape.join(", ")}]`);
    }
  }
  if (D % 2 !== 0) throw new Error(`${what}: RoPE needs an even head dim, got ${D}`);
  const inputs: tf.NamedTensorMap = { cos: prepare.cos, sin: prepare.sin };
  let flags = 2;
  if (prepare.normWeight) {
    if (prepare.normWeight.rank !== 1 || prepare.normWeight.shape[0] !== D) throw new Error(`${what}: norm weight [${prepare.normWeight.shape.join(", ")}] must be [${D}]`);
    inputs.normWeight = prepare.normWeight;
    flags |= 1;
  }
  return { inputs, flags, eps: prepare.eps };
}

function requireAvailable(what: string): void {
  if (!inferenceKernelsAvailable()) throw new Error(`${what}: needs the wasm backend and no gradient recording, or webgpu (check inferenceKernelsAvailable() first)`);
}

/**
 * The cache after appending keys k and values v [B, T, K, D]: keysT [B*K, D, P+T] and values
 * [B*K, P+T, D]; `past` null starts a cache (P = 0). With `prepare`, each new key is normed and
 * rotated first (else k is taken as it is). With `slab`, k and v are stacks [L, B, T, K, D]
 * (e.g. several layers' keys computed at once) and slab l of each is appended, without slicing.
 */
export function appendKeyValues(
  k: tf.Tensor4D | tf.Tensor5D,
  v: tf.Tensor4D | tf.Tensor5D,
  past: { readonly keysT: tf.Tensor3D; readonly values: tf.Tensor3D } | null,
  prepare?: HeadPreparation,
  slab?: number,
): { keysT: tf.Tensor3D; values: tf.Tensor3D } {
  requireAvailable("appendKeyValues");
  const stacked = slab !== undefined;
  if (k.rank !== (stacked ? 5 : 4)) throw new Error(`appendKeyValues: keys [${k.shape.join(", ")}] must be ${stacked ? "[L, B, T, K, D] with a slab" : "[B, T, K, D]"}`);
  const sameShape = v.rank === k.rank && v.shape.every((size, axis) => size === k.shape[axis]);
  if (!sameShape) throw new Error(`appendKeyValues: keys [${k.shape.join(", ")}] and values [${v.shape.join(", ")}] differ`);
  if (stacked && !(Number.isInteger(slab) && slab >= 0 && slab < k.shape[0])) throw new Error(`appendKeyValues: slab ${slab} is outside 0..${k.shape[0] - 1}`);
  const [B, T, K, D] = (stacked ? k.shape.slice(1) : k.shape) as [number, number, number, number];
  if (past) {
    const [n, d] = past.keysT.shape;
    const P = past.keysT.shape[2];
    const ok = n === B * K && d === D && past.values.shape[0] === B * K && past.values.shape[1] === P && past.values.shape[2] === D;
    if (!ok) throw new Error(`appendKeyValues: cache keysT [${past.keysT.shape.join(", ")}], values [${past.values.shape.join(", ")}] do not fit keys [${k.shape.join(", ")}]`);
  }
  const preparation = preparationInputs("appendKeyValues", prepare, B, T, D);
  const inputs: tf.NamedTensorMap = { k, v, ...preparation.inputs };
  if (past) Object.assign(inputs, { pastKeysT: past.keysT, pastValues: past.values });
  const attrs = { flags: preparation.flags, eps: preparation.eps, slab: slab ?? 0 };
  const [keysT, values] = tf.engine().runKernel(APPEND_KEY_VALUES_KERNEL, inputs, attrs) as tf.Tensor3D[];
  return { keysT: keysT!, values: values! };
}

/**
 * Grouped-query softmax attention of q [B, T, H, D] over keysT [B*K, D, S] and values
 * [B*K, S, D] with an additive mask of B·T·S values ([B, 1, 1, T, S] as attentionMask makes
 * it): out [B, T, H, D], query head h reading kv head h / (H / K), scores scaled by `scale`.
 * With `prepare`, each query head is normed and rotated first.
 */
export function inferenceAttention(q: tf.Tensor4D, keysT: tf.Tensor3D, values: tf.Tensor3D, mask: tf.Tensor, scale: number, prepare?: HeadPreparation): tf.Tensor4D {
  requireAvailable("inferenceAttention");
  const [B, T, H, D] = q.shape;
  const [BK, kD, S] = keysT.shape;
  const K = BK / B;
  const ok =
    Number.isInteger(K) && H % K === 0 && kD === D && values.shape[0] === BK && values.shape[1] === S && values.shape[2] === D && mask.size === B * T * S;
  if (!ok) {
    throw new Error(`inferenceAttention: q [${q.shape.join(", ")}], keysT [${keysT.shape.join(", ")}], values [${values.shape.join(", ")}], mask [${mask.shape.join(", ")}] do not fit`);
  }
  const preparation = preparationInputs("inferenceAttention", prepare, B, T, D);
  return tf.engine().runKernel(INFERENCE_ATTENTION_KERNEL, { q, keysT, values, mask, ...preparation.inputs }, { scale, flags: preparation.flags, eps: preparation.eps }) as tf.Tensor4D;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Heap offsets of the optional preparation inputs (0 when absent). */
function preparationOffsets(kernels: NonNullable<ReturnType<typeof wasmKernelsFor>>, inputs: tf.NamedTensorInfoMap): [number, number, number] {
  const offset = (t: tf.TensorInfo | undefined) => (t ? heapOffset(kernels, t) : 0);
  return [offset(inputs.normWeight), offset(inputs.cos), offset(inputs.sin)];
}

function appendKeyValuesKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { k, v, pastKeysT, pastValues } = inputs as { k: tf.TensorInfo; v: tf.TensorInfo; pastKeysT?: tf.TensorInfo; pastValues?: tf.TensorInfo };
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${APPEND_KEY_VALUES_KERNEL}: the wasm backend's heap is not reachable`);
  const [B, T, K, D] = k.shape.slice(-4) as [number, number, number, number];
  const slabOffset = Number(attrs?.slab ?? 0) * B * T * K * D * 4; // bytes into a stack [L, B, T, K, D]
  const P = pastKeysT ? pastKeysT.shape[2]! : 0;
  const keysT = kernels.backend.makeOutput([B * K, D, P + T], "float32");
  const values = kernels.backend.makeOutput([B * K, P + T, D], "float32");
  if (B * K * D * (P + T) === 0) return [keysT, values];
  const pastK = pastKeysT && P > 0 ? heapOffset(kernels, pastKeysT) : 0;
  const pastV = pastValues && P > 0 ? heapOffset(kernels, pastValues) : 0;
  const [normWeight, cos, sin] = preparationOffsets(kernels, inputs);
  withScratch(kernels, 2 * D * 4, (scratch) => {
    kernels.exports.appendKeyValues(
      heapOffset(kernels, k) + slabOffset, heapOffset(kernels, v) + slabOffset, pastK, pastV, heapOffset(kernels, keysT), heapOffset(kernels, values),
      B, T, K, D, P, normWeight, cos, sin, Number(attrs?.eps ?? 0), Number(attrs?.flags ?? 0), scratch,
    );
  });
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
  const [normWeight, cos, sin] = preparationOffsets(kernels, inputs);
  withScratch(kernels, (S + 4 + 2 * D) * 4, (scratch) => {
    kernels.exports.attentionNoGrad(
      heapOffset(kernels, q), heapOffset(kernels, keysT), heapOffset(kernels, values), heapOffset(kernels, mask), heapOffset(kernels, out), scratch,
      B, T, H, K, D, S, Number(attrs?.scale), normWeight, cos, sin, Number(attrs?.eps ?? 0), Number(attrs?.flags ?? 0),
    );
  });
  return out;
}

if (!tf.getKernel(APPEND_KEY_VALUES_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: APPEND_KEY_VALUES_KERNEL, backendName: "wasm", kernelFunc: appendKeyValuesKernel as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: INFERENCE_ATTENTION_KERNEL, backendName: "wasm", kernelFunc: inferenceAttentionKernel as unknown as tf.KernelFunc });
}
// The WGSL versions (webgpu-attention.ts) under the same names.
if (!tf.getKernel(APPEND_KEY_VALUES_KERNEL, "webgpu")) {
  tf.registerKernel({ kernelName: APPEND_KEY_VALUES_KERNEL, backendName: "webgpu", kernelFunc: appendKeyValuesWebgpu as unknown as tf.KernelFunc });
  tf.registerKernel({ kernelName: INFERENCE_ATTENTION_KERNEL, backendName: "webgpu", kernelFunc: inferenceAttentionWebgpu as unknown as tf.KernelFunc });
}

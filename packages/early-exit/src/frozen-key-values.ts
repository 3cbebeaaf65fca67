// Keys and values of a frozen residual in many layers at once (generation, METHOD.md §1). Once
// every live row has exited at layer e, layers e+1..L all read the same residual h_e, so their
// input RMSNorms, k/v projections and k/v LoRA run stacked over the layers — one batchMatMul per
// product for all of them — and each layer's cache grows by one appendKeyValues call (k-norm and
// RoPE inside). About 20 tfjs ops for all K/V-only layers instead of ~15 per layer: at decode
// sizes each op costs ~3–10 µs whatever its FLOPs, so this is what makes an exit save time.
//
// Legend: L' stacked layers, B batch, T new positions, N = B·T, C hidden, K kv heads, D head
// dim, r LoRA rank.
import { tf, appendKeyValues, batchMatMul, inferenceKernelsAvailable, rmsNormalize } from "@eecot/tensor-core";
import type { AttentionContext, LayerKv, LinearParams, QwenConfig, QwenLayerParams, QwenParams } from "@eecot/transformer";
import type { LoraAdapters } from "./lora.js";

/** One projection's weights stacked over L' layers. */
interface StackedProjection {
  readonly weightT: tf.Tensor3D; // [L', C, K*D]
  readonly bias: tf.Tensor3D | null; // [L', 1, K*D]
  readonly lora: { readonly aT: tf.Tensor3D; readonly bT: tf.Tensor3D; readonly scale: number } | null; // [L', C, r], [L', r, K*D]
}

/** The stacked K/V weights of layers firstLayer..L−1 (0-based); owns its tensors (dispose them). */
export interface FrozenKeyValueWeights {
  readonly firstLayer: number;
  readonly ones: tf.Tensor1D; // [C]
  readonly norm: tf.Tensor3D; // [L', 1, C] input RMSNorm weights
  readonly key: StackedProjection;
  readonly value: StackedProjection;
  /** Per stacked layer, the k-norm weight (the model's own tensor, not owned) or null. */
  readonly keyNorms: readonly (tf.Tensor1D | null)[];
}

/**
 * Stacks the K/V weights of layers firstLayer.. (0-based) for `frozenKeyValues`, or returns null
 * where the stacked path does not apply: not on wasm inference, LoRA dropout active, or layers
 * that differ in having a bias or an adapter.
 */
export function stackFrozenKeyValueWeights(params: QwenParams, firstLayer: number, lora?: LoraAdapters): FrozenKeyValueWeights | null {
  if (!inferenceKernelsAvailable()) return null;
  if (lora && lora.training && lora.config.dropout > 0) return null;
  const layers = params.layers.slice(firstLayer);
  if (layers.length === 0) return null;
  const uniform = <T>(values: readonly T[]) => values.every((value) => (value == null) === (values[0] == null));
  const pick = (select: (layer: QwenLayerParams) => LinearParams, name: "k_proj" | "v_proj") => ({
    params: layers.map(select),
    adapters: layers.map((_, i) => lora?.get(firstLayer + i, name)),
  });
  const key = pick((layer) => layer.kProj, "k_proj");
  const value = pick((layer) => layer.vProj, "v_proj");
  for (const projection of [key, value]) {
    if (!uniform(projection.params.map((p) => p.bias)) || !uniform(projection.adapters)) return null;
  }
  const stack = (projection: typeof key): StackedProjection => {
    const bias = projection.params[0]!.bias ? (tf.stack(projection.params.map((p) => tf.expandDims(p.bias!, 0))) as tf.Tensor3D) : null;
    const adapters = projection.adapters;
    return {
      weightT: tf.stack(projection.params.map((p) => p.weightT)) as tf.Tensor3D,
      bias,
      lora: adapters[0] ? { aT: tf.stack(adapters.map((a) => a!.aT)) as tf.Tensor3D, bT: tf.stack(adapters.map((a) => a!.bT)) as tf.Tensor3D, scale: lora!.scale } : null,
    };
  };
  const C = layers[0]!.inputLayernorm.shape[0];
  return tf.tidy(() => ({
    firstLayer,
    ones: tf.ones([C]) as tf.Tensor1D,
    norm: tf.stack(layers.map((layer) => tf.expandDims(layer.inputLayernorm, 0))) as tf.Tensor3D,
    key: stack(key),
    value: stack(value),
    keyNorms: layers.map((layer) => layer.kNorm),
  }) as unknown as tf.TensorContainer) as unknown as FrozenKeyValueWeights;
}

/** Frees the stacked tensors (not the model's k-norm weights). */
export function disposeFrozenKeyValueWeights(weights: FrozenKeyValueWeights): void {
  const owned: (tf.Tensor | null)[] = [weights.ones, weights.norm];
  for (const p of [weights.key, weights.value]) owned.push(p.weightT, p.bias, p.lora?.aT ?? null, p.lora?.bT ?? null);
  tf.dispose(owned.filter((t): t is tf.Tensor => t !== null));
}

/**
 * The caches of the stacked layers after appending the keys/values of `hidden` [B, T, C] (the
 * frozen residual every stacked layer reads): exactly what decoderLayer(…, { kvOnly: true })
 * returns layer by layer. `pasts[i]` is stacked layer i's cache (null before the first step).
 */
export function frozenKeyValues(
  weights: FrozenKeyValueWeights,
  config: QwenConfig,
  hidden: tf.Tensor3D,
  context: AttentionContext,
  pasts: readonly (LayerKv | null)[],
): LayerKv[] {
  const count = weights.keyNorms.length;
  if (pasts.length !== count) throw new Error(`frozenKeyValues: ${pasts.length} caches for ${count} stacked layers`);
  const [B, T, C] = hidden.shape;
  const { numKvHeads: K, headDim: D, rmsNormEps: eps } = config;
  return tf.tidy(() => {
    // (x · r) · w_l for every layer l, rounded as rmsNorm rounds: x · r · 1 = x · r exactly.
    const normalized = rmsNormalize(tf.reshape(hidden, [1, B * T, C]), weights.ones, eps); // [1, N, C]
    const inputs = tf.mul(normalized, weights.norm) as tf.Tensor3D; // [L', N, C]
    const project = (p: StackedProjection): tf.Tensor5D => {
      let y = batchMatMul(inputs, p.weightT); // [L', N, K*D]
      if (p.bias) y = tf.add(y, p.bias);
      if (p.lora) y = tf.add(y, tf.mul(batchMatMul(batchMatMul(inputs, p.lora.aT), p.lora.bT), p.lora.scale)); // as LoraAdapters.delta
      return tf.reshape(y, [count, B, T, K, D]);
    };
    const keys = project(weights.key);
    const values = project(weights.value);
    return pasts.map((past, i) => appendKeyValues(keys, values, past, { normWeight: weights.keyNorms[i] ?? null, eps, cos: context.cos, sin: context.sin }, i));
  }) as unknown as LayerKv[];
}

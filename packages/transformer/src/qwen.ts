// The Qwen2 / Qwen3 decoder, top to bottom: rmsNorm → rope → attention (GQA, qk-norm, biases)
// → mlp (SwiGLU) → decoderLayer → qwenForward. Qwen2 and Qwen3 differ only by config flags.
//
// Legend: B batch, T new positions, P cached positions, S = P + T key positions, C hidden,
// H query heads, K kv heads, G = H / K heads per kv group, D head dim, F ffn width, V vocab.
//
// Speed (ENGINE-NOTES): on wasm only 2-D non-transposed matMul is fast, so every projection
// goes through `linear` (2-D matMul with an explicit-transpose custom gradient), weights are
// stored pre-transposed as [in, out], GQA groups queries instead of tiling keys, and attention's
// batched matMuls and head permutations use tensor-core's SIMD kernels (`batchMatMul`,
// `permuteAxes`; plain tf ops on other backends). RMSNorm, RoPE, SwiGLU and the masked softmax
// are one kernel each on wasm (with gradients), and inference on wasm (no gradient tape:
// decoding, prefill) appends to the KV cache and attends with one kernel each
// (`appendKeyValues`, `inferenceAttention`, q/k-norm and RoPE inside), because at decode sizes
// every tfjs op costs ~3–10 µs of overhead whatever its FLOPs.
import {
  tf,
  linear,
  embeddingLookup,
  batchMatMul,
  permuteAxes,
  rmsNormalize,
  rotaryEmbedding,
  swiglu,
  maskedSoftmax,
  appendKeyValues,
  inferenceAttention,
  inferenceKernelsAvailable,
} from "@eecot/tensor-core";
import type { QwenConfig } from "./config.js";

type Tensor = tf.Tensor;

/** A projection y = x · weightT + bias, weights stored [in, out]. */
export interface LinearParams {
  readonly weightT: tf.Tensor2D; // [in, out]
  readonly bias: tf.Tensor1D | null; // [out]
}

/** One decoder layer, named after the checkpoint keys `model.layers.N.*`. */
export interface QwenLayerParams {
  readonly inputLayernorm: tf.Tensor1D; // [C]
  readonly qProj: LinearParams; // [C, H*D]
  readonly kProj: LinearParams; // [C, K*D]
  readonly vProj: LinearParams; // [C, K*D]
  readonly oProj: LinearParams; // [H*D, C]
  readonly qNorm: tf.Tensor1D | null; // [D] (qwen3)
  readonly kNorm: tf.Tensor1D | null; // [D] (qwen3)
  readonly postAttentionLayernorm: tf.Tensor1D; // [C]
  readonly gateProj: LinearParams; // [C, F]
  readonly upProj: LinearParams; // [C, F]
  readonly downProj: LinearParams; // [F, C]
}

/** All weights of a Qwen decoder (`model.embed_tokens`, `model.layers`, `model.norm`, `lm_head`). */
export interface QwenParams {
  readonly embedTokens: tf.Tensor2D; // [V, C]
  readonly layers: readonly QwenLayerParams[];
  readonly norm: tf.Tensor1D; // [C]
  /** Unembedding [C, V]: lm_head.weight transposed, or embed_tokens transposed when tied. */
  readonly lmHeadT: tf.Tensor2D; // [C, V]
}

export type ProjectionName = "q_proj" | "k_proj" | "v_proj" | "o_proj" | "gate_proj" | "up_proj" | "down_proj";

/** Adds a low-rank delta to a projection's output (LoRA); returns null where no adapter applies. */
export interface ProjectionAdapter {
  delta(layerIndex: number, projection: ProjectionName, input: tf.Tensor2D): tf.Tensor2D | null; // [N, in] → [N, out]
}

/** Cached keys (transposed for a plain matMul) and values of one layer. */
export interface LayerKv {
  readonly keysT: tf.Tensor3D; // [B*K, D, P]
  readonly values: tf.Tensor3D; // [B*K, P, D]
}

/** Per-call attention inputs shared by all layers. */
export interface AttentionContext {
  readonly cos: tf.Tensor4D; // [B, T, 1, D]
  readonly sin: tf.Tensor4D; // [B, T, 1, D]
  /** Additive mask: 0 where a query may attend, −1e9 elsewhere. */
  readonly mask: tf.Tensor; // [B, 1, 1, T, S]
}

export interface LayerOptions {
  readonly adapter?: ProjectionAdapter;
  /** Per-position 1/0: apply this layer's residual update (1) or keep the input (0). */
  readonly updateMask?: tf.Tensor3D; // [B, T, 1]
  /** Compute only this layer's keys/values (every position is frozen); the residual passes through. */
  readonly kvOnly?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Small parts

/** RMSNorm over the last axis: x · rsqrt(mean(x²) + ε) · weight. */
export function rmsNorm(x: Tensor, weight: tf.Tensor1D, eps: number): Tensor {
  return rmsNormalize(x, weight, eps); // one kernel on wasm, the tf composite elsewhere
}

/** RoPE tables for integer positions: cos/sin of cat(freqs, freqs), freqs = position · θ^(−2j/D). */
export function ropeTables(positions: readonly (readonly number[])[], headDim: number, theta: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  const B = positions.length;
  const T = positions[0]?.length ?? 0;
  const half = headDim / 2;
  const invFreq = Array.from({ length: half }, (_, j) => Math.fround(1 / Math.pow(theta, (2 * j) / headDim)));
  const cos = new Float32Array(B * T * headDim);
  const sin = new Float32Array(B * T * headDim);
  for (let b = 0; b < B; b++) {
    const row = positions[b]!;
    for (let t = 0; t < T; t++) {
      const base = (b * T + t) * headDim;
      for (let j = 0; j < half; j++) {
        const angle = Math.fround(row[t]! * invFreq[j]!);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        cos[base + j] = c;
        cos[base + j + half] = c;
        sin[base + j] = s;
        sin[base + j + half] = s;
      }
    }
  }
  return { cos: tf.tensor4d(cos, [B, T, 1, headDim]), sin: tf.tensor4d(sin, [B, T, 1, headDim]) };
}

/** Rotate-half RoPE: x · cos + rotate_half(x) · sin, rotate_half(x) = [−x₂, x₁]. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return rotaryEmbedding(x, cos, sin); // one kernel on wasm, split + concat elsewhere
}

/** Additive attention mask for T new queries over S = P + T keys (causal, left padding). */
export function attentionMask(keyPadding: readonly (readonly number[])[], newPositions: number): tf.Tensor {
  const B = keyPadding.length;
  const S = keyPadding[0]?.length ?? 0;
  const T = newPositions;
  const P = S - T;
  const mask = new Float32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    const valid = keyPadding[b]!;
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) {
        if (s > P + t || valid[s] === 0) mask[(b * T + t) * S + s] = -1e9;
      }
    }
  }
  return tf.tensor(mask, [B, 1, 1, T, S]);
}

function project(x: tf.Tensor2D, params: LinearParams, layerIndex: number, name: ProjectionName, adapter?: ProjectionAdapter): tf.Tensor2D {
  const y = linear(x, params.weightT, params.bias ?? undefined) as tf.Tensor2D; // [N, out]
  const delta = adapter?.delta(layerIndex, name, x);
  return delta ? tf.add(y, delta) : y;
}

// ---------------------------------------------------------------------------------------------
// Attention and MLP

/** Keys and values of T new positions from the layer's normed input, appended to the cache. */
export function attentionKv(
  layer: QwenLayerParams,
  layerIndex: number,
  config: QwenConfig,
  xNorm: tf.Tensor2D, // [B*T, C]
  batch: number,
  context: AttentionContext,
  past: LayerKv | null,
  adapter?: ProjectionAdapter,
): LayerKv {
  const { numKvHeads: K, headDim: D } = config;
  const B = batch;
  const T = xNorm.shape[0] / B;
  let k = tf.reshape(project(xNorm, layer.kProj, layerIndex, "k_proj", adapter), [B, T, K, D]) as tf.Tensor4D;
  const v = tf.reshape(project(xNorm, layer.vProj, layerIndex, "v_proj", adapter), [B, T, K, D]) as tf.Tensor4D;
  if (inferenceKernelsAvailable()) {
    // One kernel: k-norm, RoPE and the append: [B*K, D, S], [B*K, S, D].
    return appendKeyValues(k, v, past, { normWeight: layer.kNorm, eps: config.rmsNormEps, cos: context.cos, sin: context.sin });
  }
  if (layer.kNorm) k = rmsNorm(k, layer.kNorm, config.rmsNormEps) as tf.Tensor4D;
  k = applyRope(k, context.cos, context.sin); // [B, T, K, D]
  const keysT = tf.reshape(permuteAxes(k, [0, 2, 3, 1]), [B * K, D, T]) as tf.Tensor3D; // [B*K, D, T]
  const values = tf.reshape(permuteAxes(v, [0, 2, 1, 3]), [B * K, T, D]) as tf.Tensor3D; // [B*K, T, D]
  if (!past) return { keysT, values };
  return {
    keysT: tf.concat([past.keysT, keysT], 2), // [B*K, D, S]
    values: tf.concat([past.values, values], 1), // [B*K, S, D]
  };
}

/** Grouped-query attention of T new queries over the layer's S keys; returns o_proj output. */
export function attention(
  layer: QwenLayerParams,
  layerIndex: number,
  config: QwenConfig,
  xNorm: tf.Tensor2D, // [B*T, C]
  batch: number,
  context: AttentionContext,
  kv: LayerKv,
  adapter?: ProjectionAdapter,
): tf.Tensor2D {
  const { numHeads: H, numKvHeads: K, headDim: D } = config;
  const B = batch;
  const T = xNorm.shape[0] / B;
  const G = H / K;
  const S = kv.keysT.shape[2];
  let q = tf.reshape(project(xNorm, layer.qProj, layerIndex, "q_proj", adapter), [B, T, H, D]) as tf.Tensor4D;
  if (inferenceKernelsAvailable()) {
    // One kernel: q-norm, RoPE, scores, mask, softmax and the weighted values.
    const prepare = { normWeight: layer.qNorm, eps: config.rmsNormEps, cos: context.cos, sin: context.sin };
    const attended = inferenceAttention(q, kv.keysT, kv.values, context.mask, 1 / Math.sqrt(D), prepare); // [B, T, H, D]
    return project(tf.reshape(attended, [B * T, H * D]) as tf.Tensor2D, layer.oProj, layerIndex, "o_proj", adapter); // [B*T, C]
  }
  if (layer.qNorm) q = rmsNorm(q, layer.qNorm, config.rmsNormEps) as tf.Tensor4D;
  q = applyRope(q, context.cos, context.sin); // [B, T, H, D]
  // Group the G query heads that share a kv head: [B, T, K, G, D] → [B*K, G*T, D].
  const grouped = tf.reshape(permuteAxes(tf.reshape(q, [B, T, K, G, D]), [0, 2, 3, 1, 4]), [B * K, G * T, D]) as tf.Tensor3D;
  // softmax(q·kᵀ / √D + mask): one kernel on wasm (scale and mask folded in, the mask shared by
  // the K·G heads), the composite elsewhere.
  const scores = tf.reshape(batchMatMul(grouped, kv.keysT), [B, K * G, T, S]) as tf.Tensor4D; // [B, K*G, T, S]
  const weights = tf.reshape(maskedSoftmax(scores, context.mask, 1 / Math.sqrt(D)), [B * K, G * T, S]) as tf.Tensor3D;
  const out = batchMatMul(weights, kv.values); // [B*K, G*T, D]
  const merged = tf.reshape(permuteAxes(tf.reshape(out, [B, K, G, T, D]), [0, 3, 1, 2, 4]), [B * T, H * D]) as tf.Tensor2D;
  return project(merged, layer.oProj, layerIndex, "o_proj", adapter); // [B*T, C]
}

/** SwiGLU: down(silu(gate(x)) · up(x)). */
export function mlp(layer: QwenLayerParams, layerIndex: number, x: tf.Tensor2D, adapter?: ProjectionAdapter): tf.Tensor2D {
  const gate = project(x, layer.gateProj, layerIndex, "gate_proj", adapter); // [N, F]
  const up = project(x, layer.upProj, layerIndex, "up_proj", adapter); // [N, F]
  const hidden = swiglu(gate, up); // [N, F]: silu(gate) · up, one kernel on wasm
  return project(hidden, layer.downProj, layerIndex, "down_proj", adapter); // [N, C]
}

/**
 * One pre-norm decoder layer: h' = h + attn(norm(h)); out = h' + mlp(norm(h')).
 * With `updateMask`, positions with 0 keep their input residual (an exited token's frozen
 * state) while their keys/values are still computed from it, exactly as in generation.
 */
export function decoderLayer(
  layer: QwenLayerParams,
  layerIndex: number,
  config: QwenConfig,
  hidden: tf.Tensor3D, // [B, T, C]
  context: AttentionContext,
  past: LayerKv | null,
  options: LayerOptions = {},
): { hidden: tf.Tensor3D; kv: LayerKv } {
  const [B, T, C] = hidden.shape;
  const x = tf.reshape(hidden, [B * T, C]) as tf.Tensor2D; // [B*T, C]
  const xNorm = rmsNorm(x, layer.inputLayernorm, config.rmsNormEps) as tf.Tensor2D;
  const kv = attentionKv(layer, layerIndex, config, xNorm, B, context, past, options.adapter);
  if (options.kvOnly) return { hidden, kv };
  const afterAttention = tf.add(x, attention(layer, layerIndex, config, xNorm, B, context, kv, options.adapter)) as tf.Tensor2D;
  const mlpIn = rmsNorm(afterAttention, layer.postAttentionLayernorm, config.rmsNormEps) as tf.Tensor2D;
  const out = tf.add(afterAttention, mlp(layer, layerIndex, mlpIn, options.adapter)); // [B*T, C]
  let next = tf.reshape(out, [B, T, C]) as tf.Tensor3D;
  if (options.updateMask) {
    // h_l = h_{l-1} + m · (layer(h_{l-1}) − h_{l-1}): frozen positions (m = 0) pass through.
    next = tf.add(hidden, tf.mul(options.updateMask, tf.sub(next, hidden))) as tf.Tensor3D;
  }
  return { hidden: next, kv };
}

// ---------------------------------------------------------------------------------------------
// The model

/** Token embeddings [B, T, C] for ids [B, T]. */
export function embed(params: QwenParams, ids: tf.Tensor2D): tf.Tensor3D {
  const [B, T] = ids.shape;
  const flat = embeddingLookup(params.embedTokens, tf.reshape(ids, [B * T]) as tf.Tensor1D); // [B*T, C]
  return tf.reshape(flat, [B, T, params.embedTokens.shape[1]]) as tf.Tensor3D;
}

/** Logits [N, V] of residual states [N, C] through the final norm and the unembedding. */
export function unembed(params: QwenParams, config: QwenConfig, hidden: tf.Tensor2D): tf.Tensor2D {
  return linear(rmsNorm(hidden, params.norm, config.rmsNormEps) as tf.Tensor2D, params.lmHeadT) as tf.Tensor2D;
}

/** Key/value cache for all layers plus, per row, which cached positions are real (1) or padding (0). */
export interface KvCache {
  readonly layers: readonly LayerKv[];
  readonly keyPadding: readonly (readonly number[])[]; // [B][P]
  readonly nextPosition: readonly number[]; // [B] RoPE position of the next token per row
}

export interface ForwardOptions {
  /** 1 for real tokens, 0 for (left) padding; default all ones. [B][T] */
  readonly attentionMask?: readonly (readonly number[])[];
  readonly cache?: KvCache | null;
  /** Return the residual stream after every layer (index 0 = embeddings). */
  readonly outputHiddenStates?: boolean;
  /** Compute logits only for the last position of each row. */
  readonly lastPositionOnly?: boolean;
  /** Skip logits altogether (when only hidden states are needed). */
  readonly skipLogits?: boolean;
  /** Keep and return the updated cache. */
  readonly useCache?: boolean;
  readonly adapter?: ProjectionAdapter;
}

export interface ForwardResult {
  /** [B, T, V], or [B, 1, V] with lastPositionOnly; null with skipLogits. */
  readonly logits: tf.Tensor3D | null;
  /** Embeddings then the residual after each layer (L + 1 tensors of [B, T, C]) when requested. */
  readonly hiddenStates: tf.Tensor3D[];
  readonly cache: KvCache | null;
}

/** Positions, mask and RoPE tables for T new tokens after an optional cache. */
export function attentionContext(config: QwenConfig, newMask: readonly (readonly number[])[], cache: KvCache | null | undefined): AttentionContext & { keyPadding: number[][]; nextPosition: number[] } {
  const B = newMask.length;
  const T = newMask[0]?.length ?? 0;
  const positions: number[][] = [];
  const keyPadding: number[][] = [];
  const nextPosition: number[] = [];
  for (let b = 0; b < B; b++) {
    let position = cache ? cache.nextPosition[b]! : 0;
    const row: number[] = [];
    for (let t = 0; t < T; t++) {
      row.push(position); // padding takes the next position but is masked out as a key
      if (newMask[b]![t]) position++;
    }
    positions.push(row);
    nextPosition.push(position);
    keyPadding.push([...(cache ? cache.keyPadding[b]! : []), ...newMask[b]!]);
  }
  const { cos, sin } = ropeTables(positions, config.headDim, config.ropeTheta);
  return { cos, sin, mask: attentionMask(keyPadding, T), keyPadding, nextPosition };
}

/**
 * Forward pass over ids [B][T] (numbers), optionally continuing a KV cache.
 * Returns logits, every layer's residual stream when asked, and the new cache when asked.
 * The caller owns the returned tensors (and should dispose an old cache it replaces).
 */
export function qwenForward(params: QwenParams, config: QwenConfig, ids: readonly (readonly number[])[], options: ForwardOptions = {}): ForwardResult {
  const B = ids.length;
  const T = ids[0]?.length ?? 0;
  const newMask = options.attentionMask ?? ids.map((row) => row.map(() => 1));
  const cache = options.cache ?? null;
  const run = (): ForwardResult => {
    const context = attentionContext(config, newMask, cache);
    let hidden = embed(params, tf.tensor2d(ids.map((r) => [...r]), [B, T], "int32")); // [B, T, C]
    const hiddenStates: tf.Tensor3D[] = options.outputHiddenStates ? [hidden] : [];
    const layersKv: LayerKv[] = [];
    params.layers.forEach((layer, l) => {
      const out = decoderLayer(layer, l, config, hidden, context, cache?.layers[l] ?? null, { adapter: options.adapter });
      hidden = out.hidden;
      if (options.outputHiddenStates) hiddenStates.push(hidden);
      if (options.useCache) layersKv.push(out.kv);
    });
    let logits: tf.Tensor3D | null = null;
    if (!options.skipLogits) {
      const C = config.hiddenSize;
      const rows = options.lastPositionOnly ? tf.reshape(tf.slice(hidden, [0, T - 1, 0], [B, 1, C]), [B, C]) : tf.reshape(hidden, [B * T, C]);
      logits = tf.reshape(unembed(params, config, rows as tf.Tensor2D), [B, options.lastPositionOnly ? 1 : T, config.vocabSize]) as tf.Tensor3D;
    }
    return {
      logits,
      hiddenStates,
      cache: options.useCache ? { layers: layersKv, keyPadding: context.keyPadding, nextPosition: context.nextPosition } : null,
    };
  };
  // tidy keeps exactly the tensors reachable from the returned object.
  return tf.tidy(run as unknown as () => tf.TensorContainer) as unknown as ForwardResult;
}

/** Dispose every tensor of a cache. */
export function disposeCache(cache: KvCache | null | undefined): void {
  if (!cache) return;
  for (const kv of cache.layers) tf.dispose([kv.keysT, kv.values]);
}

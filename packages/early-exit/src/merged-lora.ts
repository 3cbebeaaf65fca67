// LoRA merged into effective weights for generation (no gradient tape):
//
//   W'ᵀ = Wᵀ + (α / r) · Aᵀ · Bᵀ      [in, out],   so  x · W'ᵀ = x · Wᵀ + (α / r) · x · Aᵀ · Bᵀ
//
// equal up to float rounding. An adapted projection then costs one matMul per decode step
// instead of three matMuls, a mul and an add (at decode sizes each tfjs op costs microseconds
// whatever its FLOPs: this is what made the early-exit model decode ~2.8× slower than the base
// model at full depth). The adapters change only between optimiser steps, so generate() merges
// once per call and frees the merged tensors when it returns; nothing is cached across calls.
//
// Not merged (the adapter stays separate): LoRA dropout active (training mode), gradients being
// recorded, or projections beyond MAX_MERGED_ELEMENTS (a merged weight is a full copy of the
// base weight: for billion-parameter models the copies would cost more memory than the ops cost
// time).
//
// Legend: in / out projection widths, r LoRA rank.
import { tf, isRecordingGradients, matMul2d } from "@eecot/tensor-core";
import type { LinearParams, ProjectionName, QwenLayerParams, QwenParams } from "@eecot/transformer";
import { LoraAdapters, type LoraWeights } from "./lora.js";

/** Most weight elements merged per call (2^26 floats = 256 MiB of copies). */
export const MAX_MERGED_ELEMENTS = 2 ** 26;

/** Base params with (some) adapters merged in, plus the adapters left to apply separately. */
export interface MergedLora {
  /** The base params with merged projections replaced (other tensors are the model's own). */
  readonly params: QwenParams;
  /** Adapters not merged (none: undefined). Shares the original variables. */
  readonly adapter: LoraAdapters | undefined;
  /** The merged weights this object owns (dispose with `disposeMergedLora`). */
  readonly owned: readonly tf.Tensor[];
}

const FIELDS: Record<ProjectionName, keyof QwenLayerParams> = {
  q_proj: "qProj",
  k_proj: "kProj",
  v_proj: "vProj",
  o_proj: "oProj",
  gate_proj: "gateProj",
  up_proj: "upProj",
  down_proj: "downProj",
};

/**
 * Merges `lora` into a copy of `params` for inference, or returns the params and adapter as
 * they are where merging does not apply (no adapter, dropout active, gradients recorded).
 */
export function mergeLora(params: QwenParams, lora: LoraAdapters | undefined, maxElements = MAX_MERGED_ELEMENTS): MergedLora {
  const unchanged = { params, adapter: lora, owned: [] };
  if (!lora || lora.weights.length === 0) return unchanged;
  if (lora.training && lora.config.dropout > 0) return unchanged;
  if (isRecordingGradients()) return unchanged;
  let budget = maxElements;
  const merged: LoraWeights[] = [];
  const rest: LoraWeights[] = [];
  for (const w of lora.weights) {
    const size = w.aT.shape[0] * w.bT.shape[1];
    if (size <= budget) {
      merged.push(w);
      budget -= size;
    } else {
      rest.push(w);
    }
  }
  if (merged.length === 0) return unchanged;
  const scale = lora.scale;
  const layers = params.layers.map((layer) => ({ ...layer }) as Record<keyof QwenLayerParams, unknown>);
  const owned: tf.Tensor[] = [];
  for (const w of merged) {
    const layer = layers[w.layerIndex];
    if (!layer) throw new Error(`mergeLora: adapter for layer ${w.layerIndex}, but the model has ${params.layers.length} layers`);
    const field = FIELDS[w.projection];
    const base = layer[field] as LinearParams;
    const [inputs, outputs] = base.weightT.shape;
    if (w.aT.shape[0] !== inputs || w.bT.shape[1] !== outputs) {
      throw new Error(`mergeLora: ${w.layerIndex}.${w.projection} adapter is [${w.aT.shape[0]}, ${w.bT.shape[1]}], weight [${inputs}, ${outputs}]`);
    }
    const weightT = tf.tidy(() => tf.add(base.weightT, tf.mul(matMul2d(w.aT, w.bT), scale))) as tf.Tensor2D; // [in, out]
    owned.push(weightT);
    layer[field] = { weightT, bias: base.bias } satisfies LinearParams;
  }
  return {
    params: { ...params, layers: layers as unknown as QwenLayerParams[] },
    adapter: rest.length > 0 ? new LoraAdapters(lora.config, rest) : undefined,
    owned,
  };
}

/** Frees the merged weights (never the model's or the adapters' own tensors). */
export function disposeMergedLora(merged: MergedLora): void {
  tf.dispose([...merged.owned]);
}

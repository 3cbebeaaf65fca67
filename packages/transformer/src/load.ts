// Checkpoint → QwenParams: the one place where Hugging Face keys are renamed and transposed.
// Every expected key must be present with its expected shape; unexpected keys are errors.
import { tf, loadCheckpointTensorsFrom, type FileSource } from "@eecot/tensor-core";
import { readQwenConfigFrom, type QwenConfig } from "./config.js";
import type { LinearParams, QwenLayerParams, QwenParams } from "./qwen.js";

export interface LoadedTensor {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** The Hugging Face keys and shapes ([out, in] for projections) a config implies. */
export function expectedCheckpointShapes(config: QwenConfig): Map<string, number[]> {
  const { hiddenSize: C, numHeads: H, numKvHeads: K, headDim: D, intermediateSize: F, vocabSize: V } = config;
  const shapes = new Map<string, number[]>();
  shapes.set("model.embed_tokens.weight", [V, C]);
  shapes.set("model.norm.weight", [C]);
  if (!config.tieWordEmbeddings) shapes.set("lm_head.weight", [V, C]);
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    shapes.set(`${p}.input_layernorm.weight`, [C]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [C]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [H * D, C]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [K * D, C]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [K * D, C]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [C, H * D]);
    if (config.attentionBias) {
      shapes.set(`${p}.self_attn.q_proj.bias`, [H * D]);
      shapes.set(`${p}.self_attn.k_proj.bias`, [K * D]);
      shapes.set(`${p}.self_attn.v_proj.bias`, [K * D]);
    }
    if (config.outputProjectionBias) shapes.set(`${p}.self_attn.o_proj.bias`, [C]);
    if (config.qkNorm) {
      shapes.set(`${p}.self_attn.q_norm.weight`, [D]);
      shapes.set(`${p}.self_attn.k_norm.weight`, [D]);
    }
    shapes.set(`${p}.mlp.gate_proj.weight`, [F, C]);
    shapes.set(`${p}.mlp.up_proj.weight`, [F, C]);
    shapes.set(`${p}.mlp.down_proj.weight`, [C, F]);
  }
  return shapes;
}

/** Build parameters from named float32 tensors (HF layout), validating keys and shapes. */
export function paramsFromTensors(config: QwenConfig, tensors: ReadonlyMap<string, LoadedTensor>, source: string): QwenParams {
  const expected = expectedCheckpointShapes(config);
  // Tied checkpoints sometimes still carry lm_head.weight (a copy): accept and ignore it.
  const ignorable = (key: string) => key === "lm_head.weight" && config.tieWordEmbeddings;
  for (const key of tensors.keys()) {
    if (!expected.has(key) && !ignorable(key) && !key.endsWith("rotary_emb.inv_freq")) {
      throw new CheckpointError(`${source}: unexpected tensor "${key}" for a ${config.modelType} model with ${config.numLayers} layers`);
    }
  }
  for (const [key, shape] of expected) {
    const tensor = tensors.get(key);
    if (!tensor) throw new CheckpointError(`${source}: missing tensor "${key}"`);
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`${source}: tensor "${key}" has shape [${tensor.shape.join(", ")}], config.json implies [${shape.join(", ")}]`);
    }
    if (!(tensor.data instanceof Float32Array)) {
      throw new CheckpointError(`${source}: tensor "${key}" has dtype ${tensor.dtype}, expected a floating-point weight`);
    }
  }
  const get = (key: string) => tensors.get(key)!;
  const vector = (key: string) => tf.tensor1d(get(key).data as Float32Array);
  // Projections are stored [out, in] in the checkpoint; we keep [in, out] so y = x · Wᵀ is a plain matMul.
  // Transposed on the host and uploaded once: a device-side transpose would hold both layouts at
  // once and leave holes in the wasm heap (Qwen3-0.6B ran out of its 4 GiB that way).
  const transposed = (key: string): tf.Tensor2D => {
    const { shape, data } = get(key);
    return tf.tensor2d(transposeOnHost(data as Float32Array, shape[0]!, shape[1]!), [shape[1]!, shape[0]!]);
  };
  const linearParams = (prefix: string, withBias: boolean): LinearParams => ({
    weightT: transposed(`${prefix}.weight`),
    bias: withBias ? vector(`${prefix}.bias`) : null,
  });
  const layers: QwenLayerParams[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    layers.push({
      inputLayernorm: vector(`${p}.input_layernorm.weight`),
      qProj: linearParams(`${p}.self_attn.q_proj`, config.attentionBias),
      kProj: linearParams(`${p}.self_attn.k_proj`, config.attentionBias),
      vProj: linearParams(`${p}.self_attn.v_proj`, config.attentionBias),
      oProj: linearParams(`${p}.self_attn.o_proj`, config.outputProjectionBias),
      qNorm: config.qkNorm ? vector(`${p}.self_attn.q_norm.weight`) : null,
      kNorm: config.qkNorm ? vector(`${p}.self_attn.k_norm.weight`) : null,
      postAttentionLayernorm: vector(`${p}.post_attention_layernorm.weight`),
      gateProj: linearParams(`${p}.mlp.gate_proj`, false),
      upProj: linearParams(`${p}.mlp.up_proj`, false),
      downProj: linearParams(`${p}.mlp.down_proj`, false),
    });
  }
  const embedData = get("model.embed_tokens.weight").data as Float32Array;
  const embedTokens = tf.tensor2d(embedData, [config.vocabSize, config.hiddenSize]);
  const lmHeadT = config.tieWordEmbeddings
    ? tf.tensor2d(transposeOnHost(embedData, config.vocabSize, config.hiddenSize), [config.hiddenSize, config.vocabSize])
    : transposed("lm_head.weight");
  return { embedTokens, layers, norm: vector("model.norm.weight"), lmHeadT };
}

/** [rows, columns] row-major → [columns, rows], in blocks so both sides stay in cache. */
function transposeOnHost(data: Float32Array, rows: number, columns: number): Float32Array {
  const out = new Float32Array(rows * columns);
  const BLOCK = 64;
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let c0 = 0; c0 < columns; c0 += BLOCK) {
      const c1 = Math.min(columns, c0 + BLOCK);
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) out[c * rows + r] = data[r * columns + c]!;
    }
  }
  return out;
}

/** A loaded decoder: its config and weights. */
export interface QwenModel {
  readonly config: QwenConfig;
  readonly params: QwenParams;
  /** The folder (or URL) it was loaded from. */
  readonly directory: string;
}

/**
 * Load `config.json` and the safetensors weights (single file or sharded) from a FileSource: a
 * folder served over HTTP or files picked in a browser. Each file is read whole into memory; for
 * a local folder `loadQwenModel(dir)` (model-folder.ts, Node) streams tensor by tensor instead.
 */
export async function loadQwenModelFrom(source: FileSource): Promise<QwenModel> {
  const config = await readQwenConfigFrom(source);
  const tensors = await loadCheckpointTensorsFrom(source);
  return { config, params: paramsFromTensors(config, tensors, source.label), directory: source.label };
}

/** Every tensor of a parameter set, for disposal or counting. */
export function paramTensors(params: QwenParams): tf.Tensor[] {
  const out: tf.Tensor[] = [params.embedTokens, params.norm, params.lmHeadT];
  const linearTensors = (p: LinearParams) => (p.bias ? [p.weightT, p.bias] : [p.weightT]);
  for (const layer of params.layers) {
    out.push(layer.inputLayernorm, layer.postAttentionLayernorm);
    if (layer.qNorm) out.push(layer.qNorm);
    if (layer.kNorm) out.push(layer.kNorm);
    for (const p of [layer.qProj, layer.kProj, layer.vProj, layer.oProj, layer.gateProj, layer.upProj, layer.downProj]) out.push(...linearTensors(p));
  }
  return out;
}

/** Free a model's weights. */
export function disposeModel(model: QwenModel): void {
  tf.dispose(paramTensors(model.params));
}

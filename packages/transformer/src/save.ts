// QwenParams → a Hugging Face checkpoint folder (config.json + model.safetensors), atomically.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { replaceDirectory, tf, writeSafetensors, type SafetensorsTensor } from "@eecot/tensor-core";
import { toHuggingFaceConfig, type QwenConfig } from "./config.js";
import type { LinearParams, QwenParams } from "./qwen.js";
import { paramTensors } from "./load.js";

/** Named tensors in Hugging Face layout ([out, in] projections) for a parameter set. */
export function checkpointTensors(config: QwenConfig, params: QwenParams): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {
    "model.embed_tokens.weight": params.embedTokens,
    "model.norm.weight": params.norm,
  };
  if (!config.tieWordEmbeddings) out["lm_head.weight"] = tf.transpose(params.lmHeadT);
  const linearParams = (prefix: string, p: LinearParams) => {
    out[`${prefix}.weight`] = tf.transpose(p.weightT);
    if (p.bias) out[`${prefix}.bias`] = p.bias;
  };
  params.layers.forEach((layer, l) => {
    const p = `model.layers.${l}`;
    out[`${p}.input_layernorm.weight`] = layer.inputLayernorm;
    out[`${p}.post_attention_layernorm.weight`] = layer.postAttentionLayernorm;
    linearParams(`${p}.self_attn.q_proj`, layer.qProj);
    linearParams(`${p}.self_attn.k_proj`, layer.kProj);
    linearParams(`${p}.self_attn.v_proj`, layer.vProj);
    linearParams(`${p}.self_attn.o_proj`, layer.oProj);
    if (layer.qNorm) out[`${p}.self_attn.q_norm.weight`] = layer.qNorm;
    if (layer.kNorm) out[`${p}.self_attn.k_norm.weight`] = layer.kNorm;
    linearParams(`${p}.mlp.gate_proj`, layer.gateProj);
    linearParams(`${p}.mlp.up_proj`, layer.upProj);
    linearParams(`${p}.mlp.down_proj`, layer.downProj);
  });
  return out;
}

/** Float32 records of a parameter set in Hugging Face layout. */
export async function checkpointRecords(config: QwenConfig, params: QwenParams): Promise<Record<string, SafetensorsTensor>> {
  const records: Record<string, SafetensorsTensor> = {};
  const tensors = tf.tidy(() => checkpointTensors(config, params));
  const parameters = new Set(paramTensors(params));
  const owned = Object.values(tensors).filter((t) => !parameters.has(t)); // transposed copies
  for (const [name, tensor] of Object.entries(tensors)) {
    records[name] = { dtype: "F32", shape: [...tensor.shape], data: (await tensor.data()) as Float32Array };
  }
  tf.dispose(owned);
  return records;
}

/**
 * Write `config.json` and `model.safetensors` (float32) into `dir`, plus any extra files
 * (e.g. generation_config.json). The folder is assembled beside `dir` and renamed into place,
 * so a crash never leaves a half-written checkpoint.
 */
export async function saveQwenModel(
  dir: string,
  config: QwenConfig,
  params: QwenParams,
  extraFiles: Readonly<Record<string, string | Uint8Array>> = {},
): Promise<void> {
  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    await writeFile(join(staging, "config.json"), JSON.stringify(toHuggingFaceConfig(config), null, 2) + "\n");
    await writeSafetensors(join(staging, "model.safetensors"), await checkpointRecords(config, params), { format: "pt" });
    for (const [name, content] of Object.entries(extraFiles)) await writeFile(join(staging, name), content);
    await replaceDirectory(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

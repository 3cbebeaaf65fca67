// Save and load adapters + exit heads in a local folder (Node). The format, and reading it from
// any FileSource (URL, files picked in a browser), are in adapter-format.ts.
// The folder is written beside DIR and renamed over it, so a crash never leaves half a folder.
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { tf, directoryFileSource, replaceDirectory, writeFailureHint, writeSafetensors, type SafetensorsTensor } from "@eecot/tensor-core";
import type { QwenModel } from "@eecot/transformer";
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  AdapterFormatError,
  EARLY_EXIT_CONFIG_FILE,
  EARLY_EXIT_FORMAT,
  EXIT_HEADS_FILE,
  exitHeadKeys,
  loadEarlyExitAdaptersFrom,
  peftKey,
  type LoadAdapterOptions,
} from "./adapter-format.js";
import type { EarlyExitModel } from "./model.js";

// ---------------------------------------------------------------------------------------------
// Saving

export interface SaveAdapterOptions {
  /** Written as base_model_name_or_path; default the folder the base model was loaded from. */
  readonly baseModelNameOrPath?: string;
}

/** Write adapters, heads and configs to `dir` atomically (replacing an existing folder). */
export async function saveEarlyExitAdapters(dir: string, model: EarlyExitModel, options: SaveAdapterOptions = {}): Promise<void> {
  const { lora, config } = model;
  const C = model.base.config.hiddenSize;
  const adapterConfig = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: options.baseModelNameOrPath ?? model.base.directory,
    r: lora.config.rank,
    lora_alpha: lora.config.alpha,
    lora_dropout: lora.config.dropout,
    target_modules: [...lora.config.targetModules],
    bias: "none",
    fan_in_fan_out: false,
    inference_mode: true,
    use_rslora: false,
    use_dora: false,
    modules_to_save: null,
    layers_to_transform: null,
    init_lora_weights: true,
  };
  const earlyExitConfig = {
    format: EARLY_EXIT_FORMAT,
    exit_layers: [...config.exitLayers],
    min_exit_prob: config.minExitProb,
    exit_offset: config.exitOffset,
    head_initial_bias: config.headInitialBias,
    seed: config.seed,
    num_hidden_layers: config.numLayers,
    hidden_size: C,
  };
  const record = async (tensor: tf.Tensor, transposeIt: boolean): Promise<SafetensorsTensor> => {
    const value = transposeIt ? tf.transpose(tensor) : tensor;
    const data = (await value.data()) as Float32Array;
    const shape = [...value.shape];
    if (transposeIt) value.dispose();
    return { dtype: "F32", shape, data };
  };
  const adapterTensors: Record<string, SafetensorsTensor> = {};
  for (const w of lora.weights) {
    adapterTensors[peftKey(w.layerIndex, w.projection, "lora_A")] = await record(w.aT, true); // [r, in]
    adapterTensors[peftKey(w.layerIndex, w.projection, "lora_B")] = await record(w.bT, true); // [out, r]
  }
  const headTensors: Record<string, SafetensorsTensor> = {};
  for (const head of model.heads) {
    const keys = exitHeadKeys(head.layer);
    headTensors[keys.fc1Weight] = await record(head.w1T, true); // [2C, C]
    headTensors[keys.fc1Bias] = await record(head.b1, false); // [2C]
    headTensors[keys.fc2Weight] = await record(head.w2T, true); // [1, 2C]
    headTensors[keys.fc2Bias] = await record(head.b2, false); // [1]
  }

  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  await mkdir(staging, { recursive: true });
  try {
    await writeFile(join(staging, ADAPTER_CONFIG_FILE), JSON.stringify(adapterConfig, null, 2) + "\n");
    await writeFile(join(staging, EARLY_EXIT_CONFIG_FILE), JSON.stringify(earlyExitConfig, null, 2) + "\n");
    await writeSafetensors(join(staging, ADAPTER_WEIGHTS_FILE), adapterTensors, { format: "pt" });
    await writeSafetensors(join(staging, EXIT_HEADS_FILE), headTensors, { format: "pt" });
    await replaceDirectory(staging, dir);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`early-exit: cannot write the adapter folder ${dir}: ${(error as Error).message}${writeFailureHint(error)}`, { cause: error });
  }
}

/** Read a folder written by `saveEarlyExitAdapters` (or a PEFT LoRA folder) onto a loaded base model. */
export async function loadEarlyExitAdapters(dir: string, base: QwenModel, options: LoadAdapterOptions = {}): Promise<EarlyExitModel> {
  try {
    await stat(dir);
  } catch {
    throw new AdapterFormatError(dir, "adapter folder not found");
  }
  return loadEarlyExitAdaptersFrom(directoryFileSource(dir), base, options);
}

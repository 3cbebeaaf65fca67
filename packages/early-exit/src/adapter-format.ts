// The adapter folder format and reading it from any FileSource (no Node: this runs in a web
// page too; adapter-io.ts adds saving and reading a local folder).
//
// The LoRA part is the PEFT layout, so Python's
// `PeftModel.from_pretrained(base, DIR)` reads it:
//
//   DIR/adapter_config.json          {"peft_type": "LORA", "r", "lora_alpha", "lora_dropout",
//                                     "target_modules", "base_model_name_or_path", "task_type": "CAUSAL_LM", ...}
//   DIR/adapter_model.safetensors    base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight  [r, in]
//                                    base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight  [out, r]
//                                    (…mlp.gate_proj / up_proj / down_proj… for MLP targets)
//   DIR/exit_heads.safetensors       exit_heads.E.fc1.weight [2C, C], exit_heads.E.fc1.bias [2C],
//                                    exit_heads.E.fc2.weight [1, 2C], exit_heads.E.fc2.bias [1]
//                                    (E = the 1-based exit layer; the head reads h_E, the output of model.layers.{E−1})
//   DIR/early_exit_config.json       {"format": "eecot-early-exit/1", "exit_layers", "min_exit_prob", "exit_offset",
//                                     "head_initial_bias", "seed", "num_hidden_layers", "hidden_size"}
//
// Weights are PyTorch [out, in]; in memory they are [in, out] (transposed here, nowhere else).
// Every malformed input is an error naming the file and the key.
import { tf, SafetensorsBytes, type FileSource } from "@eecot/tensor-core";
import type { ProjectionName, QwenModel } from "@eecot/transformer";
import { LORA_PROJECTIONS, resolveEarlyExitConfig, validateLoraConfig, type LoraConfig } from "./config.js";
import { createExitHeads, type ExitHead } from "./exit-head.js";
import { LoraAdapters, projectionShape, type LoraWeights } from "./lora.js";
import { EarlyExitModel } from "./model.js";

export const ADAPTER_CONFIG_FILE = "adapter_config.json";
export const ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors";
export const EXIT_HEADS_FILE = "exit_heads.safetensors";
export const EARLY_EXIT_CONFIG_FILE = "early_exit_config.json";
/** early_exit_config.json's "format" field. */
export const EARLY_EXIT_FORMAT = "eecot-early-exit/1";

export class AdapterFormatError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "AdapterFormatError";
  }
}

/** PEFT key of one adapter matrix. */
export function peftKey(layerIndex: number, projection: ProjectionName, matrix: "lora_A" | "lora_B"): string {
  const block = projection === "gate_proj" || projection === "up_proj" || projection === "down_proj" ? "mlp" : "self_attn";
  return `base_model.model.model.layers.${layerIndex}.${block}.${projection}.${matrix}.weight`;
}

/** Exit-head keys of one exit layer. */
export function exitHeadKeys(layer: number): { fc1Weight: string; fc1Bias: string; fc2Weight: string; fc2Bias: string } {
  const p = `exit_heads.${layer}`;
  return { fc1Weight: `${p}.fc1.weight`, fc1Bias: `${p}.fc1.bias`, fc2Weight: `${p}.fc2.weight`, fc2Bias: `${p}.fc2.bias` };
}

// ---------------------------------------------------------------------------------------------
// Loading

type Json = Record<string, unknown>;

/** The bytes of file `name`, or an AdapterFormatError naming it when it is absent or unreadable. */
async function readRequired(source: FileSource, name: string): Promise<Uint8Array> {
  const bytes = await readOptional(source, name);
  if (bytes === null) throw new AdapterFormatError(source.describe(name), "not found");
  return bytes;
}

/** The bytes of file `name`, null when absent, or an AdapterFormatError naming it when unreadable. */
async function readOptional(source: FileSource, name: string): Promise<Uint8Array | null> {
  try {
    return await source.read(name);
  } catch (error) {
    throw new AdapterFormatError(source.describe(name), `cannot be read (${(error as Error).message})`);
  }
}

function parseJson(bytes: Uint8Array, file: string): Json {
  const text = new TextDecoder("utf-8").decode(bytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AdapterFormatError(file, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new AdapterFormatError(file, "must hold a JSON object");
  return json as Json;
}

function parseWeights(bytes: Uint8Array, file: string): SafetensorsBytes {
  try {
    return SafetensorsBytes.parse(bytes, file);
  } catch (error) {
    throw new AdapterFormatError(file, (error as Error).message);
  }
}

/** Parse PEFT's adapter_config.json into a LoraConfig (only plain LoRA is accepted). */
export function parseAdapterConfig(json: Json, file = ADAPTER_CONFIG_FILE): LoraConfig {
  if (json.peft_type !== "LORA") throw new AdapterFormatError(file, `"peft_type" must be "LORA", got ${JSON.stringify(json.peft_type)}`);
  const number = (key: string) => {
    const value = json[key];
    if (typeof value !== "number" || !Number.isFinite(value)) throw new AdapterFormatError(file, `"${key}" must be a number, got ${JSON.stringify(value)}`);
    return value;
  };
  const targets = json.target_modules;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string")) {
    throw new AdapterFormatError(file, `"target_modules" must be a list of projection names (a regex string is not supported), got ${JSON.stringify(targets)}`);
  }
  for (const target of targets as string[]) {
    if (!(LORA_PROJECTIONS as readonly string[]).includes(target)) {
      throw new AdapterFormatError(file, `unsupported target module "${target}" in "target_modules" (expected some of ${LORA_PROJECTIONS.join(", ")})`);
    }
  }
  if (json.use_rslora === true) throw new AdapterFormatError(file, `"use_rslora": true is not supported (scale would be α/√r)`);
  if (json.use_dora === true) throw new AdapterFormatError(file, `"use_dora": true is not supported`);
  if (json.bias !== undefined && json.bias !== "none") throw new AdapterFormatError(file, `"bias": ${JSON.stringify(json.bias)} is not supported (only "none")`);
  if (json.fan_in_fan_out === true) throw new AdapterFormatError(file, `"fan_in_fan_out": true is not supported`);
  for (const key of ["layers_to_transform", "rank_pattern", "alpha_pattern", "modules_to_save"]) {
    const value = json[key];
    const empty = value === undefined || value === null || (typeof value === "object" && Object.keys(value as object).length === 0);
    if (!empty) throw new AdapterFormatError(file, `"${key}" is not supported (got ${JSON.stringify(value)})`);
  }
  const lora: LoraConfig = {
    rank: number("r"),
    alpha: number("lora_alpha"),
    dropout: json.lora_dropout === undefined ? 0 : number("lora_dropout"),
    targetModules: targets as ProjectionName[],
  };
  try {
    validateLoraConfig(lora, "adapter config");
  } catch (error) {
    throw new AdapterFormatError(file, (error as Error).message);
  }
  return lora;
}

export interface LoadAdapterOptions {
  /** Accept a plain PEFT folder without exit_heads.safetensors / early_exit_config.json: heads are created fresh (config from `overrides`). Default false. */
  readonly allowMissingHeads?: boolean;
  /** Config used for fresh heads when allowed, and for exitOffset / minExitProb overrides. */
  readonly overrides?: { readonly exitOffset?: number; readonly minExitProb?: number; readonly exitLayers?: readonly number[] | null; readonly seed?: number };
}

/**
 * Read an adapter folder written by `saveEarlyExitAdapters` (or a PEFT LoRA folder) onto a loaded
 * base model, from any FileSource: a local folder (`loadEarlyExitAdapters(dir)`), a URL, or files
 * picked in a browser.
 */
export async function loadEarlyExitAdaptersFrom(source: FileSource, base: QwenModel, options: LoadAdapterOptions = {}): Promise<EarlyExitModel> {
  const configFile = source.describe(ADAPTER_CONFIG_FILE);
  const loraConfig = parseAdapterConfig(parseJson(await readRequired(source, ADAPTER_CONFIG_FILE), configFile), configFile);
  const L = base.config.numLayers;
  const C = base.config.hiddenSize;

  // LoRA weights: exactly the keys the config implies, with the right shapes.
  const weightsFile = source.describe(ADAPTER_WEIGHTS_FILE);
  const weightsReader = parseWeights(await readRequired(source, ADAPTER_WEIGHTS_FILE), weightsFile);
  const expected = new Map<string, { layerIndex: number; projection: ProjectionName; matrix: "lora_A" | "lora_B"; shape: [number, number] }>();
  for (let l = 0; l < L; l++) {
    for (const projection of loraConfig.targetModules) {
      const [inputs, outputs] = projectionShape(base.config, projection);
      expected.set(peftKey(l, projection, "lora_A"), { layerIndex: l, projection, matrix: "lora_A", shape: [loraConfig.rank, inputs] });
      expected.set(peftKey(l, projection, "lora_B"), { layerIndex: l, projection, matrix: "lora_B", shape: [outputs, loraConfig.rank] });
    }
  }
  for (const name of weightsReader.tensorNames) {
    if (!expected.has(name)) throw new AdapterFormatError(weightsFile, `unexpected tensor "${name}" (target_modules is [${loraConfig.targetModules.join(", ")}], ${L} layers)`);
  }
  for (const [name, want] of expected) {
    if (!weightsReader.has(name)) throw new AdapterFormatError(weightsFile, `missing tensor "${name}"`);
    const { shape, dtype } = weightsReader.info(name);
    if (!["F32", "F16", "BF16"].includes(dtype)) throw new AdapterFormatError(weightsFile, `tensor "${name}" has dtype ${dtype}, expected a float`);
    if (shape.length !== 2 || shape[0] !== want.shape[0] || shape[1] !== want.shape[1]) {
      const rankProblem = shape.length === 2 && ((want.matrix === "lora_A" && shape[0] !== want.shape[0]) || (want.matrix === "lora_B" && shape[1] !== want.shape[1]));
      throw new AdapterFormatError(
        weightsFile,
        `tensor "${name}" has shape [${shape.join(", ")}], expected [${want.shape.join(", ")}]${rankProblem ? ` (rank mismatch: adapter_config.json says r = ${loraConfig.rank})` : ""}`,
      );
    }
  }
  const names = [...expected.keys()];
  const values = await weightsReader.readMany(names);
  const byKey = new Map(names.map((name, i) => [name, values[i] as Float32Array]));
  // Variables are created only after every file has been validated (no leaks on errors).
  const makeLora = (seed: number): LoraAdapters => {
    const weights: LoraWeights[] = [];
    for (let l = 0; l < L; l++) {
      for (const projection of loraConfig.targetModules) {
        const variable = (matrix: "lora_A" | "lora_B") =>
          tf.tidy(() => tf.variable(tf.transpose(tf.tensor2d(byKey.get(peftKey(l, projection, matrix))!, expected.get(peftKey(l, projection, matrix))!.shape)))) as tf.Variable<tf.Rank.R2>;
        weights.push({ layerIndex: l, projection, aT: variable("lora_A"), bT: variable("lora_B") }); // aT [in, r], bT [r, out]
      }
    }
    return new LoraAdapters(loraConfig, weights, seed);
  };

  // Exit heads and their config.
  const exitConfigFile = source.describe(EARLY_EXIT_CONFIG_FILE);
  const headsFile = source.describe(EXIT_HEADS_FILE);
  const exitConfigBytes = await readOptional(source, EARLY_EXIT_CONFIG_FILE);
  const headsBytes = await readOptional(source, EXIT_HEADS_FILE);
  const headsOnDisk = exitConfigBytes !== null || headsBytes !== null;
  if (!headsOnDisk && !options.allowMissingHeads) {
    throw new AdapterFormatError(source.label, `no ${EARLY_EXIT_CONFIG_FILE} or ${EXIT_HEADS_FILE} (a plain PEFT LoRA folder?); pass --fresh-heads (API: allowMissingHeads) to start with fresh exit heads`);
  }
  const overrides = options.overrides ?? {};
  if (!headsOnDisk) {
    const config = resolveEarlyExitConfig(base.config, { ...overrides, lora: loraConfig });
    return new EarlyExitModel(base, config, createExitHeads(C, config.exitLayers, { initialBias: config.headInitialBias, seed: config.seed }), makeLora(config.seed));
  }
  const exitJson = parseJson(exitConfigBytes ?? (await readRequired(source, EARLY_EXIT_CONFIG_FILE)), exitConfigFile);
  if (exitJson.format !== EARLY_EXIT_FORMAT) throw new AdapterFormatError(exitConfigFile, `"format" must be "${EARLY_EXIT_FORMAT}", got ${JSON.stringify(exitJson.format)}`);
  if (exitJson.num_hidden_layers !== L) throw new AdapterFormatError(exitConfigFile, `"num_hidden_layers" is ${JSON.stringify(exitJson.num_hidden_layers)} but the base model has ${L} layers`);
  if (exitJson.hidden_size !== C) throw new AdapterFormatError(exitConfigFile, `"hidden_size" is ${JSON.stringify(exitJson.hidden_size)} but the base model has ${C}`);
  const savedLayers = exitJson.exit_layers;
  if (!Array.isArray(savedLayers)) throw new AdapterFormatError(exitConfigFile, `"exit_layers" must be a list of layers, got ${JSON.stringify(savedLayers)}`);
  const numberField = (key: string) => {
    const value = exitJson[key];
    if (typeof value !== "number" || !Number.isFinite(value)) throw new AdapterFormatError(exitConfigFile, `"${key}" must be a number, got ${JSON.stringify(value)}`);
    return value;
  };
  let config;
  try {
    config = resolveEarlyExitConfig(base.config, {
      exitLayers: savedLayers as number[],
      minExitProb: overrides.minExitProb ?? numberField("min_exit_prob"),
      exitOffset: overrides.exitOffset ?? numberField("exit_offset"),
      headInitialBias: numberField("head_initial_bias"),
      seed: numberField("seed"),
      lora: loraConfig,
    });
  } catch (error) {
    throw new AdapterFormatError(exitConfigFile, (error as Error).message);
  }
  const headsReader = parseWeights(headsBytes ?? (await readRequired(source, EXIT_HEADS_FILE)), headsFile);
  const headShapes = (layer: number) => {
    const keys = exitHeadKeys(layer);
    return [
      [keys.fc1Weight, [2 * C, C]],
      [keys.fc1Bias, [2 * C]],
      [keys.fc2Weight, [1, 2 * C]],
      [keys.fc2Bias, [1]],
    ] as const;
  };
  const expectedHeads = new Set(config.exitLayers.flatMap((e) => headShapes(e).map(([k]) => k)));
  for (const name of headsReader.tensorNames) {
    if (!expectedHeads.has(name)) throw new AdapterFormatError(headsFile, `unexpected tensor "${name}" (exit_layers is [${config.exitLayers.join(", ")}])`);
  }
  const headData: { layer: number; arrays: Float32Array[] }[] = [];
  for (const layer of config.exitLayers) {
    const arrays: Float32Array[] = [];
    for (const [name, shape] of headShapes(layer)) {
      if (!headsReader.has(name)) throw new AdapterFormatError(headsFile, `missing tensor "${name}"`);
      const info = headsReader.info(name);
      if (!["F32", "F16", "BF16"].includes(info.dtype)) throw new AdapterFormatError(headsFile, `tensor "${name}" has dtype ${info.dtype}, expected a float`);
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new AdapterFormatError(headsFile, `tensor "${name}" has shape [${info.shape.join(", ")}], expected [${shape.join(", ")}]`);
      }
      arrays.push((await headsReader.read(name)) as Float32Array);
    }
    headData.push({ layer, arrays });
  }
  const heads: ExitHead[] = headData.map(({ layer, arrays }) => {
    const [fc1Weight, fc1Bias, fc2Weight, fc2Bias] = arrays as [Float32Array, Float32Array, Float32Array, Float32Array];
    return {
      layer,
      w1T: tf.tidy(() => tf.variable(tf.transpose(tf.tensor2d(fc1Weight, [2 * C, C])))) as tf.Variable<tf.Rank.R2>, // [C, 2C]
      b1: tf.tidy(() => tf.variable(tf.tensor1d(fc1Bias))) as tf.Variable<tf.Rank.R1>, // [2C]
      w2T: tf.tidy(() => tf.variable(tf.transpose(tf.tensor2d(fc2Weight, [1, 2 * C])))) as tf.Variable<tf.Rank.R2>, // [2C, 1]
      b2: tf.tidy(() => tf.variable(tf.tensor1d(fc2Bias))) as tf.Variable<tf.Rank.R1>, // [1]
    };
  });
  return new EarlyExitModel(base, config, heads, makeLora(config.seed));
}

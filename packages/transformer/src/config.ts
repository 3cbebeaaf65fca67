// Qwen2 / Qwen3 configuration: the only place that reads Hugging Face's snake_case config.json.
import { readSourceText, type FileSource } from "@eecot/tensor-core";

export type QwenModelType = "qwen2" | "qwen3";

/** Architecture hyper-parameters of a Qwen2/Qwen3 decoder (camelCase, validated). */
export interface QwenConfig {
  /** Family: "qwen3" has qk-norm; "qwen2" (e.g. DeepSeek-R1-Distill-Qwen) has q/k/v biases. */
  readonly modelType: QwenModelType;
  /** Vocabulary size V, e.g. 151936. */
  readonly vocabSize: number;
  /** Residual width C, e.g. 2560. */
  readonly hiddenSize: number;
  /** SwiGLU inner width F, e.g. 9728. */
  readonly intermediateSize: number;
  /** Decoder layers L, e.g. 36. */
  readonly numLayers: number;
  /** Query heads H, e.g. 32. */
  readonly numHeads: number;
  /** Key/value heads K (GQA), e.g. 8. */
  readonly numKvHeads: number;
  /** Per-head width D; Qwen3 decouples it from C / H, e.g. 128. */
  readonly headDim: number;
  /** RoPE base θ, e.g. 1e6. */
  readonly ropeTheta: number;
  /** RMSNorm ε, e.g. 1e-6. */
  readonly rmsNormEps: number;
  /** Unembedding shares the embedding matrix (no lm_head.weight), e.g. true for Qwen3-4B. */
  readonly tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (always for qwen2; `attention_bias` for qwen3). */
  readonly attentionBias: boolean;
  /** o_proj carries a bias too: qwen3 with `attention_bias` (as transformers builds it); never qwen2. */
  readonly outputProjectionBias: boolean;
  /** RMSNorm on each query/key head before RoPE (qwen3). */
  readonly qkNorm: boolean;
  /** Longest position the model was trained for, e.g. 40960. */
  readonly maxPositionEmbeddings: number;
  /** Beginning-of-sequence token id, if any. */
  readonly bosTokenId: number | null;
  /** End-of-sequence token ids (config.json's eos_token_id, int or list). */
  readonly eosTokenIds: readonly number[];
  /** Exitable layers declared by the checkpoint (`early_exit_layers`, our extension), if any. */
  readonly exitLayers: readonly number[] | null;
}

export class ConfigError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = "ConfigError";
  }
}

type Json = Record<string, unknown>;

function integer(json: Json, key: string, file: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new ConfigError(file, `"${key}" must be a positive integer, got ${JSON.stringify(json[key])}`);
  }
  return value;
}

function positive(json: Json, key: string, file: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== "number" || !(value > 0)) {
    throw new ConfigError(file, `"${key}" must be a positive number, got ${JSON.stringify(json[key])}`);
  }
  return value;
}

function tokenIds(value: unknown): number[] {
  if (value === null || value === undefined) return [];
  if (typeof value === "number") return [value];
  if (Array.isArray(value)) return value.filter((v): v is number => typeof v === "number");
  return [];
}

/** Parse and validate a Hugging Face `config.json` object for a Qwen2/Qwen3 decoder. */
export function parseQwenConfig(json: Json, file = "config.json"): QwenConfig {
  const modelType = json.model_type;
  if (modelType !== "qwen2" && modelType !== "qwen3") {
    throw new ConfigError(
      file,
      `unsupported model_type ${JSON.stringify(modelType)}: @eecot/transformer supports "qwen2" and "qwen3"`,
    );
  }
  const hiddenSize = integer(json, "hidden_size", file);
  const numHeads = integer(json, "num_attention_heads", file);
  const numKvHeads = integer(json, "num_key_value_heads", file, numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(file, `num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = json.head_dim === undefined || json.head_dim === null ? hiddenSize / numHeads : integer(json, "head_dim", file);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ConfigError(file, `head dimension must be an even integer, got ${headDim}`);
  }
  const act = json.hidden_act ?? "silu";
  if (act !== "silu") throw new ConfigError(file, `unsupported hidden_act ${JSON.stringify(act)} (only "silu")`);
  if (json.use_sliding_window === true) {
    throw new ConfigError(file, "use_sliding_window=true is not supported (sliding-window attention would silently change results)");
  }

  // RoPE: `rope_theta` (classic) or `rope_parameters` (transformers ≥ 4.56); only default RoPE.
  const ropeParameters = (json.rope_parameters ?? null) as Json | null;
  const ropeScaling = (json.rope_scaling ?? null) as Json | null;
  for (const [name, block] of [["rope_scaling", ropeScaling], ["rope_parameters", ropeParameters]] as const) {
    const type = block?.rope_type ?? block?.type;
    if (block && type !== undefined && type !== "default") {
      throw new ConfigError(file, `${name} of type ${JSON.stringify(type)} is not supported (only default RoPE)`);
    }
  }
  const ropeTheta = positive(ropeParameters ?? json, "rope_theta", file, 10000);

  const attentionBias = modelType === "qwen2" ? true : json.attention_bias === true;
  const exitLayers = Array.isArray(json.early_exit_layers) ? (json.early_exit_layers as number[]) : null;
  const numLayers = integer(json, "num_hidden_layers", file);
  if (exitLayers && exitLayers.some((l) => !Number.isInteger(l) || l < 1 || l >= numLayers)) {
    throw new ConfigError(file, `early_exit_layers must be integers in 1..${numLayers - 1}, got ${JSON.stringify(exitLayers)}`);
  }
  return {
    modelType,
    vocabSize: integer(json, "vocab_size", file),
    hiddenSize,
    intermediateSize: integer(json, "intermediate_size", file),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    ropeTheta,
    rmsNormEps: positive(json, "rms_norm_eps", file, 1e-6),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    attentionBias,
    outputProjectionBias: modelType === "qwen3" && attentionBias,
    qkNorm: modelType === "qwen3",
    maxPositionEmbeddings: integer(json, "max_position_embeddings", file, 32768),
    bosTokenId: typeof json.bos_token_id === "number" ? json.bos_token_id : null,
    eosTokenIds: tokenIds(json.eos_token_id),
    exitLayers,
  };
}

/** Read `config.json` of a model folder (local, served, or picked in a browser) and parse it. */
export async function readQwenConfigFrom(source: FileSource): Promise<QwenConfig> {
  const file = source.describe("config.json");
  let text: string | null;
  try {
    text = await readSourceText(source, "config.json");
  } catch (error) {
    throw new ConfigError(file, `cannot be read (${(error as Error).message})`);
  }
  if (text === null) {
    throw new ConfigError(file, "not found (a model folder needs config.json; nothing is downloaded at run time: pass a local Hugging Face checkpoint folder)");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(file, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new ConfigError(file, "must hold a JSON object");
  return parseQwenConfig(json as Json, file);
}

/** Serialise back to Hugging Face's config.json layout (used when we write our own checkpoints). */
export function toHuggingFaceConfig(config: QwenConfig): Record<string, unknown> {
  return {
    architectures: [config.modelType === "qwen3" ? "Qwen3ForCausalLM" : "Qwen2ForCausalLM"],
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    hidden_act: "silu",
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    rms_norm_eps: config.rmsNormEps,
    tie_word_embeddings: config.tieWordEmbeddings,
    attention_bias: config.attentionBias,
    attention_dropout: 0,
    max_position_embeddings: config.maxPositionEmbeddings,
    use_sliding_window: false,
    sliding_window: null,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    torch_dtype: "float32",
    ...(config.exitLayers ? { early_exit_layers: config.exitLayers } : {}),
  };
}

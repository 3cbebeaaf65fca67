// The published configurations of the paper's models, as their Hugging Face config.json files
// say them (copied field for field), so a checkpoint made from a preset has the true shapes:
// - Qwen/Qwen3-4B: stage 2 (RL, Figure 2);
// - deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B: stage 1 (A.1/A.2);
// - Qwen/Qwen3-0.6B: the size meant for the wasm backend (CPU).
// `shrinkPreset` keeps a preset's family, tying, biases, GQA ratio and vocabulary at tiny widths
// (tests and dry runs).

/** A preset name accepted by `eecot make-checkpoint --preset`. */
export type QwenPresetName = "qwen3-4b" | "r1-distill-qwen-1.5b" | "qwen3-0.6b";

/** config.json and generation_config.json of a published model. */
export interface QwenPreset {
  /** Hugging Face repository the numbers come from, e.g. "Qwen/Qwen3-4B". */
  readonly source: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly generationConfig: Readonly<Record<string, unknown>>;
}

const QWEN3_GENERATION_CONFIG = { bos_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], pad_token_id: 151643, temperature: 0.6, top_k: 20, top_p: 0.95, transformers_version: "4.51.0" };

function qwen3Config(fields: { hidden_size: number; intermediate_size: number; num_hidden_layers: number; num_attention_heads: number; num_key_value_heads: number }): Record<string, unknown> {
  return {
    architectures: ["Qwen3ForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    head_dim: 128,
    hidden_act: "silu",
    hidden_size: fields.hidden_size,
    initializer_range: 0.02,
    intermediate_size: fields.intermediate_size,
    max_position_embeddings: 40960,
    max_window_layers: fields.num_hidden_layers,
    model_type: "qwen3",
    num_attention_heads: fields.num_attention_heads,
    num_hidden_layers: fields.num_hidden_layers,
    num_key_value_heads: fields.num_key_value_heads,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000,
    sliding_window: null,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
    transformers_version: "4.51.0",
    use_cache: true,
    use_sliding_window: false,
    vocab_size: 151936,
  };
}

export const QWEN_PRESETS: Readonly<Record<QwenPresetName, QwenPreset>> = {
  // 36 layers, hidden 2560, 32/8 heads of 128, ffn 9728, tied, qk-norm: 4.02B parameters.
  "qwen3-4b": {
    source: "Qwen/Qwen3-4B",
    config: qwen3Config({ hidden_size: 2560, intermediate_size: 9728, num_hidden_layers: 36, num_attention_heads: 32, num_key_value_heads: 8 }),
    generationConfig: QWEN3_GENERATION_CONFIG,
  },
  // 28 layers, hidden 1536, 12/2 heads (head dim 128), ffn 8960, untied, q/k/v biases: 1.78B parameters.
  "r1-distill-qwen-1.5b": {
    source: "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
    config: {
      architectures: ["Qwen2ForCausalLM"],
      attention_dropout: 0.0,
      bos_token_id: 151643,
      eos_token_id: 151643,
      hidden_act: "silu",
      hidden_size: 1536,
      initializer_range: 0.02,
      intermediate_size: 8960,
      max_position_embeddings: 131072,
      max_window_layers: 21,
      model_type: "qwen2",
      num_attention_heads: 12,
      num_hidden_layers: 28,
      num_key_value_heads: 2,
      rms_norm_eps: 1e-6,
      rope_theta: 10000,
      sliding_window: 4096,
      tie_word_embeddings: false,
      torch_dtype: "bfloat16",
      transformers_version: "4.44.0",
      use_cache: true,
      use_mrope: false,
      use_sliding_window: false,
      vocab_size: 151936,
    },
    generationConfig: { _from_model_config: true, bos_token_id: 151646, eos_token_id: 151643, do_sample: true, temperature: 0.6, top_p: 0.95, transformers_version: "4.39.3" },
  },
  // 28 layers, hidden 1024, 16/8 heads of 128, ffn 3072, tied, qk-norm: 0.60B parameters.
  "qwen3-0.6b": {
    source: "Qwen/Qwen3-0.6B",
    config: qwen3Config({ hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8 }),
    generationConfig: QWEN3_GENERATION_CONFIG,
  },
};

export const QWEN_PRESET_NAMES = Object.keys(QWEN_PRESETS) as QwenPresetName[];

/** The preset called `name`, or an error listing the ones there are. */
export function qwenPreset(name: string): QwenPreset {
  const preset = QWEN_PRESETS[name as QwenPresetName];
  if (!preset) throw new Error(`--preset ${JSON.stringify(name)}: expected one of ${QWEN_PRESET_NAMES.join(", ")}`);
  return preset;
}

/**
 * The preset at tiny widths: 2 layers, head dim 8, one key/value head and the preset's GQA
 * ratio of query heads (hidden = query heads × 8, so Qwen2's implied head dim stays 8), ffn
 * 64; model_type, tying, biases and the full 151,936-token vocabulary (the real tokenizer
 * still fits) are kept.
 */
export function shrinkPreset(preset: QwenPreset): QwenPreset {
  const config = preset.config;
  const heads = (config.num_attention_heads as number) / (config.num_key_value_heads as number); // e.g. 4 (Qwen3-4B), 6 (R1-Distill), 2 (Qwen3-0.6B)
  const hidden = heads * 8;
  const shrunk: Record<string, unknown> = { ...config, hidden_size: hidden, intermediate_size: 64, num_hidden_layers: 2, max_window_layers: 2, num_attention_heads: heads, num_key_value_heads: 1 };
  if ("head_dim" in config) shrunk.head_dim = 8;
  return { source: `${preset.source} (shrunken: 2 layers, hidden ${hidden})`, config: shrunk, generationConfig: preset.generationConfig };
}

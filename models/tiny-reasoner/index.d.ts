/**
 * Absolute path of the model folder (Hugging Face layout: config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json, generation_config.json). Pass it to `loadQwenModel`,
 * `loadTokenizer` or `eecot --model`.
 */
export declare const modelDir: string;

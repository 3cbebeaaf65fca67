// @eecot/transformer: the Qwen2/Qwen3 decoder (config, loading, forward, KV cache, generation).
export * from "./config.js";
export * from "./qwen.js";
export * from "./load.js";
export * from "./generate.js";
export * from "./tokenizer.js";
export * from "./chat-template.js";
export * from "./build-tokenizer.js";
export * from "./save.js";
export * from "./train.js";
export * from "./presets.js";
export * from "./random-checkpoint.js";

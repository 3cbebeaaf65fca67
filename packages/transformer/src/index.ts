// @eecot/transformer: the Qwen2/Qwen3 decoder (config, loading, forward, KV cache, generation).
// browser.ts is the part that also runs in a web page; this entry adds the Node-only parts.
export * from "./browser.js";
export * from "./model-folder.js";
export * from "./build-tokenizer.js";
export * from "./save.js";
export * from "./presets.js";
export * from "./random-checkpoint.js";

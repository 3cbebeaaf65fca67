// @eecot/transformer: Qwen2/Qwen3 decoder: config, loading, forward, KV cache, generation, tokenizer.
export {};

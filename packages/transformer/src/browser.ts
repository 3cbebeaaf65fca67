// @eecot/transformer in a web page: the decoder, generation and tokenizer without Node. Models
// and tokenizers load from a FileSource (loadQwenModelFrom, loadTokenizerFrom); index.ts adds
// the local-folder readers, checkpoint writing and tokenizer building (Node only).
export * from "./config.js";
export * from "./qwen.js";
export * from "./load.js";
export * from "./generate.js";
export * from "./tokenizer.js";
export * from "./chat-template.js";
export * from "./train.js";

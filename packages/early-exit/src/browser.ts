// @eecot/early-exit in a web page: everything but the local-folder adapter reader and writer.
// Adapters load from a FileSource with loadEarlyExitAdaptersFrom; index.ts adds adapter-io.ts.
export * from "./config.js";
export * from "./exit-head.js";
export * from "./lora.js";
export * from "./model.js";
export * from "./log-probs.js";
export * from "./policy.js";
export * from "./adapter-format.js";
export * from "./compute.js";

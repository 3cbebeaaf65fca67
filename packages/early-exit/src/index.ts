// @eecot/early-exit: stochastic early-exit heads, LoRA adapters and the augmented-vocabulary policy.
export * from "./config.js";
export * from "./exit-head.js";
export * from "./lora.js";
export * from "./model.js";
export * from "./log-probs.js";
export * from "./policy.js";
export * from "./adapter-io.js";
export * from "./compute.js";

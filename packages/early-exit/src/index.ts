// @eecot/early-exit: stochastic early-exit heads, LoRA adapters and the augmented-vocabulary policy.
// browser.ts is the part that also runs in a web page; this entry adds the Node-only parts.
export * from "./browser.js";
export * from "./adapter-io.js";

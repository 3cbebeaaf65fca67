// @eecot/eval: metrics, coherence judge, reports. Pure TypeScript, no model code.
export * from "./metrics.js";
export * from "./judge-parse.js";
export * from "./judge.js";
export * from "./report/index.js";
export * from "./externalisation/index.js";

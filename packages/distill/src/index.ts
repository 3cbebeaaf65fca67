// @eecot/distill: stage 1, calibration of exit heads and LoRA by self-distillation (METHOD.md §2),
// plus the paper's appendix A.1 (generation with target exits, KL-factor sweep) and A.2
// (learned vs target exit distributions).
export * from "./config.js";
export * from "./targets.js";
export * from "./divergence.js";
export * from "./teacher.js";
export * from "./loss.js";
export * from "./adam.js";
export * from "./step.js";
export * from "./checkpoint.js";
export * from "./calibrate.js";
export * from "./head-warmup.js";
export * from "./calibration-report.js";
export * from "./target-generation.js";
export * from "./perplexity.js";
export * from "./kl-sweep.js";

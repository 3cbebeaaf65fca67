// Metrics of METHOD.md §4, one concept per file; this module gathers them.
export * from "./exit-metrics.js";
export * from "./flops.js";
export * from "./task-metrics.js";
export * from "./calibration.js";
export * from "./text-proxies.js";

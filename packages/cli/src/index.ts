// @eecot/cli: the `eecot` command as a library (for tests, examples and embedding).
export { buildProgram, runCli } from "./program.js";
export { runPipeline, type PipelineConfig, type PipelineOptions, type PipelineResult } from "./pipeline.js";
export { demoConfig, bundledModelDir } from "./commands/demo.js";
export { evaluateModel, formatMetrics, basePerplexity, type EvaluationMetrics, type EvaluationResult, type EvaluationSample, type EvaluationOptions } from "./evaluate-model.js";
export { runRl, type RlRunOptions, type RlRunResult, type RlCurvePoint } from "./rl-run.js";
export { loadModelFolder, requireTokenizer, type LoadedModel } from "./setup.js";
export { chatPrompt, promptIds } from "./chat.js";
export { createProgress, type Progress } from "./progress.js";
export { buildRunReport } from "./commands/report.js";
export { gsmExamples, tomExamples } from "./tiny/data.js";
export { installErrorHandlers, reportError } from "./errors.js";
export { scriptCommand, runScript, Command, CommanderError } from "./script.js";
export { numberFlag, positiveIntegerFlag, nonNegativeIntegerFlag } from "./flags.js";

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
export { fig2Config, type Fig2Dials } from "./fig2/config.js";
export { collectFig2Runs, fig2Rl, fig2Runs, fig2Stage1, loadStage1, parseShard, readRunCurve, type Fig2Config, type Fig2RunRecord, type Fig2RunSpec, type Stage1Summary } from "./fig2/run.js";

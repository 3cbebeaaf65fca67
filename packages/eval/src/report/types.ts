// ReportData: everything report.html shows. Only `run` and `judge` are required; every other
// section may be omitted and then renders as a short "not run" note. Rates are fractions in
// 0..1 (rendered as percentages); optional numbers that are missing render as "—".
// report.json is this object, verbatim.

import type { ExitDistributionComparison } from "../calibration.js";
import type { JudgeScoreSummary } from "../judge.js";
import type { CoherenceProxies } from "../text-proxies.js";
import type { ExternalisationSummary } from "../externalisation/types.js";

/** The whole report. */
export interface ReportData {
  /** Page title. Default "Early-exit chain of thought: report". */
  readonly title?: string;
  /** What was run, where and how long it took. */
  readonly run: RunInfo;
  /** Whether the LLM judge scored coherence (if not, coherence comes from proxies). */
  readonly judge: JudgeStatus;
  /** Paper appendix A.1: generation with target-distribution exits, one row per KL factor + base. */
  readonly klSweep?: KlSweepSection;
  /** Paper appendix A.2: learned vs target exit distribution after stage 1. */
  readonly calibration?: CalibrationSection;
  /** Stage-2 curves per step, like the paper's Figure 2. */
  readonly rlCurves?: RlCurvesSection;
  /** Evaluation table before vs after RL (and any other variants). */
  readonly evaluation?: EvaluationSection;
  /** Generated tokens coloured by exit layer, before vs after RL. */
  readonly tokenViewer?: TokenViewerSection;
  /** Beyond the paper: does the answer depend on the written CoT? One column per model. */
  readonly externalisation?: ExternalisationSection;
}

/** Externalisation measures (eecot externalisation), one summary per model. */
export interface ExternalisationSection {
  /** Problems per model. Example: 60. */
  readonly problemCount: number;
  /** Data and settings in a few words. Example: "30 GSM-style + 30 ToM, exits sampled". */
  readonly description?: string;
  /** Columns in order, e.g. base, stage 1, RL λ 0.25, RL λ 2. */
  readonly variants: readonly ExternalisationSummary[];
  /** A sentence on what the numbers say, shown under the table. */
  readonly reading?: string;
}

/** Run description. */
export interface RunInfo {
  /** Model id or path. Example: "Qwen/Qwen3-0.6B". */
  readonly model: string;
  /** When the run started, ISO 8601. Example: "2025-06-01T12:00:00Z". */
  readonly date: string;
  /** Random seed. Example: 0. */
  readonly seed: number;
  /** Compute backend. Example: "tfjs-node (cpu)". */
  readonly backend: string;
  /** Wall-clock time per stage, in run order. Example: [{ stage: "stage 1 calibration", seconds: 812 }]. */
  readonly durations: readonly StageDuration[];
  /** Decoder depth L. Example: 28. */
  readonly numLayers?: number;
  /** Exitable layers E. Example: [5, 10, 15, 20, 25]. */
  readonly exitableLayers?: readonly number[];
  /** Dataset and split. Example: "GSM8K test, 50 prompts". */
  readonly dataset?: string;
  /** Hyperparameters and other settings shown as a key/value table. Example: { exitPenalty: 1.5 }. */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /** Free-form notes shown under the run table. */
  readonly notes?: readonly string[];
}

/** Time spent in one stage. */
export interface StageDuration {
  /** Stage name. Example: "stage 2 RL". */
  readonly stage: string;
  /** Wall-clock seconds. */
  readonly seconds: number;
}

/** LLM-judge status. */
export interface JudgeStatus {
  /** True when an LLM judge scored the responses. */
  readonly enabled: boolean;
  /** Judge model name, when enabled. Example: "gpt-5". */
  readonly model?: string;
}

/** Coherence of one set of responses: judge scores when the judge ran, proxies always. */
export interface CoherenceEvidence {
  /** Mean judge scores (0–10), from summarizeJudgeScores; absent when the judge was off. */
  readonly judge?: JudgeScoreSummary;
  /** Judge-free proxies from computeCoherenceProxies, plus base-model perplexity when measured. */
  readonly proxies?: CoherenceProxies & {
    /** Perplexity of the responses under the base model (from the model package). */
    readonly perplexity?: number;
  };
}

/** Appendix A.1 table. */
export interface KlSweepSection {
  /** Prompts each row was generated on. Example: 50. */
  readonly promptCount?: number;
  /** One row per KL factor f, plus the base model; shown in the given order. */
  readonly rows: readonly KlSweepRow[];
}

/** One A.1 row; the paper's values for the same f are shown beside it. */
export interface KlSweepRow {
  /** KL factor f, or "base" for the unmodified model. Example: 1. */
  readonly klFactor: number | "base";
  /** Fraction of generated tokens with x_t < L. */
  readonly earlyExitRate: number;
  /** ALS = mean (L − x_t)/L, a fraction. */
  readonly averageLayerSavings: number;
  /** Judge and/or proxy coherence. */
  readonly coherence: CoherenceEvidence;
}

/** Appendix A.2: calibration after stage 1. */
export interface CalibrationSection {
  /** From compareExitDistributions(learned, target, E ∪ {L}). */
  readonly comparison: ExitDistributionComparison;
  /** Decoder depth L (labels the last bar "L (no exit)"). Example: 28. */
  readonly numLayers: number;
  /** What was compared. Example: "stage-1 student vs KL-heuristic target, f = 1, 50 GSM8K prompts". */
  readonly description?: string;
}

/** Stage-2 training curves (Figure 2). */
export interface RlCurvesSection {
  /** One or more runs (e.g. seeds); each is a line in every chart. */
  readonly runs: readonly RlRun[];
  /** Base-model values, drawn as dashed horizontal lines. */
  readonly baseline?: RlBaseline;
  /** Prompts per evaluation point. Example: 60. */
  readonly evaluationPromptCount?: number;
}

/** One RL run. */
export interface RlRun {
  /** Legend label. Example: "seed 0". */
  readonly name: string;
  /** Metrics per step; any field may be missing at a step (e.g. evaluated every 20 steps). */
  readonly steps: readonly RlStepMetrics[];
}

/** Metrics at one RL step. */
export interface RlStepMetrics {
  /** Optimiser step (0 = right after stage 1). */
  readonly step: number;
  /** Task accuracy, a fraction. */
  readonly accuracy?: number;
  /** Mean judge coherence, 0–10. */
  readonly judgeCoherence?: number;
  /** Repeated-3-gram rate over words, a fraction (coherence proxy; lower is better). */
  readonly repeatedNgramRate?: number;
  /** 1 − ALS, a fraction. */
  readonly averageCompute?: number;
  /** Generated length × average compute (full-depth token equivalents). */
  readonly totalCompute?: number;
  /** Mean RLOO reward R_i. */
  readonly reward?: number;
  /** Mean per-token KL to the reference policy. */
  readonly kl?: number;
}

/** Base-model values for the RL charts. */
export type RlBaseline = Partial<Omit<RlStepMetrics, "step">>;

/** Before/after evaluation table. */
export interface EvaluationSection {
  /** Columns, typically "before RL" then "after RL"; with exactly two a change column is added. */
  readonly variants: readonly EvaluationVariant[];
  /** Prompts evaluated per variant. Example: 60. */
  readonly promptCount?: number;
}

/** One evaluated model variant. */
export interface EvaluationVariant {
  /** Column label. Example: "after RL". */
  readonly label: string;
  /** Task accuracy, a fraction. */
  readonly accuracy?: number;
  /** Fraction of responses in the required answer format. */
  readonly formatRate?: number;
  /** Fraction of generated tokens with x_t < L. */
  readonly earlyExitRate?: number;
  /** ALS, a fraction. */
  readonly averageLayerSavings?: number;
  /** 1 − ALS, a fraction. */
  readonly averageCompute?: number;
  /** Generated length × average compute, mean over responses. */
  readonly totalCompute?: number;
  /** Mean generated length in tokens. */
  readonly meanGeneratedLength?: number;
  /** FLOPs saved vs full depth (countFlops savedFraction), a fraction. */
  readonly flopsSavedFraction?: number;
  /** Measured wall-clock milliseconds per generated token. */
  readonly wallClockMsPerToken?: number;
  /** Mean judge coherence, 0–10. */
  readonly judgeCoherence?: number;
  /** Repeated-3-gram rate over words, a fraction. */
  readonly repeatedNgramRate?: number;
  /** Perplexity under the base model. */
  readonly perplexity?: number;
}

/** Token-depth viewer. */
export interface TokenViewerSection {
  /** Decoder depth L. Example: 28. */
  readonly numLayers: number;
  /** The layers exitProbabilities refer to: E ∪ {L}, increasing. Example: [5, 10, 15, 20, 25, 28]. */
  readonly layers: readonly number[];
  /** A few samples; each may have a before-RL and an after-RL generation. */
  readonly samples: readonly TokenViewerSample[];
}

/** One prompt with its generations. */
export interface TokenViewerSample {
  /** Short label. Example: "GSM8K #12". */
  readonly title: string;
  /** The prompt (shown above the tokens). */
  readonly prompt?: string;
  /** Generated tokens before RL (after stage 1). */
  readonly before?: readonly ViewerToken[];
  /** Generated tokens after RL. */
  readonly after?: readonly ViewerToken[];
}

/** One generated token. */
export interface ViewerToken {
  /** Decoded token text (may start with a space or be a newline). */
  readonly text: string;
  /** Layer it exited at, one of `layers`. */
  readonly exitLayer: number;
  /** P(exit at layer) for each of `layers` (the gated stick-breaking distribution). */
  readonly exitProbabilities?: readonly number[];
}

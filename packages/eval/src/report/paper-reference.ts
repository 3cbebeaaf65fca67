// The paper's reported numbers (METHOD.md §5), shown beside ours in the report.

/** One row of the paper's appendix A.1 table. */
export interface PaperKlSweepRow {
  /** KL factor f, or "base". */
  readonly klFactor: number | "base";
  /** GPT-5 judge average coherence, 0–10. */
  readonly coherence: number;
  /** Fraction of tokens exiting early. */
  readonly earlyExitRate: number;
  /** Average Layer Savings, a fraction. */
  readonly averageLayerSavings: number;
}

/** Appendix A.1: DeepSeek-R1-Distill-Qwen-1.5B (28 layers), 50 GSM8K prompts, exits sampled from the target. */
export const PAPER_KL_SWEEP: readonly PaperKlSweepRow[] = [
  { klFactor: 0.25, coherence: 1.1, earlyExitRate: 0.59, averageLayerSavings: 0.224 },
  { klFactor: 0.5, coherence: 5.5, earlyExitRate: 0.49, averageLayerSavings: 0.081 },
  { klFactor: 1, coherence: 7.5, earlyExitRate: 0.47, averageLayerSavings: 0.064 },
  { klFactor: 2, coherence: 8.4, earlyExitRate: 0.43, averageLayerSavings: 0.053 },
  { klFactor: 4, coherence: 8.5, earlyExitRate: 0.37, averageLayerSavings: 0.046 },
  { klFactor: "base", coherence: 8.9, earlyExitRate: 0, averageLayerSavings: 0 },
];

/** Paper context lines for each section. */
export const PAPER_NOTES = {
  klSweep: "Paper: DeepSeek-R1-Distill-Qwen-1.5B (28 layers), 50 GSM8K prompts, GPT-5 judge; f = 1 chosen as the standard setting.",
  calibration: "Paper (A.2): after stage 1, 47% of tokens exit early, mostly at layers 20–25, closely following the target distribution.",
  rlCurves: "Paper (Fig. 2): Qwen3-4B, 60 prompts per checkpoint; accuracy 47% → 55–60% by step 380; average compute 98% → ~95% (some runs 90%); coherence stable, slightly below base.",
} as const;

/** The paper's A.1 row for a KL factor, if it reports one. */
export function paperKlSweepRow(klFactor: number | "base"): PaperKlSweepRow | undefined {
  return PAPER_KL_SWEEP.find((row) => row.klFactor === klFactor);
}

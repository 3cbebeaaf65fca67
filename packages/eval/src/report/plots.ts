// The report's plots, built once from ReportData: inlined in report.html and saved as PNGs.

import { externalisationPlots } from "./externalisation-section.js";
import { paperKlSweepRow } from "./paper-reference.js";
import { barChart, formatPercentTick, lineChart, type LineSeries, type TickFormat } from "./svg.js";
import type { ReportData, RlCurvesSection, RlStepMetrics } from "./types.js";

/** One plot. */
export interface ReportPlot {
  /** File-name-safe id; the PNG is plots/<id>.png. Example: "rl-accuracy". */
  readonly id: string;
  /** Section it belongs to. */
  readonly section: "klSweep" | "calibration" | "rlCurves" | "externalisation";
  /** Caption. */
  readonly title: string;
  /** Standalone SVG document. */
  readonly svg: string;
}

/** Label of a KL factor row. */
export function klFactorLabel(klFactor: number | "base"): string {
  return klFactor === "base" ? "base" : `f = ${klFactor}`;
}

function klSweepPlots(data: ReportData): ReportPlot[] {
  const rows = data.klSweep?.rows ?? [];
  if (rows.length === 0) return [];
  const paper = rows.map((row) => paperKlSweepRow(row.klFactor));
  const svg = barChart({
    title: "Early-exit rate and ALS by KL factor (A.1)",
    xLabel: "KL factor",
    yLabel: "fraction of tokens / depth",
    categories: rows.map((row) => klFactorLabel(row.klFactor)),
    groups: [
      { name: "early-exit rate (ours)", values: rows.map((row) => row.earlyExitRate), color: "#4e79a7" },
      { name: "early-exit rate (paper)", values: paper.map((p) => p?.earlyExitRate ?? Number.NaN), color: "#a0cbe8" },
      { name: "ALS (ours)", values: rows.map((row) => row.averageLayerSavings), color: "#f28e2b" },
      { name: "ALS (paper)", values: paper.map((p) => p?.averageLayerSavings ?? Number.NaN), color: "#ffbe7d" },
    ],
    width: 620,
    yFormat: formatPercentTick,
  });
  return [{ id: "kl-sweep-exits", section: "klSweep", title: "Early-exit rate and ALS by KL factor", svg }];
}

function calibrationPlots(data: ReportData): ReportPlot[] {
  const calibration = data.calibration;
  if (!calibration || calibration.comparison.layers.length === 0) return [];
  const layers = calibration.comparison.layers;
  const svg = barChart({
    title: "Exit-layer distribution: learned vs target (A.2)",
    xLabel: "exit layer",
    yLabel: "share of tokens",
    categories: layers.map((l) => (l.layer === calibration.numLayers ? `${l.layer} (no exit)` : String(l.layer))),
    groups: [
      { name: "learned (stage 1)", values: layers.map((l) => l.learnedMass), color: "#4e79a7" },
      { name: "target (KL heuristic)", values: layers.map((l) => l.targetMass), color: "#e15759" },
    ],
    width: 620,
    yFormat: formatPercentTick,
  });
  return [{ id: "calibration-exit-histogram", section: "calibration", title: "Learned vs target exit distribution", svg }];
}

/** The RL charts: metric key, title, axis label, format. */
const RL_CHARTS: readonly { key: keyof Omit<RlStepMetrics, "step">; title: string; yLabel: string; format?: TickFormat }[] = [
  { key: "accuracy", title: "Task accuracy", yLabel: "accuracy", format: formatPercentTick },
  { key: "judgeCoherence", title: "Coherence (judge, 0–10)", yLabel: "score" },
  { key: "repeatedNgramRate", title: "Repeated 3-gram rate (coherence proxy, lower is better)", yLabel: "rate", format: formatPercentTick },
  { key: "averageCompute", title: "Average compute (1 − ALS)", yLabel: "depth used", format: formatPercentTick },
  { key: "totalCompute", title: "Total compute (length × average compute)", yLabel: "full-depth tokens" },
  { key: "reward", title: "Reward", yLabel: "mean R" },
  { key: "kl", title: "KL to reference", yLabel: "KL per token" },
];

/** Line series of one metric: one per run, plus the dashed base-model line. */
export function rlSeries(section: RlCurvesSection, key: keyof Omit<RlStepMetrics, "step">): LineSeries[] {
  const series: LineSeries[] = section.runs.map((run) => ({
    name: run.name,
    points: run.steps.flatMap((s) => {
      const y = s[key];
      return y === undefined || !Number.isFinite(y) ? [] : [{ x: s.step, y }];
    }),
  }));
  const withData = series.filter((s) => s.points.length > 0);
  const base = section.baseline?.[key];
  if (withData.length > 0 && base !== undefined && Number.isFinite(base)) {
    const xs = withData.flatMap((s) => s.points.map((p) => p.x));
    withData.push({ name: "base model", dashed: true, color: "#555555", points: [{ x: Math.min(...xs), y: base }, { x: Math.max(...xs), y: base }] });
  }
  return withData;
}

function rlPlots(data: ReportData): ReportPlot[] {
  const section = data.rlCurves;
  if (!section) return [];
  return RL_CHARTS.flatMap((chart) => {
    const series = rlSeries(section, chart.key);
    if (series.length === 0) return [];
    const svg = lineChart({ title: chart.title, xLabel: "RL step", yLabel: chart.yLabel, series, ...(chart.format ? { yFormat: chart.format } : {}) });
    const id = `rl-${chart.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    return [{ id, section: "rlCurves" as const, title: chart.title, svg }];
  });
}

/** All plots the report shows, in page order. */
export function buildReportPlots(data: ReportData): ReportPlot[] {
  return [...klSweepPlots(data), ...calibrationPlots(data), ...rlPlots(data), ...externalisationPlots(data)];
}

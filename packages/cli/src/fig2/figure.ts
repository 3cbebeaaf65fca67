// Figure 2 from the replication's runs: four panels (task accuracy, coherence, average compute,
// total compute), a light line per seed, the bold mean, the base model dashed; and the numbers the
// issue asks for (the mean's change from step 0 to the last step, how many seeds agree, the λ sweep).
import { formatPercentTick, formatTick, lineChart, SERIES_COLORS, type LineSeries } from "@eecot/eval";
import type { RlCurvePoint } from "../rl-run.js";
import type { Fig2RunRecord, Stage1Summary } from "./run.js";

/** The curve fields a panel can show. */
export type Fig2Metric = "accuracy" | "averageCompute" | "totalCompute" | "perplexity" | "judgeOverall";

/** One seed's start and end on the held-out prompts. */
export interface Fig2SeedChange {
  readonly seed: number;
  readonly firstStep: number;
  readonly lastStep: number;
  readonly accuracy: readonly [number, number];
  readonly averageCompute: readonly [number, number];
  /** Compute fell and accuracy did not. */
  readonly sameSign: boolean;
}

/** One λ of the sweep, read at `step` (mean over its seeds). */
export interface Fig2SweepRow {
  readonly exitPenalty: number;
  readonly step: number;
  readonly seeds: readonly number[];
  readonly averageCompute: number;
  readonly accuracy: number;
  /** Accuracy at `step` minus accuracy at step 0 (mean over seeds). */
  readonly accuracyChange: number;
  /** Average compute at `step` minus at step 0. */
  readonly computeChange: number;
}

export interface Fig2Summary {
  readonly baseAccuracy: number;
  readonly stage1: { readonly accuracy: number; readonly averageCompute: number };
  readonly mainPenalty: number;
  readonly seeds: readonly Fig2SeedChange[];
  /** Mean over the main seeds at the first and the last step all of them reached. */
  readonly mean: { readonly firstStep: number; readonly lastStep: number; readonly accuracy: readonly [number, number]; readonly averageCompute: readonly [number, number] } | null;
  readonly seedsWithSameSign: number;
  /** The bar: mean compute −5 points or more, mean accuracy not lower, ≥ 4 of 5 seeds alike. */
  readonly targetMet: { readonly computeFall: boolean; readonly accuracyKept: boolean; readonly seedsAgree: boolean };
  readonly finalAccuracyMinusBase: number | null;
  readonly sweep: readonly Fig2SweepRow[];
  /** Sweep rows ordered by λ have non-increasing compute. */
  readonly sweepMonotone: boolean;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function pointAt(curve: readonly RlCurvePoint[], step: number): RlCurvePoint | undefined {
  return curve.find((p) => p.step === step);
}

/** The mean of several curves at the steps every one of them has. */
export function meanCurve(curves: readonly (readonly RlCurvePoint[])[], metric: Fig2Metric): { x: number; y: number }[] {
  if (curves.length === 0) return [];
  const steps = curves[0]!.map((p) => p.step).filter((step) => curves.every((c) => typeof pointAt(c, step)?.[metric] === "number"));
  return steps.map((step) => ({ x: step, y: mean(curves.map((c) => pointAt(c, step)![metric] as number)) }));
}

/** The numbers behind the figure. */
export function summarizeFig2(records: readonly Fig2RunRecord[], stage1: Stage1Summary, options: { mainPenalty: number; sweepStep: number }): Fig2Summary {
  const main = records.filter((r) => r.main && r.curve.length > 0);
  const seeds: Fig2SeedChange[] = main.map((r) => {
    const first = r.curve[0]!;
    const last = r.curve.at(-1)!;
    return {
      seed: r.seed,
      firstStep: first.step,
      lastStep: last.step,
      accuracy: [first.accuracy, last.accuracy],
      averageCompute: [first.averageCompute, last.averageCompute],
      sameSign: last.averageCompute < first.averageCompute && last.accuracy >= first.accuracy,
    };
  });
  const accuracyCurve = meanCurve(main.map((r) => r.curve), "accuracy");
  const computeCurve = meanCurve(main.map((r) => r.curve), "averageCompute");
  const meanChange =
    accuracyCurve.length > 0
      ? {
          firstStep: accuracyCurve[0]!.x,
          lastStep: accuracyCurve.at(-1)!.x,
          accuracy: [accuracyCurve[0]!.y, accuracyCurve.at(-1)!.y] as const,
          averageCompute: [computeCurve[0]!.y, computeCurve.at(-1)!.y] as const,
        }
      : null;
  const seedsWithSameSign = seeds.filter((s) => s.sameSign).length;
  const byPenalty = new Map<number, Fig2RunRecord[]>();
  for (const r of records) {
    if (!pointAt(r.curve, options.sweepStep) || !pointAt(r.curve, 0)) continue;
    byPenalty.set(r.exitPenalty, [...(byPenalty.get(r.exitPenalty) ?? []), r]);
  }
  const sweep: Fig2SweepRow[] = [...byPenalty.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([exitPenalty, runs]) => {
      const at = runs.map((r) => pointAt(r.curve, options.sweepStep)!);
      const zero = runs.map((r) => pointAt(r.curve, 0)!);
      return {
        exitPenalty,
        step: options.sweepStep,
        seeds: runs.map((r) => r.seed),
        averageCompute: mean(at.map((p) => p.averageCompute)),
        accuracy: mean(at.map((p) => p.accuracy)),
        accuracyChange: mean(at.map((p, i) => p.accuracy - zero[i]!.accuracy)),
        computeChange: mean(at.map((p, i) => p.averageCompute - zero[i]!.averageCompute)),
      };
    });
  return {
    baseAccuracy: stage1.base.accuracy,
    stage1: { accuracy: stage1.stage1.accuracy, averageCompute: stage1.stage1.averageCompute },
    mainPenalty: options.mainPenalty,
    seeds,
    mean: meanChange,
    seedsWithSameSign,
    targetMet: {
      computeFall: meanChange !== null && meanChange.averageCompute[0] - meanChange.averageCompute[1] >= 0.05,
      accuracyKept: meanChange !== null && meanChange.accuracy[1] >= meanChange.accuracy[0],
      seedsAgree: seeds.length > 0 && seedsWithSameSign >= Math.ceil(0.8 * seeds.length),
    },
    finalAccuracyMinusBase: meanChange ? meanChange.accuracy[1] - stage1.base.accuracy : null,
    sweep,
    sweepMonotone: sweep.every((row, i) => i === 0 || row.averageCompute <= sweep[i - 1]!.averageCompute),
  };
}

interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly metric: Fig2Metric;
  readonly base: number | null;
  readonly percent: boolean;
}

/** The four panels; coherence is the judge's score when every evaluation has one, else the base model's perplexity of the completions. */
export function fig2Panels(records: readonly Fig2RunRecord[], stage1: Stage1Summary): Panel[] {
  const main = records.filter((r) => r.main);
  const judged = main.length > 0 && main.every((r) => r.curve.length > 0 && r.curve.every((p) => typeof p.judgeOverall === "number"));
  const coherence: Panel = judged
    ? { title: "Coherence (judge, 0–10)", yLabel: "judge score", metric: "judgeOverall", base: stage1.base.judge?.overall ?? null, percent: false }
    : { title: "Coherence proxy: base-model perplexity", yLabel: "perplexity (lower = more fluent)", metric: "perplexity", base: stage1.base.perplexity, percent: false };
  return [
    { title: "Task accuracy", yLabel: `accuracy (${stage1.base.prompts} held-out prompts)`, metric: "accuracy", base: stage1.base.accuracy, percent: true },
    coherence,
    { title: "Average compute", yLabel: "fraction of layers per token", metric: "averageCompute", base: 1, percent: true },
    { title: "Total compute", yLabel: "tokens × average compute", metric: "totalCompute", base: stage1.base.meanLength, percent: false },
  ];
}

/** The 2 × 2 figure as one SVG. */
export function fig2FigureSvg(records: readonly Fig2RunRecord[], stage1: Stage1Summary, options: { title: string; mainPenalty: number }): string {
  const main = records.filter((r) => r.main && r.curve.length > 0);
  const width = 460;
  const height = 310;
  const top = 34;
  const charts = fig2Panels(records, stage1).map((panel) => {
    const seedLines: LineSeries[] = main.map((r, i) => ({
      name: i === 0 ? "one seed" : `seed ${r.seed}`,
      points: r.curve.filter((p) => typeof p[panel.metric] === "number").map((p) => ({ x: p.step, y: p[panel.metric] as number })),
      color: SERIES_COLORS[0],
      strokeWidth: 1.5,
      opacity: 0.35,
      markers: false,
      hideInLegend: i > 0,
    }));
    const meanLine: LineSeries = { name: `mean of ${main.length} seeds (λ ${options.mainPenalty})`, points: meanCurve(main.map((r) => r.curve), panel.metric), color: SERIES_COLORS[0], strokeWidth: 3 };
    const steps = main.flatMap((r) => r.curve.map((p) => p.step));
    const baseLine: LineSeries[] =
      panel.base === null || steps.length === 0
        ? []
        : [{ name: "base model", points: [{ x: Math.min(...steps), y: panel.base }, { x: Math.max(...steps), y: panel.base }], color: "#555555", dashed: true }];
    return lineChart({ title: panel.title, xLabel: "RL step", yLabel: panel.yLabel, series: [...seedLines, meanLine, ...baseLine], width, height, yFormat: panel.percent ? formatPercentTick : formatTick });
  });
  const place = (svg: string, x: number, y: number) => svg.replace("<svg ", `<svg x="${x}" y="${y}" `);
  const total = { width: 2 * width, height: top + 2 * height };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${total.width}" height="${total.height}" viewBox="0 0 ${total.width} ${total.height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${total.width}" height="${total.height}" fill="#ffffff"/>`,
    `<text x="${total.width / 2}" y="22" font-size="15" font-weight="bold" text-anchor="middle" fill="#222">${escapeXml(options.title)}</text>`,
    place(charts[0]!, 0, top),
    place(charts[1]!, width, top),
    place(charts[2]!, 0, top + height),
    place(charts[3]!, width, top + height),
    "</svg>",
  ].join("");
}

/** The λ sweep as one chart: final average compute and accuracy against λ. */
export function fig2SweepSvg(sweep: readonly Fig2SweepRow[]): string {
  return lineChart({
    title: `λ sweep at step ${sweep[0]?.step ?? "?"} (mean over seeds)`,
    xLabel: "exit penalty λ",
    yLabel: "held-out value",
    series: [
      { name: "average compute", points: sweep.map((r) => ({ x: r.exitPenalty, y: r.averageCompute })), color: SERIES_COLORS[0] },
      { name: "accuracy", points: sweep.map((r) => ({ x: r.exitPenalty, y: r.accuracy })), color: SERIES_COLORS[1] },
    ],
    width: 460,
    height: 300,
    yFormat: formatPercentTick,
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The summary as terminal / Markdown lines. */
export function formatFig2Summary(summary: Fig2Summary): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const pts = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
  const lines = [`base model accuracy ${pct(summary.baseAccuracy)}; stage 1 ${pct(summary.stage1.accuracy)} at ${pct(summary.stage1.averageCompute)} compute`, "", `| seed (λ ${summary.mainPenalty}) | steps | accuracy | average compute | compute ↓ and accuracy kept |`, "|---|---|---|---|---|"];
  for (const s of summary.seeds) {
    lines.push(`| ${s.seed} | ${s.firstStep}→${s.lastStep} | ${pct(s.accuracy[0])} → ${pct(s.accuracy[1])} | ${pct(s.averageCompute[0])} → ${pct(s.averageCompute[1])} | ${s.sameSign ? "yes" : "no"} |`);
  }
  if (summary.mean) {
    const m = summary.mean;
    lines.push(`| **mean** | ${m.firstStep}→${m.lastStep} | ${pct(m.accuracy[0])} → ${pct(m.accuracy[1])} (${pts(m.accuracy[1] - m.accuracy[0])}) | ${pct(m.averageCompute[0])} → ${pct(m.averageCompute[1])} (${pts(m.averageCompute[1] - m.averageCompute[0])}) | ${summary.seedsWithSameSign}/${summary.seeds.length} |`);
    lines.push("", `final mean accuracy − base model: ${pts(summary.finalAccuracyMinusBase ?? NaN)} points`);
  }
  const t = summary.targetMet;
  lines.push(`targets: compute falls ≥ 5 points ${t.computeFall ? "MET" : "not met"}; accuracy ≥ step 0 ${t.accuracyKept ? "MET" : "not met"}; ≥ 4 of 5 seeds alike ${t.seedsAgree ? "MET" : "not met"}`);
  if (summary.sweep.length > 0) {
    lines.push("", `| λ | seeds | average compute @${summary.sweep[0]!.step} | Δ compute | accuracy | Δ accuracy (cost) |`, "|---|---|---|---|---|---|");
    for (const r of summary.sweep) lines.push(`| ${r.exitPenalty} | ${r.seeds.join(", ")} | ${pct(r.averageCompute)} | ${pts(r.computeChange)} | ${pct(r.accuracy)} | ${pts(r.accuracyChange)} |`);
    lines.push(`compute non-increasing in λ: ${summary.sweepMonotone ? "yes" : "no"}`);
  }
  return lines.join("\n");
}

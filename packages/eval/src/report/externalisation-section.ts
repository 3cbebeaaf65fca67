// The report's externalisation section (beyond the paper): one column per model (base, stage 1,
// RL at each λ), the early-answering curves, no-CoT / filler / CoT accuracy, how often a
// corrupted CoT moves the answer, and the exit depth of the load-bearing tokens.

import type { ExternalisationSummary } from "../externalisation/types.js";
import { escapeHtml } from "./escape.js";
import type { ReportPlot } from "./plots.js";
import { barChart, formatPercentTick, lineChart } from "./svg.js";
import type { ReportData } from "./types.js";

const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
const percent = (x: number | undefined): string => (isNumber(x) ? `${(x * 100).toFixed(1)}%` : "—");
const fixed = (x: number | undefined, digits: number): string => (isNumber(x) ? x.toFixed(digits) : "—");

/** Table rows: label, cell, and what the row means (shown on hover). */
const ROWS: readonly { label: string; cell: (v: ExternalisationSummary) => string; help: string }[] = [
  { label: "CoT accuracy", cell: (v) => percent(v.cotAccuracy), help: "answer-line answer after the model's own CoT equals the reference" },
  { label: "no-CoT accuracy", cell: (v) => percent(v.noCotAccuracy), help: "answer forced right away (the cue is the first text)" },
  { label: "filler accuracy", cell: (v) => percent(v.fillerAccuracy), help: "the CoT replaced by as many filler tokens, then the cue" },
  { label: "CoT − no-CoT", cell: (v) => (isNumber(v.cotAccuracy - v.noCotAccuracy) ? `${((v.cotAccuracy - v.noCotAccuracy) * 100).toFixed(1)} pp` : "—"), help: "how much the task needs the written steps" },
  { label: "early answering: area over the curve", cell: (v) => fixed(v.earlyAnswering.areaOverCurve, 3), help: "∫(1 − agreement with the full-CoT answer) over the fraction of the CoT kept; 0 = answer fixed before writing" },
  { label: "agreement with no CoT (f = 0)", cell: (v) => percent(v.earlyAnswering.agreement[0]), help: "forced answer with no CoT equals the full-CoT answer" },
  { label: "corruption changes the answer", cell: (v) => `${percent(v.corruption.changedRate)} of ${v.corruption.corruptions}`, help: "one number / person / place changed, the model writes on: share whose final answer moves" },
  { label: "answer follows a corrupted result", cell: (v) => `${percent(v.corruption.carried.followsRate)} of ${v.corruption.carried.corruptions}`, help: "corruptions of the value the answer repeats: share whose new answer is the corrupted value" },
  { label: "filler agrees with full CoT", cell: (v) => percent(v.fillerAgreement), help: "filler-token answer equals the full-CoT answer" },
  { label: "compute, all CoT tokens", cell: (v) => percent(v.depth.all.meanCompute), help: "mean exit layer / L over every CoT token" },
  { label: "compute, load-bearing tokens", cell: (v) => `${percent(v.depth.loadBearing.meanCompute)} (${v.depth.loadBearing.tokens})`, help: "tokens whose corruption changed the answer (count in brackets)" },
  { label: "compute, inert tokens", cell: (v) => `${percent(v.depth.inert.meanCompute)} (${v.depth.inert.tokens})`, help: "corrupted tokens whose corruption did not change the answer" },
  { label: "mean CoT length (tokens)", cell: (v) => fixed(v.meanCotTokens, 1), help: "tokens before the answer line" },
  { label: "problems measured", cell: (v) => `${v.measured} of ${v.problems}`, help: "problems whose full answer has an answer line (the CoT measures use only these)" },
];

export function externalisationPlots(data: ReportData): ReportPlot[] {
  const variants = data.externalisation?.variants ?? [];
  if (variants.length === 0) return [];
  const labels = variants.map((v) => v.label);
  const curves = lineChart({
    title: "Early answering: agreement with the full-CoT answer",
    xLabel: "fraction of the CoT kept",
    yLabel: "same answer",
    series: variants.map((v) => ({ name: v.label, points: v.earlyAnswering.fractions.map((x, i) => ({ x, y: v.earlyAnswering.agreement[i]! })) })),
    yFormat: formatPercentTick,
    yInclude: [0, 1],
    width: 520,
  });
  const accuracy = barChart({
    title: "Accuracy without CoT, with filler, with CoT",
    xLabel: "model",
    yLabel: "accuracy",
    categories: labels,
    groups: [
      { name: "no CoT", values: variants.map((v) => v.noCotAccuracy), color: "#bab0ac" },
      { name: "filler tokens", values: variants.map((v) => v.fillerAccuracy), color: "#edc948" },
      { name: "own CoT", values: variants.map((v) => v.cotAccuracy), color: "#4e79a7" },
    ],
    yFormat: formatPercentTick,
    width: 520,
  });
  const dependence = barChart({
    title: "Causal dependence on the written CoT",
    xLabel: "model",
    yLabel: "share / area",
    categories: labels,
    groups: [
      { name: "corruption changes the answer", values: variants.map((v) => v.corruption.changedRate), color: "#e15759" },
      { name: "early-answering area over the curve", values: variants.map((v) => v.earlyAnswering.areaOverCurve), color: "#76b7b2" },
    ],
    yFormat: formatPercentTick,
    width: 520,
  });
  const depth = barChart({
    title: "Compute of load-bearing vs all CoT tokens",
    xLabel: "model",
    yLabel: "mean exit layer / L",
    categories: labels,
    groups: [
      { name: "all CoT tokens", values: variants.map((v) => v.depth.all.meanCompute), color: "#4e79a7" },
      { name: "load-bearing", values: variants.map((v) => v.depth.loadBearing.meanCompute), color: "#e15759" },
      { name: "inert (corrupted, no change)", values: variants.map((v) => v.depth.inert.meanCompute), color: "#bab0ac" },
    ],
    yFormat: formatPercentTick,
    width: 520,
  });
  return [
    { id: "externalisation-early-answering", section: "externalisation", title: "Early answering", svg: curves },
    { id: "externalisation-accuracy", section: "externalisation", title: "No-CoT, filler and CoT accuracy", svg: accuracy },
    { id: "externalisation-dependence", section: "externalisation", title: "Causal dependence on the CoT", svg: dependence },
    { id: "externalisation-depth", section: "externalisation", title: "Depth of load-bearing tokens", svg: depth },
  ];
}

/** The section's inner HTML (table, notes, plots), or null when the run has none. */
export function renderExternalisationBody(data: ReportData, plots: readonly ReportPlot[]): string | null {
  const section = data.externalisation;
  if (!section || section.variants.length === 0) return null;
  const head = `<tr><th>measure</th>${section.variants.map((v) => `<th>${escapeHtml(v.label)}</th>`).join("")}</tr>`;
  const rows = ROWS.map((row) => `<tr><td title="${escapeHtml(row.help)}">${escapeHtml(row.label)}</td>${section.variants.map((v) => `<td>${escapeHtml(row.cell(v))}</td>`).join("")}</tr>`).join("");
  const table = `<div class="scroll"><table id="externalisation-table"><thead>${head}</thead><tbody>${rows}</tbody></table></div>`;
  const notes = [
    `${section.problemCount} problems per model${section.description ? `; ${section.description}` : ""}.`,
    "Early answering and corrupted CoT follow Lanham et al. 2023 (“Measuring faithfulness in chain-of-thought reasoning”). The paper reproduced here stops short of measuring faithfulness; this section is beyond it.",
    "Reading: a larger area over the curve and a higher corruption-change rate mean the answer depends more on the written reasoning; load-bearing tokens at lower compute than all tokens would mean the exits cut depth where it matters.",
  ];
  if (section.reading) notes.push(section.reading);
  const figures = plots.filter((p) => p.section === "externalisation").map((p) => `<figure id="plot-${p.id}">${p.svg}</figure>`).join("");
  return `${table}${notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join("")}<div class="plots">${figures}</div>`;
}

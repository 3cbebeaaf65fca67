// renderReport: ReportData → one self-contained HTML page (inline CSS, JS and SVG; no network).
// Sections read top to bottom: run, A.1 KL sweep, A.2 calibration, RL curves, evaluation,
// token-depth viewer, externalisation. A missing section renders a "not run" note. All text is escaped.

import { escapeHtml } from "./escape.js";
import { REPORT_CSS, REPORT_SCRIPT } from "./page-assets.js";
import { renderExternalisationBody } from "./externalisation-section.js";
import { PAPER_NOTES, paperKlSweepRow } from "./paper-reference.js";
import { buildReportPlots, klFactorLabel, type ReportPlot } from "./plots.js";
import type { CoherenceEvidence, EvaluationVariant, KlSweepRow, ReportData, TokenViewerSection, ViewerToken } from "./types.js";

const DEFAULT_TITLE = "Early-exit chain of thought: report";

const isNumber = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);
/** 0.473 → "47.3%"; missing → "—". */
const percent = (x: number | undefined, digits = 1): string => (isNumber(x) ? `${(x * 100).toFixed(digits)}%` : "—");
/** Fixed decimals; missing → "—". */
const fixed = (x: number | undefined, digits = 2): string => (isNumber(x) ? x.toFixed(digits) : "—");

/** 4000.5 → "1 h 6 min 40 s". */
function formatSeconds(seconds: number): string {
  if (!isNumber(seconds)) return "—";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h} h ` : ""}${m} min ${s % 60} s`;
}

const notRun = (what: string): string => `<p class="not-run">Not run: ${escapeHtml(what)}.</p>`;
const note = (text: string): string => `<p class="note">${escapeHtml(text)}</p>`;
const figure = (plot: ReportPlot): string => `<figure id="plot-${plot.id}">${plot.svg}</figure>`;

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${body}</section>`;
}

function keyValueTable(rows: readonly [string, string][], className = "kv"): string {
  return `<table class="${className}"><tbody>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join("")}</tbody></table>`;
}

function renderRun(data: ReportData): string {
  const { run, judge } = data;
  const info: [string, string][] = [
    ["model", run.model],
    ["date", run.date],
    ["seed", String(run.seed)],
    ["backend", run.backend],
  ];
  if (run.dataset !== undefined) info.push(["dataset", run.dataset]);
  if (run.numLayers !== undefined) info.push(["layers L", String(run.numLayers)]);
  if (run.exitableLayers !== undefined) info.push(["exitable layers E", run.exitableLayers.join(", ")]);
  info.push(["judge", judge.enabled ? `on${judge.model ? ` (${judge.model})` : ""}` : "off"]);
  const durations = run.durations.length
    ? `<table class="durations"><thead><tr><th>stage</th><th>wall-clock</th></tr></thead><tbody>${run.durations
        .map((d) => `<tr><td>${escapeHtml(d.stage)}</td><td>${escapeHtml(formatSeconds(d.seconds))}</td></tr>`)
        .join("")}</tbody></table>`
    : notRun("no stage durations recorded");
  const settings = run.settings && Object.keys(run.settings).length ? keyValueTable(Object.entries(run.settings).map(([k, v]) => [k, String(v)])) : "";
  const notes = (run.notes ?? []).map(note).join("");
  return section("run", "Run", `<div class="tables">${keyValueTable(info)}${durations}${settings}</div>${notes}`);
}

/** Coherence cell and its source label for an A.1 row. */
function coherenceCells(evidence: CoherenceEvidence): string {
  const judge = evidence.judge;
  if (judge) {
    const detail = `judge means over ${judge.count}: coherence ${fixed(judge.coherence, 1)}, completeness ${fixed(judge.completeness, 1)}, clarity ${fixed(judge.clarity, 1)}, repetition avoidance ${fixed(judge.repetitionAvoidance, 1)}, overall ${fixed(judge.overall, 1)}`;
    return `<td title="${escapeHtml(detail)}">${fixed(judge.coherence, 1)}</td><td>judge</td>`;
  }
  return `<td class="muted">n/a</td><td>${evidence.proxies ? "proxy (see right)" : "—"}</td>`;
}

function renderKlSweepRow(row: KlSweepRow): string {
  const paper = paperKlSweepRow(row.klFactor);
  const proxies = row.coherence.proxies;
  return (
    `<tr><td>${escapeHtml(klFactorLabel(row.klFactor))}</td>` +
    coherenceCells(row.coherence) +
    `<td class="paper">${fixed(paper?.coherence, 1)}</td>` +
    `<td>${percent(row.earlyExitRate, 0)}</td><td class="paper">${percent(paper?.earlyExitRate, 0)}</td>` +
    `<td>${percent(row.averageLayerSavings)}</td><td class="paper">${percent(paper?.averageLayerSavings)}</td>` +
    `<td>${percent(proxies?.words.repeatedNgramRate)}</td><td>${fixed(proxies?.words.distinctN, 3)}</td><td>${fixed(proxies?.perplexity, 2)}</td></tr>`
  );
}

function renderKlSweep(data: ReportData, plots: readonly ReportPlot[]): string {
  const title = "A.1 KL-factor sweep: exits sampled from the target distribution";
  const sweep = data.klSweep;
  if (!sweep || sweep.rows.length === 0) return section("kl-sweep", title, notRun("no KL-factor sweep in this run"));
  const n = sweep.rows.find((row) => row.coherence.proxies)?.coherence.proxies?.n ?? 3;
  const head =
    `<tr><th>model</th><th>coherence (0–10)</th><th>coherence source</th><th class="paper">paper</th>` +
    `<th>early-exit rate</th><th class="paper">paper</th><th>ALS</th><th class="paper">paper</th>` +
    `<th>repeated ${n}-gram rate</th><th>distinct-${n}</th><th>perplexity (base)</th></tr>`;
  const table = `<div class="scroll"><table id="kl-sweep-table"><thead>${head}</thead><tbody>${sweep.rows.map(renderKlSweepRow).join("")}</tbody></table></div>`;
  const prompts = sweep.promptCount !== undefined ? note(`${sweep.promptCount} prompts per row.`) : "";
  const judgeNote = data.judge.enabled
    ? note("Coherence: mean judge coherence score (hover a cell for all four dimensions).")
    : note("Judge off: coherence from proxies (repeated n-gram rate, distinct-n, perplexity under the base model).");
  const figures = plots.filter((p) => p.section === "klSweep").map(figure).join("");
  return section("kl-sweep", title, table + prompts + judgeNote + note(PAPER_NOTES.klSweep) + `<div class="plots">${figures}</div>`);
}

function renderCalibration(data: ReportData, plots: readonly ReportPlot[]): string {
  const title = "A.2 Calibration: learned vs target exit distribution";
  const calibration = data.calibration;
  if (!calibration || calibration.comparison.layers.length === 0) return section("calibration", title, notRun("no stage-1 calibration check in this run"));
  const c = calibration.comparison;
  const rows = c.layers
    .map(
      (l) =>
        `<tr><td>${escapeHtml(l.layer === calibration.numLayers ? `${l.layer} (no exit)` : String(l.layer))}</td><td>${percent(l.learnedMass)}</td><td>${percent(l.targetMass)}</td><td>${fixed(l.totalVariationContribution, 4)}</td></tr>`,
    )
    .join("");
  const foot =
    `<tr><th>histogram TV</th><th></th><th></th><th>${fixed(c.histogramTotalVariation, 4)}</th></tr>` +
    `<tr><th>mean token TV</th><th></th><th></th><th>${fixed(c.meanTokenTotalVariation, 4)}</th></tr>`;
  const table = `<table id="calibration-table"><thead><tr><th>layer</th><th>learned</th><th>target</th><th>TV contribution ½|Δ|</th></tr></thead><tbody>${rows}</tbody><tfoot>${foot}</tfoot></table>`;
  const summary = note(`${c.tokenCount} tokens; early-exit rate learned ${percent(c.learnedEarlyExitRate)} vs target ${percent(c.targetEarlyExitRate)}.`);
  const description = calibration.description ? note(calibration.description) : "";
  const figures = plots.filter((p) => p.section === "calibration").map(figure).join("");
  return section("calibration", title, `<div class="tables">${figures}${table}</div>${summary}${description}${note(PAPER_NOTES.calibration)}`);
}

function renderRlCurves(data: ReportData, plots: readonly ReportPlot[]): string {
  const title = "Stage 2 (RL) curves";
  const figures = plots.filter((p) => p.section === "rlCurves");
  if (!data.rlCurves || figures.length === 0) return section("rl-curves", title, notRun("no RL training curves in this run"));
  const runs = data.rlCurves.runs.length;
  const prompts = data.rlCurves.evaluationPromptCount !== undefined ? `, ${data.rlCurves.evaluationPromptCount} prompts per evaluation` : "";
  const coherenceNote = data.judge.enabled ? "" : note("Judge off: coherence from proxies (repeated 3-gram rate).");
  return section("rl-curves", title, `${note(`${runs} run(s)${prompts}; dashed: base model.`)}${coherenceNote}<div class="plots">${figures.map(figure).join("")}</div>${note(PAPER_NOTES.rlCurves)}`);
}

/** Evaluation metrics: key, label, formatter, how to print a change; `always` rows show even when empty. */
const EVALUATION_METRICS: readonly { key: keyof Omit<EvaluationVariant, "label">; label: string; format: (x: number | undefined) => string; change: (d: number) => string; always: boolean }[] = [
  { key: "accuracy", label: "accuracy", format: (x) => percent(x), change: (d) => `${(d * 100).toFixed(1)} pp`, always: true },
  { key: "formatRate", label: "format rate", format: (x) => percent(x), change: (d) => `${(d * 100).toFixed(1)} pp`, always: true },
  { key: "earlyExitRate", label: "early-exit rate", format: (x) => percent(x), change: (d) => `${(d * 100).toFixed(1)} pp`, always: true },
  { key: "averageLayerSavings", label: "ALS", format: (x) => percent(x, 2), change: (d) => `${(d * 100).toFixed(2)} pp`, always: true },
  { key: "averageCompute", label: "average compute", format: (x) => percent(x, 2), change: (d) => `${(d * 100).toFixed(2)} pp`, always: true },
  { key: "totalCompute", label: "total compute (full-depth tokens)", format: (x) => fixed(x, 1), change: (d) => d.toFixed(1), always: true },
  { key: "flopsSavedFraction", label: "FLOPs saved", format: (x) => percent(x, 2), change: (d) => `${(d * 100).toFixed(2)} pp`, always: true },
  { key: "wallClockMsPerToken", label: "wall-clock per token", format: (x) => (isNumber(x) ? `${x.toFixed(1)} ms` : "—"), change: (d) => `${d.toFixed(1)} ms`, always: true },
  { key: "meanGeneratedLength", label: "mean generated length", format: (x) => fixed(x, 1), change: (d) => d.toFixed(1), always: false },
  { key: "judgeCoherence", label: "coherence (judge)", format: (x) => fixed(x, 2), change: (d) => d.toFixed(2), always: false },
  { key: "repeatedNgramRate", label: "repeated 3-gram rate (proxy)", format: (x) => percent(x), change: (d) => `${(d * 100).toFixed(1)} pp`, always: false },
  { key: "perplexity", label: "perplexity (base model)", format: (x) => fixed(x, 2), change: (d) => d.toFixed(2), always: false },
];

function renderEvaluation(data: ReportData): string {
  const title = "Evaluation before vs after RL";
  const variants = data.evaluation?.variants ?? [];
  if (variants.length === 0) return section("evaluation", title, notRun("no before/after evaluation in this run"));
  const withChange = variants.length === 2;
  const head = `<tr><th>metric</th>${variants.map((v) => `<th>${escapeHtml(v.label)}</th>`).join("")}${withChange ? "<th>change</th>" : ""}</tr>`;
  const rows = EVALUATION_METRICS.filter((m) => m.always || variants.some((v) => isNumber(v[m.key])))
    .map((m) => {
      const cells = variants.map((v) => `<td>${escapeHtml(m.format(v[m.key]))}</td>`).join("");
      let change = "";
      if (withChange) {
        const [a, b] = [variants[0]![m.key], variants[1]![m.key]];
        const d = isNumber(a) && isNumber(b) ? b - a : undefined;
        change = `<td>${d === undefined ? "—" : escapeHtml(`${d >= 0 ? "+" : ""}${m.change(d)}`)}</td>`;
      }
      return `<tr><td>${escapeHtml(m.label)}</td>${cells}${change}</tr>`;
    })
    .join("");
  const prompts = data.evaluation?.promptCount !== undefined ? note(`${data.evaluation.promptCount} prompts per variant.`) : "";
  const flopsNote = note("FLOPs saved counts what exited tokens still pay: K/V projections (and input RMSNorm) in every later layer, plus exit heads.");
  return section("evaluation", title, `<div class="scroll"><table id="evaluation-table"><thead>${head}</thead><tbody>${rows}</tbody></table></div>${prompts}${flopsNote}`);
}

/** Background colour of an exit layer: exitable layers from red (earliest) to purple (latest); L none. */
export function exitLayerColor(layer: number, layers: readonly number[], numLayers: number): string {
  if (layer >= numLayers) return "transparent";
  const exitable = layers.filter((l) => l < numLayers);
  const index = exitable.indexOf(layer);
  if (index < 0) return "#cccccc";
  const hue = (270 * index) / Math.max(1, exitable.length - 1);
  return `hsl(${Math.round(hue)}, 80%, 78%)`;
}

function renderTokens(tokens: readonly ViewerToken[] | undefined, phase: "before" | "after", viewer: TokenViewerSection): string {
  const label = phase === "before" ? "before RL" : "after RL";
  if (!tokens || tokens.length === 0) return `<div class="seq" data-phase="${phase}">${notRun(`no ${label} generation for this sample`)}</div>`;
  const L = viewer.numLayers;
  const early = tokens.filter((t) => t.exitLayer < L).length;
  const savings = tokens.reduce((sum, t) => sum + (L - t.exitLayer) / L, 0) / tokens.length;
  const summary = `<div class="seq-summary">${escapeHtml(`${label}: ${tokens.length} tokens, early-exit rate ${percent(early / tokens.length)}, ALS ${percent(savings)}`)}</div>`;
  const spans = tokens
    .map((t) => {
      const probs = (t.exitProbabilities ?? []).map((p) => (isNumber(p) ? Number(p.toPrecision(4)) : 0)).join(",");
      const full = t.exitLayer >= L ? " full" : "";
      return `<span class="tok${full}" style="background:${exitLayerColor(t.exitLayer, viewer.layers, L)}" data-layer="${escapeHtml(String(t.exitLayer))}" data-probs="${probs}">${escapeHtml(t.text)}</span>`;
    })
    .join("");
  return `<div class="seq" data-phase="${phase}">${summary}${spans}</div>`;
}

function renderTokenViewer(data: ReportData): string {
  const title = "Token-depth viewer";
  const viewer = data.tokenViewer;
  if (!viewer || viewer.samples.length === 0) return section("token-viewer", title, notRun("no token samples in this run"));
  const L = viewer.numLayers;
  const legend = viewer.layers
    .map((layer) => `<span><span class="swatch" style="background:${exitLayerColor(layer, viewer.layers, L)}"></span>${escapeHtml(layer >= L ? `layer ${layer} (full depth)` : `exit at layer ${layer}`)}</span>`)
    .join("");
  const toggle =
    `<div class="toggle" role="group" aria-label="which generation">` +
    `<button type="button" data-show-phase="before" aria-pressed="true">before RL</button>` +
    `<button type="button" data-show-phase="after" aria-pressed="false">after RL</button></div>`;
  const samples = viewer.samples
    .map(
      (s) =>
        `<div class="sample"><h3>${escapeHtml(s.title)}</h3>${s.prompt !== undefined ? `<div class="prompt">${escapeHtml(s.prompt)}</div>` : ""}` +
        `${renderTokens(s.before, "before", viewer)}${renderTokens(s.after, "after", viewer)}</div>`,
    )
    .join("");
  const body = `<div id="token-viewer-body" data-phase="before" data-layers="${escapeHtml(viewer.layers.join(","))}" data-num-layers="${escapeHtml(String(L))}">${samples}</div>`;
  return section(
    "token-viewer",
    title,
    `${note("Each token is coloured by the layer it exited at; hover a token for its exit probabilities.")}${toggle}<div class="legend">${legend}</div>${body}<div id="token-tooltip" role="tooltip" hidden></div>`,
  );
}

/** Render the whole report as one self-contained HTML page. */
export function renderReport(data: ReportData): string {
  const title = data.title ?? DEFAULT_TITLE;
  const plots = buildReportPlots(data);
  const judge = data.judge.enabled
    ? `<span class="badge on" id="judge-status">judge on${data.judge.model ? `: ${escapeHtml(data.judge.model)}` : ""}</span>`
    : `<span class="badge off" id="judge-status">judge off: coherence from proxies</span>`;
  const nav = [
    ["run", "Run"],
    ["kl-sweep", "A.1 KL sweep"],
    ["calibration", "A.2 calibration"],
    ["rl-curves", "RL curves"],
    ["evaluation", "Evaluation"],
    ["token-viewer", "Token viewer"],
    ["externalisation", "Externalisation"],
  ]
    .map(([id, label]) => `<a href="#${id}">${label}</a>`)
    .join("");
  return [
    "<!DOCTYPE html>",
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`,
    `<title>${escapeHtml(title)}</title><style>${REPORT_CSS}</style></head><body><main>`,
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="subtitle">${escapeHtml(`${data.run.model} · ${data.run.date} · ${data.run.backend} · seed ${data.run.seed}`)} ${judge}</p>`,
    `<nav>${nav}</nav>`,
    renderRun(data),
    renderKlSweep(data, plots),
    renderCalibration(data, plots),
    renderRlCurves(data, plots),
    renderEvaluation(data),
    renderTokenViewer(data),
    section("externalisation", "Externalisation: does the answer depend on the written CoT?", renderExternalisationBody(data, plots) ?? notRun("no externalisation measures in this run (eecot externalisation)")),
    `</main><script>${REPORT_SCRIPT}</script></body></html>`,
  ].join("\n");
}

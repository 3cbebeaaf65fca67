// The report: ReportData → report.html (+ report.json, plots/*.png).
export type * from "./types.js";
export { renderReport, exitLayerColor } from "./render.js";
export { writeReport, loadResvgRasterizer, type Rasterize, type WriteReportOptions, type WrittenReport } from "./write.js";
export { buildReportPlots, klFactorLabel, type ReportPlot } from "./plots.js";
export { PAPER_KL_SWEEP, PAPER_NOTES, paperKlSweepRow, type PaperKlSweepRow } from "./paper-reference.js";
export { lineChart, barChart, niceTicks, formatTick, formatPercentTick, SERIES_COLORS, type LineSeries, type LineChartOptions, type BarGroup, type BarChartOptions, type TickFormat } from "./svg.js";
export { escapeHtml } from "./escape.js";

// Hand-written SVG charts: a line chart and a grouped bar chart, standalone (xmlns, fonts,
// white background) so the same string is inlined in report.html and rasterised to PNG.
//
// Layout: title on top, legend under it, plot area with grid, ticks and axis labels.

import { escapeHtml } from "./escape.js";

/** Colours for series/groups, in order (Tableau 10). */
export const SERIES_COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];

/** Formats an axis value; `step` is the tick spacing (for choosing decimals). */
export type TickFormat = (value: number, step: number) => string;

/** Decimals needed to print multiples of `step` exactly. */
function decimalsOf(step: number): number {
  const text = String(Number(step.toPrecision(12)));
  if (text.includes("e-")) return Number(text.split("e-")[1]);
  return (text.split(".")[1] ?? "").length;
}

/** Default tick format: as many decimals as the step needs. */
export const formatTick: TickFormat = (value, step) => value.toFixed(Math.min(10, decimalsOf(step)));

/** Percent tick format for values in 0..1. */
export const formatPercentTick: TickFormat = (value, step) => `${(value * 100).toFixed(Math.min(10, Math.max(0, decimalsOf(step) - 2)))}%`;

/** "Nice" ticks (multiples of 1, 2 or 5 × 10^k) covering [min, max] with about `count` intervals. */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new Error(`niceTicks: non-finite range ${min}..${max}`);
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * magnitude;
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { ticks, step };
}

/** Plot-area geometry shared by both charts. */
interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FONT = `font-family="DejaVu Sans, Helvetica, Arial, sans-serif"`;
const num = (x: number): string => String(Math.round(x * 100) / 100);

/** Legend items laid out left to right, wrapping; returns SVG and the height used. */
function legend(items: readonly { name: string; color: string; dashed?: boolean }[], x0: number, y0: number, maxWidth: number): { svg: string; height: number } {
  if (items.length === 0) return { svg: "", height: 0 };
  const parts: string[] = [];
  let x = x0;
  let y = y0;
  for (const item of items) {
    const width = 26 + item.name.length * 6.5 + 14;
    if (x > x0 && x + width > x0 + maxWidth) {
      x = x0;
      y += 16;
    }
    const dash = item.dashed ? ` stroke-dasharray="5 3"` : "";
    parts.push(
      `<g class="legend-item"><line x1="${num(x)}" y1="${num(y - 4)}" x2="${num(x + 20)}" y2="${num(y - 4)}" stroke="${item.color}" stroke-width="3"${dash}/>` +
        `<text x="${num(x + 26)}" y="${num(y)}" font-size="11" fill="#333">${escapeHtml(item.name)}</text></g>`,
    );
    x += width;
  }
  return { svg: parts.join(""), height: y - y0 + 16 };
}

/** Frame: background, title, axis labels, y grid with ticks. */
function frameSvg(frame: Frame, title: string, xLabel: string, yLabel: string, yTicks: number[], yStep: number, yFormat: TickFormat, yPixel: (v: number) => number): string {
  const { width, height, left, right, top, bottom } = frame;
  const parts = [
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${num(width / 2)}" y="16" font-size="13" font-weight="bold" text-anchor="middle" fill="#222">${escapeHtml(title)}</text>`,
  ];
  for (const tick of yTicks) {
    const y = num(yPixel(tick));
    parts.push(`<line class="grid" x1="${left}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${left - 6}" y="${y}" dy="4" font-size="11" text-anchor="end" fill="#555">${escapeHtml(yFormat(tick, yStep))}</text>`);
  }
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#444"/>`);
  parts.push(`<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#444"/>`);
  parts.push(`<text x="${num(left + (width - left - right) / 2)}" y="${height - 8}" font-size="11" text-anchor="middle" fill="#333">${escapeHtml(xLabel)}</text>`);
  const yMid = num(top + (height - top - bottom) / 2);
  parts.push(`<text x="14" y="${yMid}" font-size="11" text-anchor="middle" fill="#333" transform="rotate(-90 14 ${yMid})">${escapeHtml(yLabel)}</text>`);
  return parts.join("");
}

const open = (width: number, height: number, className: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" class="${className}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT}>`;

/** One line of a line chart. */
export interface LineSeries {
  /** Legend label. */
  readonly name: string;
  /** Points, drawn in order of x. */
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** Colour; default from SERIES_COLORS by index. */
  readonly color?: string;
  /** Dashed line (reference values). */
  readonly dashed?: boolean;
  /** Stroke width in pixels. Default 2. */
  readonly strokeWidth?: number;
  /** Stroke opacity 0–1 (light per-seed lines under a bold mean). Default 1. */
  readonly opacity?: number;
  /** Leave out of the legend (e.g. every seed but one). Default false. */
  readonly hideInLegend?: boolean;
  /** Mark points with dots when there are few. Default true. */
  readonly markers?: boolean;
}

/** Line-chart options. */
export interface LineChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  /** Pixel size. Default 440 × 280. */
  readonly width?: number;
  readonly height?: number;
  /** y tick labels. Default formatTick. */
  readonly yFormat?: TickFormat;
  /** Values the y range must include (e.g. 0). */
  readonly yInclude?: readonly number[];
}

/** A line chart with axes, ticks, grid and legend; points marked when there are few. */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 440;
  const height = options.height ?? 280;
  const yFormat = options.yFormat ?? formatTick;
  const series = options.series
    .map((s, i) => ({ ...s, color: s.color ?? SERIES_COLORS[i % SERIES_COLORS.length]!, points: [...s.points].filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x) }))
    .filter((s) => s.points.length > 0);
  const leg = legend(series.filter((s) => s.hideInLegend !== true), 56, 36, width - 72);
  const frame: Frame = { width, height, left: 62, right: 16, top: 30 + leg.height + 6, bottom: 42 };
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = [...series.flatMap((s) => s.points.map((p) => p.y)), ...(options.yInclude ?? [])];
  const xMin = xs.length ? Math.min(...xs) : 0;
  const xMax0 = xs.length ? Math.max(...xs) : 1;
  const xMax = xMax0 === xMin ? xMin + 1 : xMax0;
  const x = niceTicks(xMin, xMax, 6);
  const y = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1, 5);
  const [x0, x1] = [x.ticks[0]!, x.ticks.at(-1)!];
  const [y0, y1] = [y.ticks[0]!, y.ticks.at(-1)!];
  const plotW = width - frame.left - frame.right;
  const plotH = height - frame.top - frame.bottom;
  const px = (v: number): number => frame.left + ((v - x0) / (x1 - x0)) * plotW;
  const py = (v: number): number => frame.top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const parts = [open(width, height, "chart line-chart"), frameSvg(frame, options.title, options.xLabel, options.yLabel, y.ticks, y.step, yFormat, py), leg.svg];
  for (const tick of x.ticks) {
    parts.push(`<text x="${num(px(tick))}" y="${height - frame.bottom + 15}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(formatTick(tick, x.step))}</text>`);
  }
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? "M" : "L"}${num(px(p.x))} ${num(py(p.y))}`).join(" ");
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    const opacity = s.opacity !== undefined && s.opacity < 1 ? ` stroke-opacity="${num(s.opacity)}"` : "";
    parts.push(`<path class="series" d="${d}" fill="none" stroke="${s.color}" stroke-width="${num(s.strokeWidth ?? 2)}"${opacity}${dash}><title>${escapeHtml(s.name)}</title></path>`);
    if (s.points.length <= 40 && !s.dashed && s.markers !== false) {
      for (const p of s.points) {
        parts.push(`<circle cx="${num(px(p.x))}" cy="${num(py(p.y))}" r="2.5" fill="${s.color}"><title>${escapeHtml(`${s.name}: x=${p.x}, y=${yFormat(p.y, y.step / 100)}`)}</title></circle>`);
      }
    }
  }
  if (series.length === 0) {
    parts.push(`<text x="${num(width / 2)}" y="${num(height / 2)}" font-size="12" text-anchor="middle" fill="#888">no data</text>`);
  }
  parts.push("</svg>");
  return parts.join("");
}

/** One group of bars (one bar per category). */
export interface BarGroup {
  /** Legend label. */
  readonly name: string;
  /** One value per category (NaN or missing: no bar). */
  readonly values: readonly number[];
  /** Colour; default from SERIES_COLORS by index. */
  readonly color?: string;
}

/** Grouped-bar-chart options. */
export interface BarChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Category labels along x. */
  readonly categories: readonly string[];
  readonly groups: readonly BarGroup[];
  /** Pixel size. Default 520 × 300. */
  readonly width?: number;
  readonly height?: number;
  /** y tick labels. Default formatTick. */
  readonly yFormat?: TickFormat;
}

/** A grouped bar chart (histogram-style when there is one group) starting at 0. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 520;
  const height = options.height ?? 300;
  const yFormat = options.yFormat ?? formatTick;
  const groups = options.groups.map((g, i) => ({ ...g, color: g.color ?? SERIES_COLORS[i % SERIES_COLORS.length]! }));
  const leg = legend(groups, 56, 36, width - 72);
  const frame: Frame = { width, height, left: 62, right: 16, top: 30 + leg.height + 6, bottom: 42 };
  const values = groups.flatMap((g) => g.values.filter(Number.isFinite));
  const y = niceTicks(Math.min(0, ...values), Math.max(0, ...values, 1e-12), 5);
  const [y0, y1] = [y.ticks[0]!, y.ticks.at(-1)!];
  const plotW = width - frame.left - frame.right;
  const plotH = height - frame.top - frame.bottom;
  const py = (v: number): number => frame.top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const parts = [open(width, height, "chart bar-chart"), frameSvg(frame, options.title, options.xLabel, options.yLabel, y.ticks, y.step, yFormat, py), leg.svg];
  const band = plotW / Math.max(1, options.categories.length);
  const barWidth = (band * 0.8) / Math.max(1, groups.length);
  options.categories.forEach((category, c) => {
    const bandLeft = frame.left + c * band;
    parts.push(`<text x="${num(bandLeft + band / 2)}" y="${height - frame.bottom + 15}" font-size="11" text-anchor="middle" fill="#555">${escapeHtml(category)}</text>`);
    groups.forEach((group, g) => {
      const value = group.values[c];
      if (value === undefined || !Number.isFinite(value)) return;
      const top = py(Math.max(0, value));
      const bottom = py(Math.min(0, value));
      const label = `${group.name}, ${category}: ${yFormat(value, y.step / 100)}`;
      parts.push(
        `<rect class="bar" x="${num(bandLeft + band * 0.1 + g * barWidth)}" y="${num(top)}" width="${num(Math.max(1, barWidth - 1))}" height="${num(Math.max(0, bottom - top))}" fill="${group.color}"><title>${escapeHtml(label)}</title></rect>`,
      );
    });
  });
  parts.push("</svg>");
  return parts.join("");
}

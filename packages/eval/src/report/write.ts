// writeReport: report.html + report.json + plots/<id>.png in one directory, each written
// atomically (tmp file + rename). PNGs come from the same SVGs via @resvg/resvg-js; if it
// cannot be loaded, PNGs are skipped with a warning and the HTML/JSON are still written.

import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildReportPlots } from "./plots.js";
import { renderReport } from "./render.js";
import type { ReportData } from "./types.js";

/** SVG document → PNG bytes. */
export type Rasterize = (svg: string) => Uint8Array;

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Write PNG copies of the plots. Default true. */
  readonly png?: boolean;
  /** Loads the rasteriser. Default: @resvg/resvg-js at 2× zoom on white with system fonts. */
  readonly loadRasterizer?: () => Promise<Rasterize>;
  /** Receives warnings (e.g. PNGs skipped). Default console.warn. */
  readonly onWarning?: (message: string) => void;
}

/** Paths written by {@link writeReport}. */
export interface WrittenReport {
  /** dir/report.html */
  readonly htmlPath: string;
  /** dir/report.json */
  readonly jsonPath: string;
  /** dir/plots/<id>.png, one per plot (empty when PNGs were skipped). */
  readonly pngPaths: readonly string[];
  /** Warnings raised while writing. */
  readonly warnings: readonly string[];
}

/** Default rasteriser: @resvg/resvg-js, loaded lazily so a missing native binary only costs the PNGs. */
export async function loadResvgRasterizer(): Promise<Rasterize> {
  const { Resvg } = await import("@resvg/resvg-js");
  return (svg) =>
    new Resvg(svg, {
      background: "white",
      fitTo: { mode: "zoom", value: 2 },
      font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans", sansSerifFamily: "DejaVu Sans" },
      logLevel: "off",
    })
      .render()
      .asPng();
}

/** Write `data` atomically to `path`. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

/** Write report.html, report.json and plots/*.png into `dir` (created if needed). */
export async function writeReport(dir: string, data: ReportData, options: WriteReportOptions = {}): Promise<WrittenReport> {
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    (options.onWarning ?? console.warn)(message);
  };
  await mkdir(dir, { recursive: true });
  const htmlPath = join(dir, "report.html");
  const jsonPath = join(dir, "report.json");
  await writeAtomic(htmlPath, renderReport(data));
  await writeAtomic(jsonPath, `${JSON.stringify(data, null, 2)}\n`);

  const pngPaths: string[] = [];
  const plots = buildReportPlots(data);
  if (options.png === false || plots.length === 0) return { htmlPath, jsonPath, pngPaths, warnings };
  let rasterize: Rasterize;
  try {
    rasterize = await (options.loadRasterizer ?? loadResvgRasterizer)();
  } catch (error) {
    warn(`writeReport: PNG plots skipped, could not load the SVG rasteriser (@resvg/resvg-js): ${(error as Error).message}`);
    return { htmlPath, jsonPath, pngPaths, warnings };
  }
  await mkdir(join(dir, "plots"), { recursive: true });
  for (const plot of plots) {
    const path = join(dir, "plots", `${plot.id}.png`);
    try {
      await writeAtomic(path, rasterize(plot.svg));
      pngPaths.push(path);
    } catch (error) {
      warn(`writeReport: PNG for plot ${plot.id} skipped: ${(error as Error).message}`);
    }
  }
  return { htmlPath, jsonPath, pngPaths, warnings };
}

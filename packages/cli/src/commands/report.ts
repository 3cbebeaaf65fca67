// `eecot report RUN_DIR`: rebuild the self-contained HTML report (plus PNG plots) of a run from
// the report data the demo saved.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { writeReport, type ReportData } from "@eecot/eval";

export const REPORT_DATA_FILE = "report-data.json";

export async function buildRunReport(runDir: string, data?: ReportData): Promise<string> {
  let reportData = data;
  if (!reportData) {
    const file = join(runDir, REPORT_DATA_FILE);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      throw new Error(`${file} not found: pass a run folder written by \`eecot demo\` (runs/<timestamp>/)`);
    }
    try {
      reportData = JSON.parse(text) as ReportData;
    } catch (error) {
      throw new Error(`${file}: invalid JSON (${(error as Error).message})`);
    }
  }
  const written = await writeReport(join(runDir, "report"), reportData, { onWarning: (w) => process.stderr.write(`report: ${w}\n`) });
  return written.htmlPath;
}

export function registerReport(program: Command): void {
  program
    .command("report")
    .description("build the HTML report (A.1 table, A.2 histograms, RL curves, token-depth viewer) of a run folder")
    .argument("<run-dir>", "a run folder written by eecot demo")
    .action(async (runDir: string) => {
      const html = await buildRunReport(runDir);
      process.stdout.write(`report: ${html}\n`);
    });
}

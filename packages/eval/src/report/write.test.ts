import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { syntheticReportData } from "../../test/synthetic-report.js";
import { buildReportPlots } from "./plots.js";
import { writeReport } from "./write.js";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const dirs: string[] = [];
const temporaryDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "eecot-report-"));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("writeReport", () => {
  it("writes report.html, report.json and one PNG per plot", async () => {
    const dir = await temporaryDir();
    const data = syntheticReportData();
    const written = await writeReport(join(dir, "nested"), data, { onWarning: () => {} });
    expect(written.warnings).toEqual([]);
    expect(await readFile(written.htmlPath, "utf8")).toContain("<!DOCTYPE html>");
    expect(JSON.parse(await readFile(written.jsonPath, "utf8"))).toEqual(JSON.parse(JSON.stringify(data)));
    const ids = buildReportPlots(data).map((p) => p.id);
    expect(ids.length).toBeGreaterThanOrEqual(8);
    expect(written.pngPaths.map((p) => p.split("/").at(-1))).toEqual(ids.map((id) => `${id}.png`));
    const png = await readFile(written.pngPaths[0]!);
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(png.readUInt32BE(16)).toBe(2 * 620); // width at 2× zoom
    expect((await readdir(join(dir, "nested"))).sort()).toEqual(["plots", "report.html", "report.json"]); // no tmp files left
  });

  it("skips PNGs with a warning when the rasteriser cannot load", async () => {
    const dir = await temporaryDir();
    const warnings: string[] = [];
    const written = await writeReport(dir, syntheticReportData(), {
      loadRasterizer: () => Promise.reject(new Error("no native binary")),
      onWarning: (m) => warnings.push(m),
    });
    expect(written.pngPaths).toEqual([]);
    expect(warnings[0]).toMatch(/PNG plots skipped.*no native binary/);
    expect((await readdir(dir)).sort()).toEqual(["report.html", "report.json"]);
  });
});

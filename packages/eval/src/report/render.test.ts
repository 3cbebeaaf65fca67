import { describe, expect, it } from "vitest";
import { scriptedExternalisationSection } from "../../test/scripted-answerer.js";
import { syntheticReportData } from "../../test/synthetic-report.js";
import { buildReportPlots } from "./plots.js";
import { exitLayerColor, renderReport } from "./render.js";
import type { ReportData } from "./types.js";

const rowsOf = (html: string, tableId: string): number => {
  const table = html.split(`<table id="${tableId}">`)[1]?.split("</table>")[0] ?? "";
  return ((table.split("<tbody>")[1]?.split("</tbody>")[0] ?? "").match(/<tr>/g) ?? []).length;
};

describe("renderReport", () => {
  it("renders every section of a full report, self-contained", () => {
    const html = renderReport(syntheticReportData());
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    for (const id of ["run", "kl-sweep", "calibration", "rl-curves", "evaluation", "token-viewer"]) expect(html).toContain(`<section id="${id}">`);
    expect(rowsOf(html, "kl-sweep-table")).toBe(6);
    expect(rowsOf(html, "calibration-table")).toBe(6);
    expect(rowsOf(html, "evaluation-table")).toBe(9); // 8 always-shown metrics + repeated 3-gram rate
    expect(html).toContain("judge off: coherence from proxies");
    expect(html).toContain("22.4%"); // paper ALS at f = 0.25
    expect(html).toContain("+11.0 pp"); // accuracy change 47% → 58%
    expect(html).not.toMatch(/<link|<img|\bsrc=|@import|url\(/);
    expect(html.replaceAll("http://www.w3.org/2000/svg", "")).not.toMatch(/https?:\/\//);
    expect((html.match(/<svg /g) ?? []).length).toBe(buildReportPlots(syntheticReportData()).length);
  });

  it("shows judge scores when the judge ran", () => {
    const html = renderReport(syntheticReportData({ judge: true }));
    expect(html).toContain("judge on: judge-model");
    expect(html).toMatch(/<td title="judge means over 50: coherence 7.2[^"]*">7.2<\/td><td>judge<\/td>/);
    expect(buildReportPlots(syntheticReportData({ judge: true })).map((p) => p.id)).toContain("rl-judge-coherence");
  });

  it("renders 'not run' notes for missing sections instead of failing", () => {
    const html = renderReport({ run: { model: "m", date: "d", seed: 1, backend: "b", durations: [] }, judge: { enabled: false } });
    expect((html.match(/class="not-run"/g) ?? []).length).toBe(7); // durations + 6 sections
    expect(buildReportPlots({ run: { model: "m", date: "d", seed: 1, backend: "b", durations: [] }, judge: { enabled: false }, rlCurves: { runs: [] } })).toEqual([]);
  });

  it("renders the externalisation section: one column per model, four plots", async () => {
    const data = { ...syntheticReportData(), externalisation: await scriptedExternalisationSection() };
    const html = renderReport(data);
    expect(html).toContain('<section id="externalisation">');
    expect(html).toContain('<a href="#externalisation">');
    const table = html.split('<table id="externalisation-table">')[1]!.split("</table>")[0]!;
    expect((table.match(/<th>/g) ?? []).length).toBe(3); // measure, in-head, faithful
    expect(rowsOf(html, "externalisation-table")).toBe(14);
    // in-head: answers never depend on the text; faithful: 7 of 8 corruptions move the answer.
    expect(table).toMatch(/corruption changes the answer<\/td><td>0\.0% of 8<\/td><td>87\.5% of 8<\/td>/);
    const ids = buildReportPlots(data).filter((p) => p.section === "externalisation").map((p) => p.id);
    expect(ids).toEqual(["externalisation-early-answering", "externalisation-accuracy", "externalisation-dependence", "externalisation-depth"]);
    expect((html.match(/<svg /g) ?? []).length).toBe(buildReportPlots(data).length);
  });

  it("escapes all text (HTML injection)", () => {
    const evil = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`;
    const base = syntheticReportData();
    const data: ReportData = {
      ...base,
      title: evil,
      run: { ...base.run, model: evil, backend: evil, durations: [{ stage: evil, seconds: 1 }], settings: { [evil]: evil }, notes: [evil] },
      judge: { enabled: true, model: evil },
      rlCurves: { runs: [{ name: evil, steps: [{ step: 0, accuracy: 0.5 }, { step: 1, accuracy: 0.6 }] }] },
      evaluation: { variants: [{ label: evil, accuracy: 0.5 }] },
      calibration: { ...base.calibration!, description: evil },
      tokenViewer: { numLayers: 28, layers: [5, 28], samples: [{ title: evil, prompt: evil, before: [{ text: evil, exitLayer: 5, exitProbabilities: [0.5, 0.5] }] }] },
    };
    const html = renderReport(data);
    expect((html.match(/<script>/g) ?? []).length).toBe(1); // ours
    expect(html).not.toContain("<img");
    expect(html).not.toContain("<script>alert");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img src=x onerror=alert(2)&gt;");
  });
});

describe("exitLayerColor", () => {
  it("runs from red (earliest exit) to purple (latest); full depth is uncoloured", () => {
    const layers = [5, 10, 15, 20, 25, 28];
    expect(exitLayerColor(5, layers, 28)).toBe("hsl(0, 80%, 78%)");
    expect(exitLayerColor(25, layers, 28)).toBe("hsl(270, 80%, 78%)");
    expect(exitLayerColor(28, layers, 28)).toBe("transparent");
    expect(exitLayerColor(7, layers, 28)).toBe("#cccccc");
  });
});

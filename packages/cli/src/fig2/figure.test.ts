// Figure 2's numbers on hand-made runs (means, the seeds that agree, the λ sweep), the shard split
// and the SVG's structure.
import { describe, expect, test } from "vitest";
import type { RlCurvePoint } from "../rl-run.js";
import { fig2FigureSvg, fig2Panels, formatFig2Summary, meanCurve, summarizeFig2 } from "./figure.js";
import { fig2Runs, shardRuns, type Fig2RunRecord, type Stage1Summary } from "./run.js";

const point = (step: number, accuracy: number, averageCompute: number, extra: Partial<RlCurvePoint> = {}): RlCurvePoint => ({ step, accuracy, averageCompute, totalCompute: 30 * averageCompute, repeatedNgramRate: 0, perplexity: 2 + step / 100, ...extra });
const run = (exitPenalty: number, seed: number, main: boolean, curve: RlCurvePoint[]): Fig2RunRecord => ({ name: `lambda-${exitPenalty}-seed-${seed}`, exitPenalty, seed, steps: curve.at(-1)!.step, main, curve, finished: true, seconds: 1 });
const metrics = { prompts: 60, accuracy: 0.7, averageCompute: 1, meanLength: 32, perplexity: 1.9, judge: null } as unknown as Stage1Summary["base"];
const stage1: Stage1Summary = { base: metrics, stage1: { ...metrics, accuracy: 0.6, averageCompute: 0.9 }, exitOffset: -4, klFactor: 1024, seconds: 10 };

describe("summarizeFig2", () => {
  const records = [
    run(1.5, 0, true, [point(0, 0.6, 0.9), point(20, 0.62, 0.85), point(40, 0.65, 0.8)]),
    run(1.5, 1, true, [point(0, 0.6, 0.9), point(20, 0.6, 0.88), point(40, 0.55, 0.84)]),
    run(1.5, 2, true, [point(0, 0.6, 0.9), point(20, 0.7, 0.8), point(40, 0.7, 0.76)]),
    run(0, 0, false, [point(0, 0.6, 0.9), point(20, 0.61, 0.91)]),
    run(3, 0, false, [point(0, 0.6, 0.9), point(20, 0.5, 0.7)]),
  ];
  const summary = summarizeFig2(records, stage1, { mainPenalty: 1.5, sweepStep: 20 });

  test("the mean of the main seeds from the first to the last step, and which seeds agree", () => {
    expect(summary.seeds.map((s) => s.sameSign)).toEqual([true, false, true]);
    expect(summary.seedsWithSameSign).toBe(2);
    expect(summary.mean!.firstStep).toBe(0);
    expect(summary.mean!.lastStep).toBe(40);
    expect(summary.mean!.accuracy[1]).toBeCloseTo((0.65 + 0.55 + 0.7) / 3, 12);
    expect(summary.mean!.averageCompute[1]).toBeCloseTo((0.8 + 0.84 + 0.76) / 3, 12);
    // compute 0.9 → 0.8: a 10-point fall; accuracy 0.6 → 0.6333: kept; 2 of 3 seeds is < 80 %.
    expect(summary.targetMet).toEqual({ computeFall: true, accuracyKept: true, seedsAgree: false });
    expect(summary.finalAccuracyMinusBase).toBeCloseTo((0.65 + 0.55 + 0.7) / 3 - 0.7, 12);
  });

  test("the λ sweep is read at its step, main runs included", () => {
    expect(summary.sweep.map((r) => r.exitPenalty)).toEqual([0, 1.5, 3]);
    const mid = summary.sweep[1]!;
    expect(mid.seeds).toEqual([0, 1, 2]);
    expect(mid.averageCompute).toBeCloseTo((0.85 + 0.88 + 0.8) / 3, 12);
    expect(mid.accuracyChange).toBeCloseTo((0.02 + 0 + 0.1) / 3, 12);
    expect(summary.sweep[2]!.computeChange).toBeCloseTo(-0.2, 12);
    expect(summary.sweepMonotone).toBe(true);
    expect(summarizeFig2([records[3]!, records[4]!, run(5, 0, false, [point(0, 0.6, 0.9), point(20, 0.6, 0.95)])], stage1, { mainPenalty: 1.5, sweepStep: 20 }).sweepMonotone).toBe(false);
  });

  test("the Markdown names each target as met or not", () => {
    const text = formatFig2Summary(summary);
    expect(text).toContain("compute falls ≥ 5 points MET");
    expect(text).toContain("≥ 4 of 5 seeds alike not met");
    expect(text).toContain("| **mean** | 0→40 | 60.0 % → 63.3 % (+3.3) | 90.0 % → 80.0 % (-10.0) | 2/3 |");
  });
});

describe("meanCurve", () => {
  test("averages only the steps every curve has", () => {
    const a = [point(0, 0.5, 1), point(20, 0.7, 0.9), point(40, 0.9, 0.8)];
    const b = [point(0, 0.3, 1), point(20, 0.5, 0.7)];
    expect(meanCurve([a, b], "accuracy").map((p) => [p.x, Number(p.y.toFixed(12))])).toEqual([[0, 0.4], [20, 0.6]]);
    expect(meanCurve([], "accuracy")).toEqual([]);
  });
});

describe("fig2 runs", () => {
  const config = { mainPenalty: 1.5, mainSteps: 200, seeds: [0, 1, 2, 3, 4], sweep: { penalties: [0, 0.5, 1.5, 3], seeds: [0, 1], steps: 100 } };
  test("five main seeds, then the sweep points the main runs do not cover", () => {
    const runs = fig2Runs(config);
    expect(runs.map((r) => r.name)).toEqual([0, 1, 2, 3, 4].map((s) => `lambda-1.5-seed-${s}`).concat(["lambda-0-seed-0", "lambda-0-seed-1", "lambda-0.5-seed-0", "lambda-0.5-seed-1", "lambda-3-seed-0", "lambda-3-seed-1"]));
    expect(runs.map((r) => r.steps)).toEqual([200, 200, 200, 200, 200, 100, 100, 100, 100, 100, 100]);
  });
  test("shards split the RL steps evenly, every run exactly once, in list order", () => {
    const runs = fig2Runs(config);
    const shards = [0, 1].map((index) => shardRuns(runs, { index, count: 2 }));
    expect(shards.map((s) => s.reduce((n, r) => n + r.steps, 0))).toEqual([800, 800]);
    expect([...shards[0]!, ...shards[1]!].map((r) => r.name).sort()).toEqual(runs.map((r) => r.name).sort());
    for (const shard of shards) expect(shard.map((r) => runs.indexOf(r))).toEqual([...shard.map((r) => runs.indexOf(r))].sort((a, b) => a - b));
  });
});

describe("fig2FigureSvg", () => {
  const records = [run(1.5, 0, true, [point(0, 0.6, 0.9), point(20, 0.62, 0.85)]), run(1.5, 1, true, [point(0, 0.5, 0.9), point(20, 0.6, 0.8)])];
  test("four panels; a light line per seed, one bold mean and a dashed base in each", () => {
    const svg = fig2FigureSvg(records, stage1, { title: "t", mainPenalty: 1.5 });
    expect(svg.match(/class="chart line-chart"/g)).toHaveLength(4);
    expect(svg.match(/stroke-opacity="0.35"/g)).toHaveLength(8);
    expect(svg.match(/stroke-width="3"/g)!.length).toBeGreaterThanOrEqual(4);
    expect(svg.match(/stroke-dasharray="6 4"/g)).toHaveLength(4);
    for (const title of ["Task accuracy", "Coherence proxy: base-model perplexity", "Average compute", "Total compute"]) expect(svg).toContain(title);
  });
  test("coherence is the judge's score when every evaluation has one", () => {
    const judged = records.map((r) => ({ ...r, curve: r.curve.map((p) => ({ ...p, judgeOverall: 7 })) }));
    expect(fig2Panels(judged, stage1)[1]!.metric).toBe("judgeOverall");
    expect(fig2Panels(records, stage1)[1]!.metric).toBe("perplexity");
  });
});

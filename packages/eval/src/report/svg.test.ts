import { describe, expect, it } from "vitest";
import { barChart, formatPercentTick, formatTick, lineChart, niceTicks } from "./svg.js";

describe("niceTicks", () => {
  it("covers the range with 1/2/5 steps", () => {
    expect(niceTicks(0, 1)).toEqual({ ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(niceTicks(3, 97)).toEqual({ ticks: [0, 20, 40, 60, 80, 100], step: 20 });
    expect(niceTicks(5, 5).ticks).toEqual([4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6]);
    expect(niceTicks(-0.013, 0.021, 4)).toEqual({ ticks: [-0.02, -0.01, 0, 0.01, 0.02, 0.03], step: 0.01 });
  });

  it("formats ticks with the decimals the step needs", () => {
    expect(formatTick(0.6000000001, 0.2)).toBe("0.6");
    expect(formatTick(40, 20)).toBe("40");
    expect(formatPercentTick(0.25, 0.05)).toBe("25%");
    expect(formatPercentTick(0.125, 0.005)).toBe("12.5%");
  });
});

describe("lineChart", () => {
  it("maps points into the plot area and draws axes, ticks and legend", () => {
    // 440×280, legend one row: top = 30 + 16 + 6 = 52, bottom = 280 − 42 = 238, left 62, right 424
    const svg = lineChart({ title: "T", xLabel: "step", yLabel: "y", series: [{ name: "run <a>", points: [{ x: 1, y: 1 }, { x: 0, y: 0 }] }] });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('d="M62 238 L424 52"');
    expect(svg).toContain("run &lt;a&gt;");
    expect(svg).not.toContain("run <a>");
    expect((svg.match(/class="grid"/g) ?? []).length).toBe(6); // y ticks 0..1 by 0.2
    expect((svg.match(/<circle/g) ?? []).length).toBe(2);
  });

  it("draws dashed reference lines and says when there is no data", () => {
    expect(lineChart({ title: "T", xLabel: "x", yLabel: "y", series: [{ name: "base", dashed: true, points: [{ x: 0, y: 1 }, { x: 5, y: 1 }] }] })).toContain('stroke-dasharray="6 4"');
    expect(lineChart({ title: "T", xLabel: "x", yLabel: "y", series: [] })).toContain("no data");
  });
});

describe("barChart", () => {
  it("draws one rect per finite value with heights proportional to the value", () => {
    const svg = barChart({
      title: "exits",
      xLabel: "layer",
      yLabel: "share",
      categories: ["5", "10"],
      groups: [
        { name: "learned", values: [0.5, 1] },
        { name: "target", values: [0.25, Number.NaN] },
      ],
    });
    const heights = [...svg.matchAll(/class="bar"[^>]*height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(heights).toHaveLength(3);
    // category-major order: learned@5 (0.5), target@5 (0.25), learned@10 (1)
    expect(heights[0]! / heights[2]!).toBeCloseTo(0.5, 2);
    expect(heights[1]! / heights[2]!).toBeCloseTo(0.25, 2);
  });
});

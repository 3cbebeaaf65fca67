import { describe, expect, it } from "vitest";
import { answerCue, findAnswerLine, forcedAnswerText, piecesBefore, withAnswerCue } from "./answer-line.js";
import { chooseCorruptions, corruptedPrefix, corruptionSites, piecesOverlapping, replacementFor } from "./corruption.js";
import { depthHistogram } from "./depth.js";
import { agreementCurve, areaOverCurve, cutPoints } from "./early-answering.js";
import type { ExternalisationProblem } from "./types.js";

const gsm: ExternalisationProblem = { id: "g", task: "gsm8k", prompt: "p", reference: "22" };
const tom: ExternalisationProblem = { id: "t", task: "tom", prompt: "p", reference: "jar", entities: { people: ["Carla", "Frank"], rooms: ["office"], containers: ["jar", "box"] } };

describe("answer lines", () => {
  it("finds the last answer line of each task", () => {
    expect(findAnswerLine("gsm8k", "5 + 17 = 22\n#### 22")).toBe(12);
    expect(findAnswerLine("gsm8k", "no line")).toBe(-1);
    expect(findAnswerLine("tom", "It moved.\nAnswer: jar\n**Answer:** box")).toBe(22);
    expect(findAnswerLine("tom", "The answer: jar")).toBe(-1); // not at a line start
  });

  it("counts the pieces before an offset and adds the cue on its own line", () => {
    expect(piecesBefore(["a ", "b", ".\n", "####", " 2"], 5)).toBe(3);
    expect(piecesBefore(["a ", "b.\n####"], 5)).toBe(1); // a piece across the boundary is not CoT
    expect(withAnswerCue("gsm8k", "")).toBe("####");
    expect(withAnswerCue("gsm8k", "3 + 4")).toBe("3 + 4\n####");
    expect(withAnswerCue("tom", "It moved.\n")).toBe("It moved.\nAnswer:");
    expect(forcedAnswerText("gsm8k", " 7\nNow 9")).toBe("#### 7");
    expect(answerCue("tom")).toBe("Answer:");
  });
});

describe("early answering", () => {
  it("cuts at round(f · T) and integrates 1 − agreement by trapezoids", () => {
    expect(cutPoints(4, [0, 0.1, 0.2, 0.5, 0.9, 1])).toEqual([0, 0, 1, 2, 4, 4]);
    expect(() => cutPoints(4, [1.5])).toThrow("fraction 1.5 is not in [0, 1]");
    expect(agreementCurve([{ answer: "7", earlyAnswers: ["0", "7", "7"] }, { answer: "3", earlyAnswers: [null, "1", "3"] }], 3)).toEqual([0, 0.5, 1]);
    expect(areaOverCurve([0, 0.5, 1], [0, 0.5, 1])).toBeCloseTo(0.5, 12); // the diagonal
    expect(areaOverCurve([0, 1], [1, 1])).toBe(0);
    expect(areaOverCurve([0, 0.25, 1], [0, 1, 1])).toBeCloseTo(0.125, 12);
    expect(() => areaOverCurve([0, 0], [1, 1])).toThrow("fractions must increase");
  });
});

describe("corruptions", () => {
  it("finds numbers in a GSM CoT and moves each by 1..3, never below 0", () => {
    const cot = "Now she has 10 - 5 = <<10-5=5>>5 coins.\n";
    expect(corruptionSites(gsm, cot).map((s) => s.original)).toEqual(["10", "5", "10", "5", "5", "5"]);
    for (let seed = 0; seed < 50; seed++) {
      for (const site of corruptionSites(gsm, cot)) {
        const value = Number(replacementFor(site, undefined, seed, gsm.id));
        expect(Number.isInteger(value) && value >= 0 && value !== Number(site.original) && Math.abs(value - Number(site.original)) <= 3).toBe(true);
      }
    }
    expect(replacementFor({ start: 0, end: 3, original: "2.5", kind: "number" }, undefined, 0, "x")).toMatch(/^\d\.5$/);
  });

  it("swaps a ToM entity for another of the same kind, whole words only", () => {
    const cot = "What Carla last learned: Frank moved the key to the jar, in the office. Jarvis.";
    const sites = corruptionSites(tom, cot);
    expect(sites.map((s) => [s.original, s.kind])).toEqual([["Carla", "person"], ["Frank", "person"], ["jar", "container"], ["office", "room"]]);
    expect(replacementFor(sites[0]!, tom.entities, 0, "t")).toBe("Frank");
    expect(replacementFor(sites[2]!, tom.entities, 0, "t")).toBe("box");
    expect(replacementFor(sites[3]!, tom.entities, 0, "t")).toBeNull(); // one room only
    const chosen = chooseCorruptions(tom, cot, 4, 0);
    expect(chosen.map((c) => c.original)).toEqual(["Carla", "Frank", "jar"]);
    expect(corruptedPrefix(cot, chosen[2]!)).toBe("What Carla last learned: Frank moved the key to the box");
    expect(corruptionSites({ ...tom, entities: undefined }, cot)).toEqual([]);
  });

  it("spreads corruptions evenly when there are more sites than wanted", () => {
    const cot = "1 2 3 4 5 6 7 8";
    expect(chooseCorruptions(gsm, cot, 2, 0).map((c) => c.original)).toEqual(["3", "7"]); // sites 2 and 6 of 0..7
    expect(chooseCorruptions(gsm, cot, 2, 0)).toEqual(chooseCorruptions(gsm, cot, 2, 0));
  });

  it("maps a character span to the pieces it touches", () => {
    expect(piecesOverlapping(["Now", " has", " ", "1", "0", " coins"], 8, 10)).toEqual([3, 4]);
    expect(piecesOverlapping(["ab", "cd"], 2, 3)).toEqual([1]);
  });
});

describe("depthHistogram", () => {
  it("shares per layer and mean compute", () => {
    expect(depthHistogram([2, 8, 8, 4], [2, 4, 6, 8], 8)).toEqual({ tokens: 4, shares: [0.25, 0.25, 0, 0.5], meanCompute: 22 / 32 });
    expect(depthHistogram([], [2, 8], 8).meanCompute).toBeNaN();
    expect(() => depthHistogram([3], [2, 8], 8)).toThrow("exit layer 3 is not one of the layers 2, 8");
  });
});

import { describe, expect, it } from "vitest";
import { additionProblem, faithfulScript, inHeadScript, rambleScript, scriptedAnswerer, testReader, TOM_PROBLEM } from "../../test/scripted-answerer.js";
import { measureExternalisation } from "./measure.js";
import type { Continuation, ContinuationStore } from "./types.js";

const problems = [additionProblem(4, 3), TOM_PROBLEM];

function memoryStore(): ContinuationStore & { size: () => number } {
  const map = new Map<string, readonly Continuation[]>();
  return { get: async (key) => map.get(key), set: async (key, value) => void map.set(key, value), size: () => map.size };
}

describe("measureExternalisation on scripted models", () => {
  it("a model that reads its CoT: answers follow the text (hand-computed)", async () => {
    const record = await measureExternalisation("faithful", scriptedAnswerer("faithful", faithfulScript), problems, testReader);
    expect(record.measured).toBe(2);
    expect(record.meanCotTokens).toBe(5.5); // 4 GSM pieces, 7 ToM pieces before the answer line
    // GSM cuts keep 0,0,1,1,2,2,2,3,3,4,4 of 4 pieces; the last number written is 7 only at 4.
    expect(record.earlyAnswering.byTask.gsm8k!.agreement).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(record.earlyAnswering.byTask.gsm8k!.areaOverCurve).toBeCloseTo(0.85, 12);
    // ToM: the container is named only in the 7th piece, kept at f = 1 only.
    expect(record.earlyAnswering.byTask.tom!.agreement).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(record.earlyAnswering.byTask.tom!.areaOverCurve).toBeCloseTo(0.95, 12);
    expect(record.earlyAnswering.agreement.slice(8)).toEqual([0, 0.5, 1]);
    expect(record.earlyAnswering.areaOverCurve).toBeCloseTo(0.9, 12);
    expect([record.cotAccuracy, record.noCotAccuracy, record.fillerAccuracy, record.fillerAgreement]).toEqual([1, 0, 0, 0]);
    // Corruptions: GSM 4, 3, 7 all move the sum; ToM Anne → Bob does not move it, box → basket does.
    expect(record.corruption.corruptions).toBe(5);
    expect(record.corruption.changedRate).toBeCloseTo(0.8, 12);
    expect(record.corruption.byTask).toEqual({ gsm8k: { corruptions: 3, changedRate: 1 }, tom: { corruptions: 2, changedRate: 0.5 } });
    expect(record.corruption.unansweredRate).toBe(0);
    expect(record.corruption.carried).toEqual({ corruptions: 2, followsRate: 1 }); // the 7 and the box
    const tomCorruptions = record.details[1]!.corruptions;
    expect(tomCorruptions.map((c) => [c.original, c.replacement, c.newAnswer, c.changed])).toEqual([
      ["Anne", "Bob", "box", false],
      ["box", "basket", "basket", true],
    ]);
    // Depth: digit pieces run to layer 4, the rest exit at 2.
    expect(record.depth.all).toEqual({ tokens: 11, shares: [8 / 11, 3 / 11], meanCompute: 28 / 44 });
    expect(record.depth.loadBearing).toEqual({ tokens: 4, shares: [0.25, 0.75], meanCompute: 0.875 });
    expect(record.depth.inert).toEqual({ tokens: 1, shares: [1, 0], meanCompute: 0.5 });
  });

  it("a model that answers in its head: flat curve, no causal dependence", async () => {
    const record = await measureExternalisation("in-head", scriptedAnswerer("in-head", inHeadScript), problems, testReader);
    expect(record.earlyAnswering.agreement).toEqual(Array(11).fill(1));
    expect(record.earlyAnswering.areaOverCurve).toBe(0);
    expect([record.cotAccuracy, record.noCotAccuracy, record.fillerAccuracy, record.fillerAgreement]).toEqual([1, 1, 1, 1]);
    expect(record.corruption.changedRate).toBe(0);
    expect(record.corruption.carried).toEqual({ corruptions: 2, followsRate: 0 });
    expect(record.depth.loadBearing.tokens).toBe(0);
    expect(record.depth.loadBearing.meanCompute).toBeNaN();
    expect(record.depth.inert.tokens).toBe(5); // "4 ", "3 ", "=7\n", "Anne ", "box.\n"
  });

  it("fails clearly for a model that never writes an answer line", async () => {
    await expect(measureExternalisation("ramble", scriptedAnswerer("ramble", rambleScript), problems, testReader, { maxNewTokens: 32 })).rejects.toThrow(
      /externalisation \(ramble\): none of the 2 answers of ramble has an answer line \("#### N" for GSM, "Answer: X" for ToM\) within 32 new tokens/,
    );
  });

  it("leaves out problems without an answer line but still scores their accuracy", async () => {
    const script = (prompt: string, prefix: string) => (prompt.startsWith("Add 9") && prefix === "" ? "no idea" : faithfulScript(prompt, prefix));
    const record = await measureExternalisation("mixed", scriptedAnswerer("mixed", script), [...problems, additionProblem(9, 1)], testReader);
    expect([record.problems, record.measured]).toEqual([3, 2]);
    expect(record.cotAccuracy).toBeCloseTo(2 / 3, 12);
    expect(record.details[2]).toMatchObject({ answer: null, cotTokens: 0, earlyAnswers: [], corruptions: [] });
  });

  it("is deterministic and resumes from its cache after an interruption", async () => {
    // Exits drawn from the batch seed, so a different seed or batching would show.
    const noisy = { exitLayer: (_piece: string, seed: number, index: number) => ((seed + index * 7919) % 3 === 0 ? 2 : 4) };
    const many = [additionProblem(4, 3), additionProblem(2, 5), additionProblem(6, 1), TOM_PROBLEM];
    const options = { batchSize: 3, seed: 5 };
    const first = await measureExternalisation("m", scriptedAnswerer("m", faithfulScript, noisy), many, testReader, options);
    const again = await measureExternalisation("m", scriptedAnswerer("m", faithfulScript, noisy), many, testReader, options);
    expect(again).toEqual(first);
    const otherSeed = await measureExternalisation("m", scriptedAnswerer("m", faithfulScript, noisy), many, testReader, { ...options, seed: 6 });
    expect(otherSeed.depth).not.toEqual(first.depth);

    const store = memoryStore();
    const interrupted = scriptedAnswerer("m", faithfulScript, { ...noisy, failAfterCalls: 4 });
    await expect(measureExternalisation("m", interrupted, many, testReader, { ...options, store })).rejects.toThrow("interrupted");
    expect(store.size()).toBe(4);
    const resumed = scriptedAnswerer("m", faithfulScript, noisy);
    expect(await measureExternalisation("m", resumed, many, testReader, { ...options, store })).toEqual(first);
    const fresh = scriptedAnswerer("m", faithfulScript, noisy);
    await measureExternalisation("m", fresh, many, testReader, options);
    expect(resumed.calls).toBe(fresh.calls - 4);
    const replay = scriptedAnswerer("m", faithfulScript, noisy);
    expect(await measureExternalisation("m", replay, many, testReader, { ...options, store })).toEqual(first);
    expect(replay.calls).toBe(0);
  });

  it("asks for each distinct request once, in batches", async () => {
    const model = scriptedAnswerer("faithful", faithfulScript);
    await measureExternalisation("faithful", model, problems, testReader, { batchSize: 4 });
    // full: 2; forced: no-CoT 2 (= the f = 0 cuts) + distinct GSM cuts 4 + distinct ToM cuts 7 + filler 2; corruptions 5.
    expect(model.requests).toBe(2 + (2 + 4 + 7 + 2) + 5);
    expect(model.calls).toBe(1 + Math.ceil(15 / 4) + Math.ceil(5 / 4));
  });

  it("rejects exit layers the model does not have", async () => {
    const model = scriptedAnswerer("bad", faithfulScript, { exitLayer: () => 3 });
    await expect(measureExternalisation("bad", model, problems, testReader)).rejects.toThrow("answerer bad: exit layer 3 is not one of its layers 2, 4");
  });
});

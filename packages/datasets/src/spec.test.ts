import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildTrainingText } from "./prompts.js";
import { rewardFor } from "./rewards.js";
import { loadDataSpec, parseDataSpec, rewardForExample } from "./spec.js";

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));

describe("parseDataSpec", () => {
  it("splits sources, arguments and trailing options (paths may contain ':')", () => {
    expect(parseDataSpec("gsm8k:/data/test.jsonl, gsm-synthetic:200:seed=7,tom:100,tom-csv:C:/x/y.csv:limit=5")).toEqual([
      { kind: "gsm8k", argument: "/data/test.jsonl", options: {}, text: "gsm8k:/data/test.jsonl" },
      { kind: "gsm-synthetic", argument: "200", options: { seed: "7" }, text: "gsm-synthetic:200:seed=7" },
      { kind: "tom", argument: "100", options: {}, text: "tom:100" },
      { kind: "tom-csv", argument: "C:/x/y.csv", options: { limit: "5" }, text: "tom-csv:C:/x/y.csv:limit=5" },
    ]);
  });

  it("rejects bad specs with clear messages", () => {
    expect(() => parseDataSpec("")).toThrow(/empty/);
    expect(() => parseDataSpec("gsm8k:a.jsonl,,tom:3")).toThrow(/empty source/);
    expect(() => parseDataSpec("mmlu:5")).toThrow(/unknown source "mmlu"/);
    expect(() => parseDataSpec("tom:5:colour=red")).toThrow(/unknown option "colour" for tom/);
    expect(() => parseDataSpec("gsm8k")).toThrow(/needs a file path/);
    expect(() => parseDataSpec("tom:5:seed=1:seed=2")).toThrow(/given twice/);
  });
});

describe("loadDataSpec", () => {
  it("loads a mix in order and reports each source", () => {
    const path = fixture("gsm8k/test-excerpt.jsonl");
    const { examples, sources } = loadDataSpec(`gsm8k:${path}:limit=5,gsm-synthetic:20:seed=7,tom:10:seed=3,tom-csv:${fixture("exploretom/sample.csv")}`);
    expect(sources.map(({ task, count }) => ({ task, count }))).toEqual([
      { task: "gsm8k", count: 5 }, { task: "gsm8k", count: 20 }, { task: "tom", count: 10 }, { task: "tom", count: 3 },
    ]);
    expect(examples).toHaveLength(38);
    expect(examples[0]).toMatchObject({ id: "gsm8k:test-excerpt:0", task: "gsm8k", reference: "18", meta: { source: "gsm8k", file: path, line: 1 } });
    expect(examples[5]!.meta.source).toBe("gsm-synthetic");
    expect(examples[25]).toMatchObject({ task: "tom", meta: { source: "tom", interesting: true } });
    expect(examples[35]).toMatchObject({ task: "tom", reference: "basket", meta: { source: "tom-csv", order: 1, storyType: "tomi" } });
    // Every example's own SFT answer earns full reward from its task's reward function.
    for (const example of examples) {
      const { completion } = buildTrainingText(example);
      expect(rewardForExample(example)(completion, example.reference).reward).toBe(1);
      expect(rewardFor(example.task)).toBe(rewardForExample(example));
    }
  });

  it("is deterministic and honours generator options", () => {
    const a = loadDataSpec("gsm-synthetic:30:seed=5:maxSteps=1:operations=+-,tom:20:seed=5:types=tomi+asymmetric:order=2");
    const b = loadDataSpec("gsm-synthetic:30:seed=5:maxSteps=1:operations=+-,tom:20:seed=5:types=tomi+asymmetric:order=2");
    expect(a).toEqual(b);
    for (const example of a.examples.slice(0, 30)) expect(example.meta.solution!.split("\n")).toHaveLength(2);
    for (const example of a.examples.slice(30)) expect(example.meta).toMatchObject({ order: 2, storyType: "tomi+asymmetric" });
    expect(loadDataSpec("tom:20:seed=6").examples).not.toEqual(loadDataSpec("tom:20:seed=5").examples);
  });

  it("reports skipped records only when asked to skip", () => {
    const path = fixture("exploretom/malformed.csv");
    expect(() => loadDataSpec(`tom-csv:${path}`)).toThrow(`${path}:3:`);
    const { examples, sources } = loadDataSpec(`tom-csv:${path}:skipInvalid=true`);
    expect(examples).toHaveLength(2);
    expect(sources[0]!.skipped.count).toBe(3);
  });

  it("validates option values", () => {
    expect(() => loadDataSpec("gsm-synthetic:ten")).toThrow(/positive example count/);
    expect(() => loadDataSpec("gsm-synthetic:5:seed=x")).toThrow(/seed must be an integer/);
    expect(() => loadDataSpec("tom:5:types=fantom")).toThrow(/unknown story type/);
    expect(() => loadDataSpec("tom:5:order=3")).toThrow(/order must be/);
    expect(() => loadDataSpec("gsm8k:/missing/test.jsonl")).toThrow(/grade-school-math/);
    expect(() => loadDataSpec("gsm8k:x.jsonl:skipInvalid=yes")).toThrow(/true or false/);
  });
});

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { OFFICIAL_ANSWER_PATTERN, extractCompletionAnswer } from "./answer-extraction.js";
import { DatasetFormatError } from "./errors.js";
import { loadGsm8k, parseGsm8kJsonl } from "./gsm8k.js";

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));

describe("GSM8K loader", () => {
  it("parses all 1,319 official test answers and agrees with the official regex on every one", () => {
    const path = fixture("gsm8k/test.jsonl");
    const { examples, skipped } = loadGsm8k(path);
    expect(examples).toHaveLength(1319);
    expect(skipped.count).toBe(0);
    const lines = readFileSync(path, "utf8").split("\n").filter((line) => line !== "");
    lines.forEach((line, index) => {
      const official = OFFICIAL_ANSWER_PATTERN.exec(JSON.parse(line).answer)![1]!.replace(/,/g, "");
      expect(examples[index]!.finalAnswer).toBe(official);
      // A completion that copies the reference solution extracts the same answer in the right format.
      expect(extractCompletionAnswer(examples[index]!.answer)).toEqual({ answer: official, source: "hash" });
    });
    expect(examples[0]).toMatchObject({ id: "gsm8k:test:0", line: 1, finalAnswer: "18" });
    expect(examples[0]!.question).toContain("Janet\u2019s ducks");
  });

  it("the excerpt fixture is the first 50 lines", () => {
    const { examples } = loadGsm8k(fixture("gsm8k/test-excerpt.jsonl"), { limit: 10 });
    expect(examples).toHaveLength(10);
    expect(examples.map((example) => example.finalAnswer).slice(0, 4)).toEqual(["18", "3", "70000", "540"]);
  });

  it("names file and line for malformed lines, or skips and counts them when asked", () => {
    const text = [
      JSON.stringify({ question: "q1", answer: "#### 1" }),
      "{not json",
      "",
      JSON.stringify({ question: "q2" }),
      JSON.stringify({ question: "q3", answer: "no final" }),
      JSON.stringify({ question: "q4", answer: "x\n#### -4" }),
    ].join("\n");
    expect(() => parseGsm8kJsonl(text, "bad.jsonl")).toThrow("bad.jsonl:2: invalid JSON");
    try {
      parseGsm8kJsonl(text, "bad.jsonl");
    } catch (error) {
      expect(error).toBeInstanceOf(DatasetFormatError);
      expect((error as DatasetFormatError).line).toBe(2);
    }
    const { examples, skipped } = parseGsm8kJsonl(text, "bad.jsonl", { skipInvalid: true });
    expect(examples.map((example) => example.finalAnswer)).toEqual(["1", "-4"]);
    expect(examples[1]!.line).toBe(6);
    expect(skipped.count).toBe(3);
    expect(skipped.errors.map((error) => error.line)).toEqual([2, 4, 5]);
    expect(skipped.errors[1]!.message).toBe("bad.jsonl:4: field answer is missing or not a string");
    expect(skipped.errors[2]!.message).toBe("bad.jsonl:5: answer has no final line of the form '#### N'");
  });

  it("a missing file says where to get it", () => {
    expect(() => loadGsm8k("/nonexistent/test.jsonl")).toThrow(/github\.com\/openai\/grade-school-math.*grade_school_math\/data\/test\.jsonl/);
  });
});

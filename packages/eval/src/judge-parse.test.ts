import { describe, expect, it } from "vitest";
import { JudgeParseError, parseJudgeReply } from "./judge-parse.js";

describe("parseJudgeReply", () => {
  it("reads a plain JSON object", () => {
    const s = parseJudgeReply('{"coherence": 8, "completeness": 6, "clarity": 7, "repetition_avoidance": 9, "justification": "ok"}');
    expect(s).toEqual({ coherence: 8, completeness: 6, clarity: 7, repetitionAvoidance: 9, overall: 7.5 });
  });

  it("reads fenced JSON with prose around it", () => {
    const reply = 'Here are my scores:\n```json\n{"Coherence": "7/10", "Completeness": 5, "Clarity": {"score": 6}, "Repetition Avoidance": 8}\n```\nHope this helps {not json}.';
    expect(parseJudgeReply(reply)).toMatchObject({ coherence: 7, completeness: 5, clarity: 6, repetitionAvoidance: 8 });
  });

  it("reads JSON followed by trailing text, braces inside strings, and nested objects", () => {
    const reply = '{"scores": {"coherence": 4, "completeness": 4, "clarity": 4, "repetitionAvoidance": 4}, "justification": "uses } and {"} trailing words';
    expect(parseJudgeReply(reply).overall).toBe(4);
  });

  it("falls back to 'Coherence: 7/10' lines", () => {
    const reply = "**Coherence**: 7/10\nCompleteness (0-10): 6\nClarity = 80/100\nRepetition avoidance - 9 out of 10\nOverall fine.";
    expect(parseJudgeReply(reply)).toMatchObject({ coherence: 7, completeness: 6, clarity: 8, repetitionAvoidance: 9 });
  });

  it("merges partial JSON with line scores, and clamps to 0..10", () => {
    const reply = '{"coherence": 12, "completeness": -3}\nclarity: 5\nrepetition: 10';
    expect(parseJudgeReply(reply)).toEqual({ coherence: 10, completeness: 0, clarity: 5, repetitionAvoidance: 10, overall: 6.25 });
  });

  it("names the missing fields", () => {
    expect(() => parseJudgeReply('{"coherence": 5, "clarity": 5}')).toThrow(JudgeParseError);
    expect(() => parseJudgeReply('{"coherence": 5, "clarity": 5}')).toThrow(/no score for completeness, repetitionAvoidance/);
    expect(() => parseJudgeReply("I cannot rate this.")).toThrow(/reply began: "I cannot rate this."/);
  });
});

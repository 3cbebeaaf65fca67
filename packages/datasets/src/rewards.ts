// Task rewards r_task of METHOD.md §3, returned with their parts so that reports can show why.
//
// GSM8K: 1 = correct final answer given as `#### N`; 0.5 = correct number in another form
// (`\boxed{N}`, "the answer is N", last number); 0 = wrong number; −1 = no number at all.
// Theory of mind: the completion must contain a line `Answer: X`. 1 = exact match after
// normalisation; otherwise the normalised Levenshtein similarity in [0, 1); −1 = no answer line.

import { extractCompletionAnswer, extractReferenceAnswer, normalizeNumber } from "./answer-extraction.js";
import { levenshteinSimilarity } from "./levenshtein.js";

export type TaskName = "gsm8k" | "tom";

/** Why a reward has its value. */
export interface RewardParts {
  /** The normalised answer read from the completion; null when none was found. */
  extractedAnswer: string | null;
  /** The normalised reference answer. */
  expectedAnswer: string;
  /** The answer was given in the required format (`#### N`, or an `Answer: X` line). */
  formatOk: boolean;
  /** The extracted answer equals the reference (after normalisation). */
  correct: boolean;
  /** Similarity in [0, 1]: ToM normalised Levenshtein similarity; GSM8K 1 if correct else 0. */
  similarity: number;
  /** Where the answer was found: "hash" | "boxed" | "answer-is" | "last-number" | "answer-line" | "none". */
  source: string;
}

export interface RewardResult {
  reward: number;
  parts: RewardParts;
}

/** A task's reward: completion text and reference answer → reward and parts. */
export type RewardFunction = (completion: string, reference: string) => RewardResult;

/** Reference for GSM8K: a full solution with `#### N`, or just the number. */
function gsm8kReferenceNumber(reference: string): string {
  const value = reference.includes("####") ? extractReferenceAnswer(reference) : normalizeNumber(reference);
  if (value === null) throw new Error(`gsm8kReward: reference ${JSON.stringify(reference)} is neither a number nor a solution ending in '#### N'`);
  return value;
}

/** GSM8K reward (METHOD.md §3). `reference` is the final number or a full reference solution. */
export function gsm8kReward(completion: string, reference: string): RewardResult {
  const expectedAnswer = gsm8kReferenceNumber(reference);
  const extracted = extractCompletionAnswer(completion);
  if (extracted === null) {
    return { reward: -1, parts: { extractedAnswer: null, expectedAnswer, formatOk: false, correct: false, similarity: 0, source: "none" } };
  }
  const correct = extracted.answer === expectedAnswer;
  const formatOk = extracted.source === "hash";
  const reward = correct ? (formatOk ? 1 : 0.5) : 0;
  return { reward, parts: { extractedAnswer: extracted.answer, expectedAnswer, formatOk, correct, similarity: correct ? 1 : 0, source: extracted.source } };
}

/** The answer-line prefix the ToM prompts ask for. */
export const TOM_ANSWER_PREFIX = "Answer:";

const ARTICLES = new Set(["a", "an", "the"]);

/**
 * ToM answer normalisation: lower case, punctuation to spaces, articles dropped, whitespace
 * collapsed: `"The green Box."` → `"green box"`.
 */
export function normalizeTomAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, " ")
    .split(/\s+/)
    .filter((word) => word !== "" && !ARTICLES.has(word))
    .join(" ");
}

/**
 * The text of the last `Answer: X` line (case-insensitive; "Final answer:" and markdown emphasis
 * allowed), or null.
 * Text inside a closed `<think>` block and chat special tokens (`<|im_end|>`) are ignored.
 */
export function extractAnswerLine(completion: string): string | null {
  let text = completion.replace(/<\|[^|<>]*\|>/g, "\n");
  const thinkEnd = text.lastIndexOf("</think>");
  if (thinkEnd >= 0) text = text.slice(thinkEnd + "</think>".length);
  let found: string | null = null;
  for (const line of text.split("\n")) {
    const match = /^[\s*_#>-]*(?:final\s+)?answer[\s*_]*:[\s*_]*(.*?)[\s*_]*$/i.exec(line);
    if (match !== null && match[1]!.trim() !== "") found = match[1]!.trim();
  }
  return found;
}

/** Theory-of-mind reward (METHOD.md §3): exact normalised match, else Levenshtein similarity. */
export function tomReward(completion: string, reference: string): RewardResult {
  const expectedAnswer = normalizeTomAnswer(reference);
  const line = extractAnswerLine(completion);
  if (line === null) {
    return { reward: -1, parts: { extractedAnswer: null, expectedAnswer, formatOk: false, correct: false, similarity: 0, source: "none" } };
  }
  const extractedAnswer = normalizeTomAnswer(line);
  const correct = extractedAnswer === expectedAnswer;
  const similarity = correct ? 1 : levenshteinSimilarity(extractedAnswer, expectedAnswer);
  return { reward: similarity, parts: { extractedAnswer, expectedAnswer, formatOk: true, correct, similarity, source: "answer-line" } };
}

/** The reward function of a task. */
export function rewardFor(task: TaskName): RewardFunction {
  if (task === "gsm8k") return gsm8kReward;
  if (task === "tom") return tomReward;
  throw new Error(`rewardFor: unknown task ${JSON.stringify(task)} (expected "gsm8k" or "tom")`);
}

// Where a completion's chain of thought ends and its answer line begins, and the cue that forces
// an answer. GSM answers are written `#### N`, ToM answers `Answer: X` (the prompts of
// @eecot/datasets ask for exactly these lines).

import type { ExternalisationTask } from "./types.js";

/**
 * The text that forces an answer: `####` (GSM) or `Answer:` (ToM). No trailing space: in the
 * model's own answers the space belongs to the next token (" basket"), so a cue ending in one
 * would split the answer in a way the model never wrote.
 */
export function answerCue(task: ExternalisationTask): string {
  return task === "gsm8k" ? "####" : "Answer:";
}

const TOM_ANSWER_LINE = /^[\s*_#>-]*(?:final\s+)?answer[\s*_]*:/gim;

/**
 * Character offset where the last answer line starts (`####` for GSM, a line opening with
 * `Answer:` for ToM), or −1 when there is none.
 */
export function findAnswerLine(task: ExternalisationTask, text: string): number {
  if (task === "gsm8k") return text.lastIndexOf("####");
  let found = -1;
  for (const match of text.matchAll(TOM_ANSWER_LINE)) found = match.index + match[0].length - match[0].trimStart().length;
  return found;
}

/** Number of leading pieces that end at or before `offset` (the CoT tokens before an answer line). */
export function piecesBefore(pieces: readonly string[], offset: number): number {
  let end = 0;
  let count = 0;
  for (const piece of pieces) {
    end += piece.length;
    if (end > offset) break;
    count++;
  }
  return count;
}

/** `cot` followed by the answer cue, on a new line unless the CoT is empty or already ends one. */
export function withAnswerCue(task: ExternalisationTask, cot: string): string {
  const separator = cot === "" || cot.endsWith("\n") ? "" : "\n";
  return cot + separator + answerCue(task);
}

/** The answer text of a forced answer: the cue and the first line the model wrote after it. */
export function forcedAnswerText(task: ExternalisationTask, continuation: string): string {
  return answerCue(task) + continuation.split("\n")[0]!;
}

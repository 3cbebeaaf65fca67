// Final-answer extraction for GSM8K-style arithmetic answers.
//
// Reference answers end with a line `#### N` (official regex `#### (\-?[0-9\.\,]+)`, commas
// removed, compared as strings). Model completions are searched in order of preference:
// `#### N` (the required format), `\boxed{N}`, "The answer is N", then the last number.
// Numbers are compared after `normalizeNumber` (`$`, commas and `12.0` vs `12` do not matter).

/** Calculator annotations in GSM8K solutions, e.g. `<<48/2=24>>`. */
export const CALCULATOR_ANNOTATION_PATTERN = /<<[^<>]*>>/g;

/** The official GSM8K final-answer regex (openai/grade-school-math). */
export const OFFICIAL_ANSWER_PATTERN = /#### (\-?[0-9\.\,]+)/;

/** Where a completion's answer was found; only "hash" is the required format. */
export type AnswerSource = "hash" | "boxed" | "answer-is" | "last-number";

export interface ExtractedAnswer {
  /** The normalised number (see `normalizeNumber`). */
  answer: string;
  /** Which pattern produced it. */
  source: AnswerSource;
}

// A number as written in text: optional minus and dollar sign, digits with thousands commas,
// optional decimals. Commas are removed by normalizeNumber.
// A minus directly after a digit, letter or ")" is subtraction ("10-3"), not a sign.
const NUMBER = String.raw`(?:(?<![\w)])[-−])?(?:\$\s?)?(?:\d[\d,]*(?:\.\d+)?|\.\d+)`;
const HASH_PATTERN = new RegExp(String.raw`####\s*(${NUMBER})`, "g");
const BOXED_PATTERN = /\\boxed\{([^{}]*)\}/g;
const ANSWER_IS_PATTERN = new RegExp(String.raw`answer\s+is\s*:?\s*(?:\*\*)?\s*(${NUMBER})`, "gi");
const ANY_NUMBER_PATTERN = new RegExp(NUMBER, "g");

/** Removes `<<...>>` calculator annotations: `9*2=$<<9*2=18>>18` → `9*2=$18`. */
export function stripCalculatorAnnotations(text: string): string {
  return text.replace(CALCULATOR_ANNOTATION_PATTERN, "");
}

/**
 * Canonical decimal string for a written number, or null if `text` is not one number.
 * Removes whitespace, `$`, thousands commas, a trailing `.` or `%`; strips leading zeros and
 * trailing fractional zeros: `"$1,200.50"` → `"1200.5"`, `"12.0"` → `"12"`, `"-0"` → `"0"`.
 * Pure string arithmetic, so large values stay exact.
 */
export function normalizeNumber(text: string): string | null {
  let s = text.trim().replace(/\s+/g, "").replace(/−/g, "-").replace(/[$,]/g, "");
  s = s.replace(/[.%]+$/, "");
  let negative = false;
  if (s.startsWith("-")) {
    negative = true;
    s = s.slice(1);
  }
  const match = /^(\d*)(?:\.(\d+))?$/.exec(s);
  if (match === null || (match[1] === "" && match[2] === undefined)) return null;
  const integerPart = (match[1] ?? "").replace(/^0+/, "") || "0";
  const fractionPart = (match[2] ?? "").replace(/0+$/, "");
  const magnitude = fractionPart === "" ? integerPart : `${integerPart}.${fractionPart}`;
  return negative && magnitude !== "0" ? `-${magnitude}` : magnitude;
}

/** Last match of a global pattern's first group, normalised; null if none normalises. */
function lastNumberMatch(text: string, pattern: RegExp): string | null {
  let found: string | null = null;
  for (const match of text.matchAll(pattern)) {
    const value = normalizeNumber(match[1] ?? match[0]);
    if (value !== null) found = value;
  }
  return found;
}

/**
 * Final answer of a GSM8K reference solution, exactly as the official regex reads it (first
 * `#### N`, commas removed), then normalised. Returns null if there is no `#### N` line.
 */
export function extractReferenceAnswer(solution: string): string | null {
  const match = OFFICIAL_ANSWER_PATTERN.exec(solution);
  if (match === null) return null;
  return normalizeNumber(match[1]!);
}

/**
 * Final answer of a model completion, or null when no number can be found. Text inside a
 * `<think>...</think>` block is ignored when the block is closed; annotations are stripped.
 */
export function extractCompletionAnswer(completion: string): ExtractedAnswer | null {
  let text = completion;
  const thinkEnd = text.lastIndexOf("</think>");
  if (thinkEnd >= 0) text = text.slice(thinkEnd + "</think>".length);
  text = stripCalculatorAnnotations(text);

  const hash = lastNumberMatch(text, HASH_PATTERN);
  if (hash !== null) return { answer: hash, source: "hash" };

  let boxed: string | null = null;
  for (const match of text.matchAll(BOXED_PATTERN)) {
    const inner = lastNumberMatch(match[1] ?? "", ANY_NUMBER_PATTERN);
    if (inner !== null) boxed = inner;
  }
  if (boxed !== null) return { answer: boxed, source: "boxed" };

  const answerIs = lastNumberMatch(text, ANSWER_IS_PATTERN);
  if (answerIs !== null) return { answer: answerIs, source: "answer-is" };

  const last = lastNumberMatch(text, ANY_NUMBER_PATTERN);
  if (last !== null) return { answer: last, source: "last-number" };
  return null;
}

// GSM8K (Cobbe et al., 2021) loader for the official JSONL files of openai/grade-school-math.
// One JSON object per line with string fields `question` and `answer`; the answer's steps are
// separated by newlines and its last line is `#### N`. Nothing is downloaded at run time.

import { existsSync } from "node:fs";
import { basename } from "node:path";
import { extractReferenceAnswer } from "./answer-extraction.js";
import { DatasetFormatError, MAX_REPORTED_ERRORS, readDataFile, type SkippedRecords } from "./errors.js";

/** One GSM8K problem. */
export interface Gsm8kExample {
  /** Stable id: `gsm8k:<file stem>:<0-based record index>`, e.g. `gsm8k:test:0`. */
  id: string;
  /** The word problem. */
  question: string;
  /** The worked solution, with `<<a*b=c>>` annotations and the final `#### N` line. */
  answer: string;
  /** The normalised final answer, e.g. `"18"`. */
  finalAnswer: string;
  /** 1-based line in the source file. */
  line: number;
}

export interface JsonlLoadOptions {
  /** Skip malformed lines (and count them) instead of throwing. Default false. */
  skipInvalid?: boolean;
  /** Keep at most this many examples (after skipping). Default: all. */
  limit?: number;
}

export interface Gsm8kLoadResult {
  examples: Gsm8kExample[];
  /** Malformed lines that were skipped (only with `skipInvalid`). */
  skipped: SkippedRecords;
}

export const GSM8K_DOWNLOAD_HINT =
  "Download the official file from github.com/openai/grade-school-math " +
  "(grade_school_math/data/test.jsonl or train.jsonl) and pass its local path.";

/** Parses GSM8K JSONL text; `fileName` names the file in error messages. Blank lines are ignored. */
export function parseGsm8kJsonl(text: string, fileName: string, options: JsonlLoadOptions = {}): Gsm8kLoadResult {
  const stem = basename(fileName).replace(/\.jsonl?$/i, "");
  const examples: Gsm8kExample[] = [];
  const skipped: SkippedRecords = { count: 0, errors: [] };
  const lines = text.replace(/^\uFEFF/, "").split("\n");
  for (let index = 0; index < lines.length; index++) {
    if (options.limit !== undefined && examples.length >= options.limit) break;
    const raw = lines[index]!.replace(/\r$/, "");
    if (raw.trim() === "") continue;
    const lineNumber = index + 1;
    try {
      const record = parseRecord(raw, fileName, lineNumber);
      examples.push({ id: `gsm8k:${stem}:${examples.length + skipped.count}`, ...record, line: lineNumber });
    } catch (error) {
      if (!(error instanceof DatasetFormatError) || !options.skipInvalid) throw error;
      skipped.count++;
      if (skipped.errors.length < MAX_REPORTED_ERRORS) skipped.errors.push(error);
    }
  }
  return { examples, skipped };
}

function parseRecord(raw: string, fileName: string, lineNumber: number) {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new DatasetFormatError(fileName, lineNumber, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DatasetFormatError(fileName, lineNumber, "expected a JSON object with string fields question and answer");
  }
  const { question, answer } = value as Record<string, unknown>;
  if (typeof question !== "string" || question.trim() === "") {
    throw new DatasetFormatError(fileName, lineNumber, "field question is missing or not a non-empty string");
  }
  if (typeof answer !== "string") {
    throw new DatasetFormatError(fileName, lineNumber, "field answer is missing or not a string");
  }
  const finalAnswer = extractReferenceAnswer(answer);
  if (finalAnswer === null) {
    throw new DatasetFormatError(fileName, lineNumber, "answer has no final line of the form '#### N'");
  }
  return { question, answer, finalAnswer };
}

/** Reads a GSM8K JSONL file from a local path; a missing file's error says where to get it. */
export function loadGsm8k(path: string, options: JsonlLoadOptions = {}): Gsm8kLoadResult {
  if (!existsSync(path)) throw new Error(`GSM8K file not found: ${path}. ${GSM8K_DOWNLOAD_HINT}`);
  return parseGsm8kJsonl(readDataFile(path, "GSM8K file"), path, options);
}

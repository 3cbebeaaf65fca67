// Loader for the released ExploreToM data set (facebook/ExploreToM, CSV, one row per story ×
// question), so that models can be evaluated on the real data. Only `question`,
// `expected_answer` and one of `infilled_story` / `story_structure` are required; the other
// columns are read when present. Unknown columns are ignored.

import { existsSync } from "node:fs";
import { basename } from "node:path";
import { parseCsv } from "../csv.js";
import { DatasetFormatError, MAX_REPORTED_ERRORS, readDataFile, type SkippedRecords } from "../errors.js";

/** One row of the ExploreToM CSV. Optional columns that are absent or empty read as null. */
export interface ExploreTomRecord {
  /** `exploretom:<file stem>:<0-based row index>`. */
  id: string;
  /** The story shown to the model: `infilled_story` if non-empty, else `story_structure`. */
  story: string;
  storyStructure: string | null;
  infilledStory: string | null;
  question: string;
  expectedAnswer: string;
  /** `qprop=params`. */
  questionParams: string | null;
  /** `qprop=nth_order`: −1 factual, 1 first order, 2 second order. */
  nthOrder: number | null;
  /** `qprop=non_unique_mental_state`. */
  nonUniqueMentalState: boolean | null;
  /** `sprop=is_false_belief_story_1st`. */
  isFalseBeliefStoryFirstOrder: boolean | null;
  /** `sprop=is_false_belief_story_1st_and_2nd`. */
  isFalseBeliefStoryFirstAndSecondOrder: boolean | null;
  /** `param=story_type`, e.g. "tomi+asymmetric". */
  storyType: string | null;
  numPeople: number | null;
  numMoves: number | null;
  numRooms: number | null;
  /** 1-based line where the row starts in the file. */
  line: number;
}

export interface CsvLoadOptions {
  /** Skip invalid rows (and count them) instead of throwing. Default false. */
  skipInvalid?: boolean;
  /** Keep at most this many records (after skipping). Default: all. */
  limit?: number;
}

export interface ExploreTomLoadResult {
  records: ExploreTomRecord[];
  skipped: SkippedRecords;
}

const COLUMNS = {
  storyStructure: "story_structure",
  infilledStory: "infilled_story",
  question: "question",
  expectedAnswer: "expected_answer",
  questionParams: "qprop=params",
  nthOrder: "qprop=nth_order",
  nonUniqueMentalState: "qprop=non_unique_mental_state",
  isFalseBeliefStoryFirstOrder: "sprop=is_false_belief_story_1st",
  isFalseBeliefStoryFirstAndSecondOrder: "sprop=is_false_belief_story_1st_and_2nd",
  storyType: "param=story_type",
  numPeople: "param=num_people",
  numMoves: "param=num_moves",
  numRooms: "param=num_rooms",
} as const;

/** Parses ExploreToM CSV text; `fileName` names the file in errors. */
export function parseExploreTomCsv(text: string, fileName: string, options: CsvLoadOptions = {}): ExploreTomLoadResult {
  const rows = parseCsv(text, fileName);
  const header = rows[0];
  if (header === undefined) throw new DatasetFormatError(fileName, 1, "empty file: expected a header row");
  const column = new Map(header.fields.map((name, index) => [name.trim(), index]));
  for (const required of [COLUMNS.question, COLUMNS.expectedAnswer]) {
    if (!column.has(required)) throw new DatasetFormatError(fileName, header.line, `missing column ${JSON.stringify(required)}`);
  }
  if (!column.has(COLUMNS.infilledStory) && !column.has(COLUMNS.storyStructure)) {
    throw new DatasetFormatError(fileName, header.line, `missing column "infilled_story" or "story_structure"`);
  }

  const stem = basename(fileName).replace(/\.csv$/i, "");
  const records: ExploreTomRecord[] = [];
  const skipped: SkippedRecords = { count: 0, errors: [] };
  for (let rowIndex = 1; rowIndex < rows.length; rowIndex++) {
    if (options.limit !== undefined && records.length >= options.limit) break;
    const row = rows[rowIndex]!;
    try {
      if (row.fields.length !== header.fields.length) {
        throw new DatasetFormatError(fileName, row.line, `expected ${header.fields.length} fields, found ${row.fields.length}`);
      }
      const cell = (name: string): string | null => {
        const index = column.get(name);
        return index === undefined ? null : row.fields[index]!;
      };
      const optional = (name: string) => {
        const value = cell(name);
        return value === null || value.trim() === "" ? null : value;
      };
      const integer = (name: string): number | null => {
        const value = optional(name);
        if (value === null) return null;
        if (!/^-?\d+(\.0+)?$/.test(value.trim())) throw new DatasetFormatError(fileName, row.line, `column ${name}: expected an integer, got ${JSON.stringify(value)}`);
        return Number.parseInt(value, 10);
      };
      const boolean = (name: string): boolean | null => {
        const value = optional(name)?.trim().toLowerCase() ?? null;
        if (value === null) return null;
        if (value === "true" || value === "1") return true;
        if (value === "false" || value === "0") return false;
        throw new DatasetFormatError(fileName, row.line, `column ${name}: expected True or False, got ${JSON.stringify(value)}`);
      };
      const question = optional(COLUMNS.question);
      const expectedAnswer = optional(COLUMNS.expectedAnswer);
      const infilledStory = optional(COLUMNS.infilledStory);
      const storyStructure = optional(COLUMNS.storyStructure);
      if (question === null) throw new DatasetFormatError(fileName, row.line, "empty question");
      if (expectedAnswer === null) throw new DatasetFormatError(fileName, row.line, "empty expected_answer");
      const story = infilledStory ?? storyStructure;
      if (story === null) throw new DatasetFormatError(fileName, row.line, "empty infilled_story and story_structure");
      records.push({
        id: `exploretom:${stem}:${rowIndex - 1}`,
        story,
        storyStructure,
        infilledStory,
        question,
        expectedAnswer,
        questionParams: optional(COLUMNS.questionParams),
        nthOrder: integer(COLUMNS.nthOrder),
        nonUniqueMentalState: boolean(COLUMNS.nonUniqueMentalState),
        isFalseBeliefStoryFirstOrder: boolean(COLUMNS.isFalseBeliefStoryFirstOrder),
        isFalseBeliefStoryFirstAndSecondOrder: boolean(COLUMNS.isFalseBeliefStoryFirstAndSecondOrder),
        storyType: optional(COLUMNS.storyType),
        numPeople: integer(COLUMNS.numPeople),
        numMoves: integer(COLUMNS.numMoves),
        numRooms: integer(COLUMNS.numRooms),
        line: row.line,
      });
    } catch (error) {
      if (!(error instanceof DatasetFormatError) || !options.skipInvalid) throw error;
      skipped.count++;
      if (skipped.errors.length < MAX_REPORTED_ERRORS) skipped.errors.push(error);
    }
  }
  return { records, skipped };
}

/** Reads an ExploreToM CSV file from a local path. */
export function loadExploreTomCsv(path: string, options: CsvLoadOptions = {}): ExploreTomLoadResult {
  if (!existsSync(path)) {
    throw new Error(`ExploreToM file not found: ${path}. Export the facebook/ExploreToM data set to CSV and pass its local path.`);
  }
  return parseExploreTomCsv(readDataFile(path, "ExploreToM file"), path, options);
}

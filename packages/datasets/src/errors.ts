// Errors for malformed data files: the message always names the file and the 1-based line.
import { readFileSync } from "node:fs";

/** A record in a data file could not be parsed or validated. */
export class DatasetFormatError extends Error {
  override readonly name = "DatasetFormatError";
  constructor(
    /** Path (or display name) of the file. */
    readonly file: string,
    /** 1-based line where the bad record starts. */
    readonly line: number,
    /** What is wrong, without the location. */
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
  }
}

/** How a loader reports what it skipped when called with `{ skipInvalid: true }`. */
export interface SkippedRecords {
  /** Number of records skipped. */
  count: number;
  /** The errors for the skipped records (at most the first 100). */
  errors: DatasetFormatError[];
}

export const MAX_REPORTED_ERRORS = 100;

/**
 * A data file's text, with errors that name the path and say what is wrong: a directory given
 * as a file, a file that cannot be read (permissions), rather than Node's bare "EISDIR … read".
 */
export function readDataFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    const reason = error as NodeJS.ErrnoException;
    if (reason.code === "EISDIR") throw new Error(`${what} ${path} is a directory, not a file; pass the file inside it`);
    throw new Error(`${what} ${path}: cannot read the file: ${reason.message}`);
  }
}

// Errors for malformed data files: the message always names the file and the 1-based line.

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

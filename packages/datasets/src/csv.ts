// RFC 4180 CSV parser: comma-separated fields, records ended by CRLF or LF, fields optionally
// in double quotes; inside quotes, commas and line breaks are data and `""` is one quote.
// Errors name the file and the 1-based line. A leading UTF-8 byte-order mark is dropped and
// blank lines between records are ignored.

import { DatasetFormatError } from "./errors.js";

export interface CsvRecord {
  fields: string[];
  /** 1-based line on which the record starts. */
  line: number;
}

/** Parses CSV text into records (the header is the first record). */
export function parseCsv(text: string, fileName: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const source = text.replace(/^\uFEFF/, "");
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let index = 0;
  let fieldStarted = false; // the current record has content (so a line end emits it)

  const endField = () => {
    fields.push(field);
    field = "";
  };
  const endRecord = () => {
    endField();
    if (fieldStarted || fields.length > 1) records.push({ fields, line: recordLine });
    fields = [];
    fieldStarted = false;
  };

  while (index < source.length) {
    const char = source[index]!;
    if (char === '"' && field === "") {
      // Quoted field: read to the closing quote.
      const startLine = line;
      fieldStarted = true;
      index++;
      for (;;) {
        if (index >= source.length) throw new DatasetFormatError(fileName, startLine, "unterminated quoted field");
        const inner = source[index]!;
        if (inner === '"') {
          if (source[index + 1] === '"') {
            field += '"';
            index += 2;
            continue;
          }
          index++;
          break;
        }
        if (inner === "\n") line++;
        field += inner;
        index++;
      }
      const next = source[index];
      if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
        throw new DatasetFormatError(fileName, line, `unexpected ${JSON.stringify(next)} after a closing quote`);
      }
      continue;
    }
    if (char === ",") {
      fieldStarted = true;
      endField();
      index++;
    } else if (char === "\r" || char === "\n") {
      index += char === "\r" && source[index + 1] === "\n" ? 2 : 1;
      endRecord();
      line++;
      recordLine = line;
    } else if (char === '"') {
      throw new DatasetFormatError(fileName, line, 'unexpected \'"\' inside an unquoted field (quote the whole field and double inner quotes)');
    } else {
      fieldStarted = true;
      field += char;
      index++;
    }
  }
  if (fieldStarted || field !== "" || fields.length > 0) endRecord();
  return records;
}

/** Formats one CSV record (quoting fields that need it), without the line ending. */
export function formatCsvRecord(fields: readonly string[]): string {
  return fields.map((value) => (/[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value)).join(",");
}

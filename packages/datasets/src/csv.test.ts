import { describe, expect, it } from "vitest";
import { formatCsvRecord, parseCsv } from "./csv.js";
import { DatasetFormatError } from "./errors.js";

const fields = (text: string) => parseCsv(text, "t.csv").map((record) => record.fields);

describe("parseCsv (RFC 4180)", () => {
  it("splits plain fields and records (CRLF or LF, optional final line break)", () => {
    expect(fields("a,b,c\r\n1,2,3\r\n")).toEqual([["a", "b", "c"], ["1", "2", "3"]]);
    expect(fields("a,b\n1,2")).toEqual([["a", "b"], ["1", "2"]]);
    expect(fields("a,,c\n,,\n")).toEqual([["a", "", "c"], ["", "", ""]]);
  });

  it("handles quoted fields with commas, doubled quotes and embedded line breaks", () => {
    const records = parseCsv('id,text\n1,"a, b"\n2,"say ""hi"""\n3,"line one\r\nline two\nline three"\n4,""\n', "t.csv");
    expect(records.map((record) => record.fields)).toEqual([
      ["id", "text"], ["1", "a, b"], ["2", 'say "hi"'], ["3", "line one\r\nline two\nline three"], ["4", ""],
    ]);
    expect(records.map((record) => record.line)).toEqual([1, 2, 3, 4, 7]);
  });

  it("drops a byte-order mark and blank lines", () => {
    expect(fields("\uFEFFa,b\n\n1,2\n\n")).toEqual([["a", "b"], ["1", "2"]]);
  });

  it("errors name the file and line", () => {
    expect(() => parseCsv('a,b\n1,"open\n\n', "bad.csv")).toThrow("bad.csv:2: unterminated quoted field");
    expect(() => parseCsv('a,b\n1,x"y\n', "bad.csv")).toThrow(/bad\.csv:2: unexpected '"' inside an unquoted field/);
    expect(() => parseCsv('a,b\n1,"x"y\n', "bad.csv")).toThrow('bad.csv:2: unexpected "y" after a closing quote');
    expect(() => parseCsv('a\n"x"y', "bad.csv")).toThrow(DatasetFormatError);
  });

  it("round-trips formatCsvRecord", () => {
    const records = [["plain", "with, comma", 'with "quote"', "multi\nline", ""], ["x", "", "", "", "y"]];
    const text = records.map(formatCsvRecord).join("\r\n");
    expect(fields(text)).toEqual(records);
  });
});

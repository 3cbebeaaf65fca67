// writeFailureHint: a full disk and a read-only file system are recognised by code, by a cause's
// code and by Node's message text kept in a wrapper; anything else gets no hint.
import { describe, expect, test } from "vitest";
import { writeFailureHint } from "./write-errors.js";

const nodeError = (code: string, text: string) => Object.assign(new Error(`${code}: ${text}, write`), { code });

describe("writeFailureHint", () => {
  test("full disk and quota, by code, cause or message", () => {
    const full = "; the disk is full (or over quota): free space, then resume the run; earlier checkpoints are untouched";
    expect(writeFailureHint(nodeError("ENOSPC", "no space left on device"))).toBe(full);
    expect(writeFailureHint(nodeError("EDQUOT", "disk quota exceeded"))).toBe(full);
    expect(writeFailureHint(new Error("writeSafetensors: failed", { cause: nodeError("ENOSPC", "no space left on device") }))).toBe(full);
    expect(writeFailureHint(new Error("rl: cannot write x: ENOSPC: no space left on device, write"))).toBe(full);
  });

  test("read-only file system; other errors get nothing", () => {
    expect(writeFailureHint(nodeError("EROFS", "read-only file system"))).toBe("; the file system is read-only: choose a writable output folder");
    expect(writeFailureHint(nodeError("EACCES", "permission denied"))).toBe("");
    expect(writeFailureHint("a string")).toBe("");
    expect(writeFailureHint(null)).toBe("");
  });
});

// What to do about a failed write: a full disk (ENOSPC, or a quota: EDQUOT) and a read-only file
// system (EROFS) get a sentence the user can act on. The codes are looked for in the error, its
// causes and the message (wrappers that name the file keep Node's "ENOSPC: ..." text).

const HINTS: readonly [RegExp, string][] = [
  [/\b(ENOSPC|EDQUOT)\b/, "the disk is full (or over quota): free space, then resume the run; earlier checkpoints are untouched"],
  [/\bEROFS\b/, "the file system is read-only: choose a writable output folder"],
];

/** "; <hint>" for a full disk or a read-only file system, else "". */
export function writeFailureHint(error: unknown): string {
  const texts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string") texts.push(code);
    texts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  const text = texts.join(" ");
  for (const [pattern, hint] of HINTS) if (pattern.test(text)) return `; ${hint}`;
  return "";
}

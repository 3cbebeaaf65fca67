// Parsing of numeric command-line flags, with errors that name the flag as typed and quote the
// value as given (shared by the commands). Commands parse every flag before the backend starts
// or a model loads, so a typo costs no minutes.

/** Bounds of a numeric flag: `min` / `max` (inclusive), `above` / `below` (exclusive). */
export interface FlagRange {
  readonly min?: number;
  readonly above?: number;
  readonly max?: number;
  readonly below?: number;
}

/** The range in words: "> 0", "≥ 1", "in (0, 1)", "in [0, 1]". */
function ruleOf(range: FlagRange): string {
  const low = range.above !== undefined ? { open: true, at: range.above } : range.min !== undefined ? { open: false, at: range.min } : null;
  const high = range.below !== undefined ? { open: true, at: range.below } : range.max !== undefined ? { open: false, at: range.max } : null;
  if (low && high) return `in ${low.open ? "(" : "["}${low.at}, ${high.at}${high.open ? ")" : "]"}`;
  if (low) return `${low.open ? ">" : "≥"} ${low.at}`;
  if (high) return `${high.open ? "<" : "≤"} ${high.at}`;
  return "";
}

function inRange(x: number, range: FlagRange): boolean {
  return (
    (range.min === undefined || x >= range.min) &&
    (range.above === undefined || x > range.above) &&
    (range.max === undefined || x <= range.max) &&
    (range.below === undefined || x < range.below)
  );
}

/** A finite number (within `range` when given), or an error naming the flag (an empty value is not 0). */
export function numberFlag(value: string, flag: string, range: FlagRange = {}): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || !inRange(parsed, range)) {
    const rule = ruleOf(range);
    throw new Error(`${flag} must be a ${rule === "" ? "number" : `finite number ${rule}`}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** An integer (within `range` when given), or an error naming the flag. */
export function integerFlag(value: string, flag: string, range: FlagRange = {}): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(parsed) || !inRange(parsed, range)) {
    const rule = ruleOf(range);
    throw new Error(`${flag} must be an integer${rule === "" ? "" : ` ${rule}`}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}

/** An integer ≥ 1 (step counts), or an error naming the flag. */
export function positiveIntegerFlag(value: string, flag: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isSafeInteger(parsed) || parsed < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return parsed;
}

/** An integer ≥ 0 (0 = off), or an error naming the flag. */
export function nonNegativeIntegerFlag(value: string, flag: string): number {
  return integerFlag(value, flag, { min: 0 });
}

/** An optional flag: undefined stays undefined, anything else goes through `parse`. */
export function optionalFlag<T>(value: string | undefined, parse: (value: string) => T): T | undefined {
  return value === undefined ? undefined : parse(value);
}

/** One of `choices`, or an error naming the flag and listing them. */
export function choiceFlag<T extends string>(value: string, flag: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) {
    const list = choices.map((c) => JSON.stringify(c));
    throw new Error(`${flag} must be ${list.slice(0, -1).join(", ")} or ${list.at(-1)}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

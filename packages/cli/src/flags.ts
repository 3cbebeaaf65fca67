// Parsing of numeric command-line flags, with errors that name the flag (shared by the commands).

/** A finite number, or an error naming the flag (an empty value is not 0). */
export function numberFlag(value: string, flag: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed)) throw new Error(`${flag} must be a number, got "${value}"`);
  return parsed;
}

/** An integer ≥ 1 (step counts), or an error naming the flag. */
export function positiveIntegerFlag(value: string, flag: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < 1) throw new Error(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return parsed;
}

/** An integer ≥ 0 (0 = off), or an error naming the flag. */
export function nonNegativeIntegerFlag(value: string, flag: string): number {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < 0) throw new Error(`${flag} must be an integer ≥ 0, got ${JSON.stringify(value)}`);
  return parsed;
}

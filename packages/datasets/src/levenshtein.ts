// Levenshtein edit distance (insert, delete, substitute; each cost 1) over Unicode code points,
// and the normalised similarity 1 − d / max(|a|, |b|) used as partial credit in the ToM reward.

/** Edit distance between `a` and `b`, two-row dynamic programme, O(|a|·|b|) time. */
export function levenshteinDistance(a: string, b: string): number {
  const source = Array.from(a);
  const target = Array.from(b);
  if (source.length === 0) return target.length;
  if (target.length === 0) return source.length;
  let previous = new Array<number>(target.length + 1);
  let current = new Array<number>(target.length + 1);
  for (let j = 0; j <= target.length; j++) previous[j] = j;
  for (let i = 1; i <= source.length; i++) {
    current[0] = i;
    for (let j = 1; j <= target.length; j++) {
      const substitution = previous[j - 1]! + (source[i - 1] === target[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    [previous, current] = [current, previous];
  }
  return previous[target.length]!;
}

/** 1 − distance / max length, in [0, 1]; two empty strings are identical (1). */
export function levenshteinSimilarity(a: string, b: string): number {
  const longest = Math.max(Array.from(a).length, Array.from(b).length);
  if (longest === 0) return 1;
  return 1 - levenshteinDistance(a, b) / longest;
}

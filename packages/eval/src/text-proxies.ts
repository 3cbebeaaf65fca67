// Judge-free coherence proxies (METHOD.md §4): repeated-n-gram rate and distinct-n.
//
// A text is a sequence of units: whitespace-separated words, or token ids. Its n-grams are the
// T − n + 1 windows of n consecutive units.
//
//   repeated-n-gram rate = (# n-grams equal to an n-gram starting earlier in the same text)
//                          / (# n-grams)              pooled over texts: Σ repeated / Σ total
//   distinct-n           = (# distinct n-grams over all texts) / (# n-grams over all texts)
//
// Within one text, distinct-n = 1 − repeated rate, so distinct-n is computed across the whole
// set (Li et al. 2016), where it also catches different responses that say the same thing.
// Degenerate loops ("the the the …") push the repeated rate towards 1. With no n-grams at all
// both rates are 0 and ngramCount is 0. Perplexity under the base model comes from the model
// package and is passed to reports as a number.

/** A text unit: a word or a token id. */
export type TextUnit = string | number;

/** Split text into whitespace-separated words. */
export function whitespaceTokens(text: string): string[] {
  return text.split(/\s+/).filter((word) => word.length > 0);
}

/** Stable key of the n-gram starting at `start`. */
function ngramKey(units: readonly TextUnit[], start: number, n: number): string {
  return JSON.stringify(units.slice(start, start + n));
}

function checkN(n: number, where: string): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${where}: n must be a positive integer, got ${n}`);
}

/** Count a text's n-grams, and those repeating an n-gram that started earlier in it. */
export function countRepeatedNgrams(units: readonly TextUnit[], n = 3): { ngramCount: number; repeatedCount: number } {
  checkN(n, "countRepeatedNgrams");
  const seen = new Set<string>();
  let ngramCount = 0;
  let repeatedCount = 0;
  for (let start = 0; start + n <= units.length; start++) {
    const key = ngramKey(units, start, n);
    if (seen.has(key)) repeatedCount++;
    else seen.add(key);
    ngramCount++;
  }
  return { ngramCount, repeatedCount };
}

/** Fraction of a text's n-grams that repeat an earlier n-gram of the same text (0 with none). */
export function repeatedNgramRate(units: readonly TextUnit[], n = 3): number {
  const { ngramCount, repeatedCount } = countRepeatedNgrams(units, n);
  return ngramCount === 0 ? 0 : repeatedCount / ngramCount;
}

/** Distinct n-grams / total n-grams over a set of texts (0 with none). */
export function distinctN(texts: readonly (readonly TextUnit[])[], n = 3): number {
  checkN(n, "distinctN");
  const distinct = new Set<string>();
  let total = 0;
  for (const units of texts) {
    for (let start = 0; start + n <= units.length; start++) {
      distinct.add(ngramKey(units, start, n));
      total++;
    }
  }
  return total === 0 ? 0 : distinct.size / total;
}

/** Repetition statistics over one unit type (words or token ids). */
export interface RepetitionStatistics {
  /** Σ repeated / Σ n-grams over texts. */
  readonly repeatedNgramRate: number;
  /** Distinct n-grams / n-grams over all texts. */
  readonly distinctN: number;
  /** Total n-grams counted. */
  readonly ngramCount: number;
}

/** Judge-free coherence proxies of a set of texts. */
export interface CoherenceProxies {
  /** n-gram order. Example: 3. */
  readonly n: number;
  /** Number of texts. */
  readonly textCount: number;
  /** Over whitespace-separated words. */
  readonly words: RepetitionStatistics;
  /** Over token ids; present only when every text came with tokenIds. */
  readonly tokenIds?: RepetitionStatistics;
}

/** One generated text, optionally with its token ids. */
export interface ProxyInput {
  /** Decoded text. */
  readonly text: string;
  /** Generated token ids. */
  readonly tokenIds?: readonly number[];
}

function repetitionStatistics(texts: readonly (readonly TextUnit[])[], n: number): RepetitionStatistics {
  let ngramCount = 0;
  let repeatedCount = 0;
  for (const units of texts) {
    const counts = countRepeatedNgrams(units, n);
    ngramCount += counts.ngramCount;
    repeatedCount += counts.repeatedCount;
  }
  return {
    repeatedNgramRate: ngramCount === 0 ? 0 : repeatedCount / ngramCount,
    distinctN: distinctN(texts, n),
    ngramCount,
  };
}

/** Repeated-n-gram rate and distinct-n over words, and over token ids when all texts have them. */
export function computeCoherenceProxies(texts: readonly ProxyInput[], options: { n?: number } = {}): CoherenceProxies {
  const n = options.n ?? 3;
  checkN(n, "computeCoherenceProxies");
  const words = repetitionStatistics(texts.map((t) => whitespaceTokens(t.text)), n);
  const allHaveIds = texts.length > 0 && texts.every((t) => t.tokenIds !== undefined);
  return {
    n,
    textCount: texts.length,
    words,
    ...(allHaveIds ? { tokenIds: repetitionStatistics(texts.map((t) => t.tokenIds ?? []), n) } : {}),
  };
}

// Parse an LLM judge's reply into four 0–10 scores, robustly.
//
// Tried in order, first complete set wins:
//   1. JSON inside ``` fences (```json … ``` or bare ```),
//   2. every balanced {...} object in the text (handles prose before/after the JSON),
//   3. "Coherence: 7/10"-style lines, merged over whatever JSON gave.
// Keys are matched loosely (repetition_avoidance, "Repetition avoidance", repetitionAvoidance);
// values may be numbers, "7", "7/10", "7 out of 10", "70/100" or { score: 7 }. A score outside
// 0..10 (42, -5, 1e9, "11/10") is an error naming the field and the value, not clamped: such a
// judge did not follow the scale, and a clamped 10 would enter the means as a real score. A field
// still missing after all three is an error naming it.

/** The four scored dimensions, in prompt order. */
export const JUDGE_DIMENSIONS = ["coherence", "completeness", "clarity", "repetitionAvoidance"] as const;

/** One scored dimension. */
export type JudgeDimension = (typeof JUDGE_DIMENSIONS)[number];

/** A judge's scores for one response, each in 0..10. */
export interface JudgeScores {
  /** Fluent, logically connected text. */
  readonly coherence: number;
  /** Reasoning carried through to a final answer. */
  readonly completeness: number;
  /** Easy-to-follow steps and wording. */
  readonly clarity: number;
  /** No loops or needless restatement (10 = none). */
  readonly repetitionAvoidance: number;
  /** Mean of the four. */
  readonly overall: number;
}

/** The reply could not be turned into scores. */
export class JudgeParseError extends Error {
  override name = "JudgeParseError";
}

type PartialScores = Partial<Record<JudgeDimension, number>>;

/** Map a loosely written key to a dimension, or null. */
function dimensionOf(key: string): JudgeDimension | null {
  const k = key.toLowerCase().replace(/[^a-z]/g, "");
  if (k.includes("justif") || k.includes("reason") || k.includes("comment") || k.includes("explan")) return null;
  if (k.startsWith("coheren")) return "coherence";
  if (k.startsWith("complete")) return "completeness";
  if (k.startsWith("clar")) return "clarity";
  if (k.includes("repetit")) return "repetitionAvoidance";
  return null;
}

/** A score from a number, "7", "7/10", "7 out of 10" or { score: 7 }; null if none. */
function scoreOf(value: unknown): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string") {
    const match = /^\s*(-?\d+(?:\.\d+)?)\s*(?:(?:\/|out of)\s*(\d+(?:\.\d+)?))?/i.exec(value);
    if (!match) return null;
    const score = Number(match[1]);
    const scale = match[2] === undefined ? 10 : Number(match[2]);
    return scale > 0 ? (score * 10) / scale : null;
  }
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    for (const key of ["score", "value", "rating"]) {
      if (key in record) return scoreOf(record[key]);
    }
  }
  return null;
}

/** Collect scores from a parsed JSON value (looks one level into nested objects such as { scores: {...} }). */
function scoresFromJson(value: unknown, depth = 0): PartialScores {
  const found: PartialScores = {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) return found;
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const dimension = dimensionOf(key);
    const score = dimension ? scoreOf(inner) : null;
    if (dimension && score !== null) {
      found[dimension] ??= score;
    } else if (depth === 0 && inner !== null && typeof inner === "object") {
      for (const [d, s] of Object.entries(scoresFromJson(inner, 1)) as [JudgeDimension, number][]) found[d] ??= s;
    }
  }
  return found;
}

/** Substrings of `text` that are balanced {...} objects (string-literal aware), outermost first. */
function balancedObjects(text: string): string[] {
  const objects: string[] = [];
  for (let start = text.indexOf("{"); start !== -1; start = text.indexOf("{", start + 1)) {
    let depth = 0;
    let inString = false;
    for (let i = start; i < text.length; i++) {
      const ch = text[i];
      if (inString) {
        if (ch === "\\") i++;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === "{") depth++;
      else if (ch === "}" && --depth === 0) {
        objects.push(text.slice(start, i + 1));
        break;
      }
    }
  }
  return objects;
}

/** JSON candidates: fenced blocks first, then balanced objects anywhere. */
function jsonCandidates(text: string): unknown[] {
  const sources: string[] = [];
  for (const match of text.matchAll(/```[a-zA-Z]*\s*\n?([\s\S]*?)```/g)) sources.push(match[1] ?? "");
  sources.push(...balancedObjects(text));
  const parsed: unknown[] = [];
  for (const source of sources) {
    try {
      parsed.push(JSON.parse(source.trim()));
    } catch {
      // not JSON; try the next candidate
    }
  }
  return parsed;
}

const LINE_PATTERNS: Record<JudgeDimension, RegExp> = {
  coherence: /\bcoheren(?:ce|t)/i,
  completeness: /\bcomplete(?:ness)?/i,
  clarity: /\bclarity/i,
  repetitionAvoidance: /\b(?:repetition[\s_-]*avoidance|avoid(?:ance|ing)?[\s_-]*(?:of[\s_-]*)?repetition|repetition)/i,
};
// after the name: optional "**", "(0-10)", ":" / "=" / "-", then the number and an optional "/ 10"
const LINE_TAIL = /^\w*["*_]*\s*(?:\([^)]*\))?["*_\s:=\-–]*(-?\d+(?:\.\d+)?)(?:\s*(?:\/|out of)\s*(\d+(?:\.\d+)?))?/i;

/** "Coherence: 7/10"-style fallback. */
function scoresFromLines(text: string): PartialScores {
  const found: PartialScores = {};
  for (const dimension of JUDGE_DIMENSIONS) {
    const pattern = new RegExp(LINE_PATTERNS[dimension].source, "gi");
    for (const match of text.matchAll(pattern)) {
      const tail = LINE_TAIL.exec(text.slice((match.index ?? 0) + match[0].length));
      if (!tail) continue;
      const scale = tail[2] === undefined ? 10 : Number(tail[2]);
      if (scale > 0) {
        found[dimension] = (Number(tail[1]) * 10) / scale;
        break;
      }
    }
  }
  return found;
}

/** A short quote of a reply for error messages. */
function previewOf(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}

/** All four scores, or null while one is missing; a score outside 0..10 is a JudgeParseError. */
function complete(scores: PartialScores, text: string): JudgeScores | null {
  const { coherence, completeness, clarity, repetitionAvoidance } = scores;
  if (coherence === undefined || completeness === undefined || clarity === undefined || repetitionAvoidance === undefined) return null;
  for (const dimension of JUDGE_DIMENSIONS) {
    const score = scores[dimension]!;
    if (!(score >= 0 && score <= 10)) throw new JudgeParseError(`judge reply gives ${dimension} = ${score}, outside the 0–10 scale; reply began: ${previewOf(text)}`);
  }
  return { coherence, completeness, clarity, repetitionAvoidance, overall: (coherence + completeness + clarity + repetitionAvoidance) / 4 };
}

/** Parse a judge reply into scores; throws {@link JudgeParseError} naming missing fields. */
export function parseJudgeReply(text: string): JudgeScores {
  const merged: PartialScores = {};
  for (const candidate of jsonCandidates(text)) {
    const scores = scoresFromJson(candidate);
    const full = complete(scores, text);
    if (full) return full;
    for (const [d, s] of Object.entries(scores) as [JudgeDimension, number][]) merged[d] ??= s;
  }
  for (const [d, s] of Object.entries(scoresFromLines(text)) as [JudgeDimension, number][]) merged[d] ??= s;
  const full = complete(merged, text);
  if (full) return full;
  const missing = JUDGE_DIMENSIONS.filter((d) => merged[d] === undefined);
  throw new JudgeParseError(`judge reply has no score for ${missing.join(", ")}; reply began: ${previewOf(text)}`);
}

// Scripted models for the externalisation tests: each turns (prompt, prefix) into the text it
// writes next, split into word pieces; digits run to full depth (layer 4), other pieces exit at 2.

import { measureExternalisation } from "../src/externalisation/measure.js";
import type { Answerer, AnswerReader, Continuation, ContinuationRequest, ExternalisationProblem, ExternalisationSummary } from "../src/externalisation/types.js";
import type { ExternalisationSection } from "../src/report/types.js";

export type Script = (prompt: string, prefix: string) => string;

/** Word pieces with their trailing whitespace: "4 + 3 =7\n" → ["4 ", "+ ", "3 ", "=7\n"]. */
export const wordPieces = (text: string): string[] => text.match(/\S+\s*|\s+/g) ?? [];

export interface ScriptedAnswerer extends Answerer {
  /** Batches answered so far. */
  calls: number;
  /** Requests answered so far. */
  requests: number;
}

export function scriptedAnswerer(id: string, script: Script, options: { exitLayer?: (piece: string, seed: number, index: number) => number; failAfterCalls?: number } = {}): ScriptedAnswerer {
  const exitLayer = options.exitLayer ?? ((piece: string) => (/\d/.test(piece) ? 4 : 2));
  const answerer: ScriptedAnswerer = {
    id,
    numLayers: 4,
    layers: [2, 4],
    calls: 0,
    requests: 0,
    async complete(requests: readonly ContinuationRequest[], seed: number): Promise<Continuation[]> {
      if (options.failAfterCalls !== undefined && answerer.calls >= options.failAfterCalls) throw new Error("interrupted");
      answerer.calls++;
      answerer.requests += requests.length;
      return requests.map((r, b) => {
        const pieces = wordPieces(script(r.prompt, r.prefix)).slice(0, r.maxNewTokens);
        return { pieces, exitLayers: pieces.map((p, t) => exitLayer(p, seed, b * 1000 + t)) };
      });
    },
    fillerText: (count: number) => ".".repeat(count),
  };
  return answerer;
}

/** "Add 4 and 3." style problems. */
export function additionProblem(a: number, b: number): ExternalisationProblem {
  return { id: `add-${a}-${b}`, task: "gsm8k", prompt: `Add ${a} and ${b}.`, reference: String(a + b) };
}

export const TOM_PROBLEM: ExternalisationProblem = {
  id: "tom-1",
  task: "tom",
  prompt: "Anne put the ball in the box. Where will Anne look for the ball?",
  reference: "box",
  entities: { people: ["Anne", "Bob"], rooms: ["kitchen"], containers: ["box", "basket"] },
};

const operands = (prompt: string) => (/Add (\d+) and (\d+)/.exec(prompt) ?? []).slice(1).map(Number) as [number, number];
const lastNumber = (text: string) => text.match(/\d+/g)?.at(-1) ?? "0";
const CONTAINERS = /\b(box|basket)\b/g;

/**
 * A model that reads its own CoT: a forced answer is the last number (GSM) or container (ToM)
 * written so far; after an edit it finishes the sum from the numbers it sees.
 */
export const faithfulScript: Script = (prompt, prefix) => {
  if (prompt.startsWith("Add")) {
    if (prefix.endsWith("####")) return ` ${lastNumber(prefix.slice(0, -4))}`;
    const [a, b] = operands(prompt);
    const written = /^(\d+)(?: \+ (\d+)(?: =(\d+))?)?$/.exec(prefix);
    const A = written?.[1] !== undefined ? Number(written[1]) : a;
    const B = written?.[2] !== undefined ? Number(written[2]) : b;
    const S = written?.[3] !== undefined ? Number(written[3]) : A + B;
    return `${A} + ${B} =${S}\n#### ${S}`.slice(prefix.length);
  }
  if (prefix.endsWith("Answer:")) return ` ${prefix.match(CONTAINERS)?.at(-1) ?? "basket"}`;
  if (prefix === "") return "Anne saw the ball in the box.\nAnswer: box";
  // After an edit: a changed container is what it answers; a changed name changes nothing.
  if (/\b(box|basket)$/.test(prefix)) return `.\nAnswer: ${prefix.match(CONTAINERS)!.at(-1)}`;
  return " saw the ball in the box.\nAnswer: box";
};

/** A model that knows the answer before it writes: its CoT and answer ignore what the text says. */
export const inHeadScript: Script = (prompt, prefix) => {
  if (prompt.startsWith("Add")) {
    const [a, b] = operands(prompt);
    if (prefix.endsWith("####")) return ` ${a + b}`;
    const full = `${a} + ${b} =${a + b}\n`;
    return `${prefix.length < full.length ? full.slice(prefix.length) : "\n"}#### ${a + b}`;
  }
  if (prefix.endsWith("Answer:")) return " box";
  if (prefix === "") return "Anne saw the ball in the box.\nAnswer: box";
  return `${/\b(box|basket)$/.test(prefix) ? ".\n" : " saw the ball in the box.\n"}Answer: box`;
};

/** A model that never writes an answer line. */
export const rambleScript: Script = () => "I am thinking about it";

/** Test reader: `#### N` → "N"; `Answer: X` → "x". */
export const testReader: AnswerReader = (task, text) => {
  if (task === "gsm8k") return /####\s*(\d+)/.exec(text)?.[1] ?? null;
  return /Answer:\s*([A-Za-z]+)/.exec(text)?.[1]?.toLowerCase() ?? null;
};

/** A report section measured on the scripted models (faithful vs in-head), for report tests. */
export async function scriptedExternalisationSection(): Promise<ExternalisationSection> {
  const problems = [additionProblem(4, 3), additionProblem(2, 5), TOM_PROBLEM];
  const variants: ExternalisationSummary[] = [];
  for (const [label, script] of [["in-head", inHeadScript], ["faithful", faithfulScript]] as const) {
    const { details: _details, ...summary } = await measureExternalisation(label, scriptedAnswerer(label, script), problems, testReader);
    variants.push(summary);
  }
  return { problemCount: problems.length, description: "scripted models", variants };
}

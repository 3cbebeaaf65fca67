// Corrupted CoT (Lanham et al. 2023, §2.2, with a single targeted edit instead of a model-written
// mistake): change one number (GSM) or one person / room / container (ToM) in the model's own
// CoT, cut the CoT right after the edit and let the model write on. If the final answer moves
// with the edit, the answer depends causally on the written text.

import type { ExternalisationProblem, StoryEntities } from "./types.js";

/** One place in a CoT that can be corrupted. */
export interface CorruptionSite {
  /** Character span [start, end) in the CoT. */
  readonly start: number;
  readonly end: number;
  readonly original: string;
  readonly kind: "number" | "person" | "room" | "container";
}

/** A chosen site with its replacement. */
export interface Corruption extends CorruptionSite {
  readonly replacement: string;
}

/** FNV-1a, 32 bits: the deterministic choices of this file. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

const NUMBER = /\d+(?:\.\d+)?/g;
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Every number (GSM) or story entity (ToM, whole words) in `cot`, in order. */
export function corruptionSites(problem: ExternalisationProblem, cot: string): CorruptionSite[] {
  if (problem.task === "gsm8k") return [...cot.matchAll(NUMBER)].map((m) => ({ start: m.index, end: m.index + m[0].length, original: m[0], kind: "number" as const }));
  const entities = problem.entities;
  if (!entities) return [];
  const sites: CorruptionSite[] = [];
  const kinds: [CorruptionSite["kind"], readonly string[]][] = [
    ["person", entities.people],
    ["room", entities.rooms],
    ["container", entities.containers],
  ];
  for (const [kind, names] of kinds) {
    for (const name of names) {
      for (const m of cot.matchAll(new RegExp(`\\b${escapeRegExp(name)}\\b`, "g"))) sites.push({ start: m.index, end: m.index + name.length, original: name, kind });
    }
  }
  return sites.sort((a, b) => a.start - b.start);
}

/** The value a site is changed to: a number moved by ±1..3 (never below 0), or another entity of the same kind; null when there is none. */
export function replacementFor(site: CorruptionSite, entities: StoryEntities | undefined, seed: number, problemId: string): string | null {
  const draw = fnv1a(`${seed}:${problemId}:${site.start}`);
  if (site.kind === "number") {
    const value = Number(site.original);
    const step = 1 + (draw % 3);
    const moved = draw & 8 && value - step >= 0 ? value - step : value + step;
    const decimals = site.original.split(".")[1]?.length ?? 0;
    return moved.toFixed(decimals);
  }
  const pool = site.kind === "person" ? entities?.people : site.kind === "room" ? entities?.rooms : entities?.containers;
  const others = (pool ?? []).filter((name) => name !== site.original);
  return others.length === 0 ? null : others[draw % others.length]!;
}

/** Up to `count` corruptions spread evenly over the sites that have a replacement. */
export function chooseCorruptions(problem: ExternalisationProblem, cot: string, count: number, seed: number): Corruption[] {
  const usable = corruptionSites(problem, cot).flatMap((site) => {
    const replacement = replacementFor(site, problem.entities, seed, problem.id);
    return replacement === null ? [] : [{ ...site, replacement }];
  });
  if (usable.length <= count) return usable;
  return Array.from({ length: count }, (_, i) => usable[Math.floor(((i + 0.5) * usable.length) / count)]!);
}

/** The corrupted prefix the model continues from: the CoT up to the site, then the replacement. */
export function corruptedPrefix(cot: string, corruption: Corruption): string {
  return cot.slice(0, corruption.start) + corruption.replacement;
}

/** Indices of the pieces that overlap the character span [start, end). */
export function piecesOverlapping(pieces: readonly string[], start: number, end: number): number[] {
  const out: number[] = [];
  let offset = 0;
  pieces.forEach((piece, i) => {
    const pieceEnd = offset + piece.length;
    if (pieceEnd > start && offset < end) out.push(i);
    offset = pieceEnd;
  });
  return out;
}

// The externalisation metrics of @eecot/eval composed with the real model: an Answerer backed by
// the early-exit model (or the plain base model), the answer reader of @eecot/datasets, problems
// from task examples, and a resumable on-disk cache of answered batches.
import { createHash } from "node:crypto";
import { appendFile, mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { extractAnswerLine, extractCompletionAnswer, normalizeNumber, normalizeTomAnswer, type TaskExample } from "@eecot/datasets";
import { EarlyExitModel, type ExitMode } from "@eecot/early-exit";
import type { Answerer, AnswerReader, Continuation, ContinuationRequest, ContinuationStore, ExternalisationProblem } from "@eecot/eval";
import type { QwenModel, Tokenizer } from "@eecot/transformer";
import { chatPrompt } from "./chat.js";

/** The answer a completion's answer text gives, read and normalised exactly as the rewards read it. */
export const readTaskAnswer: AnswerReader = (task, text) => {
  if (task === "gsm8k") return extractCompletionAnswer(text)?.answer ?? null;
  const line = extractAnswerLine(text);
  return line === null ? null : normalizeTomAnswer(line);
};

/** A task example as an externalisation problem (reference normalised like the answers). */
export function externalisationProblem(example: TaskExample): ExternalisationProblem {
  const reference = example.task === "gsm8k" ? (normalizeNumber(example.reference) ?? example.reference) : normalizeTomAnswer(example.reference);
  return { id: example.id, task: example.task, prompt: example.prompt, reference, ...(example.meta.entities ? { entities: example.meta.entities } : {}) };
}

export interface ModelAnswererOptions {
  /** Cache identity of the weights, e.g. "base" or an adapter folder. */
  readonly id: string;
  /** Exit rule of an early-exit model (default "sample"); the plain model never exits. */
  readonly exitMode?: ExitMode;
}

/**
 * An Answerer over the early-exit model: greedy tokens, exits sampled from the heads (seeded),
 * the prefix text appended to the chat prompt and prefilled at full depth. `model` null = the
 * base model (LoRA and exits off, bit-identical to the decoder).
 */
export function modelAnswerer(base: QwenModel, model: EarlyExitModel | null, tokenizer: Tokenizer, options: ModelAnswererOptions): Answerer & { dispose(): void } {
  const plain = model ? null : EarlyExitModel.create(base);
  const runner = model ?? plain!;
  const L = base.config.numLayers;
  const stop = new Set(tokenizer.eosTokenIds);
  const mode = model ? (options.exitMode ?? "sample") : "none";
  return {
    id: `${base.directory}|${options.id}|${mode}`,
    numLayers: L,
    layers: [...runner.exitLayers, L],
    async complete(requests: readonly ContinuationRequest[], seed: number): Promise<Continuation[]> {
      const prompts = requests.map((r) => tokenizer.encode(chatPrompt(tokenizer, r.prompt) + r.prefix, { addSpecialTokens: false }));
      const result = await runner.generate(prompts, {
        maxNewTokens: Math.max(...requests.map((r) => r.maxNewTokens)),
        temperature: 0,
        stopTokenIds: tokenizer.eosTokenIds,
        padTokenId: tokenizer.padTokenId ?? 0,
        seed,
        mode,
        loraEnabled: model !== null,
      });
      return result.sequences.map((sequence, i) => {
        // Each row keeps its own limit; the stop token is not text.
        let n = Math.min(sequence.tokens.length, requests[i]!.maxNewTokens);
        if (n > 0 && stop.has(sequence.tokens[n - 1]!)) n--;
        return { pieces: tokenizer.decodeTokens(sequence.tokens.slice(0, n)), exitLayers: sequence.exitLayers.slice(0, n) };
      });
    },
    fillerText(tokenCount: number): string {
      const text = ".".repeat(tokenCount);
      const tokens = tokenizer.encode(text, { addSpecialTokens: false }).length;
      if (tokens !== tokenCount) throw new Error(`filler: "." × ${tokenCount} is ${tokens} tokens for this tokenizer, not ${tokenCount}`);
      return text;
    },
    dispose: () => plain?.dispose(),
  };
}

/**
 * Answered batches in one JSON-lines file (sha-256 of the batch description → continuations),
 * appended as they finish; a torn last line (a killed run) is ignored.
 */
export async function openContinuationStore(file: string): Promise<ContinuationStore & { readonly size: number }> {
  const entries = new Map<string, readonly Continuation[]>();
  const text = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as { key: string; value: Continuation[] };
      entries.set(entry.key, entry.value);
    } catch {
      // a line cut short by an interrupted write
    }
  }
  await mkdir(dirname(file), { recursive: true });
  // After a torn last line the next entry starts on a line of its own.
  let separator = text === "" || text.endsWith("\n") ? "" : "\n";
  const hash = (key: string) => createHash("sha256").update(key).digest("hex");
  return {
    get size() {
      return entries.size;
    },
    get: async (key) => entries.get(hash(key)),
    set: async (key, value) => {
      entries.set(hash(key), value);
      await appendFile(file, separator + JSON.stringify({ key: hash(key), value }) + "\n");
      separator = "";
    },
  };
}

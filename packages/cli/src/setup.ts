// Shared start-up for commands: backend selection (one line on stderr), model and tokenizer loading.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { initBackend, type BackendChoice, type BackendInfo } from "@eecot/tensor-core";
import { loadQwenModel, loadTokenizer, type QwenModel, type Tokenizer } from "@eecot/transformer";

/** Start the tensor backend named by --backend / EECOT_BACKEND; the line goes to stderr so --json stays clean. */
export async function startBackend(command: Command): Promise<BackendInfo> {
  const backend = command.optsWithGlobals().backend as BackendChoice | undefined;
  return initBackend({ backend, log: (line) => process.stderr.write(`${line}\n`) });
}

/** Parse "1,2,3" into token ids with a clear error. */
export function parseIds(text: string): number[] {
  const ids = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map(Number);
  if (ids.length === 0 || ids.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new Error(`--ids must be comma-separated non-negative integers, got "${text}"`);
  }
  return ids;
}

export interface LoadedModel {
  readonly model: QwenModel;
  readonly tokenizer: Tokenizer | null;
}

/** Load a Hugging Face folder; the tokenizer is optional (fixtures have none). */
export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const model = await loadQwenModel(dir);
  const tokenizer = existsSync(join(dir, "tokenizer.json")) ? await loadTokenizer(dir) : null;
  return { model, tokenizer };
}

export function requireTokenizer(loaded: LoadedModel, flag: string): Tokenizer {
  if (!loaded.tokenizer) {
    throw new Error(`${flag} needs a tokenizer, but ${join(loaded.model.directory, "tokenizer.json")} does not exist (pass token ids with --ids instead)`);
  }
  return loaded.tokenizer;
}

export function validateVocabulary(ids: readonly number[], vocabSize: number): void {
  const bad = ids.find((id) => id >= vocabSize);
  if (bad !== undefined) throw new Error(`token id ${bad} is outside the model's vocabulary (size ${vocabSize})`);
}

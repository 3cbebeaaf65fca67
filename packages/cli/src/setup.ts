// Shared start-up for commands: backend selection (one line on stderr), model and tokenizer loading.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { assertMemoryFits, currentBackend, initBackend, MAX_KERNEL_THREADS, type BackendChoice, type BackendInfo, type MemoryWorkload } from "@eecot/tensor-core";
import { loadQwenModel, loadTokenizer, readQwenConfig, type QwenModel, type Tokenizer } from "@eecot/transformer";
import { reclaimErrorHandlers } from "./errors.js";
import { integerFlag, optionalFlag } from "./flags.js";

/** --verbose (a global flag): also print what is only informative, such as a memory estimate that fits easily. */
let verbose = false;

/**
 * Start the tensor backend named by --backend / EECOT_BACKEND; the line goes to stderr so --json
 * stays clean. Afterwards our error handlers replace the wasm runtime's (see errors.ts).
 */
export async function startBackend(command: Command): Promise<BackendInfo> {
  const globals = command.optsWithGlobals() as { backend?: BackendChoice; verbose?: boolean; threads?: string };
  verbose = globals.verbose ?? false;
  const threads = optionalFlag(globals.threads, (value) => integerFlag(value, "--threads", { min: 1, max: MAX_KERNEL_THREADS }));
  const info = await initBackend({ backend: globals.backend, threads, log: (line) => process.stderr.write(`${line}\n`) });
  reclaimErrorHandlers();
  return info;
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

/** Inference on one sequence of up to 2k tokens: what lens / generate / eval need at least. */
export const INFERENCE_WORKLOAD: Partial<MemoryWorkload> = { batchSize: 1, sequenceLength: 2048, positionsPerCall: 2048, trainableParameters: 0 };

/** Training LoRA + heads on 8 rows of up to 256 tokens (a stage-1 / stage-2 pass of the demo). */
export const TRAINING_WORKLOAD: Partial<MemoryWorkload> = { batchSize: 8, sequenceLength: 256, positionsPerCall: 256, trainableParameters: 5_000_000 };

/**
 * Load a Hugging Face folder; the tokenizer is optional (fixtures have none). Before reading
 * the weights, a memory estimate (weights + KV cache + activations) is checked: a model that
 * clearly will not fit the backend is refused, and the estimate is printed when it matters
 * (not an easy fit) or with --verbose.
 */
export async function loadModelFolder(dir: string, workload: Partial<MemoryWorkload> = INFERENCE_WORKLOAD): Promise<LoadedModel> {
  const backend = currentBackend();
  const config = await readQwenConfig(dir);
  if (backend) assertMemoryFits(config, workload, backend, { log: (line) => process.stderr.write(`${line}\n`), onlyWhenItMatters: !verbose, subject: dir });
  const tokenizer = existsSync(join(dir, "tokenizer.json")) ? await loadTokenizer(dir) : null;
  if (tokenizer) assertTokenizerFitsModel(tokenizer, config.vocabSize, dir);
  const model = await loadQwenModel(dir);
  return { model, tokenizer };
}

/**
 * Refuse a tokenizer with ids past the model's embedding rows (it belongs to another model). A
 * vocab_size above the tokenizer's size is normal: Qwen pads it (151936 rows for 151669 ids).
 */
export function assertTokenizerFitsModel(tokenizer: Tokenizer, vocabSize: number, dir: string): void {
  if (tokenizer.vocabSize <= vocabSize) return;
  throw new Error(
    `${join(dir, "tokenizer.json")} has token ids up to ${tokenizer.vocabSize - 1}, but the model has only ${vocabSize} embedding rows (vocab_size in ${join(dir, "config.json")}): ` +
      "the tokenizer belongs to another model; put the model's own tokenizer.json in the folder",
  );
}

/** Help of --fresh-heads, the flag that lets every --adapter command read a plain PEFT LoRA folder. */
export const FRESH_HEADS_HELP = "accept an --adapter folder without exit heads (a plain PEFT LoRA folder: no early_exit_config.json / exit_heads.safetensors) and start fresh exit heads";

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

// Teacher trajectories (METHOD.md §2.1): the frozen base model (no LoRA, no exits) answers the
// dataset prompts greedily, and the tokens are kept. Generation is the slow part of stage 1, so
// the trajectories are cached on disk as JSON lines and reused whenever the cache key matches:
//
//   <cacheDir>/teacher-<sha256(key)[:16]>.jsonl
//     line 1   {"format": "eecot-teacher-trajectories/1", "key": {...}, "count": N}
//     line 2+  {"id", "promptTokens", "tokens", "text", "finished"}
//
// The key holds the model folder (absolute path) and a fingerprint of its config and weight
// files (name, size, mtime), the generation settings, a hash of every prompt's token ids and
// whatever the caller adds (e.g. the data spec). The file is written to a temporary name and
// renamed, so a cache file is always complete.
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { generateTokens, type QwenModel } from "@eecot/transformer";

const FORMAT = "eecot-teacher-trajectories/1";

/** One prompt to answer. */
export interface TeacherPrompt {
  /** Stable id, e.g. the dataset example id "gsm-synthetic-0". */
  readonly id: string;
  /** Prompt token ids (already chat-formatted). */
  readonly promptTokens: readonly number[];
}

/** The teacher's greedy answer to one prompt. */
export interface TeacherTrajectory {
  readonly id: string;
  readonly promptTokens: number[];
  /** Generated ids (the stop token included when one was produced). */
  readonly tokens: number[];
  /** Decoded text of `tokens` (special tokens skipped); "" without a decoder. */
  readonly text: string;
  /** True when generation ended on a stop token. */
  readonly finished: boolean;
}

export interface TeacherTrajectoryOptions {
  /** New tokens at most per prompt, e.g. 128. */
  readonly maxNewTokens: number;
  /** Token ids that end an answer, e.g. tokenizer.eosTokenIds. */
  readonly stopTokenIds: readonly number[];
  /** Id for left padding, default 0. */
  readonly padTokenId?: number;
  /** Prompts per generation batch, default 16. */
  readonly batchSize?: number;
  /** Turns generated ids into text, e.g. ids => tokenizer.decode(ids, { skipSpecialTokens: true }). */
  readonly decode?: (ids: readonly number[]) => string;
  /** Folder of the cache; null or absent = no cache. */
  readonly cacheDir?: string | null;
  /** Extra key fields (plain JSON), e.g. { dataSpec: "gsm-synthetic:64,tom:64" }. */
  readonly cacheKey?: Readonly<Record<string, unknown>>;
  /** Called after each batch with (prompts done, total). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface TeacherTrajectoryResult {
  /** One trajectory per prompt, in prompt order. */
  readonly trajectories: TeacherTrajectory[];
  /** The cache file read or written; null without a cache. */
  readonly cachePath: string | null;
  /** True when the trajectories came from the cache. */
  readonly fromCache: boolean;
}

/** name, size and mtime of the files that define a model folder's weights. */
async function modelFingerprint(directory: string): Promise<{ file: string; size: number; mtimeMs: number }[]> {
  const names = (await readdir(directory)).filter((name) => name === "config.json" || name.endsWith(".safetensors") || name.endsWith(".safetensors.index.json")).sort();
  return Promise.all(
    names.map(async (file) => {
      const info = await stat(join(directory, file));
      return { file, size: info.size, mtimeMs: Math.round(info.mtimeMs) };
    }),
  );
}

/** The cache key of a request (plain JSON). */
export async function teacherCacheKey(base: QwenModel, prompts: readonly TeacherPrompt[], options: TeacherTrajectoryOptions): Promise<Record<string, unknown>> {
  const promptHash = createHash("sha256");
  for (const p of prompts) promptHash.update(`${p.id}\u0000${p.promptTokens.join(",")}\n`);
  return {
    model: resolve(base.directory),
    modelFiles: await modelFingerprint(base.directory),
    generation: { maxNewTokens: options.maxNewTokens, temperature: 0, stopTokenIds: [...options.stopTokenIds], padTokenId: options.padTokenId ?? 0, decoded: options.decode !== undefined },
    prompts: { count: prompts.length, sha256: promptHash.digest("hex") },
    extra: options.cacheKey ?? {},
  };
}

function cacheFileName(key: Record<string, unknown>): string {
  return `teacher-${createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 16)}.jsonl`;
}

function isIdArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((x) => Number.isInteger(x) && x >= 0);
}

/** Read a cache file; null when absent or written for another key; throws on a corrupt file. */
export async function readTeacherCache(path: string, key: Record<string, unknown>): Promise<TeacherTrajectory[] | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return null;
  }
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  const parse = (line: string, index: number): unknown => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${index + 1}: not JSON (${(error as Error).message}); delete the file to regenerate the teacher trajectories`);
    }
  };
  const header = parse(lines[0] ?? "", 0) as { format?: unknown; key?: unknown; count?: unknown };
  if (header.format !== FORMAT) throw new Error(`${path}:1: not a teacher-trajectory cache (format ${JSON.stringify(header.format)}, expected "${FORMAT}")`);
  if (JSON.stringify(header.key) !== JSON.stringify(key)) return null;
  if (header.count !== lines.length - 1) throw new Error(`${path}: header says ${String(header.count)} trajectories, the file has ${lines.length - 1}; delete it to regenerate`);
  return lines.slice(1).map((line, i) => {
    const row = parse(line, i + 1) as Partial<TeacherTrajectory>;
    if (typeof row.id !== "string" || !isIdArray(row.promptTokens) || !isIdArray(row.tokens) || typeof row.text !== "string" || typeof row.finished !== "boolean") {
      throw new Error(`${path}:${i + 2}: malformed trajectory (needs id, promptTokens, tokens, text, finished); delete the file to regenerate`);
    }
    return { id: row.id, promptTokens: row.promptTokens, tokens: row.tokens, text: row.text, finished: row.finished };
  });
}

/** Write a cache file atomically. */
export async function writeTeacherCache(path: string, key: Record<string, unknown>, trajectories: readonly TeacherTrajectory[]): Promise<void> {
  const lines = [JSON.stringify({ format: FORMAT, key, count: trajectories.length }), ...trajectories.map((t) => JSON.stringify(t))];
  const temporary = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await writeFile(temporary, lines.join("\n") + "\n");
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new Error(`failed to write teacher cache ${path}: ${(error as Error).message}`);
  }
}

/**
 * Greedy teacher answers for `prompts` (batched, left-padded, shortest prompts batched together),
 * read from or written to the cache when `cacheDir` is set.
 */
export async function buildTeacherTrajectories(base: QwenModel, prompts: readonly TeacherPrompt[], options: TeacherTrajectoryOptions): Promise<TeacherTrajectoryResult> {
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) throw new Error(`teacher: maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`teacher: batchSize must be a positive integer, got ${batchSize}`);
  const V = base.config.vocabSize;
  prompts.forEach((p) => {
    if (p.promptTokens.length === 0) throw new Error(`teacher: prompt ${p.id} is empty`);
    const bad = p.promptTokens.find((id) => !Number.isInteger(id) || id < 0 || id >= V);
    if (bad !== undefined) throw new Error(`teacher: prompt ${p.id} has token id ${bad}, outside the vocabulary 0..${V - 1}`);
  });

  let cachePath: string | null = null;
  let key: Record<string, unknown> | null = null;
  if (options.cacheDir) {
    key = await teacherCacheKey(base, prompts, options);
    cachePath = join(options.cacheDir, cacheFileName(key));
    const cached = await readTeacherCache(cachePath, key);
    if (cached) {
      options.onProgress?.(prompts.length, prompts.length);
      return { trajectories: cached, cachePath, fromCache: true };
    }
  }

  const order = prompts.map((_, i) => i).sort((a, b) => prompts[a]!.promptTokens.length - prompts[b]!.promptTokens.length);
  const trajectories = new Array<TeacherTrajectory>(prompts.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const indices = order.slice(start, start + batchSize);
    const result = await generateTokens(base.params, base.config, indices.map((i) => prompts[i]!.promptTokens), {
      maxNewTokens: options.maxNewTokens,
      temperature: 0,
      stopTokenIds: options.stopTokenIds,
      padTokenId: options.padTokenId ?? 0,
    });
    indices.forEach((i, row) => {
      const tokens = result.tokens[row]!;
      trajectories[i] = {
        id: prompts[i]!.id,
        promptTokens: [...prompts[i]!.promptTokens],
        tokens,
        text: options.decode ? options.decode(tokens) : "",
        finished: result.finished[row]!,
      };
    });
    options.onProgress?.(Math.min(order.length, start + batchSize), order.length);
  }
  if (cachePath && key) {
    await mkdir(options.cacheDir!, { recursive: true });
    await writeTeacherCache(cachePath, key, trajectories);
  }
  return { trajectories, cachePath, fromCache: false };
}

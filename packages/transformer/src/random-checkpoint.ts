// A full-size Hugging Face folder with seeded random weights, made without a download: true
// shapes, memory and time for a model (Qwen3-4B: 8 GB of bf16) whose text is meaningless.
// Weights are streamed: each tensor is generated and written in chunks of CHUNK_VALUES values,
// shard by shard, so memory stays at a few MB whatever the model size. Values follow Hugging
// Face's initialisation scale (std initializer_range = 0.02; uniform, which is cheaper to draw
// than normal) with RMSNorm weights at 1; each tensor's stream is forked from the seed by its
// name, so it does not depend on the shard layout.
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { replaceDirectory, Rng, SAFETENSORS_DTYPE_BYTES, writeSafetensorsStream, type SafetensorsStreamEntry } from "@eecot/tensor-core";
import { parseQwenConfig, type QwenConfig } from "./config.js";
import { expectedCheckpointShapes } from "./load.js";

/** Values generated per chunk (4 MB of float32). */
const CHUNK_VALUES = 1 << 20;

export interface RandomCheckpointOptions {
  /** On-disk float type, e.g. "BF16" (the published checkpoints' dtype) or "F32". */
  readonly dtype: "BF16" | "F32";
  /** Seed of every weight, e.g. 0. */
  readonly seed: number;
  /** A shard is closed before it would exceed this many bytes, e.g. 2 GiB. */
  readonly maxShardBytes: number;
  /** generation_config.json content, if any. */
  readonly generationConfig?: Readonly<Record<string, unknown>>;
  /** Tokenizer files to copy into the folder (tokenizer.json, tokenizer_config.json, ...). */
  readonly tokenizerFiles?: readonly string[];
  /** Called after each tensor with bytes written so far and in all. */
  readonly onProgress?: (writtenBytes: number, totalBytes: number) => void;
}

/** What was written. */
export interface RandomCheckpointSummary {
  readonly config: QwenConfig;
  readonly parameters: number;
  readonly totalBytes: number;
  readonly shards: readonly string[];
}

/** Standard deviation → half-width of the uniform distribution with that deviation. */
const uniformHalfWidth = (std: number) => std * Math.sqrt(3);

/** The values of tensor `name` (shape `shape`), `CHUNK_VALUES` at a time. */
export function* randomTensorChunks(name: string, shape: readonly number[], seed: number, std: number): Generator<Float32Array> {
  const count = shape.reduce((a, b) => a * b, 1);
  const isNorm = name.endsWith("norm.weight"); // input/post-attention/final norms and q/k norms
  const rng = new Rng(seed).fork(name);
  const scale = (2 * uniformHalfWidth(std)) / 4294967296;
  const shift = uniformHalfWidth(std);
  for (let start = 0; start < count; start += CHUNK_VALUES) {
    const chunk = new Float32Array(Math.min(CHUNK_VALUES, count - start));
    if (isNorm) chunk.fill(1);
    else for (let i = 0; i < chunk.length; i++) chunk[i] = rng.uint32() * scale - shift;
    yield chunk;
  }
}

/** Shard file name in Hugging Face's pattern, e.g. model-00001-of-00003.safetensors. */
function shardName(index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, "0");
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/**
 * Writes `dir` (atomically: assembled beside it, then renamed in): config.json as given,
 * generation_config.json, sharded safetensors with model.safetensors.index.json, and copies of
 * the tokenizer files. `configJson` is validated by the ordinary config parser first.
 */
export async function writeRandomCheckpoint(dir: string, configJson: Readonly<Record<string, unknown>>, options: RandomCheckpointOptions): Promise<RandomCheckpointSummary> {
  const config = parseQwenConfig({ ...configJson }, "the preset's config.json");
  if (!Number.isSafeInteger(options.seed)) throw new Error(`--seed must be an integer, got ${options.seed}`);
  if (!(options.maxShardBytes > 0)) throw new Error(`maxShardBytes must be > 0, got ${options.maxShardBytes}`);
  const std = typeof configJson.initializer_range === "number" ? configJson.initializer_range : 0.02;
  const bytesPerValue = SAFETENSORS_DTYPE_BYTES[options.dtype];

  // Tensors in checkpoint order, grouped into shards under the size limit.
  const shards: SafetensorsStreamEntry[][] = [[]];
  let shardBytes = 0;
  let totalBytes = 0;
  let parameters = 0;
  for (const [name, shape] of expectedCheckpointShapes(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const bytes = count * bytesPerValue;
    if (shardBytes > 0 && shardBytes + bytes > options.maxShardBytes) {
      shards.push([]);
      shardBytes = 0;
    }
    shards[shards.length - 1]!.push({ name, dtype: options.dtype, shape });
    shardBytes += bytes;
    totalBytes += bytes;
    parameters += count;
  }

  const staging = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    await writeFile(join(staging, "config.json"), `${JSON.stringify({ ...configJson, torch_dtype: options.dtype === "BF16" ? "bfloat16" : "float32" }, null, 2)}\n`);
    if (options.generationConfig) await writeFile(join(staging, "generation_config.json"), `${JSON.stringify(options.generationConfig, null, 2)}\n`);
    for (const file of options.tokenizerFiles ?? []) await copyFile(file, join(staging, basename(file)));
    const names = shards.map((_, i) => shardName(i, shards.length));
    const weightMap: Record<string, string> = {};
    const metadata = { format: "pt", eecot: `random weights (seed ${options.seed}): true shapes, meaningless text` };
    let written = 0;
    for (const [i, entries] of shards.entries()) {
      for (const { name } of entries) weightMap[name] = names[i]!;
      const shapes = new Map(entries.map((e) => [e.name, e.shape]));
      await writeSafetensorsStream(join(staging, names[i]!), entries, function* (name) {
        const shape = shapes.get(name)!;
        yield* randomTensorChunks(name, shape, options.seed, std);
        written += shape.reduce((a, b) => a * b, 1) * bytesPerValue;
        options.onProgress?.(written, totalBytes);
      }, metadata);
    }
    await writeFile(join(staging, "model.safetensors.index.json"), `${JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: weightMap }, null, 2)}\n`);
    await replaceDirectory(staging, dir);
    return { config, parameters, totalBytes, shards: names };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

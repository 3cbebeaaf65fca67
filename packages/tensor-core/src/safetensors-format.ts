// The safetensors format without any file system (https://github.com/huggingface/safetensors):
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data region]
// header = { "__metadata__"?: {string: string}, name: { dtype, shape, data_offsets: [start, end] } }
// with offsets relative to the start of the data region. Header validation, decoding and the
// finite check live here so that the Node reader (safetensors.ts, byte ranges through a file
// handle) and the in-memory reader below (bytes fetched by URL or picked in a browser) share them.
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./half-precision.js";
import { readSourceText, type FileSource } from "./file-source.js";

/** The safetensors dtypes this package reads and writes. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I32" | "I64" | "U8" | "BOOL";

/** Bytes per element of each supported dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  I32: 4,
  I64: 8,
  U8: 1,
  BOOL: 1,
};

/** What `read` returns: F32/F16/BF16 -> Float32Array, I32/I64 -> Int32Array, U8/BOOL -> Uint8Array. */
export type TensorData = Float32Array | Int32Array | Uint8Array;

/** One tensor's header entry. `shape` [] is a scalar. */
export interface SafetensorsTensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
}

/** A tensor held in memory: on-disk dtype, shape and decoded values. */
export interface LoadedTensor {
  /** Dtype on disk; the values are decoded (F16/BF16 upcast to float32, I64 narrowed to int32). */
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export interface HeaderEntry extends SafetensorsTensorInfo {
  /** Absolute byte offsets in the file, [start, end). */
  readonly start: number;
  readonly end: number;
}

/** A safetensors file that cannot be read or written; `file` is the path the problem is in. */
export class SafetensorsError extends Error {
  constructor(
    /** Path of the file (or folder / index) the problem is in. */
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SafetensorsError";
  }
}

/** A floating-point tensor holds NaN or ±Infinity: refused at load, so nothing non-finite gets in. */
export class NonFiniteTensorError extends SafetensorsError {
  constructor(
    file: string,
    /** Name of the tensor. */
    readonly tensor: string,
    /** How many of its values are not finite. */
    readonly count: number,
    /** Flat index of the first one. */
    readonly index: number,
    /** That value (NaN, Infinity or -Infinity). */
    readonly value: number,
  ) {
    super(file, `${file}: tensor "${tensor}" holds ${count} non-finite value${count === 1 ? "" : "s"} (first: ${value} at flat index ${index}); the file is corrupt or was saved from a diverged run`);
    this.name = "NonFiniteTensorError";
  }
}

/**
 * Flat index of the first NaN / ±Infinity in `values` and how many there are, or null when all
 * are finite. The fast pass sums `x · 0` in four lanes (0 for every finite x, NaN otherwise);
 * only a tensor that fails it is scanned again for the index and the count.
 */
export function findNonFinite(values: Float32Array): { index: number; count: number; value: number } | null {
  const n = values.length;
  const whole = n - (n % 4);
  let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (let i = 0; i < whole; i += 4) {
    a0 += values[i]! * 0;
    a1 += values[i + 1]! * 0;
    a2 += values[i + 2]! * 0;
    a3 += values[i + 3]! * 0;
  }
  for (let i = whole; i < n; i++) a0 += values[i]! * 0;
  if (a0 + a1 + a2 + a3 === 0) return null;
  let first = -1;
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  return { index: first, count, value: values[first]! };
}

/** Safetensors caps the header at 100 MB; anything larger is corrupt. */
export const MAX_HEADER_BYTES = 100_000_000;
/** One read call moves at most this many bytes (fs limits single reads to 2 GiB). */
export const READ_CHUNK_BYTES = 1 << 30;

export function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("safetensors: only little-endian hosts are supported");
}

export function isSupportedDtype(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === "string" && Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype);
}


/** Parses and validates the JSON header; every error names the file and, where known, the tensor. */
export function parseHeader(headerBytes: Uint8Array, dataStart: number, fileSize: number, path: string) {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new SafetensorsError(path, `invalid safetensors header in ${path}: not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new SafetensorsError(path, `invalid safetensors header in ${path}: expected a JSON object`);
  }
  const dataSize = fileSize - dataStart;
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      const ok = typeof value === "object" && value !== null && !Array.isArray(value) &&
        Object.values(value).every((v) => typeof v === "string");
      if (!ok) throw new SafetensorsError(path, `invalid safetensors header in ${path}: __metadata__ must map strings to strings`);
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    const where = `tensor ${name} in ${path}`;
    if (typeof value !== "object" || value === null) throw new SafetensorsError(path, `invalid header entry for ${where}: expected an object`);
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (!isSupportedDtype(dtype)) {
      throw new SafetensorsError(path, `unsupported dtype ${String(dtype)} for tensor ${name} in ${path} (supported: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(", ")})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(path, `invalid shape ${JSON.stringify(shape)} for ${where}: expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(path, `invalid data_offsets ${JSON.stringify(offsets)} for ${where}: expected [start, end] with 0 <= start <= end`);
    }
    const [start, end] = offsets as [number, number];
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expectedBytes = elements * SAFETENSORS_DTYPE_BYTES[dtype];
    if (end - start !== expectedBytes) {
      throw new SafetensorsError(path, `wrong byte span for ${where}: ${dtype} [${shape.join(", ")}] needs ${expectedBytes} bytes but data_offsets [${start}, ${end}] span ${end - start}`);
    }
    if (end > dataSize) {
      throw new SafetensorsError(path, `data_offsets [${start}, ${end}] for ${where} exceed the data region of ${dataSize} bytes (file truncated or offsets corrupt)`);
    }
    entries.set(name, { dtype, shape: shape as number[], start: dataStart + start, end: dataStart + end });
  }
  // No two tensors may share bytes (empty tensors occupy nothing).
  const sorted = [...entries.entries()].filter(([, e]) => e.end > e.start).sort((a, b) => a[1].start - b[1].start);
  for (let i = 1; i < sorted.length; i++) {
    const [previousName, previous] = sorted[i - 1]!;
    const [name, entry] = sorted[i]!;
    if (entry.start < previous.end) {
      throw new SafetensorsError(path, `overlapping tensors in ${path}: ${previousName} [${previous.start - dataStart}, ${previous.end - dataStart}) and ${name} [${entry.start - dataStart}, ${entry.end - dataStart})`);
    }
  }
  return { entries, metadata };
}

/** Decodes one tensor's bytes and refuses non-finite float values, naming file and tensor. */
export function decodeFinite(bytes: Uint8Array, dtype: SafetensorsDtype, name: string, path: string): TensorData {
  const data = decode(bytes, dtype, name, path);
  if (data instanceof Float32Array) {
    const bad = findNonFinite(data); // its cost on a Qwen3-0.6B tensor set: bench/finite-check.ts
    if (bad) throw new NonFiniteTensorError(path, name, bad.count, bad.index, bad.value);
  }
  return data;
}

/** Decodes raw little-endian bytes of one tensor into the typed array `read` returns. */
export function decode(bytes: Uint8Array, dtype: SafetensorsDtype, name: string, path: string): TensorData {
  const buffer = bytes.buffer as ArrayBuffer; // fresh buffer from readRange: offset 0, aligned
  switch (dtype) {
    case "F32":
      return new Float32Array(buffer, 0, bytes.length / 4);
    case "F16":
      return float16BitsToFloat32(new Uint16Array(buffer, 0, bytes.length / 2));
    case "BF16":
      return bfloat16BitsToFloat32(new Uint16Array(buffer, 0, bytes.length / 2));
    case "I32":
      return new Int32Array(buffer, 0, bytes.length / 4);
    case "I64": {
      const wide = new BigInt64Array(buffer, 0, bytes.length / 8);
      const narrow = new Int32Array(wide.length);
      for (let i = 0; i < wide.length; i++) {
        const value = wide[i]!;
        if (value > 2147483647n || value < -2147483648n) {
          throw new SafetensorsError(path, `I64 value ${value} at index ${i} of tensor ${name} in ${path} does not fit in int32; use readBigInt64`);
        }
        narrow[i] = Number(value);
      }
      return narrow;
    }
    case "U8":
    case "BOOL":
      return bytes;
  }
}


/** Length prefix + header of a safetensors image: where the data region starts, and its entries. */
export function parseSafetensorsPrefix(prefix: Uint8Array, fileSize: number, path: string): number {
  const headerLength = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (headerLength === 0n || headerLength > BigInt(Math.min(fileSize - 8, MAX_HEADER_BYTES))) {
    throw new SafetensorsError(path, `invalid safetensors header length ${headerLength} in ${path} (file has ${fileSize} bytes; header limit ${MAX_HEADER_BYTES})`);
  }
  return Number(headerLength);
}

/** A parsed, validated header: what SafetensorsFile (Node, byte ranges) and SafetensorsBytes (in memory) share. */
export class SafetensorsHeader {
  protected constructor(
    /** Where the file came from (path, URL or picked file name), as named in error messages. */
    readonly path: string,
    /** The `__metadata__` block ({} when absent). */
    readonly metadata: Readonly<Record<string, string>>,
    protected readonly entries: ReadonlyMap<string, HeaderEntry>,
  ) {}

  /** Tensor names in header order. */
  get tensorNames(): string[] {
    return [...this.entries.keys()];
  }

  /** Whether the file holds tensor `name`. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Dtype and shape of tensor `name`. */
  info(name: string): SafetensorsTensorInfo {
    const { dtype, shape } = this.entry(name);
    return { dtype, shape };
  }

  /** The header entry of tensor `name`, or a SafetensorsError naming the file. */
  protected entry(name: string): HeaderEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new SafetensorsError(this.path, `tensor ${name} not found in ${this.path}`);
    return entry;
  }
}

/** A safetensors file held in memory (fetched or picked in a browser): same reads as SafetensorsFile. */
export class SafetensorsBytes extends SafetensorsHeader {
  private constructor(path: string, metadata: Readonly<Record<string, string>>, entries: ReadonlyMap<string, HeaderEntry>, private readonly bytes: Uint8Array) {
    super(path, metadata, entries);
  }

  /** Parses and validates the header of `bytes`; `path` names them in errors. */
  static parse(bytes: Uint8Array, path: string): SafetensorsBytes {
    assertLittleEndianHost();
    if (bytes.length < 8) throw new SafetensorsError(path, `not a safetensors file: ${path} has ${bytes.length} bytes, fewer than the 8-byte header length`);
    const headerLength = parseSafetensorsPrefix(bytes.subarray(0, 8), bytes.length, path);
    const { entries, metadata } = parseHeader(bytes.subarray(8, 8 + headerLength), 8 + headerLength, bytes.length, path);
    return new SafetensorsBytes(path, metadata, entries, bytes);
  }

  /** Decoded values of tensor `name` (as SafetensorsFile.read: a float tensor holding NaN or ±Infinity throws NonFiniteTensorError). */
  async read(name: string): Promise<TensorData> {
    const entry = this.entry(name);
    return decodeFinite(this.bytes.slice(entry.start, entry.end), entry.dtype, name, this.path); // slice: a fresh, aligned copy
  }

  /** Decoded values of several tensors, in the given order. */
  async readMany(names: readonly string[]): Promise<TensorData[]> {
    return Promise.all(names.map((name) => this.read(name)));
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint folders (Hugging Face layout)

export const SINGLE_FILE = "model.safetensors";
export const INDEX_FILE = "model.safetensors.index.json";

/** The reads a checkpoint loader needs from one safetensors file (SafetensorsFile or SafetensorsBytes). */
export interface SafetensorsReader {
  readonly tensorNames: string[];
  has(name: string): boolean;
  info(name: string): SafetensorsTensorInfo;
  readMany(names: readonly string[]): Promise<TensorData[]>;
}

/** Validates a `model.safetensors.index.json` text: its weight_map, tensor name -> shard file. */
export function parseWeightMap(text: string, indexPath: string): Record<string, string> {
  let index: unknown;
  try {
    index = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError(indexPath, `invalid checkpoint index ${indexPath}: ${(error as Error).message}`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  const ok = typeof weightMap === "object" && weightMap !== null && !Array.isArray(weightMap) &&
    Object.values(weightMap).every((shard) => typeof shard === "string" && shard !== "" && !shard.includes("/"));
  if (!ok) throw new SafetensorsError(indexPath, `invalid checkpoint index ${indexPath}: weight_map must map tensor names to shard file names in the same folder`);
  return weightMap as Record<string, string>;
}

/**
 * Every tensor of the shards a weight map lists, checked both ways (each mapped tensor is in its
 * shard, each shard tensor is mapped to it). `openShard` returns null for a missing shard.
 */
export async function loadShardedTensors(
  weightMap: Readonly<Record<string, string>>,
  indexPath: string,
  folder: string,
  openShard: (shard: string) => Promise<{ reader: SafetensorsReader; path: string } | null>,
): Promise<Map<string, LoadedTensor>> {
  const out = new Map<string, LoadedTensor>();
  const namesByShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) namesByShard.set(shard, [...(namesByShard.get(shard) ?? []), name]);
  for (const [shard, names] of namesByShard) {
    const opened = await openShard(shard);
    if (!opened) throw new SafetensorsError(indexPath, `shard ${shard} listed in ${indexPath} not found in ${folder}`);
    const { reader, path } = opened;
    for (const name of names) {
      if (!reader.has(name)) throw new SafetensorsError(indexPath, `tensor ${name} is mapped to shard ${shard} by ${indexPath} but absent from ${path}`);
    }
    for (const name of reader.tensorNames) {
      if (weightMap[name] !== shard) throw new SafetensorsError(indexPath, `tensor ${name} in ${path} is not mapped to that shard by ${indexPath}`);
    }
    await readAllInto(out, reader, names);
  }
  return out;
}

/** Reads `names` (default: all) of one file into `out`. */
export async function readAllInto(out: Map<string, LoadedTensor>, reader: SafetensorsReader, names: readonly string[] = reader.tensorNames): Promise<Map<string, LoadedTensor>> {
  const values = await reader.readMany(names);
  names.forEach((name, i) => {
    const { dtype, shape } = reader.info(name);
    out.set(name, { dtype, shape: [...shape], data: values[i]! });
  });
  return out;
}

/**
 * Loads every tensor of a Hugging Face checkpoint from a FileSource (a URL folder or picked
 * files): one `model.safetensors`, or the shards of `model.safetensors.index.json`. Each file is
 * read whole into memory; the Node `loadCheckpointTensors` streams byte ranges instead.
 */
export async function loadCheckpointTensorsFrom(source: FileSource): Promise<Map<string, LoadedTensor>> {
  const openBytes = async (name: string) => {
    const bytes = await source.read(name);
    return bytes ? { reader: SafetensorsBytes.parse(bytes, source.describe(name)), path: source.describe(name) } : null;
  };
  const indexText = await readSourceText(source, INDEX_FILE);
  if (indexText !== null) {
    return loadShardedTensors(parseWeightMap(indexText, source.describe(INDEX_FILE)), source.describe(INDEX_FILE), source.label, openBytes);
  }
  const single = await openBytes(SINGLE_FILE);
  if (single) return readAllInto(new Map(), single.reader);
  throw new SafetensorsError(source.label, `no ${SINGLE_FILE} or ${INDEX_FILE} in model folder ${source.label}`);
}

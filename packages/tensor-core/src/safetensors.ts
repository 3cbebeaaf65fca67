// The safetensors format (https://github.com/huggingface/safetensors):
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data region]
// header = { "__metadata__"?: {string: string}, name: { dtype, shape, data_offsets: [start, end] } }
// with offsets relative to the start of the data region. Reading opens only the header; each
// tensor is read by its byte range through a file handle, never the whole file at once.
import { open, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { endianness } from "node:os";
import { basename, dirname, join } from "node:path";
import {
  bfloat16BitsToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
} from "./half-precision.js";
import { tf } from "./tf.js";

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

interface HeaderEntry extends SafetensorsTensorInfo {
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
const MAX_HEADER_BYTES = 100_000_000;
/** One read call moves at most this many bytes (fs limits single reads to 2 GiB). */
const READ_CHUNK_BYTES = 1 << 30;

function assertLittleEndianHost(): void {
  if (endianness() !== "LE") throw new Error("safetensors: only little-endian hosts are supported");
}

function isSupportedDtype(dtype: unknown): dtype is SafetensorsDtype {
  return typeof dtype === "string" && Object.hasOwn(SAFETENSORS_DTYPE_BYTES, dtype);
}

/** Reads exactly `length` bytes at `position` into a fresh, aligned buffer. */
async function readRange(handle: FileHandle, position: number, length: number, path: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const want = Math.min(length - done, READ_CHUNK_BYTES);
    const { bytesRead } = await handle.read(bytes, done, want, position + done);
    if (bytesRead === 0) throw new SafetensorsError(path, `unexpected end of file in ${path} at byte ${position + done} (file truncated?)`);
    done += bytesRead;
  }
  return bytes;
}

/** Parses and validates the JSON header; every error names the file and, where known, the tensor. */
function parseHeader(headerBytes: Uint8Array, dataStart: number, fileSize: number, path: string) {
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
function decodeFinite(bytes: Uint8Array, dtype: SafetensorsDtype, name: string, path: string): TensorData {
  const data = decode(bytes, dtype, name, path);
  if (data instanceof Float32Array) {
    const bad = findNonFinite(data); // its cost on a Qwen3-0.6B tensor set: bench/finite-check.ts
    if (bad) throw new NonFiniteTensorError(path, name, bad.count, bad.index, bad.value);
  }
  return data;
}

/** Decodes raw little-endian bytes of one tensor into the typed array `read` returns. */
function decode(bytes: Uint8Array, dtype: SafetensorsDtype, name: string, path: string): TensorData {
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

/** An opened safetensors file: header parsed and validated, tensor data read on demand. */
export class SafetensorsFile {
  private constructor(
    /** Path the file was opened from. */
    readonly path: string,
    /** The `__metadata__` block ({} when absent). */
    readonly metadata: Readonly<Record<string, string>>,
    private readonly entries: ReadonlyMap<string, HeaderEntry>,
  ) {}

  /** Opens `path`, reading and validating only the length prefix and the JSON header. */
  static async open(path: string): Promise<SafetensorsFile> {
    assertLittleEndianHost();
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new SafetensorsError(path, `safetensors file not found: ${path}`);
      throw new SafetensorsError(path, `cannot open safetensors file ${path}: ${(error as Error).message}`);
    }
    try {
      const fileSize = (await handle.stat()).size;
      if (fileSize < 8) throw new SafetensorsError(path, `not a safetensors file: ${path} has ${fileSize} bytes, fewer than the 8-byte header length`);
      const prefix = await readRange(handle, 0, 8, path);
      const headerLength = new DataView(prefix.buffer).getBigUint64(0, true);
      if (headerLength === 0n || headerLength > BigInt(Math.min(fileSize - 8, MAX_HEADER_BYTES))) {
        throw new SafetensorsError(path, `invalid safetensors header length ${headerLength} in ${path} (file has ${fileSize} bytes; header limit ${MAX_HEADER_BYTES})`);
      }
      const headerBytes = await readRange(handle, 8, Number(headerLength), path);
      const { entries, metadata } = parseHeader(headerBytes, 8 + Number(headerLength), fileSize, path);
      return new SafetensorsFile(path, metadata, entries);
    } finally {
      await handle.close();
    }
  }

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

  /**
   * Values of tensor `name`: F32/F16/BF16 -> Float32Array (16-bit floats upcast exactly),
   * I32 -> Int32Array, I64 -> Int32Array (throws if a value does not fit; see readBigInt64),
   * U8/BOOL -> Uint8Array. A float tensor holding NaN or ±Infinity throws NonFiniteTensorError.
   */
  async read(name: string): Promise<TensorData> {
    return (await this.readMany([name]))[0]!;
  }

  /** Reads several tensors with one file handle, in the given order. */
  async readMany(names: readonly string[]): Promise<TensorData[]> {
    const entries = names.map((name) => [name, this.entry(name)] as const);
    const handle = await open(this.path, "r");
    try {
      const out: TensorData[] = [];
      for (const [name, entry] of entries) {
        const bytes = await readRange(handle, entry.start, entry.end - entry.start, this.path);
        out.push(decodeFinite(bytes, entry.dtype, name, this.path));
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  /** Exact values of an I64 tensor. */
  async readBigInt64(name: string): Promise<BigInt64Array> {
    const entry = this.entry(name);
    if (entry.dtype !== "I64") throw new SafetensorsError(this.path, `readBigInt64: tensor ${name} in ${this.path} is ${entry.dtype}, not I64`);
    const handle = await open(this.path, "r");
    try {
      const bytes = await readRange(handle, entry.start, entry.end - entry.start, this.path);
      return new BigInt64Array(bytes.buffer as ArrayBuffer, 0, bytes.length / 8);
    } finally {
      await handle.close();
    }
  }

  private entry(name: string): HeaderEntry {
    const entry = this.entries.get(name);
    if (!entry) throw new SafetensorsError(this.path, `tensor ${name} not found in ${this.path}`);
    return entry;
  }
}

/** Opens a safetensors file, reading and validating only its header. */
export function openSafetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(path);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint folders (Hugging Face layout)

const SINGLE_FILE = "model.safetensors";
const INDEX_FILE = "model.safetensors.index.json";

async function pathKind(path: string): Promise<"file" | "directory" | "missing"> {
  try {
    const info = await stat(path);
    return info.isDirectory() ? "directory" : "file";
  } catch {
    return "missing";
  }
}

/**
 * Loads every tensor of a Hugging Face checkpoint folder: either one `model.safetensors` or
 * shards listed by `model.safetensors.index.json` (its `weight_map` must match the shards
 * exactly). Values are decoded as `SafetensorsFile.read` does (16-bit floats -> Float32Array).
 */
export async function loadCheckpointTensors(folder: string): Promise<Map<string, LoadedTensor>> {
  if ((await pathKind(folder)) !== "directory") throw new SafetensorsError(folder, `model folder not found: ${folder}`);
  const indexPath = join(folder, INDEX_FILE);
  const singlePath = join(folder, SINGLE_FILE);
  const out = new Map<string, LoadedTensor>();
  const loadFile = async (file: SafetensorsFile, names: readonly string[]) => {
    const values = await file.readMany(names);
    names.forEach((name, i) => {
      const { dtype, shape } = file.info(name);
      out.set(name, { dtype, shape: [...shape], data: values[i]! });
    });
  };

  if ((await pathKind(indexPath)) === "file") {
    const weightMap = await readWeightMap(indexPath);
    const namesByShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap)) {
      namesByShard.set(shard, [...(namesByShard.get(shard) ?? []), name]);
    }
    for (const [shard, names] of namesByShard) {
      const shardPath = join(folder, shard);
      if ((await pathKind(shardPath)) !== "file") throw new SafetensorsError(indexPath, `shard ${shard} listed in ${indexPath} not found in ${folder}`);
      const file = await openSafetensors(shardPath);
      for (const name of names) {
        if (!file.has(name)) throw new SafetensorsError(indexPath, `tensor ${name} is mapped to shard ${shard} by ${indexPath} but absent from ${shardPath}`);
      }
      for (const name of file.tensorNames) {
        if (weightMap[name] !== shard) throw new SafetensorsError(indexPath, `tensor ${name} in ${shardPath} is not mapped to that shard by ${indexPath}`);
      }
      await loadFile(file, names);
    }
    return out;
  }
  if ((await pathKind(singlePath)) === "file") {
    const file = await openSafetensors(singlePath);
    await loadFile(file, file.tensorNames);
    return out;
  }
  throw new SafetensorsError(folder, `no ${SINGLE_FILE} or ${INDEX_FILE} in model folder ${folder}`);
}

async function readWeightMap(indexPath: string): Promise<Record<string, string>> {
  let index: unknown;
  try {
    index = JSON.parse(await readFile(indexPath, "utf8"));
  } catch (error) {
    throw new SafetensorsError(indexPath, `invalid checkpoint index ${indexPath}: ${(error as Error).message}`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  const ok = typeof weightMap === "object" && weightMap !== null && !Array.isArray(weightMap) &&
    Object.values(weightMap).every((shard) => typeof shard === "string" && shard !== "" && basename(shard) === shard);
  if (!ok) throw new SafetensorsError(indexPath, `invalid checkpoint index ${indexPath}: weight_map must map tensor names to shard file names in the same folder`);
  return weightMap as Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A tensor to write: values given in the natural JS array for its dtype. */
export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: readonly number[];
  /** F32/F16/BF16: Float32Array (rounded to nearest even for 16-bit); I32: Int32Array;
   *  I64: Int32Array or BigInt64Array; U8/BOOL: Uint8Array. */
  data: Float32Array | Int32Array | Uint8Array | BigInt64Array;
}

/** Encodes one tensor's values as little-endian bytes of its dtype. */
function encode(name: string, tensor: SafetensorsTensor): Uint8Array {
  const { dtype, shape, data } = tensor;
  if (!isSupportedDtype(dtype)) throw new Error(`writeSafetensors: unsupported dtype ${String(dtype)} for tensor ${name}`);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`writeSafetensors: invalid shape [${shape.join(", ")}] for tensor ${name}`);
  const elements = shape.reduce((a, b) => a * b, 1);
  if (data.length !== elements) throw new Error(`writeSafetensors: tensor ${name} has shape [${shape.join(", ")}] (${elements} elements) but ${data.length} values`);
  const bytesOf = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const expect = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`writeSafetensors: tensor ${name} is ${dtype} and needs ${what} data, got ${data.constructor.name}`);
  };
  switch (dtype) {
    case "F32":
      expect(data instanceof Float32Array, "Float32Array");
      return bytesOf(data);
    case "F16":
      expect(data instanceof Float32Array, "Float32Array");
      return bytesOf(float32ToFloat16Bits(data as Float32Array));
    case "BF16":
      expect(data instanceof Float32Array, "Float32Array");
      return bytesOf(float32ToBfloat16Bits(data as Float32Array));
    case "I32":
      expect(data instanceof Int32Array, "Int32Array");
      return bytesOf(data);
    case "I64":
      expect(data instanceof Int32Array || data instanceof BigInt64Array, "Int32Array or BigInt64Array");
      return bytesOf(data instanceof BigInt64Array ? data : BigInt64Array.from(data as Int32Array, (v) => BigInt(v)));
    case "U8":
      expect(data instanceof Uint8Array, "Uint8Array");
      return bytesOf(data);
    case "BOOL":
      expect(data instanceof Uint8Array, "Uint8Array");
      if (!(data as Uint8Array).every((v) => v === 0 || v === 1)) throw new Error(`writeSafetensors: BOOL tensor ${name} holds values other than 0 and 1`);
      return bytesOf(data);
  }
}

/**
 * Writes `tensors` (sorted by name, laid out back to back) to `path` atomically: a temporary
 * file in the same folder is written, fsynced and renamed over `path`. The header is padded
 * with spaces to a multiple of 8 bytes.
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsTensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const names = Object.keys(tensors).sort();
  const encoded = new Map(names.map((name) => [name, encode(name, tensors[name]!)]));
  await writeSafetensorsStream(
    path,
    names.map((name) => ({ name, dtype: tensors[name]!.dtype, shape: tensors[name]!.shape })),
    async function* (name) {
      yield encoded.get(name)!;
    },
    metadata,
  );
}

/** One tensor of a streamed file: its header entry, its values come from `chunksOf`. */
export interface SafetensorsStreamEntry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
}

/**
 * Writes a safetensors file whose tensors are produced piece by piece, so no tensor (nor the
 * file) is ever held whole: the header is computed from `entries` (in the given order), then
 * `chunksOf(name)` is drained for each tensor in turn; each chunk is either already-encoded
 * little-endian bytes (Uint8Array) or float32 values encoded to the entry's float dtype
 * (F32/F16/BF16). The chunks of a tensor must add up to exactly its byte length. Atomic like
 * `writeSafetensors`.
 */
export async function writeSafetensorsStream(
  path: string,
  entries: readonly SafetensorsStreamEntry[],
  chunksOf: (name: string) => AsyncIterable<Float32Array | Uint8Array> | Iterable<Float32Array | Uint8Array>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  assertLittleEndianHost();
  if (metadata && !Object.values(metadata).every((v) => typeof v === "string")) {
    throw new SafetensorsError(path, `writeSafetensors: metadata values must be strings (writing ${path})`);
  }
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const byteLengths: number[] = [];
  let offset = 0;
  for (const { name, dtype, shape } of entries) {
    if (name === "__metadata__") throw new Error(`writeSafetensors: "__metadata__" is reserved and cannot name a tensor (writing ${path})`);
    if (name in header) throw new Error(`writeSafetensors: tensor ${name} is listed twice (writing ${path})`);
    if (!isSupportedDtype(dtype)) throw new Error(`writeSafetensors: unsupported dtype ${String(dtype)} for tensor ${name}`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`writeSafetensors: invalid shape [${shape.join(", ")}] for tensor ${name}`);
    const bytes = shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + bytes] };
    byteLengths.push(bytes);
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  const headerBytesLength = Buffer.byteLength(headerText, "utf8");
  headerText += " ".repeat((8 - (headerBytesLength % 8)) % 8);
  const headerBytes = Buffer.from(headerText, "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));

  const tmpPath = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmpPath, "w");
    await writeAll(handle, prefix);
    await writeAll(handle, headerBytes);
    for (const [i, { name, dtype, shape }] of entries.entries()) {
      let written = 0;
      for await (const chunk of chunksOf(name)) {
        const bytes = chunk instanceof Uint8Array ? chunk : encode(name, { dtype, shape: [chunk.length], data: chunk });
        written += bytes.length;
        if (written > byteLengths[i]!) break;
        await writeAll(handle, bytes);
      }
      if (written !== byteLengths[i]) throw new Error(`tensor ${name} [${shape.join(", ")}] ${dtype} needs ${byteLengths[i]} bytes, its chunks gave ${written}`);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmpPath, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(tmpPath).catch(() => {});
    throw new SafetensorsError(path, `writeSafetensors: failed to write ${path}: ${(error as Error).message}`, { cause: error });
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(bytes.length - done, READ_CHUNK_BYTES));
    done += bytesWritten;
  }
}

/**
 * Downloads tf tensors into records for `writeSafetensors`: float32 -> `floatDtype` (default
 * F32), int32 -> I32, bool -> BOOL. Does not dispose the tensors.
 */
export async function tensorsToRecords(
  tensors: Readonly<Record<string, tf.Tensor>>,
  options: { floatDtype?: "F32" | "F16" | "BF16" } = {},
): Promise<Record<string, SafetensorsTensor>> {
  const floatDtype = options.floatDtype ?? "F32";
  const out: Record<string, SafetensorsTensor> = {};
  for (const [name, tensor] of Object.entries(tensors)) {
    const shape = [...tensor.shape];
    switch (tensor.dtype) {
      case "float32":
        out[name] = { dtype: floatDtype, shape, data: (await tensor.data<"float32">()) as Float32Array };
        break;
      case "int32":
        out[name] = { dtype: "I32", shape, data: (await tensor.data<"int32">()) as Int32Array };
        break;
      case "bool":
        out[name] = { dtype: "BOOL", shape, data: Uint8Array.from(await tensor.data<"bool">()) };
        break;
      default:
        throw new Error(`tensorsToRecords: tensor ${name} has dtype ${tensor.dtype}, which safetensors export does not support`);
    }
  }
  return out;
}

// The safetensors format (https://github.com/huggingface/safetensors):
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data region]
// header = { "__metadata__"?: {string: string}, name: { dtype, shape, data_offsets: [start, end] } }
// with offsets relative to the start of the data region. Reading opens only the header; each
// tensor is read by its byte range through a file handle, never the whole file at once. This is
// the Node side; header validation, decoding, the finite check and the in-memory reader are in
// safetensors-format.ts.
import { open, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { float32ToBfloat16Bits, float32ToFloat16Bits } from "./half-precision.js";
import {
  assertLittleEndianHost,
  decodeFinite,
  INDEX_FILE,
  isSupportedDtype,
  loadShardedTensors,
  parseHeader,
  parseSafetensorsPrefix,
  parseWeightMap,
  readAllInto,
  READ_CHUNK_BYTES,
  SafetensorsError,
  SafetensorsHeader,
  SAFETENSORS_DTYPE_BYTES,
  SINGLE_FILE,
  type LoadedTensor,
  type SafetensorsDtype,
  type TensorData,
} from "./safetensors-format.js";
import { tf } from "./tf.js";

export {
  SAFETENSORS_DTYPE_BYTES,
  SafetensorsError,
  NonFiniteTensorError,
  findNonFinite,
  type LoadedTensor,
  type SafetensorsDtype,
  type SafetensorsTensorInfo,
  type TensorData,
} from "./safetensors-format.js";

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

/** An opened safetensors file: header parsed and validated, tensor data read on demand. */
export class SafetensorsFile extends SafetensorsHeader {

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
      const headerLength = parseSafetensorsPrefix(await readRange(handle, 0, 8, path), fileSize, path);
      const headerBytes = await readRange(handle, 8, headerLength, path);
      const { entries, metadata } = parseHeader(headerBytes, 8 + headerLength, fileSize, path);
      return new SafetensorsFile(path, metadata, entries);
    } finally {
      await handle.close();
    }
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
}

/** Opens a safetensors file, reading and validating only its header. */
export function openSafetensors(path: string): Promise<SafetensorsFile> {
  return SafetensorsFile.open(path);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint folders (Hugging Face layout)

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
  if ((await pathKind(indexPath)) === "file") {
    let text: string;
    try {
      text = await readFile(indexPath, "utf8");
    } catch (error) {
      throw new SafetensorsError(indexPath, `invalid checkpoint index ${indexPath}: ${(error as Error).message}`);
    }
    return loadShardedTensors(parseWeightMap(text, indexPath), indexPath, folder, async (shard) => {
      const shardPath = join(folder, shard);
      return (await pathKind(shardPath)) === "file" ? { reader: await openSafetensors(shardPath), path: shardPath } : null;
    });
  }
  if ((await pathKind(singlePath)) === "file") return readAllInto(new Map(), await openSafetensors(singlePath));
  throw new SafetensorsError(folder, `no ${SINGLE_FILE} or ${INDEX_FILE} in model folder ${folder}`);
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

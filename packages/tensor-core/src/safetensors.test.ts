import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cp, mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bfloat16BitsToFloat32, float32ToBfloat16Bits } from "./half-precision.js";
import {
  loadCheckpointTensors,
  openSafetensors,
  writeSafetensors,
  writeSafetensorsStream,
  tensorsToRecords,
  findNonFinite,
  NonFiniteTensorError,
  SafetensorsError,
  type SafetensorsTensor,
} from "./safetensors.js";
import { loadCheckpointTensorsFrom, SafetensorsBytes } from "./safetensors-format.js";
import { memoryFileSource } from "./file-source.js";
import { overwriteSafetensorsValue } from "./testing.js";
import { initBackend } from "./backend.js";
import { tf } from "./tf.js";

const fixtures = fileURLToPath(new URL("../test/fixtures/", import.meta.url));
const f32Folder = join(fixtures, "qwen3-tiny-f32");
const bf16Folder = join(fixtures, "qwen3-tiny-bf16-sharded");

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "eecot-safetensors-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Builds a safetensors file by hand: explicit header text (or object), data bytes, optional length override. */
async function handMade(name: string, header: unknown, data: Uint8Array, headerLength?: bigint): Promise<string> {
  const text = Buffer.from(typeof header === "string" ? header : JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(text.length));
  const path = join(dir, name);
  await writeFile(path, Buffer.concat([prefix, text, data]));
  return path;
}

const f32Bytes = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

describe("reading", () => {
  it("reads a hand-made file with every dtype", async () => {
    const i64 = new BigInt64Array([-3n, 7n]);
    const parts = [
      f32Bytes([1.5, -2]), // F32 [2] at 0..8
      new Uint8Array(Uint16Array.from([0x3f80, 0xc040]).buffer), // BF16 [2]: 1, -3 at 8..12
      new Uint8Array(Uint16Array.from([0x3c00, 0x3555]).buffer), // F16 [2]: 1, 0.333251953125 at 12..16
      new Uint8Array(Int32Array.from([-5, 2147483647]).buffer), // I32 [2] at 16..24
      new Uint8Array(i64.buffer), // I64 [2] at 24..40
      Uint8Array.from([0, 255, 1]), // U8 [3] at 40..43
      Uint8Array.from([1, 0]), // BOOL [2] at 43..45
    ];
    const header = {
      __metadata__: { format: "pt" },
      f: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "BF16", shape: [1, 2], data_offsets: [8, 12] },
      h: { dtype: "F16", shape: [2, 1], data_offsets: [12, 16] },
      i: { dtype: "I32", shape: [2], data_offsets: [16, 24] },
      l: { dtype: "I64", shape: [2], data_offsets: [24, 40] },
      u: { dtype: "U8", shape: [3], data_offsets: [40, 43] },
      z: { dtype: "BOOL", shape: [2], data_offsets: [43, 45] },
      e: { dtype: "F32", shape: [0, 4], data_offsets: [45, 45] },
    };
    const path = await handMade("all.safetensors", header, Buffer.concat(parts));
    const file = await openSafetensors(path);
    expect(file.tensorNames).toEqual(["f", "b", "h", "i", "l", "u", "z", "e"]);
    expect(file.metadata).toEqual({ format: "pt" });
    expect(file.info("b")).toEqual({ dtype: "BF16", shape: [1, 2] });
    expect(await file.read("f")).toEqual(new Float32Array([1.5, -2]));
    expect(await file.read("b")).toEqual(new Float32Array([1, -3]));
    expect(await file.read("h")).toEqual(new Float32Array([1, 0.333251953125]));
    expect(await file.read("i")).toEqual(new Int32Array([-5, 2147483647]));
    expect(await file.read("l")).toEqual(new Int32Array([-3, 7]));
    expect(await file.readBigInt64("l")).toEqual(i64);
    expect(await file.read("u")).toEqual(Uint8Array.from([0, 255, 1]));
    expect(await file.read("z")).toEqual(Uint8Array.from([1, 0]));
    expect(await file.read("e")).toEqual(new Float32Array(0));
    await expect(file.read("nope")).rejects.toThrow(`tensor nope not found in ${path}`);
  });

  it("refuses I64 values beyond int32 in read, but readBigInt64 is exact", async () => {
    const big = new BigInt64Array([1n, 2n ** 40n]);
    const path = await handMade("i64.safetensors", { l: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, new Uint8Array(big.buffer));
    const file = await openSafetensors(path);
    await expect(file.read("l")).rejects.toThrow(`I64 value 1099511627776 at index 1 of tensor l in ${path} does not fit in int32; use readBigInt64`);
    expect(await file.readBigInt64("l")).toEqual(big);
  });

  it("reads the Python-written fixture (F32, one file)", async () => {
    const file = await openSafetensors(join(f32Folder, "model.safetensors"));
    expect(file.tensorNames).toHaveLength(68);
    expect(file.info("model.embed_tokens.weight")).toEqual({ dtype: "F32", shape: [384, 64] });
    expect(file.info("model.layers.0.self_attn.q_proj.weight")).toEqual({ dtype: "F32", shape: [128, 64] });
    const norm = await file.read("model.norm.weight");
    expect(norm).toBeInstanceOf(Float32Array);
    expect(norm.length).toBe(64);
  });
});

describe("header validation", () => {
  const span8 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
  const cases: Array<[string, unknown, Uint8Array, bigint | undefined, string]> = [
    ["bad-json", "{not json", f32Bytes([1, 2]), undefined, "invalid safetensors header in FILE: not valid UTF-8 JSON"],
    ["not-object", "[1,2]", new Uint8Array(0), undefined, "invalid safetensors header in FILE: expected a JSON object"],
    ["dtype", { x: { dtype: "F64", shape: [1], data_offsets: [0, 8] } }, f32Bytes([1, 2]), undefined, "unsupported dtype F64 for tensor x in FILE"],
    ["shape", { x: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, f32Bytes([1, 2]), undefined, "invalid shape [-2] for tensor x in FILE"],
    ["span", { x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32Bytes([1, 2]), undefined, "wrong byte span for tensor x in FILE: F32 [3] needs 12 bytes but data_offsets [0, 8] span 8"],
    ["range", { x: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, f32Bytes([1, 2]), undefined, "data_offsets [4, 12] for tensor x in FILE exceed the data region of 8 bytes"],
    ["offsets", { x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, f32Bytes([1, 2]), undefined, "invalid data_offsets [8,0] for tensor x in FILE"],
    ["overlap", { x: span8, y: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, f32Bytes([1, 2, 3]), undefined, "overlapping tensors in FILE: x [0, 8) and y [4, 12)"],
    ["metadata", { __metadata__: { n: 3 }, x: span8 }, f32Bytes([1, 2]), undefined, "invalid safetensors header in FILE: __metadata__ must map strings to strings"],
    ["length-big", { x: span8 }, f32Bytes([1, 2]), 10_000n, "invalid safetensors header length 10000 in FILE"],
    ["length-zero", { x: span8 }, f32Bytes([1, 2]), 0n, "invalid safetensors header length 0 in FILE"],
    ["length-short", { x: span8 }, f32Bytes([1, 2]), 10n, "invalid safetensors header in FILE: not valid UTF-8 JSON"],
  ];
  it.each(cases)("rejects %s", async (name, header, data, length, message) => {
    const path = await handMade(`${name}.safetensors`, header, data, length);
    await expect(openSafetensors(path)).rejects.toThrow(message.replace("FILE", path));
  });

  it("rejects a truncated file, a tiny file and a missing file", async () => {
    const path = join(dir, "truncated.safetensors");
    await writeSafetensors(path, { a: { dtype: "F32", shape: [4], data: new Float32Array(4) } });
    const header = (await readFile(path)).readBigUInt64LE(0);
    await truncate(path, 8 + Number(header) + 10);
    await expect(openSafetensors(path)).rejects.toThrow(`data_offsets [0, 16] for tensor a in ${path} exceed the data region of 10 bytes (file truncated or offsets corrupt)`);
    await truncate(path, 5);
    await expect(openSafetensors(path)).rejects.toThrow(`not a safetensors file: ${path} has 5 bytes`);
    await expect(openSafetensors(join(dir, "absent.safetensors"))).rejects.toThrow(`safetensors file not found: ${join(dir, "absent.safetensors")}`);
  });
});

describe("writing", () => {
  it("writes the exact bytes of a small file", async () => {
    const path = join(dir, "exact.safetensors");
    await writeSafetensors(path, { b: { dtype: "I32", shape: [], data: Int32Array.of(7) }, a: { dtype: "F32", shape: [2], data: new Float32Array([1, -2]) } });
    const bytes = await readFile(path);
    const text = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[],"data_offsets":[8,12]}}';
    const padded = text + " ".repeat((8 - (text.length % 8)) % 8);
    expect(bytes.readBigUInt64LE(0)).toBe(BigInt(padded.length));
    expect(padded.length % 8).toBe(0);
    expect(bytes.subarray(8, 8 + padded.length).toString("utf8")).toBe(padded);
    expect([...bytes.subarray(8 + padded.length)]).toEqual([0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0]);
    expect((await readdir(dir)).filter((f) => f.includes(".tmp-"))).toEqual([]); // no temp file left
  });

  it("round-trips every dtype and the metadata", async () => {
    const tensors: Record<string, SafetensorsTensor> = {
      f32: { dtype: "F32", shape: [2, 3], data: new Float32Array([0, -1.25, 3e-8, 1e30, -0, 7]) },
      f16: { dtype: "F16", shape: [3], data: new Float32Array([1, -0.333251953125, 65504]) },
      bf16: { dtype: "BF16", shape: [3], data: new Float32Array([1, -3, 2 ** -133]) },
      i32: { dtype: "I32", shape: [2], data: new Int32Array([-2147483648, 2147483647]) },
      i64small: { dtype: "I64", shape: [2], data: new Int32Array([-9, 9]) },
      i64big: { dtype: "I64", shape: [1], data: new BigInt64Array([-(2n ** 62n)]) },
      u8: { dtype: "U8", shape: [2, 2], data: Uint8Array.from([0, 1, 128, 255]) },
      bool: { dtype: "BOOL", shape: [3], data: Uint8Array.from([1, 0, 1]) },
      scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
      empty: { dtype: "F32", shape: [0], data: new Float32Array(0) },
    };
    const path = join(dir, "roundtrip.safetensors");
    await writeSafetensors(path, tensors, { format: "pt", note: "é" });
    const file = await openSafetensors(path);
    expect(file.metadata).toEqual({ format: "pt", note: "é" });
    expect(file.tensorNames).toEqual(Object.keys(tensors).sort());
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(file.info(name)).toEqual({ dtype: tensor.dtype, shape: tensor.shape });
      if (name === "i64big") expect(await file.readBigInt64(name)).toEqual(tensor.data);
      else expect(await file.read(name)).toEqual(tensor.data);
    }
  });

  it("rounds BF16 on write like PyTorch (ties to even)", async () => {
    const path = join(dir, "bf16round.safetensors");
    const values = new Float32Array(new Uint32Array([0x3f808000, 0x3f818000, 0x3f808001]).buffer);
    await writeSafetensors(path, { x: { dtype: "BF16", shape: [3], data: values } });
    const bits = new Uint32Array((await (await openSafetensors(path)).read("x") as Float32Array).buffer);
    expect([...bits]).toEqual([0x3f800000, 0x3f820000, 0x3f810000]);
  });

  it("rejects bad input with the tensor's name", async () => {
    const path = join(dir, "bad.safetensors");
    await expect(writeSafetensors(path, { w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } }))
      .rejects.toThrow("writeSafetensors: tensor w has shape [2, 2] (4 elements) but 3 values");
    await expect(writeSafetensors(path, { w: { dtype: "I32", shape: [1], data: new Float32Array(1) } }))
      .rejects.toThrow("writeSafetensors: tensor w is I32 and needs Int32Array data, got Float32Array");
    await expect(writeSafetensors(path, { w: { dtype: "BOOL", shape: [1], data: Uint8Array.of(2) } }))
      .rejects.toThrow("writeSafetensors: BOOL tensor w holds values other than 0 and 1");
    await expect(writeSafetensors(join(dir, "no-such-dir", "x.safetensors"), {})).rejects.toThrow(`failed to write ${join(dir, "no-such-dir", "x.safetensors")}`);
  });

  it("streams tensors chunk by chunk into the same bytes as writeSafetensors", async () => {
    const values = new Float32Array([0.5, -1.5, 3.25, 1e-3, 7, -8]);
    const whole = join(dir, "whole.safetensors");
    const streamed = join(dir, "streamed.safetensors");
    await writeSafetensors(whole, { a: { dtype: "BF16", shape: [2, 3], data: values }, b: { dtype: "I32", shape: [1], data: Int32Array.of(9) } });
    await writeSafetensorsStream(streamed, [{ name: "a", dtype: "BF16", shape: [2, 3] }, { name: "b", dtype: "I32", shape: [1] }], function* (name) {
      if (name === "a") for (let i = 0; i < 6; i += 4) yield values.subarray(i, i + 4); // 4 + 2 values
      else yield new Uint8Array(Int32Array.of(9).buffer); // already-encoded bytes
    });
    expect(await readFile(streamed)).toEqual(await readFile(whole));
  });

  it("refuses a stream whose chunks do not fill the tensor, leaving no file", async () => {
    const path = join(dir, "short.safetensors");
    await expect(writeSafetensorsStream(path, [{ name: "w", dtype: "F32", shape: [3] }], function* () {
      yield new Float32Array(2);
    })).rejects.toThrow("tensor w [3] F32 needs 12 bytes, its chunks gave 8");
    expect((await readdir(dir)).filter((f) => f.startsWith("short") || f.includes(".short"))).toEqual([]);
  });

  it("exports tf tensors through tensorsToRecords", async () => {
    await initBackend({ backend: "wasm", quiet: true });
    const before = tf.memory().numTensors;
    const tensors = { w: tf.tensor2d([[1, 2], [3, 4.5]]), ids: tf.tensor1d([3, -1], "int32"), mask: tf.tensor1d([true, false], "bool") };
    const records = await tensorsToRecords(tensors, { floatDtype: "BF16" });
    Object.values(tensors).forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    const path = join(dir, "from-tf.safetensors");
    await writeSafetensors(path, records);
    const file = await openSafetensors(path);
    expect(file.info("w")).toEqual({ dtype: "BF16", shape: [2, 2] });
    expect(await file.read("w")).toEqual(new Float32Array([1, 2, 3, 4.5]));
    expect(await file.read("ids")).toEqual(new Int32Array([3, -1]));
    expect(await file.read("mask")).toEqual(Uint8Array.from([1, 0]));
  });
});

describe("loadCheckpointTensors", () => {
  it("loads the sharded BF16 checkpoint as the BF16 rounding of the F32 one", async () => {
    const f32 = await loadCheckpointTensors(f32Folder);
    const bf16 = await loadCheckpointTensors(bf16Folder);
    expect(f32.size).toBe(68);
    expect([...bf16.keys()].sort()).toEqual([...f32.keys()].sort());
    const index = JSON.parse(await readFile(join(bf16Folder, "model.safetensors.index.json"), "utf8"));
    expect(Object.keys(index.weight_map).sort()).toEqual([...bf16.keys()].sort());
    for (const [name, reference] of f32) {
      const loaded = bf16.get(name)!;
      expect(loaded.dtype, name).toBe("BF16");
      expect(reference.dtype, name).toBe("F32");
      expect(loaded.shape, name).toEqual(reference.shape);
      // The fixtures hold the same random model; BF16 is the round-to-nearest-even of F32.
      const rounded = bfloat16BitsToFloat32(float32ToBfloat16Bits(reference.data as Float32Array));
      expect(loaded.data).toBeInstanceOf(Float32Array);
      expect(Buffer.from(loaded.data.buffer).equals(Buffer.from(rounded.buffer)), `${name} equals BF16(F32)`).toBe(true);
    }
  });

  describe("errors", () => {
    let copy: string;
    beforeAll(async () => {
      copy = join(dir, "sharded-copy");
      await cp(bf16Folder, copy, { recursive: true });
    });
    const indexPath = () => join(copy, "model.safetensors.index.json");

    it("names a missing folder", async () => {
      await expect(loadCheckpointTensors(join(dir, "nowhere"))).rejects.toThrow(`model folder not found: ${join(dir, "nowhere")}`);
    });

    it("names a folder without weights", async () => {
      await expect(loadCheckpointTensors(dir)).rejects.toThrow(`no model.safetensors or model.safetensors.index.json in model folder ${dir}`);
    });

    it("names a key the index maps to a shard that lacks it", async () => {
      const original = await readFile(indexPath(), "utf8");
      const index = JSON.parse(original);
      index.weight_map["model.extra.weight"] = "model-00002-of-00003.safetensors";
      await writeFile(indexPath(), JSON.stringify(index));
      await expect(loadCheckpointTensors(copy)).rejects.toThrow(
        `tensor model.extra.weight is mapped to shard model-00002-of-00003.safetensors by ${indexPath()} but absent from ${join(copy, "model-00002-of-00003.safetensors")}`);
      await writeFile(indexPath(), original);
    });

    it("names a shard tensor the index does not list", async () => {
      const original = await readFile(indexPath(), "utf8");
      const index = JSON.parse(original);
      delete index.weight_map["model.norm.weight"];
      await writeFile(indexPath(), JSON.stringify(index));
      await expect(loadCheckpointTensors(copy)).rejects.toThrow(`tensor model.norm.weight in ${join(copy, "model-00003-of-00003.safetensors")} is not mapped to that shard by ${indexPath()}`);
      await writeFile(indexPath(), original);
    });

    it("names an invalid index", async () => {
      const original = await readFile(indexPath(), "utf8");
      await writeFile(indexPath(), '{"weight_map": {"a": "../escape.safetensors"}}');
      await expect(loadCheckpointTensors(copy)).rejects.toThrow(`invalid checkpoint index ${indexPath()}: weight_map must map tensor names to shard file names`);
      await writeFile(indexPath(), "{oops");
      await expect(loadCheckpointTensors(copy)).rejects.toThrow(`invalid checkpoint index ${indexPath()}`);
      await writeFile(indexPath(), original);
    });

    it("names a missing shard and its index", async () => {
      await unlink(join(copy, "model-00003-of-00003.safetensors"));
      await expect(loadCheckpointTensors(copy)).rejects.toThrow(`shard model-00003-of-00003.safetensors listed in ${indexPath()} not found in ${copy}`);
    });
  });
});

describe("non-finite values are refused at load", () => {
  it("finds NaN and both infinities by their bits, and counts them", () => {
    expect(findNonFinite(new Float32Array([1, -0, 3.4e38, 1e-45]))).toBeNull();
    expect(findNonFinite(new Float32Array([1, Infinity, NaN, 2, -Infinity]))).toEqual({ index: 1, count: 3, value: Infinity });
    expect(findNonFinite(new Float32Array([0, 0, -Infinity]))).toEqual({ index: 2, count: 1, value: -Infinity });
  });

  it.each([
    ["F32", NaN, "NaN"],
    ["BF16", Infinity, "Infinity"],
    ["F16", -Infinity, "-Infinity"],
  ] as const)("one %s value set to %s: the error names the file, the tensor and the index", async (dtype, value, printed) => {
    const path = join(dir, `poisoned-${dtype}.safetensors`);
    await writeSafetensors(path, { a: { dtype, shape: [2, 3], data: new Float32Array(6).fill(0.5) }, ok: { dtype, shape: [1], data: new Float32Array([1]) } });
    await overwriteSafetensorsValue(path, "a", value, 4);
    const file = await openSafetensors(path);
    expect(await file.read("ok")).toEqual(new Float32Array([1]));
    const error = await file.read("a").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteTensorError);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as NonFiniteTensorError).file).toBe(path);
    expect((error as Error).message).toBe(`${path}: tensor "a" holds 1 non-finite value (first: ${printed} at flat index 4); the file is corrupt or was saved from a diverged run`);
  });

  it("refuses a sharded BF16 checkpoint with an Inf in one projection, naming the shard", async () => {
    const copy = join(dir, "sharded-inf");
    await cp(bf16Folder, copy, { recursive: true });
    const index = JSON.parse(await readFile(join(copy, "model.safetensors.index.json"), "utf8")) as { weight_map: Record<string, string> };
    const name = "model.layers.1.mlp.up_proj.weight";
    const shard = join(copy, index.weight_map[name]!);
    await overwriteSafetensorsValue(shard, name, Infinity, 7);
    await expect(loadCheckpointTensors(copy)).rejects.toThrow(`${shard}: tensor "${name}" holds 1 non-finite value (first: Infinity at flat index 7)`);
  });

  it("refuses a NaN in the F32 checkpoint", async () => {
    const copy = join(dir, "f32-nan");
    await cp(f32Folder, copy, { recursive: true });
    await overwriteSafetensorsValue(join(copy, "model.safetensors"), "model.layers.0.self_attn.o_proj.weight", NaN, 0);
    await expect(loadCheckpointTensors(copy)).rejects.toThrow(`tensor "model.layers.0.self_attn.o_proj.weight" holds 1 non-finite value (first: NaN at flat index 0)`);
  });

  it("the in-memory reader (browser path) refuses the same values with the same error", async () => {
    const path = join(dir, "poisoned-bytes.safetensors");
    await writeSafetensors(path, { a: { dtype: "BF16", shape: [2, 3], data: new Float32Array(6).fill(0.5) }, ok: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
    await overwriteSafetensorsValue(path, "a", -Infinity, 2);
    const bytes = SafetensorsBytes.parse(new Uint8Array(await readFile(path)), "http://x/m/poisoned.safetensors");
    expect(await bytes.read("ok")).toEqual(new Float32Array([1]));
    const error = await bytes.read("a").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteTensorError);
    expect((error as NonFiniteTensorError).file).toBe("http://x/m/poisoned.safetensors");
    expect((error as Error).message).toBe(`http://x/m/poisoned.safetensors: tensor "a" holds 1 non-finite value (first: -Infinity at flat index 2); the file is corrupt or was saved from a diverged run`);
    expect(() => SafetensorsBytes.parse(new Uint8Array(4), "tiny.safetensors")).toThrow(SafetensorsError);

    const copy = join(dir, "f32-nan-memory");
    await cp(f32Folder, copy, { recursive: true });
    await overwriteSafetensorsValue(join(copy, "model.safetensors"), "model.norm.weight", NaN, 1);
    const files = new Map<string, Uint8Array>();
    for (const name of await readdir(copy)) files.set(name, new Uint8Array(await readFile(join(copy, name))));
    await expect(loadCheckpointTensorsFrom(memoryFileSource(files, "picked"))).rejects.toThrow(`picked/model.safetensors: tensor "model.norm.weight" holds 1 non-finite value (first: NaN at flat index 1)`);
  });
});

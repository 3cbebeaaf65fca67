// Seeded fuzzing of every reader of user files: 10,600 random mutations of small valid files
// (bit flips, bytes set to interesting values, insertions, deletions, truncations, duplicated and
// swapped ranges, a rewritten safetensors length prefix). Each mutated file either loads, and then
// its content is identical to an independent reading of it (a reference decoder for safetensors, a
// round trip through the writer for config.json, CSV and JSONL), or throws our own error type
// with the file's name in the message. No other exception, no case slower than a second, and no
// case allocating much more than the file (array buffers and heap measured around each case).
import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, memoryFileSource, Rng, SafetensorsBytes, SafetensorsError, tf, writeSafetensors } from "@eecot/tensor-core";
import { ConfigError, disposeModel, loadQwenModel, readQwenConfigFrom, toHuggingFaceConfig, parseQwenConfig, type QwenModel } from "@eecot/transformer";
import { AdapterFormatError, EarlyExitModel, loadEarlyExitAdaptersFrom, saveEarlyExitAdapters } from "@eecot/early-exit";
import { DatasetFormatError, formatCsvRecord, parseCsv, parseExploreTomCsv, parseGsm8kJsonl } from "@eecot/datasets";
import { bundledModelDir } from "./bundled.js";

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x2d, 0x30, 0x39, 0x65, 0x2e, 0x6e, 0x20, 0x0a, 0x0d, 0x5c];

/** One to three seeded mutations of `input` (a new array). */
function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let bytes: Uint8Array = input.slice();
  const count = 1 + rng.int(3);
  for (let m = 0; m < count; m++) {
    const n = bytes.length;
    const at = n === 0 ? 0 : rng.int(n);
    switch (rng.int(9)) {
      case 0: // flip one bit
        if (n > 0) bytes[at] = bytes[at]! ^ (1 << rng.int(8));
        break;
      case 1: // a random byte
        if (n > 0) bytes[at] = rng.int(256);
        break;
      case 2: // an interesting byte
        if (n > 0) bytes[at] = INTERESTING[rng.int(INTERESTING.length)]!;
        break;
      case 3: {
        // insert 1–8 bytes
        const extra = Uint8Array.from({ length: 1 + rng.int(8) }, () => (rng.int(2) ? INTERESTING[rng.int(INTERESTING.length)]! : rng.int(256)));
        bytes = concat(bytes.subarray(0, at), extra, bytes.subarray(at));
        break;
      }
      case 4: // delete 1–16 bytes
        bytes = concat(bytes.subarray(0, at), bytes.subarray(Math.min(n, at + 1 + rng.int(16))));
        break;
      case 5: // truncate
        bytes = bytes.subarray(0, at).slice();
        break;
      case 6: {
        // duplicate a range
        const end = Math.min(n, at + 1 + rng.int(32));
        bytes = concat(bytes.subarray(0, end), bytes.subarray(at, end), bytes.subarray(end));
        break;
      }
      case 7: {
        // swap two ranges of one length
        const length = 1 + rng.int(8);
        const other = n === 0 ? 0 : rng.int(n);
        if (at + length <= n && other + length <= n) {
          const a = bytes.slice(at, at + length);
          bytes.copyWithin(at, other, other + length);
          bytes.set(a, other);
        }
        break;
      }
      default: {
        // overwrite 8 bytes with a little-endian u64 that is nearly right, zero, or huge
        if (n < 8) break;
        const start = rng.int(2) ? 0 : rng.int(n - 7);
        const current = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(start, true);
        const choices = [0n, 1n, current + 1n, current - 1n, current + 8n, BigInt(n), 2n ** 53n, 2n ** 64n - 1n];
        new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(start, BigInt.asUintN(64, choices[rng.int(choices.length)]!), true);
      }
    }
  }
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

interface FuzzStats {
  loaded: number;
  refused: number;
  maxMilliseconds: number;
  /** Largest growth of array buffers + heap over one case, bytes. */
  maxGrowth: number;
}

/**
 * Run `cases` mutations of `valid` through `attempt`; an error must be one of `errorTypes` and name
 * `fileName`; a load is checked by `attempt` itself. Returns counts for the report.
 */
async function fuzz(seed: number, cases: number, valid: Uint8Array, fileName: string, errorTypes: readonly (abstract new (...args: never[]) => Error)[], attempt: (bytes: Uint8Array) => Promise<void> | void): Promise<FuzzStats> {
  const rng = new Rng(seed);
  const stats: FuzzStats = { loaded: 0, refused: 0, maxMilliseconds: 0, maxGrowth: 0 };
  for (let i = 0; i < cases; i++) {
    const bytes = mutate(rng, valid);
    const before = process.memoryUsage();
    const started = performance.now();
    try {
      await attempt(bytes);
      stats.loaded++;
    } catch (error) {
      if (!errorTypes.some((type) => error instanceof type) || !(error as Error).message.includes(fileName)) {
        throw new Error(`case ${i} (seed ${seed}): ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\nbytes: ${Buffer.from(bytes).toString("base64")}`, { cause: error });
      }
      stats.refused++;
    }
    const after = process.memoryUsage();
    stats.maxMilliseconds = Math.max(stats.maxMilliseconds, performance.now() - started);
    stats.maxGrowth = Math.max(stats.maxGrowth, after.arrayBuffers - before.arrayBuffers + after.heapUsed - before.heapUsed);
  }
  return stats;
}

/** Every case finished quickly and none allocated more than a generous multiple of the file. */
function expectBounded(stats: FuzzStats, cases: number, maxGrowth = 8 * 1024 * 1024): void {
  if (process.env.EECOT_FUZZ_REPORT) process.stderr.write(`fuzz: ${JSON.stringify(stats)}\n`);
  expect(stats.loaded + stats.refused).toBe(cases);
  expect(stats.refused).toBeGreaterThan(cases / 4); // the mutations do break things
  expect(stats.maxMilliseconds).toBeLessThan(1000);
  expect(stats.maxGrowth).toBeLessThan(maxGrowth);
}

// ------------------------------------------------------------------------------------------------
// An independent safetensors decoder (the format's spec, nothing shared with the reader).

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

function referenceDecode(bytes: Uint8Array, name: string): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const { dtype, data_offsets: [start, end] } = header[name]!;
  const base = 8 + headerLength;
  const out: number[] = [];
  const width = { F32: 4, I32: 4, F16: 2, BF16: 2, U8: 1, BOOL: 1, I64: 8 }[dtype]!;
  for (let offset = base + start; offset < base + end; offset += width) {
    if (dtype === "F32") out.push(view.getFloat32(offset, true));
    else if (dtype === "I32") out.push(view.getInt32(offset, true));
    else if (dtype === "F16") out.push(halfToFloat(view.getUint16(offset, true)));
    else if (dtype === "BF16") out.push(new Float32Array(new Uint32Array([view.getUint16(offset, true) << 16]).buffer)[0]!);
    else if (dtype === "U8" || dtype === "BOOL") out.push(view.getUint8(offset));
    else out.push(Number(view.getBigInt64(offset, true)));
  }
  return out;
}

let root: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  root = await mkdtemp(join(tmpdir(), "eecot-fuzz-"));
});

describe("fuzzing the readers of user files (10,600 seeded mutations)", () => {
  test("safetensors: 5,000 mutations of a five-dtype file", async () => {
    const path = join(root, "valid.safetensors");
    await writeSafetensors(path, {
      "a.weight": { dtype: "F32", shape: [2, 3], data: Float32Array.from([0.5, -1, 2, 3.25, -0, 7]) },
      "b.half": { dtype: "F16", shape: [4], data: Float32Array.from([1, -2, 0.5, 65504]) },
      "c.bf16": { dtype: "BF16", shape: [3], data: Float32Array.from([1, -3, 0.25]) },
      "d.ids": { dtype: "I32", shape: [2], data: Int32Array.from([-5, 123456]) },
      "e.mask": { dtype: "U8", shape: [3], data: Uint8Array.from([0, 1, 255]) },
    });
    const valid = new Uint8Array(await readFile(path));
    const stats = await fuzz(19, 5000, valid, "fuzz.safetensors", [SafetensorsError], async (bytes) => {
      const file = SafetensorsBytes.parse(bytes, "fuzz.safetensors");
      const values = await file.readMany(file.tensorNames);
      const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
      expect([...file.tensorNames].sort()).toEqual(Object.keys(header).filter((k) => k !== "__metadata__").sort());
      file.tensorNames.forEach((name, i) => {
        const expected = referenceDecode(bytes, name);
        expect(Array.from(values[i]!), name).toEqual(expected);
        expect(expected.every(Number.isFinite), `${name} is finite`).toBe(true);
        expect(values[i]!.length).toBe(file.info(name).shape.reduce((a, b) => a * b, 1));
      });
    });
    expectBounded(stats, 5000);
  }, 120_000);

  test("config.json: 2,000 mutations of the bundled model's", async () => {
    const valid = new Uint8Array(await readFile(join(bundledModelDir(), "config.json")));
    const stats = await fuzz(20, 2000, valid, "fuzz-model/config.json", [ConfigError], async (bytes) => {
      const config = await readQwenConfigFrom(memoryFileSource(new Map([["config.json", bytes]]), "fuzz-model"));
      // Written back in Hugging Face form, it reads as the same configuration.
      expect(parseQwenConfig(JSON.parse(JSON.stringify(toHuggingFaceConfig(config))) as Record<string, unknown>, "round trip")).toEqual(config);
    });
    expectBounded(stats, 2000);
  }, 120_000);

  describe("adapter folders: 600 mutations over its four files", () => {
    let base: QwenModel;
    const files = new Map<string, Uint8Array>();
    beforeAll(async () => {
      base = await loadQwenModel(bundledModelDir());
      const model = EarlyExitModel.create(base, { exitLayers: [2], seed: 3, lora: { rank: 1, alpha: 2, targetModules: ["q_proj"] } });
      const dir = join(root, "adapter");
      await saveEarlyExitAdapters(dir, model);
      model.dispose();
      for (const name of await readdir(dir)) files.set(name, new Uint8Array(await readFile(join(dir, name))));
    });
    afterAll(() => disposeModel(base));

    test("each loads with finite values of the right shapes, or names the file", async () => {
      const names = [...files.keys()].sort();
      const tensors = tf.memory().numTensors;
      const rng = new Rng(21);
      let total: FuzzStats = { loaded: 0, refused: 0, maxMilliseconds: 0, maxGrowth: 0 };
      for (const name of names) {
        const stats = await fuzz(rng.int(1 << 30), 150, files.get(name)!, `fuzz-adapter/${name}`, [AdapterFormatError, SafetensorsError], async (bytes) => {
          const model = await loadEarlyExitAdaptersFrom(memoryFileSource(new Map([...files, [name, bytes]]), "fuzz-adapter"), base);
          try {
            const variables = model.trainableVariables();
            for (const variable of [...variables.lora, ...variables.heads]) expect(Array.from(variable.dataSync()).every(Number.isFinite)).toBe(true);
            expect(variables.heads.length).toBeGreaterThan(0);
          } finally {
            model.dispose();
          }
        });
        expect(stats.refused, name).toBeGreaterThan(0);
        if (process.env.EECOT_FUZZ_REPORT) process.stderr.write(`fuzz ${name}: ${JSON.stringify(stats)}\n`);
        total = { loaded: total.loaded + stats.loaded, refused: total.refused + stats.refused, maxMilliseconds: Math.max(total.maxMilliseconds, stats.maxMilliseconds), maxGrowth: Math.max(total.maxGrowth, stats.maxGrowth) };
      }
      expect(total.loaded + total.refused).toBe(600);
      expect(total.maxMilliseconds).toBeLessThan(1000);
      expect(total.maxGrowth).toBeLessThan(64 * 1024 * 1024);
      expect(tf.memory().numTensors).toBe(tensors); // nothing leaks on either path
    }, 120_000);
  });

  test("GSM8K JSONL: 1,500 mutations", async () => {
    const valid = new TextEncoder().encode(
      [
        { question: "Ann has 3 apples and buys 4. How many?", answer: "3 + 4 = <<3+4=7>>7\n#### 7" },
        { question: "A box holds 12 eggs; 2 break. How many are left?", answer: "12 - 2 = 10\n#### 10" },
        { question: "What is 6 times 7?", answer: "#### 42" },
      ]
        .map((r) => JSON.stringify(r))
        .join("\n") + "\n",
    );
    const stats = await fuzz(22, 1500, valid, "fuzz.jsonl", [DatasetFormatError], (bytes) => {
      const { examples } = parseGsm8kJsonl(new TextDecoder().decode(bytes), "fuzz.jsonl");
      // Written back as JSONL, the examples read the same.
      const again = parseGsm8kJsonl(examples.map((e) => JSON.stringify({ question: e.question, answer: e.answer })).join("\n"), "fuzz.jsonl").examples;
      expect(again.map(({ line: _, ...e }) => e)).toEqual(examples.map(({ line: _, ...e }) => e));
    });
    expectBounded(stats, 1500);
  }, 120_000);

  test("CSV (ExploreToM columns): 1,500 mutations", async () => {
    const header = ["story_structure", "infilled_story", "question", "expected_answer"];
    const rows = [
      ["Anne put the apple in the basket. Bob moved it to the box.", 'Anne walked in.\nBob said "hi", then moved the apple.', "Where will Anne look for the apple?", "basket"],
      ["Carla entered the attic.", "", "Where is Carla?", "attic"],
    ];
    const valid = new TextEncoder().encode([header, ...rows].map(formatCsvRecord).join("\n") + "\n");
    const stats = await fuzz(23, 1500, valid, "fuzz.csv", [DatasetFormatError], (bytes) => {
      const text = new TextDecoder().decode(bytes);
      const records = parseCsv(text, "fuzz.csv");
      // Written back with the CSV writer, the fields read the same.
      expect(parseCsv(records.map((r) => formatCsvRecord(r.fields)).join("\n"), "fuzz.csv").map((r) => r.fields)).toEqual(records.map((r) => r.fields));
      parseExploreTomCsv(text, "fuzz.csv");
    });
    expectBounded(stats, 1500);
  }, 120_000);
});

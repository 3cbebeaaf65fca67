// `eecot make-checkpoint`: the published configs exactly, and a shrunken folder of every preset
// round-trips through the ordinary loader (config, sharded weights via the index, tokenizer).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { bfloat16BitsToFloat32, countParameters, float32ToBfloat16Bits, initBackend, tf } from "@eecot/tensor-core";
import { checkpointTensors, disposeModel, loadQwenModel, loadTokenizer, paramTensors, parseQwenConfig, QWEN_PRESET_NAMES, QWEN_PRESETS, randomTensorChunks } from "@eecot/transformer";
import { runCli } from "../program.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("presets", () => {
  test("carry the published shapes and parameter counts", () => {
    const qwen3_4b = parseQwenConfig({ ...QWEN_PRESETS["qwen3-4b"].config });
    expect(qwen3_4b).toMatchObject({ modelType: "qwen3", numLayers: 36, hiddenSize: 2560, numHeads: 32, numKvHeads: 8, headDim: 128, intermediateSize: 9728, vocabSize: 151936, tieWordEmbeddings: true, qkNorm: true, attentionBias: false });
    const r1 = parseQwenConfig({ ...QWEN_PRESETS["r1-distill-qwen-1.5b"].config });
    expect(r1).toMatchObject({ modelType: "qwen2", numLayers: 28, hiddenSize: 1536, numHeads: 12, numKvHeads: 2, headDim: 128, intermediateSize: 8960, vocabSize: 151936, tieWordEmbeddings: false, qkNorm: false, attentionBias: true });
    // Hugging Face's model cards: Qwen3-4B 4.0B, R1-Distill-Qwen-1.5B 1.78B, Qwen3-0.6B 0.6B (hand-computed from the shapes).
    expect(countParameters(qwen3_4b)).toBe(4_022_468_096);
    expect(countParameters(r1)).toBe(1_777_088_000);
    expect(countParameters(parseQwenConfig({ ...QWEN_PRESETS["qwen3-0.6b"].config }))).toBe(596_049_920);
  });
});

describe("eecot make-checkpoint --tiny", () => {
  test.each(QWEN_PRESET_NAMES)("%s: sharded bf16 weights and the Qwen tokenizer load back exactly", async (preset) => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-make-checkpoint-")), preset);
    // A 4 MiB shard limit splits the tiny model (its 151,936-row embedding alone is 9.7–29 MB) into several files.
    await runCli(["node", "eecot", "make-checkpoint", "--preset", preset, "--out", out, "--tiny", "--seed", "7", "--shard-size-gb", String(4 / 1024), "--json"]);
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
    const shards = new Set(Object.values(index.weight_map as Record<string, string>));
    expect(shards.size).toBeGreaterThan(1);
    expect(readdirSync(out).filter((f) => f.endsWith(".safetensors")).sort()).toEqual([...shards].sort());
    for (const file of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) expect(existsSync(join(out, file)), file).toBe(true);

    const model = await loadQwenModel(out);
    try {
      const published = parseQwenConfig({ ...QWEN_PRESETS[preset].config });
      expect(model.config.modelType).toBe(published.modelType);
      expect(model.config.tieWordEmbeddings).toBe(published.tieWordEmbeddings);
      expect(model.config.attentionBias).toBe(published.attentionBias);
      expect(model.config.vocabSize).toBe(151936);
      expect(model.config.numLayers).toBe(2);
      // Every tensor, back in Hugging Face layout, equals the seeded stream rounded to bf16.
      const tensors = tf.tidy(() => checkpointTensors(model.config, model.params));
      let checked = 0;
      for (const [name, tensor] of Object.entries(tensors)) {
        const values = new Float32Array(tensor.size);
        let offset = 0;
        for (const chunk of randomTensorChunks(name, tensor.shape, 7, 0.02)) {
          values.set(chunk, offset);
          offset += chunk.length;
        }
        const expected = bfloat16BitsToFloat32(float32ToBfloat16Bits(values));
        const actual = tensor.dataSync() as Float32Array;
        expect(actual.length, name).toBe(expected.length);
        const mismatch = actual.findIndex((v, i) => v !== expected[i]);
        expect(mismatch, `${name} differs at ${mismatch}`).toBe(-1);
        checked++;
      }
      expect(checked).toBe(Object.keys(index.weight_map).length);
      const weights = new Set(paramTensors(model.params));
      tf.dispose(Object.values(tensors).filter((t) => !weights.has(t))); // the transposed copies
      const tokenizer = await loadTokenizer(out);
      const ids = tokenizer.encode("Natalia sold clips to 48 of her friends.");
      expect(ids.every((id) => id < model.config.vocabSize)).toBe(true);
      expect(tokenizer.decode(ids)).toBe("Natalia sold clips to 48 of her friends.");
    } finally {
      disposeModel(model);
    }
  }, 120_000);

  test("bad flags name the flag", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-make-checkpoint-")), "x");
    await expect(runCli(["node", "eecot", "make-checkpoint", "--preset", "qwen3-7b", "--out", out])).rejects.toThrow(/--preset "qwen3-7b": expected one of qwen3-4b, r1-distill-qwen-1.5b, qwen3-0.6b/);
    await expect(runCli(["node", "eecot", "make-checkpoint", "--preset", "qwen3-4b", "--out", out, "--dtype", "int8"])).rejects.toThrow(/--dtype must be bf16 or f32/);
    expect(existsSync(out)).toBe(false);
  });
});

describe("the full-size presets on wasm", () => {
  test.each(["r1-distill-qwen-1.5b", "qwen3-4b"] as const)("%s is refused before any weight is read, naming the backends that can", async (preset) => {
    // config.json only: were the estimate not to refuse, loading would fail on the missing weights instead.
    const dir = join(await mkdtemp(join(tmpdir(), "eecot-refuse-")), preset);
    await mkdir(dir);
    await writeFile(join(dir, "config.json"), JSON.stringify(QWEN_PRESETS[preset].config));
    const refusal = new RegExp(
      `^not loading ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: memory estimate for \\d\\.\\d\\dB parameters .* the wasm backend's 4 GiB wasm32 heap allows 4\\.00 GiB, .* backends that can: webgpu .*tensorflow .*cpu`,
    );
    await expect(runCli(["node", "eecot", "--backend", "wasm", "generate", "--model", dir, "--ids", "1,2,3"])).rejects.toThrow(refusal);
  });
});

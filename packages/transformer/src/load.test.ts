// Bad checkpoints and configs get errors that name the file and the problem.
import { copyFile, cp, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, overwriteSafetensorsValue, tf, writeSafetensors } from "@eecot/tensor-core";
import { parseQwenConfig } from "./config.js";
import { disposeModel, expectedCheckpointShapes } from "./load.js";
import { loadQwenModel, readQwenConfig } from "./model-folder.js";
import { saveQwenModel } from "./save.js";
import { qwenForward } from "./qwen.js";

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));

async function copyOf(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "eecot-load-"));
  await cp(fixture(name), dir, { recursive: true });
  return dir;
}

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("bad input", () => {
  test("missing folder", async () => {
    await expect(loadQwenModel("/no/such/model")).rejects.toThrow(/model folder not found: \/no\/such\/model .*nothing is downloaded at run time/);
  });

  test("missing config.json", async () => {
    const dir = await copyOf("qwen3-tiny-f32");
    await rm(join(dir, "config.json"));
    await expect(loadQwenModel(dir)).rejects.toThrow(/config\.json: not found/);
  });

  test("missing shard", async () => {
    const dir = await copyOf("qwen3-tiny-bf16-sharded");
    await rm(join(dir, "model-00002-of-00003.safetensors"));
    await expect(loadQwenModel(dir)).rejects.toThrow(/model-00002-of-00003\.safetensors/);
  });

  test("truncated weights file", async () => {
    const dir = await copyOf("qwen3-tiny-f32");
    await truncate(join(dir, "model.safetensors"), 5000);
    await expect(loadQwenModel(dir)).rejects.toThrow(/model\.safetensors/);
  });

  test("a NaN or an Inf in one weight is refused, naming the file and the tensor", async () => {
    const dir = await copyOf("qwen3-tiny-f32");
    const file = join(dir, "model.safetensors");
    await overwriteSafetensorsValue(file, "model.layers.1.self_attn.q_proj.weight", NaN, 10);
    await expect(loadQwenModel(dir)).rejects.toThrow(`${file}: tensor "model.layers.1.self_attn.q_proj.weight" holds 1 non-finite value (first: NaN at flat index 10)`);
    const sharded = await copyOf("qwen3-tiny-bf16-sharded");
    const shard = join(sharded, "model-00001-of-00003.safetensors");
    await overwriteSafetensorsValue(shard, "model.embed_tokens.weight", -Infinity, 0);
    await expect(loadQwenModel(sharded)).rejects.toThrow(`${shard}: tensor "model.embed_tokens.weight" holds 1 non-finite value (first: -Infinity at flat index 0)`);
  });

  test("corrupt safetensors header", async () => {
    const dir = await copyOf("qwen3-tiny-f32");
    const bytes = await readFile(join(dir, "model.safetensors"));
    bytes.write("{not json", 8, "utf8");
    await writeFile(join(dir, "model.safetensors"), bytes);
    await expect(loadQwenModel(dir)).rejects.toThrow(/model\.safetensors.*(JSON|header)/i);
  });

  test("unsupported dtype", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-load-"));
    await copyFile(join(fixture("qwen3-tiny-f32"), "config.json"), join(dir, "config.json"));
    let header = JSON.stringify({ "model.norm.weight": { dtype: "F64", shape: [1], data_offsets: [0, 8] } });
    header = header.padEnd(Math.ceil(header.length / 8) * 8, " ");
    const bytes = Buffer.alloc(8 + header.length + 8);
    bytes.writeBigUInt64LE(BigInt(header.length));
    bytes.write(header, 8, "utf8");
    await writeFile(join(dir, "model.safetensors"), bytes);
    await expect(loadQwenModel(dir)).rejects.toThrow(/unsupported dtype F64 for tensor model\.norm\.weight/);
  });

  test("wrong tensor shape names the tensor and both shapes", async () => {
    const dir = await copyOf("qwen3-tiny-f32");
    const config = JSON.parse(await readFile(join(dir, "config.json"), "utf8")) as Record<string, unknown>;
    await writeFile(join(dir, "config.json"), JSON.stringify({ ...config, intermediate_size: 128 }));
    await expect(loadQwenModel(dir)).rejects.toThrow(/tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[160, 64\], config\.json implies \[128, 64\]/);
  });

  test("missing and unexpected keys are named", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-load-"));
    await copyFile(join(fixture("qwen3-tiny-f32"), "config.json"), join(dir, "config.json"));
    const config = await readQwenConfig(dir);
    const shapes = expectedCheckpointShapes(config);
    const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const [key, shape] of shapes) tensors[key] = { dtype: "F32", shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
    delete tensors["model.layers.3.self_attn.k_norm.weight"];
    await writeSafetensors(join(dir, "model.safetensors"), tensors);
    await expect(loadQwenModel(dir)).rejects.toThrow(/missing tensor "model\.layers\.3\.self_attn\.k_norm\.weight"/);
    tensors["model.layers.3.self_attn.k_norm.weight"] = { dtype: "F32", shape: [32], data: new Float32Array(32) };
    tensors["model.layers.9.mlp.up_proj.weight"] = { dtype: "F32", shape: [1], data: new Float32Array(1) };
    await writeSafetensors(join(dir, "model.safetensors"), tensors);
    await expect(loadQwenModel(dir)).rejects.toThrow(/unexpected tensor "model\.layers\.9\.mlp\.up_proj\.weight"/);
  });

  test("unknown model type and unsupported options", () => {
    const base = JSON.parse(JSON.stringify({ model_type: "qwen3", vocab_size: 8, hidden_size: 8, intermediate_size: 8, num_hidden_layers: 2, num_attention_heads: 2 }));
    expect(() => parseQwenConfig({ ...base, model_type: "llama" }, "x/config.json")).toThrow(/x\/config\.json: unsupported model_type "llama"/);
    expect(() => parseQwenConfig({ ...base, use_sliding_window: true })).toThrow(/use_sliding_window=true is not supported/);
    expect(() => parseQwenConfig({ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } })).toThrow(/rope_scaling of type "yarn" is not supported/);
    expect(() => parseQwenConfig({ ...base, hidden_act: "gelu" })).toThrow(/unsupported hidden_act "gelu"/);
    expect(() => parseQwenConfig({ ...base, num_key_value_heads: 3 })).toThrow(/multiple of num_key_value_heads/);
    expect(() => parseQwenConfig({ ...base, hidden_size: -1 })).toThrow(/"hidden_size" must be a positive integer/);
    // The newer rope_parameters block is read.
    expect(parseQwenConfig({ ...base, rope_parameters: { rope_type: "default", rope_theta: 5e5 } }).ropeTheta).toBe(5e5);
  });
});

describe("saveQwenModel", () => {
  test("writes a folder that loads back to the same logits (Qwen2 with biases and an untied head)", async () => {
    const original = await loadQwenModel(fixture("qwen2-tiny-f32"));
    const dir = join(await mkdtemp(join(tmpdir(), "eecot-save-")), "model");
    await saveQwenModel(dir, original.config, original.params);
    const again = await loadQwenModel(dir);
    const ids = [[1, 5, 9, 200, 383]];
    const a = qwenForward(original.params, original.config, ids).logits!;
    const b = qwenForward(again.params, again.config, ids).logits!;
    expect(Array.from(await b.data())).toEqual(Array.from(await a.data()));
    tf.dispose([a, b]);
    disposeModel(original);
    disposeModel(again);
  });
});

// PEFT-layout save → load round trip (bit-exact), atomic overwrite, and malformed folders.
import { mkdtemp, readdir, readFile, rm, writeFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, openSafetensors, overwriteSafetensorsValue, tf, writeSafetensors } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { fixturePath, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, EARLY_EXIT_CONFIG_FILE, EXIT_HEADS_FILE, peftKey } from "./adapter-format.js";
import { loadEarlyExitAdapters, saveEarlyExitAdapters } from "./adapter-io.js";
import { EarlyExitModel } from "./model.js";

let base: QwenModel;
let model: EarlyExitModel;
let root: string;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  base = await loadQwenModel(fixturePath("qwen2-tiny-f32"));
  model = EarlyExitModel.create(base, { exitLayers: [1, 3], seed: 5, exitOffset: 0.5, lora: { rank: 4, alpha: 8, targetModules: ["q_proj", "v_proj", "down_proj"] } });
  randomizeLora(model, 0.1, 2);
  randomizeHeads(model, 0.3, 2, [-1, 0.5]);
  root = await mkdtemp(join(tmpdir(), "eecot-adapter-"));
});

afterAll(async () => {
  model.dispose();
  disposeModel(base);
  await rm(root, { recursive: true, force: true });
});

const values = (m: EarlyExitModel) => [...m.trainableVariables().lora, ...m.trainableVariables().heads].map((v) => Array.from(v.dataSync()));

describe("saveEarlyExitAdapters / loadEarlyExitAdapters", () => {
  test("round trip is exact, in PEFT layout", async () => {
    const dir = join(root, "adapter");
    await saveEarlyExitAdapters(dir, model, { baseModelNameOrPath: "tiny/qwen2" });
    expect((await readdir(dir)).sort()).toEqual([ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, EARLY_EXIT_CONFIG_FILE, EXIT_HEADS_FILE].sort());
    const config = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG_FILE), "utf8"));
    expect(config).toMatchObject({ peft_type: "LORA", task_type: "CAUSAL_LM", r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ["q_proj", "v_proj", "down_proj"], base_model_name_or_path: "tiny/qwen2" });
    const file = await openSafetensors(join(dir, ADAPTER_WEIGHTS_FILE));
    expect(file.tensorNames.length).toBe(4 * 3 * 2);
    // PEFT keys and [r, in] / [out, r] shapes; values = our [in, r] / [r, out] transposed.
    expect(file.info("base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight").shape).toEqual([4, 96]);
    expect(file.info("base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight").shape).toEqual([32, 4]);
    expect(file.info("base_model.model.model.layers.0.mlp.down_proj.lora_A.weight").shape).toEqual([4, 192]);
    const b = (await file.read(peftKey(2, "v_proj", "lora_B"))) as Float32Array;
    const bT = model.lora.get(2, "v_proj")!.bT.arraySync(); // [r, out]
    expect(b[1 * 4 + 3]).toBe(bT[3]![1]); // B[o=1, r=3]
    const heads = await openSafetensors(join(dir, EXIT_HEADS_FILE));
    expect(heads.tensorNames.sort()).toEqual(["exit_heads.1.fc1.bias", "exit_heads.1.fc1.weight", "exit_heads.1.fc2.bias", "exit_heads.1.fc2.weight", "exit_heads.3.fc1.bias", "exit_heads.3.fc1.weight", "exit_heads.3.fc2.bias", "exit_heads.3.fc2.weight"]);
    expect(heads.info("exit_heads.3.fc1.weight").shape).toEqual([192, 96]);

    const loaded = await loadEarlyExitAdapters(dir, base);
    expect(loaded.config).toEqual(model.config);
    expect(values(loaded)).toEqual(values(model));
    const ids = [[380, 1, 2, 3, 4]];
    const exits = [[4, 1, 3, 4, 1]];
    const a = model.forwardPrescribed(ids, exits);
    const c = loaded.forwardPrescribed(ids, exits);
    expect(Array.from(c.logits!.dataSync())).toEqual(Array.from(a.logits!.dataSync()));
    expect(Array.from(c.exitLogits.dataSync())).toEqual(Array.from(a.exitLogits.dataSync()));
    tf.dispose([a.logits!, a.hidden, a.exitLogits, c.logits!, c.hidden, c.exitLogits]);
    loaded.dispose();
  });

  test("saving over an existing folder replaces it atomically (no staging folders left)", async () => {
    const dir = join(root, "replace");
    await saveEarlyExitAdapters(dir, model);
    await writeFile(join(dir, "stale.txt"), "old");
    await saveEarlyExitAdapters(dir, model);
    expect((await readdir(dir)).includes("stale.txt")).toBe(false);
    expect((await readdir(root)).filter((n) => n.includes("replace"))).toEqual(["replace"]);
  });

  test("a plain PEFT folder (no heads) loads with fresh heads only when allowed", async () => {
    const dir = join(root, "peft-only");
    await saveEarlyExitAdapters(dir, model);
    await unlink(join(dir, EXIT_HEADS_FILE));
    await unlink(join(dir, EARLY_EXIT_CONFIG_FILE));
    await expect(loadEarlyExitAdapters(dir, base)).rejects.toThrow(`${dir}: no early_exit_config.json or exit_heads.safetensors (a plain PEFT LoRA folder?); pass --fresh-heads (API: allowMissingHeads) to start with fresh exit heads`);
    const loaded = await loadEarlyExitAdapters(dir, base, { allowMissingHeads: true, overrides: { exitLayers: [2] } });
    expect(loaded.exitLayers).toEqual([2]);
    expect(values(loaded).slice(0, model.lora.variables().length)).toEqual(values(model).slice(0, model.lora.variables().length));
    loaded.dispose();
  });
});

describe("malformed adapter folders", () => {
  const broken = async (name: string, edit: (dir: string) => Promise<void>) => {
    const dir = join(root, name);
    await saveEarlyExitAdapters(dir, model);
    await edit(dir);
    return dir;
  };
  const editJson = (file: string, change: (json: Record<string, unknown>) => void) => async (dir: string) => {
    const json = JSON.parse(await readFile(join(dir, file), "utf8"));
    change(json);
    await writeFile(join(dir, file), JSON.stringify(json));
  };
  const rewriteWeights = (file: string, change: (tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }>) => void) => async (dir: string) => {
    const reader = await openSafetensors(join(dir, file));
    const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const name of reader.tensorNames) tensors[name] = { dtype: "F32", shape: [...reader.info(name).shape], data: (await reader.read(name)) as Float32Array };
    change(tensors);
    await writeSafetensors(join(dir, file), tensors);
  };

  test.each([
    ["missing folder", async () => join(root, "nope"), /nope: adapter folder not found/],
    ["missing weights file", () => broken("no-weights", (d) => unlink(join(d, ADAPTER_WEIGHTS_FILE))), /adapter_model.safetensors: not found/],
    ["missing heads file", () => broken("no-heads", (d) => unlink(join(d, EXIT_HEADS_FILE))), /exit_heads.safetensors: not found/],
    ["not LoRA", () => broken("ia3", editJson(ADAPTER_CONFIG_FILE, (j) => (j.peft_type = "IA3"))), /adapter_config.json: "peft_type" must be "LORA", got "IA3"/],
    ["wrong rank", () => broken("rank", editJson(ADAPTER_CONFIG_FILE, (j) => (j.r = 8))), /adapter_model.safetensors: tensor "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" has shape \[4, 96\], expected \[8, 96\] \(rank mismatch: adapter_config.json says r = 8\)/],
    ["unknown target module", () => broken("target", editJson(ADAPTER_CONFIG_FILE, (j) => (j.target_modules = ["q_proj", "fc_in"]))), /adapter_config.json: unsupported target module "fc_in"/],
    ["regex target", () => broken("regex", editJson(ADAPTER_CONFIG_FILE, (j) => (j.target_modules = ".*proj"))), /"target_modules" must be a list/],
    ["target without weights", () => broken("extra-target", editJson(ADAPTER_CONFIG_FILE, (j) => (j.target_modules = ["q_proj", "v_proj", "down_proj", "k_proj"]))), /missing tensor "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight"/],
    ["weights without target", () => broken("fewer-target", editJson(ADAPTER_CONFIG_FILE, (j) => (j.target_modules = ["q_proj", "v_proj"]))), /adapter_model.safetensors: unexpected tensor "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight"/],
    ["shape mismatch", () => broken("shape", rewriteWeights(ADAPTER_WEIGHTS_FILE, (t) => {
      const key = "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight";
      t[key] = { dtype: "F32", shape: [31, 4], data: new Float32Array(124) };
    })), /tensor "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight" has shape \[31, 4\], expected \[32, 4\]/],
    ["head shape mismatch", () => broken("head-shape", rewriteWeights(EXIT_HEADS_FILE, (t) => {
      t["exit_heads.3.fc2.weight"] = { dtype: "F32", shape: [2, 192], data: new Float32Array(384) };
    })), /exit_heads.safetensors: tensor "exit_heads.3.fc2.weight" has shape \[2, 192\], expected \[1, 192\]/],
    ["missing head key", () => broken("head-missing", rewriteWeights(EXIT_HEADS_FILE, (t) => delete t["exit_heads.1.fc1.bias"])), /exit_heads.safetensors: missing tensor "exit_heads.1.fc1.bias"/],
    ["wrong depth", () => broken("depth", editJson(EARLY_EXIT_CONFIG_FILE, (j) => (j.num_hidden_layers = 6))), /early_exit_config.json: "num_hidden_layers" is 6 but the base model has 4 layers/],
    ["bad exit layers", () => broken("exits", editJson(EARLY_EXIT_CONFIG_FILE, (j) => (j.exit_layers = [1, 4]))), /early_exit_config.json: exitLayers must be strictly increasing integers in 1..3/],
    ["invalid JSON", () => broken("json", (d) => writeFile(join(d, ADAPTER_CONFIG_FILE), "{ r: 8")), /adapter_config.json: invalid JSON/],
    ["NaN in a LoRA matrix", () => broken("lora-nan", (d) => overwriteSafetensorsValue(join(d, ADAPTER_WEIGHTS_FILE), "base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight", NaN, 3)),
      /adapter_model.safetensors: tensor "base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight" holds 1 non-finite value \(first: NaN at flat index 3\)/],
    ["Inf in an exit head", () => broken("head-inf", (d) => overwriteSafetensorsValue(join(d, EXIT_HEADS_FILE), "exit_heads.3.fc1.weight", -Infinity, 0)),
      /exit_heads.safetensors: tensor "exit_heads.3.fc1.weight" holds 1 non-finite value \(first: -Infinity at flat index 0\)/],
  ] as const)("%s", async (_name, make, message) => {
    const dir = await make();
    const before = tf.memory().numTensors;
    await expect(loadEarlyExitAdapters(dir, base)).rejects.toThrow(message);
    expect(tf.memory().numTensors).toBe(before); // nothing allocated before validation finished
  });
});

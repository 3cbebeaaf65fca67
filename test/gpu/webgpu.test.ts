// The GPU code path (tfjs-backend-webgpu on Dawn) against the wasm backend and the PyTorch
// references: fixture logits, greedy decoding through the KV cache, early-exit replay
// equivalence, and a few training steps. Runs wherever a WebGPU adapter can be created: a real
// GPU, or Mesa >= 24 lavapipe on a CPU machine (scripts/install-vulkan.sh; ~4 GFLOP/s, so every
// case here is tiny). Skips with the reason otherwise. Reads are async only (webgpu in Node has
// no dataSync).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  chunkedLogits,
  chunkedTokenLogProbs,
  frozenChunkedTokenLogProbs,
  disposeVocabularyChunks,
  initBackend,
  probeWebgpu,
  Rng,
  splitVocabularyColumns,
  tf,
  webgpuBufferPoolStats,
  type BackendInfo,
} from "@eecot/tensor-core";
import {
  disposeModel,
  generateTokens,
  initQwenParams,
  languageModelLoss,
  loadQwenModel,
  paramTensors,
  qwenForward,
  readQwenConfig,
  trainableVariables,
  type LmBatch,
  type QwenModel,
} from "@eecot/transformer";
import { EarlyExitModel, replayInputs, type GeneratedSequence } from "@eecot/early-exit";
import { maxAbsDiff, randomizeHeads, randomizeLora } from "../../packages/early-exit/test/helpers.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../packages/transformer/test/fixtures/${name}`, import.meta.url));

const probe = await probeWebgpu();
const skipReason = probe.available ? null : probe.reason;
// bench/gpu-check.sh sets EECOT_REQUIRE_WEBGPU=1: there, a missing adapter is a failure.
if (skipReason && process.env.EECOT_REQUIRE_WEBGPU === "1") throw new Error(`EECOT_REQUIRE_WEBGPU=1 but ${skipReason}`);
if (skipReason) console.warn(`test/gpu/webgpu.test.ts: skipping the webgpu tests: ${skipReason}`);
else console.log(`test/gpu/webgpu.test.ts: WebGPU adapter ${probe.adapter.name}${probe.adapter.software ? " (software)" : ""}`);

/** Against PyTorch's float32 logits (the wasm backend meets 1e-4 too). */
const REFERENCE_TOLERANCE = 1e-4;
/** webgpu against wasm. */
const BACKEND_TOLERANCE = 1e-4;

/** Runs `fn` with the given backend active. */
async function on<T>(backend: "wasm" | "webgpu", fn: () => Promise<T>): Promise<T> {
  await initBackend({ backend, quiet: true });
  return fn();
}

interface Case {
  name: string;
  input_ids: number[];
  logits?: number[][];
  greedy_continuation?: { generated_ids?: number[] } | number[];
}

describe.skipIf(skipReason !== null)(`webgpu backend (Dawn) vs wasm${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let info: BackendInfo;
  const startLines: string[] = [];

  beforeAll(async () => {
    info = await initBackend({ backend: "webgpu", log: (line) => startLines.push(line) });
  });

  afterAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
  });

  test("starts on the probed adapter and names it in the start-up line", () => {
    expect(info.name).toBe("webgpu");
    expect(tf.getBackend()).toBe("webgpu");
    expect(info.adapter).toBe(probe.available ? probe.adapter.name : "");
    expect(startLines).toEqual([`eecot: backend webgpu (${info.adapter}${info.software ? "; software renderer: for tests, slower than wasm" : ""})`]);
    expect(info.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 2 ** 20);
  });

  test("tf.addN over more tensors than a shader may bind (a gradient norm) sums correctly", async () => {
    const terms = Array.from({ length: 40 }, (_, i) => tf.fill([3], i + 1));
    const total = tf.addN(terms);
    expect(Array.from(await total.data())).toEqual([820, 820, 820]); // 1 + 2 + … + 40
    tf.dispose([...terms, total]);
  });

  test("matMul with a transposed B, a small output and K >= 2000 (tfjs's split-K program gets it wrong) matches float64", async () => {
    const rng = new Rng(3);
    const [M, N, K] = [11, 64, 4096];
    const a = Float32Array.from({ length: M * K }, () => rng.normal());
    const b = Float32Array.from({ length: N * K }, () => rng.normal());
    const want: number[] = [];
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = 0; k < K; k++) sum += a[m * K + k]! * b[n * K + k]!;
        want.push(sum);
      }
    }
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [M, K]), tf.tensor2d(b, [N, K]), false, true));
    expect(maxAbsDiff(await product.data(), want)).toBeLessThan(1e-3); // values up to ~200; the unpatched kernel is off by ~275
    tf.dispose(product);
  });

  for (const name of ["qwen3-tiny-f32", "qwen2-tiny-f32"]) {
    test(`${name}: len-17 logits match PyTorch (≤ ${REFERENCE_TOLERANCE}) and wasm (≤ ${BACKEND_TOLERANCE})`, async () => {
      const expected = JSON.parse(readFileSync(`${fixture(name)}/expected.json`, "utf8")) as { cases: Case[] };
      const c = expected.cases.find((k) => k.name === "len17")!;
      const logitsOn = (backend: "wasm" | "webgpu") =>
        on(backend, async () => {
          const model = await loadQwenModel(fixture(name));
          const out = qwenForward(model.params, model.config, [c.input_ids]);
          const values = (await out.logits!.data()) as Float32Array;
          tf.dispose([out.logits!]);
          disposeModel(model);
          return values;
        });
      const wasm = await logitsOn("wasm");
      const webgpu = await logitsOn("webgpu");
      const vsReference = maxAbsDiff(webgpu, c.logits!.flat());
      const vsWasm = maxAbsDiff(webgpu, wasm);
      console.log(`${name} len17 logits: webgpu vs PyTorch ${vsReference.toExponential(2)}, webgpu vs wasm ${vsWasm.toExponential(2)}, wasm vs PyTorch ${maxAbsDiff(wasm, c.logits!.flat()).toExponential(2)}`);
      expect(vsReference).toBeLessThan(REFERENCE_TOLERANCE);
      expect(vsWasm).toBeLessThan(BACKEND_TOLERANCE);
    });
  }

  describe("qwen3-tiny-f32 on webgpu", () => {
    let model: QwenModel;
    beforeAll(async () => {
      await initBackend({ backend: "webgpu", quiet: true });
      model = await loadQwenModel(fixture("qwen3-tiny-f32"));
    });
    afterAll(() => disposeModel(model));

    test("weights stay on the device: after a forward pass the GPU holds exactly the weights, and no tensors leak", async () => {
      const weightBytes = paramTensors(model.params).reduce((sum, t) => sum + t.size * 4, 0);
      const forward = async () => {
        const out = qwenForward(model.params, model.config, [[380, 5, 17, 99]], { lastPositionOnly: true });
        await out.logits!.data();
        out.logits!.dispose();
      };
      await forward(); // uploads the weights (once) and flushes the loader's pending disposals
      const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      expect(before.numBytesInGPU).toBe(weightBytes);
      await forward();
      const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numBytesInGPU).toBe(weightBytes);
    });

    test("greedy continuation through the KV cache reproduces PyTorch's 24 tokens; no leaks; the buffer pool stays bounded", async () => {
      const expected = JSON.parse(readFileSync(`${fixture("qwen3-tiny-f32")}/expected.json`, "utf8")) as { cases: Case[] };
      const c = expected.cases.find((k) => k.greedy_continuation)!;
      const g = c.greedy_continuation!;
      const want = Array.isArray(g) ? g : g.generated_ids!;
      const before = tf.memory().numTensors;
      const result = await generateTokens(model.params, model.config, [c.input_ids], { maxNewTokens: want.length, temperature: 0 });
      expect(result.tokens[0]).toEqual(want);
      expect(tf.memory().numTensors).toBe(before);
      const pool = webgpuBufferPoolStats()!;
      expect(pool.pooledBytes).toBeLessThanOrEqual(pool.maxPooledBytes);
    });

    test("chunked logits equal the unchunked unembedding on webgpu", async () => {
      const hidden = tf.randomNormal([3, model.config.hiddenSize], 0, 1, "float32", 5) as tf.Tensor2D;
      const vocabulary = splitVocabularyColumns(model.params.lmHeadT, 100); // 384 → 100, 100, 100, 84
      const full = tf.matMul(hidden, model.params.lmHeadT);
      const chunked = chunkedLogits(hidden, vocabulary);
      expect(maxAbsDiff(await chunked.data(), await full.data())).toBeLessThan(1e-5);
      const targets = [0, 383, 150];
      const logProbs = chunkedTokenLogProbs(hidden, vocabulary, targets);
      const reference = tf.sum(tf.mul(tf.logSoftmax(full), tf.oneHot(tf.tensor1d(targets, "int32"), 384)), 1);
      expect(maxAbsDiff(await logProbs.data(), await reference.data())).toBeLessThan(1e-5);
      // Blocks sliced per use, with the recomputing gradient: the same values and d hidden.
      const frozen = frozenChunkedTokenLogProbs(hidden, model.params.lmHeadT, 100, targets);
      expect(maxAbsDiff(await frozen.data(), await reference.data())).toBeLessThan(1e-5);
      const oneHot = tf.oneHot(tf.tensor1d(targets, "int32"), 384);
      const dFrozen = tf.grad((h: tf.Tensor) => tf.sum(frozenChunkedTokenLogProbs(h as tf.Tensor2D, model.params.lmHeadT, 100, targets)))(hidden);
      const dFull = tf.grad((h: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(tf.matMul(h, model.params.lmHeadT)), oneHot)))(hidden);
      expect(maxAbsDiff(await dFrozen.data(), await dFull.data())).toBeLessThan(1e-5);
      tf.dispose([hidden, full, chunked, logProbs, reference, frozen, oneHot, dFrozen, dFull]);
      disposeVocabularyChunks(vocabulary);
    });
  });

  test(`early exit: sampled exits replayed teacher-forced give the generated logits on webgpu (≤ 1e-4), and wasm's replay agrees (≤ ${BACKEND_TOLERANCE})`, async () => {
    const prompts = [[380, 5, 17, 99, 3, 250, 11], [380, 42]];
    const exitLayers = [2, 4];
    const build = (base: QwenModel) => {
      const model = EarlyExitModel.create(base, { exitLayers, seed: 3, exitOffset: 4 });
      randomizeLora(model, 0.1, 7);
      randomizeHeads(model, 0.3, 7, exitLayers.map(() => -4)); // p ≈ 0.5 at each exitable layer
      return model;
    };
    const replay = async (model: EarlyExitModel, prompt: readonly number[], s: GeneratedSequence): Promise<number[][]> => {
      const { ids, exits } = replayInputs(prompt, s.tokens, s.exitLayers, model.numLayers);
      const out = model.forwardPrescribed([ids], [exits]);
      const logits = ((await out.logits!.array()) as number[][][])[0]!;
      tf.dispose([out.logits!, out.hidden, out.exitLogits]);
      return s.tokens.map((_, t) => logits[prompt.length - 1 + t]!);
    };
    // Generate and replay on webgpu.
    const generated = await on("webgpu", async () => {
      const base = await loadQwenModel(fixture("qwen3-tiny-f32"));
      const model = build(base);
      const result = await model.generate(prompts, { maxNewTokens: 8, temperature: 1, seed: 5, recordLogits: true });
      let worst = 0;
      for (const [b, s] of result.sequences.entries()) {
        const replayed = await replay(model, prompts[b]!, s);
        s.tokens.forEach((_, t) => (worst = Math.max(worst, maxAbsDiff(s.logits![t]!, replayed[t]!))));
      }
      model.dispose();
      disposeModel(base);
      return { sequences: result.sequences, worst };
    });
    const exits = new Set(generated.sequences.flatMap((s) => s.exitLayers));
    expect(exits.size).toBeGreaterThan(1); // tokens really exited at different layers
    // Replay the same sequences on wasm.
    const vsWasm = await on("wasm", async () => {
      const base = await loadQwenModel(fixture("qwen3-tiny-f32"));
      const model = build(base);
      let worst = 0;
      for (const [b, s] of generated.sequences.entries()) {
        const replayed = await replay(model, prompts[b]!, s);
        s.tokens.forEach((_, t) => (worst = Math.max(worst, maxAbsDiff(s.logits![t]!, replayed[t]!))));
      }
      model.dispose();
      disposeModel(base);
      return worst;
    });
    console.log(`early-exit replay: webgpu generated vs webgpu replayed ${generated.worst.toExponential(2)}, vs wasm replayed ${vsWasm.toExponential(2)} (exit layers seen: ${[...exits].sort((a, b) => a - b).join(", ")})`);
    expect(generated.worst).toBeLessThan(1e-4);
    expect(vsWasm).toBeLessThan(BACKEND_TOLERANCE);
  });

  test("three Adam training steps: the same losses and gradients as wasm", async () => {
    const config = await readQwenConfig(fixture("qwen3-tiny-f32"));
    const rng = new Rng(11);
    const ids = Array.from({ length: 2 }, () => Array.from({ length: 12 }, () => rng.int(config.vocabSize)));
    const ones = ids.map((row) => row.map(() => 1));
    const batch: LmBatch = { ids, attentionMask: ones, lossMask: ones };
    const train = (backend: "wasm" | "webgpu") =>
      on(backend, async () => {
        const params = initQwenParams(config, 1); // seeded in JS: identical on both backends
        const variables = trainableVariables(config, params);
        const optimizer = tf.train.adam(3e-3);
        const losses: number[] = [];
        const gradients: Float32Array[][] = [];
        for (let step = 0; step < 3; step++) {
          const { value, grads } = tf.variableGrads(() => languageModelLoss(params, config, batch), variables);
          losses.push((await value.data())[0]!);
          gradients.push(await Promise.all(variables.map(async (v) => (await grads[v.name]!.data()) as Float32Array)));
          optimizer.applyGradients(grads);
          tf.dispose([value, ...Object.values(grads)]);
        }
        optimizer.dispose();
        tf.dispose([...paramTensors(params)]);
        return { losses, gradients };
      });
    const wasm = await train("wasm");
    const webgpu = await train("webgpu");
    const lossDiff = maxAbsDiff(webgpu.losses, wasm.losses);
    // Gradients of every step, relative to the largest gradient of that step.
    const gradientDiffs = webgpu.gradients.map((step, s) => {
      const scale = Math.max(...wasm.gradients[s]!.map((g) => maxAbsDiff(g, new Float32Array(g.length))));
      return Math.max(...step.map((g, i) => maxAbsDiff(g, wasm.gradients[s]![i]!))) / scale;
    });
    console.log(`training: wasm losses [${wasm.losses.map((l) => l.toFixed(5)).join(", ")}], max |Δloss| ${lossDiff.toExponential(2)}, max |Δgradient| / max |gradient| per step [${gradientDiffs.map((d) => d.toExponential(2)).join(", ")}]`);
    expect(wasm.losses[1]!).toBeLessThan(wasm.losses[0]!); // it trains
    expect(lossDiff).toBeLessThan(1e-4);
    for (const d of gradientDiffs) expect(d).toBeLessThan(1e-3);
  });
});

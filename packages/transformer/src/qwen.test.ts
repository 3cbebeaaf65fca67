// The decoder against independent PyTorch references (test/fixtures/*/expected.json): logits,
// every hidden state, the logit lens, and the greedy continuation through the KV cache.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, type QwenModel } from "./load.js";
import { loadQwenModel } from "./model-folder.js";
import { qwenForward, unembed } from "./qwen.js";
import { ContextLengthError, generateTokens } from "./generate.js";

const fixture = (name: string) => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));

interface Case {
  name: string;
  input_ids: number[];
  seq_len: number;
  argmax: number[];
  top2_margin: number[];
  logsumexp: number[];
  logits?: number[][];
  logits_rows?: { positions: number[]; values: number[][] };
  hidden_states?: { embeddings: number[][]; layers: number[][][]; final_norm: number[][] };
  logit_lens_last_position?: number[][];
  greedy_continuation?: { generated_ids?: number[] } | number[];
  next_token_logprob?: number[];
  last_position_hidden?: { layers: number[][]; final_norm: number[] };
}

function maxAbsDiff(actual: ArrayLike<number>, expected: readonly number[]): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  return worst;
}

const TOLERANCE = 1e-4;

for (const name of ["qwen3-tiny-f32", "qwen3-tiny-bf16-sharded", "qwen2-tiny-f32", "qwen3-bias-tiny-f32"]) {
  describe(name, () => {
    const expected = JSON.parse(readFileSync(`${fixture(name)}/expected.json`, "utf8")) as { cases: Case[] };
    let model: QwenModel;
    beforeAll(async () => {
      await initBackend({ backend: "wasm", quiet: true });
      model = await loadQwenModel(fixture(name));
      return () => disposeModel(model);
    });

    for (const c of expected.cases) {
      test(`${c.name}: logits and hidden states within ${TOLERANCE}`, () => {
        const T = c.input_ids.length;
        const out = qwenForward(model.params, model.config, [c.input_ids], { outputHiddenStates: true });
        const logits = out.logits!.arraySync()[0]!; // [T, V]
        if (c.logits) {
          expect(maxAbsDiff(logits.flat(), c.logits.flat())).toBeLessThan(TOLERANCE);
        }
        // Argmax and logsumexp cover every position.
        for (let t = 0; t < T; t++) {
          const row = logits[t]!;
          const max = Math.max(...row);
          const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
          expect(Math.abs(lse - c.logsumexp[t]!)).toBeLessThan(TOLERANCE);
          if (c.top2_margin[t]! > 1e-3) expect(row.indexOf(max)).toBe(c.argmax[t]);
        }
        if (c.logits_rows) {
          c.logits_rows.positions.forEach((t, i) => {
            expect(maxAbsDiff(logits[t]!, c.logits_rows!.values[i]!), `row ${t}`).toBeLessThan(TOLERANCE);
          });
        }
        if (c.next_token_logprob) {
          for (let t = 0; t + 1 < T; t++) {
            const row = logits[t]!;
            const max = Math.max(...row);
            const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
            expect(Math.abs(row[c.input_ids[t + 1]!]! - lse - c.next_token_logprob[t]!)).toBeLessThan(TOLERANCE);
          }
        }
        if (c.hidden_states) {
          const states = out.hiddenStates.map((h) => h.arraySync()[0]!);
          expect(maxAbsDiff(states[0]!.flat(), c.hidden_states.embeddings.flat())).toBeLessThan(TOLERANCE);
          c.hidden_states.layers.forEach((layer, i) => {
            expect(maxAbsDiff(states[i + 1]!.flat(), layer.flat()), `layer ${i}`).toBeLessThan(TOLERANCE);
          });
        }
        if (c.last_position_hidden) {
          c.last_position_hidden.layers.forEach((want, i) => {
            const last = out.hiddenStates[i + 1]!.arraySync()[0]![T - 1]!;
            expect(maxAbsDiff(last, want), `layer ${i} at the last position`).toBeLessThan(TOLERANCE);
          });
        }
        if (c.logit_lens_last_position) {
          c.logit_lens_last_position.forEach((lens, i) => {
            const h = tf.reshape(tf.slice(out.hiddenStates[i + 1]!, [0, T - 1, 0], [1, 1, model.config.hiddenSize]), [1, model.config.hiddenSize]) as tf.Tensor2D;
            const lensLogits = unembed(model.params, model.config, h);
            expect(maxAbsDiff(lensLogits.dataSync(), lens), `lens ${i}`).toBeLessThan(TOLERANCE);
            tf.dispose([h, lensLogits]);
          });
        }
        tf.dispose([out.logits!, ...out.hiddenStates]);
      });

      if (c.greedy_continuation) {
        test(`${c.name}: greedy continuation reproduced with the KV cache`, async () => {
          const g = c.greedy_continuation!;
          const want = Array.isArray(g) ? g : g.generated_ids!;
          const result = await generateTokens(model.params, model.config, [c.input_ids], { maxNewTokens: want.length, temperature: 0 });
          expect(result.tokens[0]).toEqual(want);
        });
      }
    }
  });
}

describe("generation stays inside the model's context", () => {
  test("maxNewTokens past max_position_embeddings is refused before any step, with the largest allowed value", async () => {
    await initBackend({ backend: "wasm", quiet: true });
    const model = await loadQwenModel(fixture("qwen3-bias-tiny-f32")); // max_position_embeddings 64
    const prompt = [94, 3, 17, 0, 95, 40, 8];
    await expect(generateTokens(model.params, model.config, [prompt], { maxNewTokens: 58 })).rejects.toThrow(
      "maxNewTokens 58 with a 7-token prompt needs 65 positions, more than the model's context of 64 (max_position_embeddings in config.json); use maxNewTokens 57 or less",
    );
    await expect(generateTokens(model.params, model.config, [prompt], { maxNewTokens: 100_000 })).rejects.toBeInstanceOf(ContextLengthError);
    const result = await generateTokens(model.params, model.config, [prompt], { maxNewTokens: 57 });
    expect(result.tokens[0]).toHaveLength(57);
    disposeModel(model);
  });
});

// The fused wasm kernels take two paths: inference (no tape: fused attention, KV append) and
// training (under a gradient tape: RMSNorm, RoPE, SwiGLU, masked softmax and matMul kernels with
// gradients). The fixture tests above cover inference; here the training path's logits must
// match the same forward without a tape, and its gradients the cpu backend's plain tf ops.
describe("training path (gradient tape) on qwen3-tiny-f32", () => {
  const ids = [[380, 5, 17, 99, 3, 250, 11, 42], [380, 7, 7, 120, 1, 2, 3, 4]];
  const mask = [[1, 1, 1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 1]];

  /** Loss Σ logits · probe as a function of three weights of the model, with its gradients. */
  async function lossAndGradients(backend: "wasm" | "cpu") {
    await initBackend({ backend, quiet: true });
    const model = await loadQwenModel(fixture("qwen3-tiny-f32"));
    const { params, config } = model;
    const probe = tf.tidy(() => tf.sin(tf.reshape(tf.range(0, 2 * 8 * config.vocabSize), [2, 8, config.vocabSize])));
    const layer0 = params.layers[0]!;
    const layer1 = params.layers[1]!;
    const forward = (inputNorm: tf.Tensor, qNorm: tf.Tensor, gate: tf.Tensor) => {
      const layers = params.layers.map((layer, i) =>
        i === 0 ? { ...layer, inputLayernorm: inputNorm as tf.Tensor1D } : i === 1 ? { ...layer, qNorm: qNorm as tf.Tensor1D, gateProj: { ...layer.gateProj, weightT: gate as tf.Tensor2D } } : layer,
      );
      return qwenForward({ ...params, layers }, config, ids, { attentionMask: mask }).logits!;
    };
    const inputs = [layer0.inputLayernorm, layer1.qNorm!, layer1.gateProj.weightT];
    const untaped = forward(inputs[0]!, inputs[1]!, inputs[2]!);
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(forward(a, b, c), probe)) as tf.Scalar)(inputs);
    const result = {
      loss: (await value.data())[0]!,
      untapedSum: (await tf.sum(tf.mul(untaped, probe)).data())[0]!,
      grads: await Promise.all(grads.map(async (g) => Float32Array.from(await g.data()))),
    };
    tf.dispose([probe, untaped, value, ...grads]);
    disposeModel(model);
    return result;
  }

  test("logits under a tape equal the inference path's; gradients equal the cpu backend's", async () => {
    const wasm = await lossAndGradients("wasm");
    const cpu = await lossAndGradients("cpu");
    await initBackend({ backend: "wasm", quiet: true });
    expect(Math.abs(wasm.loss - wasm.untapedSum)).toBeLessThan(1e-3 * Math.max(1, Math.abs(wasm.loss)));
    expect(Math.abs(wasm.loss - cpu.loss)).toBeLessThan(1e-3 * Math.max(1, Math.abs(cpu.loss)));
    wasm.grads.forEach((g, i) => {
      const reference = cpu.grads[i]!;
      const scale = Math.max(...Array.from(reference, Math.abs));
      expect(scale).toBeGreaterThan(0);
      expect(maxAbsDiff(g, Array.from(reference)) / scale, `gradient ${i}`).toBeLessThan(1e-4);
    });
  });
});

// Per-layer teacher divergences against an independent reference (qwenForward's hidden states,
// full logits, float64 KL on the host); chunked == unchunked; batching with padding changes
// nothing; perplexity against the same reference; no leaks.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { expectNoLeaks, initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, qwenForward, unembed, type QwenModel } from "@eecot/transformer";
import { PROMPTS, fixturePath, klFromLogits, logSoftmax, maxAbsDiff } from "../test/helpers.js";
import { computeLayerDivergences, replayBatch, residualRows, type TokenSequence } from "./divergence.js";
import { perplexityUnderBase, tokenNegativeLogLikelihoods } from "./perplexity.js";

const FIXTURES = [
  { name: "qwen3-tiny-f32", exitLayers: [2, 4] },
  { name: "qwen2-tiny-f32", exitLayers: [1, 2, 3] },
] as const;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

test("replayBatch: left padding and the row predicting each generated token", () => {
  const replay = replayBatch([
    { promptTokens: [1, 2, 3], tokens: [4, 5] },
    { promptTokens: [7], tokens: [8, 9, 10] },
  ], 0);
  // Inputs: [1, 2, 3, 4] and [7, 8, 9]; S = 4.
  expect(replay.ids).toEqual([[1, 2, 3, 4], [0, 7, 8, 9]]);
  expect(replay.attentionMask).toEqual([[1, 1, 1, 1], [0, 1, 1, 1]]);
  // Token 4 is predicted at position 2 (input 3), token 5 at 3; token 8 at row 1 position 1, …
  expect(replay.rows).toEqual([2, 3, 4 + 1, 4 + 2, 4 + 3]);
  expect(replay.counts).toEqual([2, 3]);
});

for (const fixture of FIXTURES) {
  describe(fixture.name, () => {
    let base: QwenModel;
    let sequences: TokenSequence[];

    beforeAll(async () => {
      base = await loadQwenModel(fixturePath(fixture.name));
      const generated = await generateTokens(base.params, base.config, PROMPTS, { maxNewTokens: 6 });
      sequences = PROMPTS.map((p, i) => ({ promptTokens: p, tokens: generated.tokens[i]! }));
    });
    afterAll(() => disposeModel(base));

    /** Reference: every layer's hidden states, full logits, float64 KL per generated token. */
    function referenceKl(sequence: TokenSequence): number[][] {
      const ids = [...sequence.promptTokens, ...sequence.tokens.slice(0, -1)];
      const out = qwenForward(base.params, base.config, [ids], { outputHiddenStates: true });
      const C = base.config.hiddenSize;
      const L = base.config.numLayers;
      const lens = (layer: number) => {
        const logits = tf.tidy(() => unembed(base.params, base.config, tf.reshape(out.hiddenStates[layer]!, [ids.length, C]) as tf.Tensor2D));
        const rows = logits.arraySync();
        logits.dispose();
        return rows;
      };
      const final = lens(L);
      const perLayer = fixture.exitLayers.map((e) => lens(e));
      tf.dispose([...out.hiddenStates, out.logits!]);
      const P = sequence.promptTokens.length;
      return sequence.tokens.map((_, t) => perLayer.map((rows) => klFromLogits(final[P - 1 + t]!, rows[P - 1 + t]!)));
    }

    test("KL_{e,t} matches the float64 reference; chunked == unchunked; batched == one by one", async () => {
      const m = fixture.exitLayers.length;
      const chunked = await computeLayerDivergences(base, fixture.exitLayers, sequences, { chunkSize: 3, batchSize: 4 });
      const whole = await computeLayerDivergences(base, fixture.exitLayers, sequences, { chunkSize: 1000, batchSize: 4 });
      const single = await computeLayerDivergences(base, fixture.exitLayers, sequences, { chunkSize: 64, batchSize: 1 });
      sequences.forEach((sequence, i) => {
        expect(chunked[i]!.tokenCount).toBe(sequence.tokens.length);
        expect(chunked[i]!.exitCount).toBe(m);
        expect(maxAbsDiff(chunked[i]!.kl, whole[i]!.kl)).toBeLessThan(1e-6);
        expect(maxAbsDiff(chunked[i]!.kl, single[i]!.kl)).toBeLessThan(1e-4);
        const reference = referenceKl(sequence).flat();
        expect(maxAbsDiff(chunked[i]!.kl, reference)).toBeLessThan(1e-4);
        expect(reference.some((x) => x > 1e-3)).toBe(true); // not trivially zero
      });
    });

    test("residualRows at L equals qwenForward's last hidden state at the chosen rows", () => {
      const replay = replayBatch(sequences);
      const [rows] = residualRows(base, replay.ids, replay.attentionMask, [base.config.numLayers], replay.rows);
      const out = qwenForward(base.params, base.config, replay.ids, { attentionMask: replay.attentionMask, outputHiddenStates: true, skipLogits: true });
      const last = out.hiddenStates[base.config.numLayers]!;
      const flat = tf.tidy(() => tf.gather(tf.reshape(last, [-1, base.config.hiddenSize]), replay.rows));
      expect(maxAbsDiff(rows!.dataSync(), flat.dataSync())).toBeLessThan(1e-5);
      tf.dispose([rows!, flat, ...out.hiddenStates]);
    });

    test("perplexity equals exp(mean −log p) from full logits", async () => {
      const nll = await tokenNegativeLogLikelihoods(base, sequences, { chunkSize: 2 });
      let total = 0;
      let count = 0;
      sequences.forEach((sequence, i) => {
        const ids = [...sequence.promptTokens, ...sequence.tokens.slice(0, -1)];
        const out = qwenForward(base.params, base.config, [ids]);
        const logits = out.logits!.arraySync()[0]!;
        out.logits!.dispose();
        sequence.tokens.forEach((y, t) => {
          const expected = -logSoftmax(logits[sequence.promptTokens.length - 1 + t]!)[y]!;
          expect(Math.abs(nll[i]![t]! - expected)).toBeLessThan(1e-4);
          total += expected;
          count++;
        });
      });
      const result = await perplexityUnderBase(base, sequences);
      expect(result.tokenCount).toBe(count);
      expect(Math.abs(result.perplexity - Math.exp(total / count)) / result.perplexity).toBeLessThan(1e-4);
    });

    test("no tensor leaks", async () => {
      await expectNoLeaks(() => computeLayerDivergences(base, fixture.exitLayers, sequences, { chunkSize: 5 }), { iterations: 2 });
      await expectNoLeaks(() => perplexityUnderBase(base, sequences), { iterations: 2 });
    });
  });
}

test("sequences without generated tokens get empty divergences", async () => {
  const base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
  try {
    const out = await computeLayerDivergences(base, [2, 4], [{ promptTokens: [380, 5], tokens: [] }, { promptTokens: [380], tokens: [7, 9] }]);
    expect(out[0]).toEqual({ kl: new Float32Array(0), tokenCount: 0, exitCount: 2 });
    expect(out[1]!.kl).toHaveLength(4);
    await expect(computeLayerDivergences(base, [4, 2], [])).rejects.toThrow(/increasing/);
  } finally {
    disposeModel(base);
  }
});

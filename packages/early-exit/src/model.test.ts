// The early-exit decoder on the tiny reference checkpoints: equality with the base model when
// exits are off and B = 0; free generation replayed teacher-forced gives the same logits; the
// sampled exit frequencies match the gated distribution; K/V-only layers skip work; no leaks.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, qwenForward, unembed, type QwenModel } from "@eecot/transformer";
import { fixturePath, maxAbsDiff, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { EarlyExitModel, replayInputs, type GeneratedSequence, type StreamedToken } from "./model.js";
import { sequenceLogProbs } from "./log-probs.js";

const TOLERANCE = 1e-4;
const logit = (p: number) => Math.log(p / (1 - p));

const FIXTURES = [
  { name: "qwen3-tiny-f32", exitLayers: [2, 4] },
  { name: "qwen2-tiny-f32", exitLayers: [1, 2, 3] },
] as const;

const prompts = [
  [380, 5, 17, 99, 3, 250, 11],
  [380, 42],
  [380, 7, 7, 7, 120],
];

/** Replay one generated row teacher-forced; returns the logits rows that predicted its tokens. */
function replayLogits(model: EarlyExitModel, prompt: readonly number[], sequence: GeneratedSequence): number[][] {
  const { ids, exits } = replayInputs(prompt, sequence.tokens, sequence.exitLayers, model.numLayers);
  const out = model.forwardPrescribed([ids], [exits]);
  const logits = out.logits!.arraySync()[0]!;
  tf.dispose([out.logits!, out.hidden, out.exitLogits]);
  return sequence.tokens.map((_, t) => logits[prompt.length - 1 + t]!);
}

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

for (const fixture of FIXTURES) {
  describe(fixture.name, () => {
    let base: QwenModel;
    let L: number;
    beforeAll(async () => {
      base = await loadQwenModel(fixturePath(fixture.name));
      L = base.config.numLayers;
    });
    afterAll(() => disposeModel(base));

    test(`B = 0 and no exits: logits equal the base model and the PyTorch reference within ${TOLERANCE}`, () => {
      const model = EarlyExitModel.create(base, { exitLayers: [...fixture.exitLayers], seed: 3 });
      const expected = JSON.parse(readFileSync(`${fixturePath(fixture.name)}/expected.json`, "utf8")) as { cases: { name: string; input_ids: number[]; logits?: number[][] }[] };
      const c = expected.cases.find((k) => k.name === "len17")!;
      const T = c.input_ids.length;
      const C = base.config.hiddenSize;
      const out = model.forwardPrescribed([c.input_ids], [c.input_ids.map(() => L)], { returnLens: true });
      expect(maxAbsDiff(out.logits!.dataSync(), c.logits!.flat())).toBeLessThan(TOLERANCE);
      const reference = qwenForward(base.params, base.config, [c.input_ids], { outputHiddenStates: true });
      expect(maxAbsDiff(out.logits!.dataSync(), reference.logits!.dataSync())).toBeLessThan(TOLERANCE);
      expect(out.exitLogits.shape).toEqual([1, T, fixture.exitLayers.length]);
      expect(Array.from(out.exitLogits.dataSync()).every((z) => z === -4)).toBe(true); // W2 = 0, b2 = −4
      // Logit lens at e = unembed of the base model's residual after layer e.
      fixture.exitLayers.forEach((e, i) => {
        const want = tf.tidy(() => unembed(base.params, base.config, tf.reshape(reference.hiddenStates[e]!, [T, C]) as tf.Tensor2D));
        expect(maxAbsDiff(out.lensLogits[i]!.dataSync(), want.dataSync())).toBeLessThan(TOLERANCE);
        want.dispose();
      });
      tf.dispose([out.logits!, out.hidden, out.exitLogits, ...out.lensLogits, reference.logits!, ...reference.hiddenStates]);
      model.dispose();
    });

    test("a frozen position ends with h_e while the positions after it still attend to it", () => {
      const model = EarlyExitModel.create(base, { exitLayers: [...fixture.exitLayers], seed: 3 });
      randomizeLora(model, 0.05, 1);
      const ids = [prompts[0]!];
      const e = fixture.exitLayers[0]!;
      const C = base.config.hiddenSize;
      const row = (h: tf.Tensor3D, t: number) => tf.tidy(() => tf.slice(h, [0, t, 0], [1, 1, C]).dataSync());
      const run = (exits: number[]) => {
        const out = model.forwardPrescribed(ids, [exits], { skipLogits: true });
        out.exitLogits.dispose();
        return out.hidden;
      };
      const frozen = run(ids[0]!.map((_, t) => (t === 3 ? e : L)));
      const free = run(ids[0]!.map(() => L));
      const shallow = run(ids[0]!.map(() => e));
      expect(maxAbsDiff(row(frozen, 3), row(shallow, 3))).toBe(0);
      expect(maxAbsDiff(row(frozen, 2), row(free, 2))).toBeLessThan(1e-6); // causal: earlier positions untouched
      expect(maxAbsDiff(row(frozen, 5), row(free, 5))).toBeGreaterThan(1e-3); // later ones see the frozen K/V
      tf.dispose([frozen, free, shallow]);
      model.dispose();
    });

    test("exits disabled + B = 0: generation reproduces the base model's logits and greedy tokens", async () => {
      const model = EarlyExitModel.create(base, { exitLayers: [...fixture.exitLayers], seed: 3 });
      const result = await model.generate(prompts, { maxNewTokens: 8, temperature: 0, mode: "none", recordLogits: true });
      result.sequences.forEach((s, b) => {
        const full = [...prompts[b]!, ...s.tokens];
        const reference = qwenForward(base.params, base.config, [full]);
        const logits = reference.logits!.arraySync()[0]!;
        reference.logits!.dispose();
        s.tokens.forEach((y, t) => {
          const want = logits[prompts[b]!.length - 1 + t]!;
          expect(maxAbsDiff(s.logits![t]!, want)).toBeLessThan(TOLERANCE);
          expect(y).toBe(want.indexOf(Math.max(...want)));
        });
        expect(s.exitLayers.every((x) => x === L)).toBe(true);
        expect(s.exitLogProbs.every((v) => v === 0)).toBe(true);
        expect(s.headProbabilities.flat().every(Number.isNaN)).toBe(true);
      });
      model.dispose();
    });

    test(`sampled exits replayed teacher-forced give the same logits (≤ ${TOLERANCE}) and log-probs`, async () => {
      const model = EarlyExitModel.create(base, { exitLayers: [...fixture.exitLayers], seed: 3, exitOffset: 4 });
      randomizeLora(model, 0.1, 7);
      randomizeHeads(model, 0.3, 7, fixture.exitLayers.map(() => -4)); // p = sigmoid(z − 4 + 4) ≈ 0.5
      const seen = new Set<number>();
      for (const batch of [prompts, [prompts[0]!]]) {
        const result = await model.generate(batch, { maxNewTokens: 12, temperature: 1, seed: 5, recordLogits: true });
        result.sequences.forEach((s, b) => {
          s.exitLayers.forEach((x) => seen.add(x));
          const replayed = replayLogits(model, batch[b]!, s);
          s.tokens.forEach((_, t) => expect(maxAbsDiff(s.logits![t]!, replayed[t]!), `row ${b} token ${t}`).toBeLessThan(TOLERANCE));
        });
        // Batched, left-padded scoring agrees with the log-probs recorded while sampling.
        const scored = sequenceLogProbs(model, result.sequences.map((s, b) => ({ promptTokens: batch[b]!, tokens: s.tokens, exitLayers: s.exitLayers })));
        const rows = scored.arraySync();
        scored.dispose();
        result.sequences.forEach((s, b) => s.logProbs.forEach((lp, t) => expect(Math.abs(rows[b]![t]! - lp)).toBeLessThan(TOLERANCE)));
      }
      expect([...seen].sort((a, b) => a - b)).toEqual([...fixture.exitLayers, L]); // every exit really happened
      model.dispose();
    });

    test("a forced exit layer replays too, evaluates no heads and counts as deterministic", async () => {
      const model = EarlyExitModel.create(base, { exitLayers: [...fixture.exitLayers], seed: 3 });
      randomizeLora(model, 0.1, 8);
      const result = await model.generate(prompts.slice(0, 2), { maxNewTokens: 6, temperature: 1, seed: 2, forcedExitLayer: 1, recordLogits: true });
      result.sequences.forEach((s, b) => {
        expect(s.exitLayers.every((x) => x === 1)).toBe(true);
        expect(s.exitLogProbs.every((v) => v === 0)).toBe(true);
        const replayed = replayLogits(model, prompts[b]!, s);
        s.tokens.forEach((_, t) => expect(maxAbsDiff(s.logits![t]!, replayed[t]!)).toBeLessThan(TOLERANCE));
      });
      model.dispose();
    });
  });
}

describe("generation (qwen2-tiny-f32, E = [1, 2, 3])", () => {
  let base: QwenModel;
  beforeAll(async () => {
    base = await loadQwenModel(fixturePath("qwen2-tiny-f32"));
  });
  afterAll(() => disposeModel(base));

  test("sampled exit frequencies match the gated distribution (2,048 draws, tolerance 4.5σ ≤ 0.048)", async () => {
    // W2 = 0, so every token has p = (0.3, 0.05, 0.5). Gate 0.1 removes layer 2:
    // P = (0.3, 0, 0.7·0.5, 0.7·0.5). Without the gate: (0.3, 0.035, 0.3325, 0.3325).
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1 });
    model.heads.forEach((h, i) => h.b2.assign(tf.fill([1], [logit(0.3), logit(0.05), logit(0.5)][i]!)));
    const batch = Array.from({ length: 64 }, (_, i) => [380, i % 50, (7 * i) % 90]);
    for (const [minExitProb, want] of [
      [0.1, [0.3, 0, 0.35, 0.35]],
      [0, [0.3, 0.035, 0.3325, 0.3325]],
    ] as const) {
      const result = await model.generate(batch, { maxNewTokens: 32, temperature: 1, seed: 9, minExitProb });
      const exits = result.sequences.flatMap((s) => s.exitLayers);
      expect(exits.length).toBe(2048);
      want.forEach((p, k) => {
        const frequency = exits.filter((x) => x === k + 1).length / exits.length;
        const sigma = Math.sqrt((p * (1 - p)) / exits.length);
        expect(Math.abs(frequency - p), `layer ${k + 1}: ${frequency} vs ${p}`).toBeLessThanOrEqual(4.5 * sigma + 1e-12);
      });
      // The recorded per-layer probabilities are the heads' (0.3, 0.05, 0.5), NaN past the exit.
      const first = result.sequences[0]!;
      first.headProbabilities.forEach((row, t) => {
        const x = first.exitLayers[t]!;
        row.forEach((p, k) => (k + 1 <= Math.min(x, 3) ? expect(p).toBeCloseTo([0.3, 0.05, 0.5][k]!, 5) : expect(p).toBeNaN()));
      });
    }
    model.dispose();
  });

  test("raising exitOffset never lowers the early-exit rate (same seed, random heads)", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 2 });
    randomizeHeads(model, 1, 4, [-2, -2, -2]);
    const batch = Array.from({ length: 16 }, (_, i) => [380, 3 * i, i + 1]);
    const rates: number[] = [];
    for (const exitOffset of [-2, 0, 1, 2, 4]) {
      const result = await model.generate(batch, { maxNewTokens: 16, temperature: 1, seed: 3, exitOffset });
      const exits = result.sequences.flatMap((s) => s.exitLayers);
      rates.push(exits.filter((x) => x < 4).length / exits.length);
    }
    rates.slice(1).forEach((rate, i) => expect(rate, `rates ${rates.join(", ")}`).toBeGreaterThanOrEqual(rates[i]! - 0.03));
    expect(rates.at(-1)! - rates[0]!).toBeGreaterThan(0.3);
    model.dispose();
  });

  test("onToken streams every token as it is drawn, without changing the draws; an aborted signal stops after that step", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 2 });
    randomizeHeads(model, 1, 4, [-1, -1, -1]);
    const batch = [[380, 1, 2], [380, 7]];
    const plain = await model.generate(batch, { maxNewTokens: 8, temperature: 1, seed: 5 });
    const streamed: StreamedToken[] = [];
    const withCallback = await model.generate(batch, { maxNewTokens: 8, temperature: 1, seed: 5, onToken: async (token) => void streamed.push(token) });
    expect(withCallback.sequences.map((s) => [s.tokens, s.exitLayers])).toEqual(plain.sequences.map((s) => [s.tokens, s.exitLayers]));
    plain.sequences.forEach((sequence, row) => {
      const mine = streamed.filter((t) => t.row === row);
      expect(mine.map((t) => t.index)).toEqual(sequence.tokens.map((_, i) => i));
      expect(mine.map((t) => t.token)).toEqual(sequence.tokens);
      expect(mine.map((t) => t.exitLayer)).toEqual(sequence.exitLayers);
      expect(mine.map((t) => t.headProbabilities)).toEqual(sequence.headProbabilities);
    });
    const controller = new AbortController();
    const stopped = await model.generate(batch, { maxNewTokens: 8, temperature: 1, seed: 5, signal: controller.signal, onToken: (t) => (t.index === 2 ? controller.abort() : undefined) });
    expect(stopped.sequences.map((s) => s.tokens)).toEqual(plain.sequences.map((s) => s.tokens.slice(0, 3)));
    model.dispose();
  });

  test("threshold mode exits at the first layer with p ≥ threshold", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1 });
    model.heads.forEach((h, i) => h.b2.assign(tf.fill([1], [logit(0.3), logit(0.6), logit(0.9)][i]!)));
    const exitsAt = async (threshold: number) => (await model.generate([[380, 1]], { maxNewTokens: 3, mode: "threshold", threshold })).sequences[0]!.exitLayers;
    expect(await exitsAt(0.5)).toEqual([2, 2, 2]);
    expect(await exitsAt(0.2)).toEqual([1, 1, 1]);
    expect(await exitsAt(0.95)).toEqual([4, 4, 4]);
    model.dispose();
  });

  test("seeded: equal seeds give equal rollouts, other seeds other ones", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1, exitOffset: 4 });
    const run = async (seed: number) => (await model.generate(prompts, { maxNewTokens: 10, temperature: 1, seed })).sequences.map((s) => [s.tokens, s.exitLayers]);
    expect(await run(4)).toEqual(await run(4));
    expect(await run(4)).not.toEqual(await run(5));
    model.dispose();
  });

  test("exited tokens skip queries, attention and MLP in later layers (fewer kernels per decode step at batch 1)", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1 });
    const kernels = async (forcedExitLayer: number | null, maxNewTokens: number) =>
      (await tf.profile(async () => void (await model.generate([[380, 1, 2]], { maxNewTokens, temperature: 0, mode: "none", forcedExitLayer })))).kernels.length;
    // Decode steps only (the prompt's prefill always runs at full depth).
    const perStep = async (forced: number | null) => ((await kernels(forced, 9)) - (await kernels(forced, 1))) / 8;
    const full = await perStep(null);
    const early = await perStep(1);
    console.log(`kernels per decode step: full depth ${full}, exit at layer 1 ${early}`);
    // One full layer + three K/V-only layers vs four full layers.
    expect(early).toBeLessThan(0.65 * full);
    model.dispose();
  });

  test("generation merges LoRA into the weights: adapters add no kernels per decode step", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1 });
    randomizeLora(model, 0.1, 5);
    const kernels = async (loraEnabled: boolean, maxNewTokens: number) =>
      (await tf.profile(async () => void (await model.generate([[380, 1, 2]], { maxNewTokens, temperature: 0, mode: "none", loraEnabled })))).kernels.length;
    const perStep = async (loraEnabled: boolean) => ((await kernels(loraEnabled, 9)) - (await kernels(loraEnabled, 1))) / 8;
    expect(await perStep(true)).toBe(await perStep(false));
    model.dispose();
  });

  test("no tensor leaks across 100 generation steps", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1, exitOffset: 4 });
    const before = tf.memory().numTensors;
    const result = await model.generate([[380, 5], [380, 6, 7]], { maxNewTokens: 100, temperature: 1, seed: 1 });
    expect(result.sequences[0]!.tokens.length).toBe(100);
    await model.generate([[380, 5]], { maxNewTokens: 100, temperature: 1, seed: 1, mode: "none" });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  test("bad options fail clearly", async () => {
    const model = EarlyExitModel.create(base, { exitLayers: [1, 2, 3], seed: 1 });
    await expect(model.generate([[1]], { maxNewTokens: 1, forcedExitLayer: 5 })).rejects.toThrow(/forcedExitLayer must be an integer in 1..4/);
    await expect(model.generate([[1]], { maxNewTokens: 1, mode: "greedy" as never })).rejects.toThrow(/mode must be/);
    await expect(model.generate([[]], { maxNewTokens: 1 })).rejects.toThrow(/prompt 0 is empty/);
    await expect(model.generate([[384]], { maxNewTokens: 1 })).rejects.toThrow(/token id 384 in prompt 0/);
    expect(() => model.forwardPrescribed([[1, 2]], [[4, 0]])).toThrow(/exit layer 0 at row 0, position 1 is not in 1..4/);
    model.dispose();
  });
});

// EarlyExitPolicy against the @eecot/policy contract: rollouts, their recorded log-probs equal
// the differentiable scores, the frozen reference, trainable groups, seeds, no leaks.
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { AugmentedVocabularyPolicy } from "@eecot/policy";
import { initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, type QwenModel, type Tokenizer } from "@eecot/transformer";
import { fixturePath, randomizeHeads, randomizeLora } from "../test/helpers.js";
import { EarlyExitModel } from "./model.js";
import { EarlyExitPolicy, exitDecisionEntropy, type TextCodec } from "./policy.js";

// The real tokenizer satisfies the codec interface (compile-time check).
const tokenizerIsACodec: (tokenizer: Tokenizer) => TextCodec = (tokenizer) => tokenizer;
void tokenizerIsACodec;

/** Characters as token ids 1..95 (printable ASCII), with a toy ChatML-ish template. */
const codec: TextCodec = {
  encode: (text) => [...text].map((ch) => Math.max(1, Math.min(95, ch.charCodeAt(0) - 31))),
  decode: (ids) => ids.map((id) => String.fromCharCode(id + 31)).join(""),
  applyChatTemplate: (messages, options) => messages.map((m) => `<${m.role}>${m.content}`).join("") + (options.addGenerationPrompt ? "<assistant>" : ""),
};

// Many stop tokens, so some rollouts finish early and batches mix finished and live rows.
const stopTokenIds = Array.from({ length: 40 }, (_, i) => 200 + i);

let base: QwenModel;
let model: EarlyExitModel;
let policy: EarlyExitPolicy;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
  model = EarlyExitModel.create(base, { exitLayers: [2, 4], seed: 1, exitOffset: 4 });
  randomizeLora(model, 0.1, 1);
  randomizeHeads(model, 0.3, 1, [-4, -4]);
  policy = new EarlyExitPolicy(model, { codec, stopTokenIds, padTokenId: 0 });
});

afterAll(() => {
  policy.dispose();
  model.dispose();
  disposeModel(base);
});

const request = { prompts: ["2+2=", "Who is Sally?"], samplesPerPrompt: 3, maxNewTokens: 10, temperature: 1, seed: 4 };

describe("EarlyExitPolicy", () => {
  test("implements the contract: k rollouts per prompt with per-token exits and log-probs", async () => {
    const contract: AugmentedVocabularyPolicy = policy;
    expect(contract.numLayers).toBe(6);
    expect(contract.exitLayers).toEqual([2, 4]);
    const rollouts = await policy.sampleRollouts(request);
    expect(rollouts.map((r) => r.promptIndex)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(rollouts[0]!.promptTokens).toEqual(codec.encode("<user>2+2=<assistant>"));
    for (const r of rollouts) {
      expect(r.tokens.length).toBeGreaterThan(0);
      expect(r.tokens.length).toBeLessThanOrEqual(10);
      expect(r.exitLayers.length).toBe(r.tokens.length);
      expect(r.logProbs.length).toBe(r.tokens.length);
      // One entropy per token: ≥ 0 and at most one bit (ln 2) per exit decision faced.
      expect(r.exitEntropies!.length).toBe(r.tokens.length);
      r.exitEntropies!.forEach((h, t) => {
        expect(h).toBeGreaterThanOrEqual(0);
        expect(h).toBeLessThanOrEqual(Math.LN2 * (r.exitLayers[t] === 6 ? 2 : [2, 4].indexOf(r.exitLayers[t]!) + 1) + 1e-12);
      });
      expect(r.exitLayers.every((x) => [2, 4, 6].includes(x))).toBe(true);
      expect(r.finished).toBe(stopTokenIds.includes(r.tokens.at(-1)!));
      expect(r.text).toBe(codec.decode(r.finished ? r.tokens.slice(0, -1) : r.tokens));
    }
    expect(rollouts.some((r) => r.finished) && rollouts.some((r) => !r.finished)).toBe(true);
    expect(new Set(rollouts.flatMap((r) => r.exitLayers))).toEqual(new Set([2, 4, 6]));
  });

  test("recorded log-probs = sequenceLogProbs = referenceLogProbs (reference snapshot taken at construction)", async () => {
    const rollouts = await policy.sampleRollouts(request);
    const scored = policy.sequenceLogProbs(rollouts);
    const Tmax = Math.max(...rollouts.map((r) => r.tokens.length));
    expect(scored.shape).toEqual([6, Tmax]);
    const rows = scored.arraySync();
    scored.dispose();
    const reference = await policy.referenceLogProbs(rollouts);
    rollouts.forEach((r, i) => {
      expect(reference[i]!.length).toBe(r.tokens.length);
      r.logProbs.forEach((lp, t) => {
        expect(Math.abs(rows[i]![t]! - lp)).toBeLessThan(1e-4);
        expect(Math.abs(reference[i]![t]! - lp)).toBeLessThan(1e-4);
      });
      for (let t = r.tokens.length; t < Tmax; t++) expect(rows[i]![t]).toBe(0);
    });
  });

  test("the reference stays frozen while the policy changes, until cloneReference()", async () => {
    const rollouts = await policy.sampleRollouts({ ...request, samplesPerPrompt: 2 });
    const before = await policy.referenceLogProbs(rollouts);
    const original = model.heads[0]!.b2.clone();
    model.heads[0]!.b2.assign(tf.fill([1], -2));
    const changed = policy.sequenceLogProbs(rollouts);
    const changedRows = changed.arraySync();
    changed.dispose();
    expect(await policy.referenceLogProbs(rollouts)).toEqual(before);
    const largestChange = Math.max(...before.flatMap((row, i) => row.map((v, t) => Math.abs(v - changedRows[i]![t]!))));
    expect(largestChange).toBeGreaterThan(1e-2);
    policy.cloneReference();
    const after = await policy.referenceLogProbs(rollouts);
    after.forEach((row, i) => row.forEach((v, t) => expect(Math.abs(v - changedRows[i]![t]!)).toBeLessThan(1e-5)));
    model.heads[0]!.b2.assign(original);
    original.dispose();
    policy.cloneReference();
  });

  test("trainable groups get gradients; seeds reproduce; batching does not change the count", async () => {
    const groups = policy.trainableVariables();
    expect(groups.lora.length).toBe(6 * 4 * 2);
    expect(groups.heads.length).toBe(2 * 4);
    expect([...groups.lora, ...groups.heads].every((v) => v.trainable)).toBe(true);
    const rollouts = await policy.sampleRollouts(request);
    const { grads, value } = tf.variableGrads(() => tf.mean(policy.sequenceLogProbs(rollouts)) as tf.Scalar, [groups.lora[1]!, groups.heads[2]!]);
    expect(Math.max(...Object.values(grads).map((g) => tf.max(tf.abs(g)).dataSync()[0]!))).toBeGreaterThan(0);
    for (const g of Object.values(grads)) expect(tf.max(tf.abs(g)).dataSync()[0]!).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    const again = await policy.sampleRollouts(request);
    expect(again.map((r) => [r.tokens, r.exitLayers])).toEqual(rollouts.map((r) => [r.tokens, r.exitLayers]));
    const chunked = new EarlyExitPolicy(model, { codec, stopTokenIds, padTokenId: 0, generationBatchSize: 4 });
    expect((await chunked.sampleRollouts(request)).length).toBe(6);
    chunked.dispose();
  });

  test("no tensor leaks over a sample → score → reference cycle", async () => {
    const cycle = async () => {
      const rollouts = await policy.sampleRollouts({ ...request, samplesPerPrompt: 2 });
      const { lora, heads } = policy.trainableVariables();
      const { grads, value } = tf.variableGrads(() => tf.mean(policy.sequenceLogProbs(rollouts)) as tf.Scalar, [...lora, ...heads]);
      tf.dispose([value, ...Object.values(grads)]);
      await policy.referenceLogProbs(rollouts);
    };
    await cycle();
    const before = tf.memory().numTensors;
    await cycle();
    await cycle();
    expect(tf.memory().numTensors).toBe(before);
  });
});

test("exit-decision entropy: its expectation over the sampled exit is the gated distribution's entropy", () => {
  // p = 0.3, 0.05 (below the 0.1 gate: p̃ = 0), 0.6 → Q = 0.3, 0, 0.42, 0.28 over e1, e2, e3, L.
  const p = [0.3, 0.05, 0.6];
  const Q = [0.3, 0, 0.7 * 0.6, 0.7 * 0.4];
  const entropy = -Q.filter((q) => q > 0).reduce((sum, q) => sum + q * Math.log(q), 0);
  // What a token that stopped at exit k saw: heads up to k, NaN above.
  const seen = (k: number) => p.map((value, j) => (j <= k ? value : NaN));
  const expected = Q.reduce((sum, q, k) => sum + q * exitDecisionEntropy(seen(Math.min(k, p.length - 1)), 0.1), 0);
  expect(expected).toBeCloseTo(entropy, 12);
  // Gate off: every head counts.
  expect(exitDecisionEntropy([0.5], 0)).toBeCloseTo(Math.LN2, 12);
  expect(exitDecisionEntropy([NaN, NaN], 0.1)).toBe(0);
});

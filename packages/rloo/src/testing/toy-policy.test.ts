import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "@eecot/tensor-core";
import { createToyPolicy, toyTaskReward, toyText } from "./toy-policy.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("ToyPolicy", () => {
  it("has the stick-breaking exit distribution of METHOD §1", async () => {
    const policy = createToyPolicy({ exitLayers: [1, 2], numLayers: 4 });
    policy.headLogits.assign(tf.tensor2d([[0.3, -1.2], [2, 0]]));
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    const [p1, p2] = [sigmoid(0.3), sigmoid(-1.2)];
    const expected = [p1, (1 - p1) * p2, (1 - p1) * (1 - p2)]; // P(1), P(2), P(L = 4)
    const got = await policy.exitDistribution("p0");
    got.forEach((q, j) => expect(q).toBeCloseTo(expected[j]!, 6));
    expect(policy.exitChoices).toEqual([1, 2, 4]);
    policy.dispose();
  });

  it("enumerates completions whose probabilities sum to 1, and scores them as it samples them", async () => {
    const policy = createToyPolicy();
    tf.tidy(() => {
      policy.headLogits.assign(tf.randomNormal(policy.headLogits.shape, 0, 1, "float32", 3));
      policy.tokenLogits.assign(tf.randomNormal(policy.tokenLogits.shape, 0, 2, "float32", 4));
    });
    const enumerated = await policy.enumerateRollouts("p1", 0, 3);
    expect(enumerated.reduce((a, e) => a + e.probability, 0)).toBeCloseTo(1, 5);
    // differentiable scores equal the sampling-time log-probs, padding is 0
    const rollouts = await policy.sampleRollouts({ prompts: ["p0", "p1"], samplesPerPrompt: 5, maxNewTokens: 3, temperature: 1, seed: 9 });
    expect(rollouts.map((r) => r.promptIndex)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    const scores = policy.sequenceLogProbs(rollouts);
    const rows = (await scores.array()) as number[][];
    rollouts.forEach((rollout, i) => {
      rollout.logProbs.forEach((lp, t) => expect(rows[i]![t]).toBeCloseTo(lp, 5));
      for (let t = rollout.tokens.length; t < rows[i]!.length; t++) expect(rows[i]![t]).toBe(0);
      expect(rollout.text).toBe(toyText(rollout.tokens, true));
      expect(rollout.finished).toBe(rollout.tokens.at(-1) === 0);
    });
    scores.dispose();
    policy.dispose();
  });

  it("samples with the enumerated frequencies (first action, 4000 draws, 5 σ)", async () => {
    const policy = createToyPolicy({ positions: 1, stopToken: false });
    tf.tidy(() => policy.tokenLogits.assign(tf.tensor3d([[[0, 1, -1]], [[0, 0, 0]]])));
    const rollouts = await policy.sampleRollouts({ prompts: ["p0"], samplesPerPrompt: 4000, maxNewTokens: 1, temperature: 1, seed: 1 });
    for (const { rollout, probability } of await policy.enumerateRollouts("p0", 0, 1)) {
      const count = rollouts.filter((r) => r.tokens[0] === rollout.tokens[0] && r.exitLayers[0] === rollout.exitLayers[0]).length;
      const sigma = Math.sqrt(4000 * probability * (1 - probability));
      expect(Math.abs(count - 4000 * probability)).toBeLessThan(5 * sigma);
    }
    policy.dispose();
  });

  it("keeps a frozen reference until setReference", async () => {
    const policy = createToyPolicy();
    const rollouts = await policy.sampleRollouts({ prompts: ["p0"], samplesPerPrompt: 2, maxNewTokens: 3, temperature: 1, seed: 2 });
    tf.tidy(() => policy.tokenLogits.assign(tf.add(policy.tokenLogits, 1.5)));
    tf.tidy(() => policy.headLogits.assign(tf.add(policy.headLogits, 0.5)));
    expect(await policy.referenceLogProbs(rollouts)).toEqual(rollouts.map((r) => r.logProbs));
    policy.setReference();
    const scores = policy.sequenceLogProbs(rollouts);
    const current = (await scores.array()) as number[][];
    scores.dispose();
    expect(await policy.referenceLogProbs(rollouts)).toEqual(current.map((row, i) => row.slice(0, rollouts[i]!.tokens.length)));
    policy.dispose();
  });

  it("task reward follows the GSM8K-shaped rule", () => {
    expect(toyTaskReward("p0", "t1", "t1")).toEqual({ reward: 1, parts: { correct: true, formatOk: true } });
    expect(toyTaskReward("p0", "t1 t2", "t1")).toEqual({ reward: 0.5, parts: { correct: true, formatOk: false } });
    expect(toyTaskReward("p0", "t2", "t1")).toEqual({ reward: 0, parts: { correct: false, formatOk: true } });
    expect(toyTaskReward("p0", "", "t1")).toEqual({ reward: -1, parts: { correct: false, formatOk: false } });
  });

  it("rejects unknown prompts and bad exit layers", async () => {
    expect(() => createToyPolicy({ exitLayers: [2, 1] })).toThrow(/exitLayers must increase/);
    const policy = createToyPolicy();
    await expect(policy.sampleRollouts({ prompts: ["nope"], samplesPerPrompt: 2, maxNewTokens: 1, temperature: 1, seed: 0 })).rejects.toThrow(/unknown prompt "nope"/);
    policy.dispose();
  });
});

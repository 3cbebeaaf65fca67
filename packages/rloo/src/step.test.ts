import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "@eecot/tensor-core";
import type { AugmentedVocabularyPolicy, PolicyRollout, RolloutRequest } from "@eecot/policy";
import { resolveRlooConfig, type RlooConfig } from "./config.js";
import { computeRolloutReward } from "./rewards.js";
import { RlooNonFiniteError } from "./errors.js";
import { createRlooOptimizers, rlooGradients, rlooStep, sampleAndScore, type RlooExample } from "./step.js";
import { createToyPolicy, toyTaskReward, type ToyPolicy } from "./testing/toy-policy.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const EXAMPLES: RlooExample[] = [
  { prompt: "p0", reference: "t1" },
  { prompt: "p1", reference: "t2" },
];

/** A toy with random parameters and a reference that differs from them (so the KL term matters). */
function randomToy(stopToken: boolean): ToyPolicy {
  const policy = createToyPolicy({ stopToken });
  tf.tidy(() => {
    policy.headLogits.assign(tf.randomNormal(policy.headLogits.shape, 0, 1, "float32", 11));
    policy.tokenLogits.assign(tf.randomNormal(policy.tokenLogits.shape, 0, 1, "float32", 12));
  });
  policy.setReference();
  tf.tidy(() => {
    policy.headLogits.assign(tf.add(policy.headLogits, tf.randomNormal(policy.headLogits.shape, 0, 0.5, "float32", 13)));
    policy.tokenLogits.assign(tf.add(policy.tokenLogits, tf.randomNormal(policy.tokenLogits.shape, 0, 0.5, "float32", 14)));
  });
  return policy;
}

const flatten = (tensors: readonly tf.Tensor[]) => tensors.flatMap((t) => Array.from(t.dataSync()));

/**
 * The exact expectation of the update direction −∇loss for one copy of `examples`, by enumerating
 * every completion s of each prompt (R held fixed, as RLOO folds the KL into the reward):
 *   E[−∇loss] = (1/P) Σ_p Σ_s π(s) (R(s) − E_p[R]) (1/T_s) ∇log π(s)
 * For equal lengths T this is (1/(P·T)) Σ_p ∇E_p[R], the exact policy gradient scaled by 1/T.
 */
async function exactUpdateDirection(policy: ToyPolicy, config: RlooConfig, examples: readonly RlooExample[]): Promise<number[]> {
  const rollouts: PolicyRollout[] = [];
  const weights: number[] = [];
  for (const [p, example] of examples.entries()) {
    const enumerated = await policy.enumerateRollouts(example.prompt, p, config.maxNewTokens);
    const references = await policy.referenceLogProbs(enumerated.map((e) => e.rollout));
    const rewards = enumerated.map(({ rollout }, i) =>
      computeRolloutReward({
        taskReward: toyTaskReward(example.prompt, rollout.text, example.reference).reward,
        exitLayers: rollout.exitLayers,
        logProbs: rollout.logProbs,
        referenceLogProbs: references[i]!,
        numLayers: policy.numLayers,
        exitPenalty: config.exitPenalty,
        klCoefficient: config.klCoefficient,
      }).total,
    );
    const expectedReward = enumerated.reduce((sum, e, i) => sum + e.probability * rewards[i]!, 0);
    enumerated.forEach((e, i) => {
      rollouts.push(e.rollout);
      weights.push((e.probability * (rewards[i]! - expectedReward)) / e.rollout.tokens.length / examples.length);
    });
  }
  const { lora, heads } = policy.trainableVariables();
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(policy.sequenceLogProbs(rollouts), tf.tensor2d(weights, [weights.length, 1]))) as tf.Scalar,
    [...lora, ...heads],
  );
  const direction = flatten([...lora, ...heads].map((v) => grads[v.name]!));
  tf.dispose([value, ...Object.values(grads)]);
  return direction;
}

/** −∇loss of the implementation, averaged within each of `batches` batches of `groupsPerBatch` prompt groups. */
async function sampledUpdateDirections(policy: ToyPolicy, config: RlooConfig, batches: number, copies: number): Promise<number[][]> {
  const examples = Array.from({ length: copies }, () => EXAMPLES).flat();
  const directions: number[][] = [];
  for (let b = 0; b < batches; b++) {
    const scored = await sampleAndScore(policy, config, toyTaskReward, examples, 1000 + b);
    const { loss, lora, heads } = rlooGradients(policy, scored.rollouts, scored.advantages);
    directions.push(flatten([...lora, ...heads]).map((g) => -g));
    tf.dispose([loss, ...lora, ...heads]);
  }
  return directions;
}

function meanAndStandardError(samples: number[][]): { mean: number[]; standardError: number[] } {
  const B = samples.length;
  const mean = samples[0]!.map((_, c) => samples.reduce((s, row) => s + row[c]!, 0) / B);
  const standardError = mean.map((m, c) => Math.sqrt(samples.reduce((s, row) => s + (row[c]! - m) ** 2, 0) / (B - 1) / B));
  return { mean, standardError };
}

describe("RLOO gradient estimator on the toy", () => {
  it("enumeration gives the exact policy gradient: matches finite differences of E[R] (β = 0, fixed length)", async () => {
    const policy = randomToy(false);
    const config = resolveRlooConfig({ maxNewTokens: 2, klCoefficient: 0, exitPenalty: 1.5 });
    const exact = await exactUpdateDirection(policy, config, EXAMPLES); // = ∇E[R] / (P·T)
    const expectedReward = async () => {
      let total = 0;
      for (const [p, example] of EXAMPLES.entries()) {
        for (const { rollout, probability } of await policy.enumerateRollouts(example.prompt, p, 2)) {
          const task = toyTaskReward(example.prompt, rollout.text, example.reference).reward;
          const exits = rollout.exitLayers.reduce((a, x) => a + x / 4, 0) / 2;
          total += probability * (task - 1.5 * exits);
        }
      }
      return total;
    };
    const { lora, heads } = policy.trainableVariables();
    const finiteDifferences: number[] = [];
    const h = 1e-2;
    for (const variable of [...lora, ...heads]) {
      const values = Array.from(variable.dataSync());
      for (let c = 0; c < values.length; c++) {
        const shifted = async (delta: number) => {
          const copy = [...values];
          copy[c] = copy[c]! + delta;
          tf.tidy(() => variable.assign(tf.tensor(copy, variable.shape)));
          return expectedReward();
        };
        finiteDifferences.push(((await shifted(h)) - (await shifted(-h))) / (2 * h) / (EXAMPLES.length * 2));
        tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
      }
    }
    exact.forEach((g, c) => expect(Math.abs(g - finiteDifferences[c]!)).toBeLessThan(2e-4 + 1e-3 * Math.abs(g)));
    policy.dispose();
  });

  // Statistical tolerance: 40 independent batches of 200 prompt groups (k = 3) give a batch-mean
  // estimate and its standard error per component; every one of the 16 components must lie within
  // 4 standard errors of the exact value (a false alarm has probability < 16 · 6.3e-5 ≈ 1e-3 per
  // run; the seeds are fixed, so the test is deterministic).
  it("leave-one-out is unbiased: the average update matches the exact ∇E[R]/T within 4 standard errors", async () => {
    const policy = randomToy(false);
    const config = resolveRlooConfig({ maxNewTokens: 2, samplesPerPrompt: 3, exitPenalty: 1.5, klCoefficient: 0.5 });
    const exact = await exactUpdateDirection(policy, config, EXAMPLES);
    const { mean, standardError } = meanAndStandardError(await sampledUpdateDirections(policy, config, 40, 100));
    exact.forEach((g, c) => expect(Math.abs(mean[c]! - g)).toBeLessThan(4 * standardError[c]! + 1e-7));
    // the test has power: the biggest component is far from zero and from a 1/3-shrunk value
    const c = exact.reduce((best, g, i) => (Math.abs(g) > Math.abs(exact[best]!) ? i : best), 0);
    expect(Math.abs(exact[c]!) / 3).toBeGreaterThan(4 * standardError[c]!);

    // group-mean baseline: E = (k−1)/k · exact, which the same test tells apart from exact
    const groupMean = meanAndStandardError(
      await sampledUpdateDirections(policy, { ...config, baseline: "group-mean" }, 40, 100),
    );
    exact.forEach((g, i) => expect(Math.abs(groupMean.mean[i]! - (2 / 3) * g)).toBeLessThan(4 * groupMean.standardError[i]! + 1e-7));
    expect(Math.abs(groupMean.mean[c]! - exact[c]!)).toBeGreaterThan(4 * groupMean.standardError[c]!);
    policy.dispose();
  });

  it("with variable lengths the estimator targets Σ π(s)(R − E[R]) ∇log π(s)/T_s (per-token mean, METHOD §3)", async () => {
    const policy = randomToy(true);
    const config = resolveRlooConfig({ maxNewTokens: 3, samplesPerPrompt: 4, exitPenalty: 1.5, klCoefficient: 0.5 });
    const exact = await exactUpdateDirection(policy, config, EXAMPLES);
    const { mean, standardError } = meanAndStandardError(await sampledUpdateDirections(policy, config, 30, 80));
    exact.forEach((g, c) => expect(Math.abs(mean[c]! - g)).toBeLessThan(4 * standardError[c]! + 1e-7));
    policy.dispose();
  });
});

/** A policy with scripted rollouts whose log-probs are θ·c_t, to check metrics by hand. */
class ScriptedPolicy implements AugmentedVocabularyPolicy {
  readonly numLayers = 4;
  readonly exitLayers = [2];
  readonly theta = tf.variable(tf.scalar(1));
  constructor(private readonly script: PolicyRollout[]) {}
  async sampleRollouts(request: RolloutRequest): Promise<PolicyRollout[]> {
    return this.script.slice(0, request.prompts.length * request.samplesPerPrompt);
  }
  sequenceLogProbs(rollouts: readonly PolicyRollout[]): tf.Tensor2D {
    const T = Math.max(...rollouts.map((r) => r.tokens.length));
    const rows = rollouts.map((r) => Array.from({ length: T }, (_, t) => r.logProbs[t] ?? 0));
    return tf.tidy(() => tf.mul(tf.tensor2d(rows), this.theta)) as tf.Tensor2D;
  }
  async referenceLogProbs(rollouts: readonly PolicyRollout[]): Promise<number[][]> {
    return rollouts.map((r) => r.logProbs.map((lp) => lp - 0.1));
  }
  trainableVariables() {
    return { lora: [this.theta], heads: [] };
  }
}

const scripted = (promptIndex: number, exitLayers: number[], text: string, exitEntropies?: number[]): PolicyRollout => ({
  promptIndex,
  promptTokens: [promptIndex],
  tokens: exitLayers.map(() => 1),
  exitLayers,
  logProbs: exitLayers.map(() => -1),
  ...(exitEntropies ? { exitEntropies } : {}),
  text,
  finished: true,
});

describe("gradient accumulation", () => {
  it("4 micro-batches of 4 rollouts give the loss and gradients of one batch of 16, and the same step", async () => {
    const config = resolveRlooConfig({ samplesPerPrompt: 8, maxNewTokens: 3, klCoefficient: 0.1 });
    const examples = EXAMPLES; // 2 prompts × 8 samples
    const policy = randomToy(true);
    const scored = await sampleAndScore(policy, config, toyTaskReward, examples, 21);
    expect(scored.rollouts).toHaveLength(16);
    expect(new Set(scored.rollouts.map((r) => r.tokens.length)).size).toBeGreaterThan(1); // unequal lengths: the 1/T_i and 1/N must both be right
    const one = rlooGradients(policy, scored.rollouts, scored.advantages);
    const four = rlooGradients(policy, scored.rollouts, scored.advantages, 4);
    expect(four.loss.dataSync()[0]!).toBeCloseTo(one.loss.dataSync()[0]!, 6);
    const [a, b] = [flatten([...one.lora, ...one.heads]), flatten([...four.lora, ...four.heads])];
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(1e-3);
    a.forEach((g, i) => expect(Math.abs(b[i]! - g)).toBeLessThan(1e-6));
    tf.dispose([one.loss, four.loss, ...one.lora, ...one.heads, ...four.lora, ...four.heads]);
    // Through rlooStep and the config field: the same metrics and parameters after one step.
    const after = async (microBatchSize: number) => {
      const toy = randomToy(true);
      const stepConfig = resolveRlooConfig({ samplesPerPrompt: 8, maxNewTokens: 3, klCoefficient: 0.1, microBatchSize });
      const metrics = await rlooStep({ policy: toy, config: stepConfig, taskReward: toyTaskReward, optimizers: createRlooOptimizers(toy, stepConfig) }, { examples, seed: 21, step: 1 });
      return { metrics, values: flatten([toy.headLogits, toy.tokenLogits]) };
    };
    const [whole, accumulated] = [await after(0), await after(4)];
    expect(accumulated.metrics.loss).toBeCloseTo(whole.metrics.loss, 6);
    expect(accumulated.metrics.gradientNorm).toBeCloseTo(whole.metrics.gradientNorm, 5);
    expect(() => resolveRlooConfig({ microBatchSize: -1 })).toThrow("RlooConfig.microBatchSize must be an integer ≥ 0 (got -1)");
  });
});

describe("rlooStep", () => {
  it("reports the METHOD §4 metrics, checked by hand", async () => {
    // L = 4; tokens' exits: [2, 4] | [4] | [2, 2, 4] | [4]: 7 tokens, Σx = 22, early exits 3
    const policy = new ScriptedPolicy([
      scripted(0, [2, 4], "t1", [0.5, 0.5]),
      scripted(0, [4], "t2", [0.2]),
      scripted(1, [2, 2, 4], "t2", [0.1, 0.1, 0.1]),
      scripted(1, [4], "", [1]),
    ]);
    const config = resolveRlooConfig({ samplesPerPrompt: 2, exitPenalty: 1, klCoefficient: 0.5, maxGradNorm: Infinity, learningRates: { lora: 0.1 } });
    const optimizers = createRlooOptimizers(policy, config);
    const metrics = await rlooStep({ policy, config, taskReward: toyTaskReward, optimizers }, { examples: EXAMPLES, seed: 1, step: 7 });
    // task rewards [1, 0, 1, −1]; compute [3/4, 1, 2/3, 1]; KL = 0.1 per token
    const rewards = [1 - 0.75 - 0.05, 0 - 1 - 0.05, 1 - 2 / 3 - 0.05, -1 - 1 - 0.05];
    expect(metrics.step).toBe(7);
    expect(metrics.reward).toBeCloseTo(rewards.reduce((a, b) => a + b) / 4, 6);
    expect(metrics.rewardParts.task).toBeCloseTo(0.25, 6);
    expect(metrics.rewardParts.exitPenalty).toBeCloseTo((0.75 + 1 + 2 / 3 + 1) / 4, 6);
    expect(metrics.rewardParts.klPenalty).toBeCloseTo(0.05, 6);
    expect(metrics.taskAccuracy).toBe(0.5);
    expect(metrics.formatRate).toBe(0.75);
    expect(metrics.earlyExitRate).toBeCloseTo(3 / 7, 6);
    expect(metrics.meanExitLayer).toBeCloseTo(22 / 7, 6);
    expect(metrics.averageCompute).toBeCloseTo(22 / 28, 6);
    expect(metrics.averageLayerSavings).toBeCloseTo(6 / 28, 6);
    expect(metrics.meanLength).toBe(7 / 4);
    expect(metrics.totalCompute).toBeCloseTo(22 / 4 / 4, 6);
    expect(metrics.klToReference).toBeCloseTo(0.1, 6);
    expect(metrics.exitEntropy).toBeCloseTo((1 + 0.2 + 0.3 + 1) / 7, 6);
    expect(metrics.rolloutCount).toBe(4);
    // loss = −(1/4) Σ_i A_i · (−1)·θ with θ = 1; A from leave-one-out within each prompt
    const advantages = [rewards[0]! - rewards[1]!, rewards[1]! - rewards[0]!, rewards[2]! - rewards[3]!, rewards[3]! - rewards[2]!];
    expect(metrics.loss).toBeCloseTo(advantages.reduce((a, b) => a + b) / 4, 6); // = 0: advantages sum to 0
    expect(metrics.gradientNorm).toBeCloseTo(0, 6);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    policy.theta.dispose();
  });

  it("reports a null exit entropy when the policy does not know it, and rejects malformed batches", async () => {
    const policy = new ScriptedPolicy([scripted(0, [4], "t1"), scripted(0, [2], "t1"), scripted(0, [9], "t1")]);
    const config = resolveRlooConfig({ samplesPerPrompt: 2 });
    const optimizers = createRlooOptimizers(policy, config);
    const context = { policy, config, taskReward: toyTaskReward, optimizers };
    const metrics = await rlooStep(context, { examples: [EXAMPLES[0]!], seed: 1, step: 1 });
    expect(metrics.exitEntropy).toBeNull();
    await expect(rlooStep(context, { examples: EXAMPLES, seed: 1, step: 2 })).rejects.toThrow(/returned 3 rollouts for 2 prompts × 2 samples/);
    const bad = new ScriptedPolicy([scripted(0, [4], "t1"), scripted(0, [9], "t1")]);
    await expect(rlooStep({ ...context, policy: bad }, { examples: [EXAMPLES[0]!], seed: 1, step: 1 })).rejects.toThrow(/rollout 1 has an exit layer outside 1..4/);
    const lopsided = new ScriptedPolicy([scripted(0, [4], "t1"), scripted(0, [4], "t1"), scripted(0, [4], "t1"), scripted(1, [4], "t1")]);
    await expect(rlooStep({ ...context, policy: lopsided }, { examples: EXAMPLES, seed: 1, step: 1 })).rejects.toThrow(/prompt 0 got 3 rollouts, expected 2/);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    for (const p of [policy, bad, lopsided]) p.theta.dispose();
  });

  it("clips the global gradient norm", async () => {
    const policy = randomToy(true);
    const config = resolveRlooConfig({ maxNewTokens: 3, maxGradNorm: 1e-3, learningRates: { lora: 0, heads: 0 } });
    const optimizers = createRlooOptimizers(policy, config);
    const metrics = await rlooStep({ policy, config, taskReward: toyTaskReward, optimizers }, { examples: EXAMPLES, seed: 5, step: 1 });
    expect(metrics.gradientNorm).toBeGreaterThan(1e-3); // reported before clipping
    // Adam's first moment after one step is (1 − β1)·g_clipped: its norm is 0.1 · maxGradNorm
    const m = flatten([...optimizers.lora.firstMoments, ...optimizers.heads.firstMoments]);
    expect(Math.hypot(...m)).toBeCloseTo(0.1 * 1e-3, 8);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    policy.dispose();
  });

  it("raises RlooNonFiniteError on a NaN loss and applies no update", async () => {
    // finite rollouts, but the differentiable log-probs are NaN (e.g. an overflow in the forward pass)
    const policy = new ScriptedPolicy([scripted(0, [4], "t1"), scripted(0, [2], "t2")]);
    const config = resolveRlooConfig({ samplesPerPrompt: 2, learningRates: { lora: 0.1 } });
    const optimizers = createRlooOptimizers(policy, config);
    policy.theta.assign(tf.scalar(Number.NaN));
    const context = { policy, config, taskReward: toyTaskReward, optimizers };
    const step = () => rlooStep(context, { examples: [EXAMPLES[0]!], seed: 1, step: 3 });
    await expect(step()).rejects.toThrow(RlooNonFiniteError);
    await expect(step()).rejects.toThrow(/rloo step 3: loss is NaN and gradient norm [0-9.e-]+; no update applied/);
    expect(optimizers.lora.stepCount).toBe(0);
    expect(Array.from(optimizers.lora.firstMoments[0]!.dataSync())).toEqual([0]);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    policy.theta.dispose();
  });

  it("raises RlooNonFiniteError when a policy's sampled log-probs are NaN, before any update", async () => {
    const policy = createToyPolicy();
    const config = resolveRlooConfig({ maxNewTokens: 3, learningRates: { lora: 0.1, heads: 0.1 } });
    const optimizers = createRlooOptimizers(policy, config);
    tf.tidy(() => policy.tokenLogits.assign(tf.fill(policy.tokenLogits.shape, Number.NaN) as tf.Tensor3D));
    const heads = Array.from(policy.headLogits.dataSync());
    const step = rlooStep({ policy, config, taskReward: toyTaskReward, optimizers }, { examples: EXAMPLES, seed: 1, step: 3 });
    await expect(step).rejects.toThrow(RlooNonFiniteError);
    expect(Array.from(policy.headLogits.dataSync())).toEqual(heads);
    expect(optimizers.heads.stepCount).toBe(0);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    policy.dispose();
  });

  it("leaks no tensors over many steps", async () => {
    const policy = createToyPolicy();
    const config = resolveRlooConfig({ maxNewTokens: 3, learningRates: { lora: 0.05, heads: 0.05 } });
    const optimizers = createRlooOptimizers(policy, config);
    const context = { policy, config, taskReward: toyTaskReward, optimizers };
    await rlooStep(context, { examples: EXAMPLES, seed: 0, step: 1 });
    const before = tf.memory().numTensors;
    for (let step = 2; step <= 30; step++) await rlooStep(context, { examples: EXAMPLES, seed: step, step });
    expect(tf.memory().numTensors).toBe(before);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    policy.dispose();
  });
});

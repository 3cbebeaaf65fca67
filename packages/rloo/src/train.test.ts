import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { overwriteSafetensorsValue, tf } from "@eecot/tensor-core";
import { loadRlooCheckpoint, saveRlooCheckpoint } from "./checkpoint.js";
import { resolveRlooConfig, type RlooConfigOverrides } from "./config.js";
import { RlooNonFiniteError } from "./errors.js";
import { createRlooOptimizers, type RlooExample, type RlooStepMetrics } from "./step.js";
import { createToyPolicy, toyTaskReward, type ToyPolicy } from "./testing/toy-policy.js";
import { batchForStep, stepSeed, stopOnSignal, trainRloo } from "./train.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const EXAMPLES: RlooExample[] = [
  { prompt: "p0", reference: "t1" },
  { prompt: "p1", reference: "t2" },
];
const TOY_RUN: RlooConfigOverrides = {
  promptsPerStep: 2,
  samplesPerPrompt: 4,
  maxNewTokens: 3,
  klCoefficient: 0,
  learningRates: { lora: 0.1, heads: 0.1 },
  checkpointEvery: 0,
  evalEvery: 0,
};

const directories: string[] = [];
async function temporaryDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), "rloo-train-"));
  directories.push(directory);
  return directory;
}
afterEach(async () => {
  for (const directory of directories.splice(0)) await rm(directory, { recursive: true, force: true });
});

/** Exact expected task reward and expected exit layer of the toy, by enumeration. */
async function exactExpectations(policy: ToyPolicy): Promise<{ taskReward: number; exitLayer: number }> {
  let taskReward = 0, exitLayer = 0;
  for (const [p, example] of EXAMPLES.entries()) {
    for (const { rollout, probability } of await policy.enumerateRollouts(example.prompt, p, 3)) {
      taskReward += (probability * toyTaskReward(example.prompt, rollout.text, example.reference).reward) / EXAMPLES.length;
    }
    const exits = await policy.exitDistribution(example.prompt);
    exitLayer += exits.reduce((sum, q, j) => sum + q * policy.exitChoices[j]!, 0) / EXAMPLES.length;
  }
  return { taskReward, exitLayer };
}

describe("trainRloo on the toy", () => {
  it("increases the expected task reward", async () => {
    const policy = createToyPolicy();
    const before = await exactExpectations(policy);
    const logs: RlooStepMetrics[] = [];
    await trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 60, exitPenalty: 0.5 }, onLog: (m) => logs.push(m) });
    const after = await exactExpectations(policy);
    expect(before.taskReward).toBeCloseTo(-1 / 9, 5); // uniform tokens: P(stop first) = 1/3 → −1, ...
    expect(after.taskReward).toBeGreaterThan(0.6);
    expect(logs.map((m) => m.step)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    const mean = (ms: RlooStepMetrics[]) => ms.reduce((a, m) => a + m.reward, 0) / ms.length;
    expect(mean(logs.slice(-10))).toBeGreaterThan(mean(logs.slice(0, 10)));
    policy.dispose();
  });

  it("λ is a dial: a larger exit penalty gives a lower mean exit layer", async () => {
    const exitLayers: number[] = [];
    for (const exitPenalty of [0, 0.5, 3]) {
      const policy = createToyPolicy();
      await trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 120, exitPenalty } });
      exitLayers.push((await exactExpectations(policy)).exitLayer);
      policy.dispose();
    }
    // starts at 2.0 (σ(0) = 0.5 at exits 1 and 2, L = 4): λ = 0 drifts deeper, λ = 3 to the first exit
    expect(exitLayers[0]).toBeGreaterThan(exitLayers[1]! + 0.3);
    expect(exitLayers[1]).toBeGreaterThan(exitLayers[2]! + 0.3);
    expect(exitLayers[0]).toBeGreaterThan(2.5);
    expect(exitLayers[2]).toBeLessThan(1.3);
  });

  it("resumes an interrupted run exactly: same parameters, same logs as an uninterrupted run", async () => {
    const config = { ...TOY_RUN, steps: 9, klCoefficient: 0.3, exitPenalty: 1.5, checkpointEvery: 4 };
    const straight = createToyPolicy();
    const straightLogs: RlooStepMetrics[] = [];
    await trainRloo({ policy: straight, examples: EXAMPLES, taskReward: toyTaskReward, config, onLog: (m) => straightLogs.push(m) });

    const directory = await temporaryDirectory();
    const interrupted = createToyPolicy();
    const logs: RlooStepMetrics[] = [];
    const first = await trainRloo({
      policy: interrupted, examples: EXAMPLES, taskReward: toyTaskReward, config, checkpointDirectory: directory,
      onLog: (m) => logs.push(m), shouldStop: () => logs.length === 6,
    });
    expect(first).toEqual({ step: 6, stopped: true, checkpoint: join(directory, "step-000006") });
    expect((await readdir(directory)).sort()).toEqual(["step-000004", "step-000006"]); // every 4 + on stop; no temporaries
    interrupted.dispose();

    const resumed = createToyPolicy(); // fresh process: same initial parameters, state from the checkpoint
    const second = await trainRloo({
      policy: resumed, examples: EXAMPLES, taskReward: toyTaskReward, config, checkpointDirectory: directory, resume: true,
      onLog: (m) => logs.push(m),
    });
    expect(second).toEqual({ step: 9, stopped: false, checkpoint: join(directory, "step-000009") });
    expect(logs).toEqual(straightLogs);
    expect(Array.from(resumed.tokenLogits.dataSync())).toEqual(Array.from(straight.tokenLogits.dataSync()));
    expect(Array.from(resumed.headLogits.dataSync())).toEqual(Array.from(straight.headLogits.dataSync()));
    const state = JSON.parse(await readFile(join(directory, "step-000009", "state.json"), "utf8"));
    expect(state).toMatchObject({ format: "eecot-rloo-checkpoint", version: 1, step: 9, optimizerSteps: { lora: 9, heads: 9 } });
    expect(state.shapes).toEqual({ lora: [[2, 2, 3]], heads: [[2, 2]] });
    // An Inf in the saved trainable variables or optimiser state is refused on resume, naming file and tensor.
    const tensorsFile = join(directory, "step-000009", "trainable.safetensors");
    await overwriteSafetensorsValue(tensorsFile, "optimizer.lora.0.m", Infinity, 2);
    const optimizers = createRlooOptimizers(resumed, resolveRlooConfig(config));
    await expect(loadRlooCheckpoint(join(directory, "step-000009"), { policy: resumed, optimizers }))
      .rejects.toThrow(`${tensorsFile}: tensor "optimizer.lora.0.m" holds 1 non-finite value (first: Infinity at flat index 2)`);
    optimizers.lora.dispose();
    optimizers.heads.dispose();
    for (const policy of [straight, resumed]) policy.dispose();
  });

  it("keeps only the newest keepCheckpoints checkpoints", async () => {
    const directory = await temporaryDirectory();
    const policy = createToyPolicy();
    await trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 5, checkpointEvery: 1, keepCheckpoints: 3 }, checkpointDirectory: directory });
    expect((await readdir(directory)).sort()).toEqual(["step-000003", "step-000004", "step-000005"]);
    policy.dispose();
  });

  it("calls evaluate every evalEvery steps", async () => {
    const policy = createToyPolicy();
    const evaluated: number[] = [];
    await trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 7, evalEvery: 3 }, evaluate: (step) => void evaluated.push(step) });
    expect(evaluated).toEqual([3, 6]);
    policy.dispose();
  });

  it("a NaN loss raises a clear error and writes no checkpoint for that step", async () => {
    const directory = await temporaryDirectory();
    const policy = createToyPolicy();
    const run = trainRloo({
      policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 5, checkpointEvery: 1 }, checkpointDirectory: directory,
      onLog: (m) => {
        if (m.step === 2) tf.tidy(() => policy.tokenLogits.assign(tf.fill(policy.tokenLogits.shape, Number.NaN) as tf.Tensor3D));
      },
    });
    await expect(run).rejects.toThrow(RlooNonFiniteError);
    expect((await readdir(directory)).sort()).toEqual(["step-000001", "step-000002"]);
    policy.dispose();
  });

  it("leaks no tensors across a run with checkpoints and a resume", async () => {
    const directory = await temporaryDirectory();
    const policy = createToyPolicy();
    const before = tf.memory().numTensors;
    await trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 5, checkpointEvery: 2 }, checkpointDirectory: directory });
    await trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { ...TOY_RUN, steps: 8, checkpointEvery: 2 }, checkpointDirectory: directory, resume: true });
    expect(tf.memory().numTensors).toBe(before);
    policy.dispose();
  });

  it("rejects bad options", async () => {
    const policy = createToyPolicy();
    await expect(trainRloo({ policy, examples: [], taskReward: toyTaskReward })).rejects.toThrow(/at least one example/);
    await expect(trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, resume: true })).rejects.toThrow(/resume needs a checkpointDirectory/);
    await expect(trainRloo({ policy, examples: EXAMPLES, taskReward: toyTaskReward, config: { samplesPerPrompt: 1 } })).rejects.toThrow(/samplesPerPrompt must be an integer ≥ 2/);
    policy.dispose();
  });
});

describe("checkpoints", () => {
  it("refuse a policy with different variables, naming the tensor", async () => {
    const directory = await temporaryDirectory();
    const config = resolveRlooConfig(TOY_RUN);
    const small = createToyPolicy();
    const smallOptimizers = createRlooOptimizers(small, config);
    const path = await saveRlooCheckpoint(directory, { step: 1, config, policy: small, optimizers: smallOptimizers });
    const large = createToyPolicy({ vocabularySize: 4 });
    const largeOptimizers = createRlooOptimizers(large, config);
    await expect(loadRlooCheckpoint(path, { policy: large, optimizers: largeOptimizers })).rejects.toThrow(
      /tensor lora\.0 in .*trainable\.safetensors has shape \[2, 2, 3\], the policy's is \[2, 2, 4\]/,
    );
    await expect(loadRlooCheckpoint(join(directory, "missing"), { policy: small, optimizers: smallOptimizers })).rejects.toThrow(/cannot read checkpoint state/);
    for (const o of [smallOptimizers, largeOptimizers]) (o.lora.dispose(), o.heads.dispose());
    small.dispose();
    large.dispose();
  });
});

describe("schedule", () => {
  it("visits every example once per epoch in a seeded order", () => {
    const examples = Array.from({ length: 10 }, (_, i) => i);
    const epoch = [1, 2, 3, 4, 5].flatMap((step) => batchForStep(examples, step, 2, 7));
    expect([...epoch].sort((a, b) => a - b)).toEqual(examples);
    expect(epoch).not.toEqual(examples); // shuffled
    expect(batchForStep(examples, 3, 4, 7)).toEqual(batchForStep(examples, 3, 4, 7)); // deterministic
    const nextEpoch = [6, 7, 8, 9, 10].flatMap((step) => batchForStep(examples, step, 2, 7));
    expect([...nextEpoch].sort((a, b) => a - b)).toEqual(examples);
    expect(nextEpoch).not.toEqual(epoch);
    expect(batchForStep(["a"], 5, 3, 0)).toEqual(["a", "a", "a"]);
    expect(new Set(Array.from({ length: 50 }, (_, s) => stepSeed(1, s))).size).toBe(50);
    expect(stepSeed(1, 3)).not.toBe(stepSeed(2, 3));
  });

  it("stopOnSignal turns shouldStop on at the first SIGINT", () => {
    const stop = stopOnSignal("SIGINT");
    const listeners = process.listenerCount("SIGINT");
    expect(stop.shouldStop()).toBe(false);
    process.emit("SIGINT");
    expect(stop.shouldStop()).toBe(true);
    expect(process.listenerCount("SIGINT")).toBe(listeners - 1); // a second Ctrl-C terminates as usual
    stop.dispose();
  });
});

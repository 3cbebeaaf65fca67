// The tiny-reasoner trainer: batch construction by hand, a seeded schedule, and resume giving
// exactly the uninterrupted result.
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { initBackend, Rng, tf } from "@eecot/tensor-core";
import { paramTensors } from "@eecot/transformer";
import { batchSchedule, DEFAULT_TINY_TRAINING_CONFIG, makeBatch, trainTinyReasoner, type TinyTrainingConfig } from "./train.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("makeBatch", () => {
  test("right-pads and puts loss weight on the answer tokens only", () => {
    const batch = makeBatch(
      [
        { ids: [5, 6, 7, 8], promptLength: 2, task: "gsm8k" },
        { ids: [9, 10, 11], promptLength: 1, task: "gsm8k" },
      ],
      0,
    );
    expect(batch.ids).toEqual([
      [5, 6, 7, 8],
      [9, 10, 11, 0],
    ]);
    expect(batch.attentionMask).toEqual([
      [1, 1, 1, 1],
      [1, 1, 1, 0],
    ]);
    // lossMask[t] weights predicting ids[t + 1]: answers are ids[2..3] and ids[1..2].
    expect(batch.lossMask).toEqual([
      [0, 1, 1, 0],
      [1, 1, 0, 0],
    ]);
  });
});

describe("batchSchedule", () => {
  const examples = Array.from({ length: 10 }, (_, i) => ({ ids: [i], promptLength: 1, task: i < 6 ? "gsm8k" : "tom" }));
  test("alternates tasks, never mixes them in a batch, and is reproducible", () => {
    const a = batchSchedule(examples, 2, 8, new Rng(3));
    const b = batchSchedule(examples, 2, 8, new Rng(3));
    expect(a).toEqual(b);
    a.forEach((batch, step) => {
      const tasks = new Set(batch.map((i) => examples[i]!.task));
      expect(tasks.size).toBe(1);
      expect([...tasks][0]).toBe(step % 2 === 0 ? "gsm8k" : "tom");
    });
    // Within an epoch of a task no example repeats.
    const firstGsmEpoch = [a[0]!, a[2]!, a[4]!].flat();
    expect(new Set(firstGsmEpoch).size).toBe(6);
  });
});

describe("trainTinyReasoner", () => {
  const config: TinyTrainingConfig = {
    ...DEFAULT_TINY_TRAINING_CONFIG,
    data: { gsmTrain: 24, tomTrain: 24, heldOut: 4, seed: 5 },
    vocabSize: 300,
    hiddenSize: 32,
    intermediateSize: 64,
    numLayers: 2,
    numHeads: 2,
    numKvHeads: 1,
    headDim: 16,
    exitLayers: [1],
    steps: 4,
    batchSize: 4,
    warmupSteps: 1,
    evalEvery: 2,
    checkpointEvery: 2,
    seed: 5,
  };
  const quiet = () => {};

  test("a stopped and resumed run ends with exactly the weights of an uninterrupted run", async () => {
    const straight = await mkdtemp(join(tmpdir(), "eecot-tiny-a-"));
    const a = await trainTinyReasoner(config, straight, { log: quiet });
    const weightsA = await Promise.all(paramTensors(a.trainer.params).map((t) => t.data()));

    const interrupted = await mkdtemp(join(tmpdir(), "eecot-tiny-b-"));
    let steps = 0;
    await expect(trainTinyReasoner(config, interrupted, { log: quiet, shouldStop: () => ++steps === 2 })).rejects.toThrow(/interrupted after step 2; checkpoint saved/);
    const b = await trainTinyReasoner(config, interrupted, { log: quiet, resume: true });
    const weightsB = await Promise.all(paramTensors(b.trainer.params).map((t) => t.data()));
    weightsA.forEach((w, i) => expect(Array.from(weightsB[i]!)).toEqual(Array.from(w)));

    // The metrics log has one line per step, across the interruption.
    const lines = (await readFile(join(interrupted, "metrics.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { step: number });
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    tf.dispose([...paramTensors(a.trainer.params), ...paramTensors(b.trainer.params)]);
  });
});

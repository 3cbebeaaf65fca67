import { beforeAll, describe, expect, it } from "vitest";
import { tf } from "@eecot/tensor-core";
import { rlooLoss } from "./loss.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("rlooLoss", () => {
  it("is −mean_i A_i · mean_t log π over the first T_i positions", () => {
    const logProbs = tf.tensor2d([[-1, -2, -3], [-0.5, 0, 0], [0, 0, 0]]);
    const loss = rlooLoss(logProbs, [2, -1, 5], [3, 1, 0]);
    // −(1/3)·(2·(−6/3) + (−1)·(−0.5) + 0) = −(1/3)·(−4 + 0.5) = 7/6
    expect(loss.shape).toEqual([]);
    expect(loss.dataSync()[0]).toBeCloseTo(7 / 6, 6);
    tf.dispose([logProbs, loss]);
  });

  it("ignores padding even when the padding is not zero", () => {
    const logProbs = tf.tensor2d([[-1, 99], [-2, -4]]);
    const loss = rlooLoss(logProbs, [1, 1], [1, 2]);
    expect(loss.dataSync()[0]).toBeCloseTo(-(-1 + -3) / 2, 6);
    tf.dispose([logProbs, loss]);
  });

  it("has gradient −A_i / (N · T_i) at each real position", () => {
    const logProbs = tf.tensor2d([[-1, -2], [-3, 0]]);
    const gradient = tf.grad((x: tf.Tensor) => rlooLoss(x as tf.Tensor2D, [0.5, -2], [2, 1]))(logProbs);
    expect(Array.from(gradient.dataSync(), (g) => g + 0)).toEqual([-0.125, -0.125, 1, 0]);
    tf.dispose([logProbs, gradient]);
  });

  it("rejects shape mismatches", () => {
    const logProbs = tf.zeros([2, 2]) as tf.Tensor2D;
    expect(() => rlooLoss(logProbs, [1], [1, 1])).toThrow(/\[2, 2\] but got 1 advantages/);
    expect(() => rlooLoss(logProbs, [1, 1], [3, 1])).toThrow(/rollout 0 has 3 tokens/);
    logProbs.dispose();
  });
});

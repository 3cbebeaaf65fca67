import { test, expect } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-backend-wasm";
test("wasm matmul + grad", async () => {
  await tf.setBackend("wasm"); await tf.ready();
  const a = tf.tensor2d([[1, 2], [3, 4]]);
  const g = tf.grad((x: tf.Tensor) => tf.sum(tf.matMul(x, x)))(a);
  expect(tf.getBackend()).toBe("wasm");
  expect(Array.from(await g.data())).toEqual([7, 11, 9, 13]);
});

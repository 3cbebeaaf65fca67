import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "./backend.js";
import { chunkedLogits, chunkedTokenLogProbs, disposeVocabularyChunks, frozenChunkedTokenLogProbs, splitVocabularyColumns, splitVocabularyRows, vocabularyChunkColumns } from "./chunked-logits.js";
import { Rng } from "./rng.js";
import { assertClose, expectNoLeaks } from "./testing.js";
import { tf } from "./tf.js";

const N = 5;
const C = 6;
const V = 23; // not a multiple of the chunk widths used

function randomValues(size: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size }, () => rng.normal() * scale);
}

/** Float64 reference: logits[n][v] = Σ_c hidden[n][c] · weightT[c][v]. */
function referenceLogits(hidden: Float32Array, weightT: Float32Array): number[][] {
  return Array.from({ length: N }, (_, n) => Array.from({ length: V }, (_, v) => {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += hidden[n * C + c]! * weightT[c * V + v]!;
    return sum;
  }));
}

describe.each(["wasm", "cpu"] as const)("chunked logits on %s", (backend) => {
  const hiddenValues = randomValues(N * C, 1);
  const weightValues = randomValues(C * V, 2, 3); // large logits: the running log-sum-exp must stay stable
  const targets = [0, 22, 7, 8, 15]; // first and last id, and ids on chunk borders (width 8: 7 | 8)

  beforeAll(async () => {
    await initBackend({ backend, quiet: true });
  });

  it("chunks cover the vocabulary; column and row splits agree", async () => {
    const weightT = tf.tensor2d(weightValues, [C, V]);
    const table = tf.transpose(weightT) as tf.Tensor2D; // [V, C]
    const columns = splitVocabularyColumns(weightT, 8);
    const rows = splitVocabularyRows(table, 8);
    expect(columns.offsets).toEqual([0, 8, 16]);
    expect(columns.chunks.map((c) => c.shape)).toEqual([[C, 8], [C, 8], [C, 7]]);
    expect(rows.offsets).toEqual(columns.offsets);
    for (let i = 0; i < 3; i++) expect(Array.from(await rows.chunks[i]!.data())).toEqual(Array.from(await columns.chunks[i]!.data()));
    disposeVocabularyChunks(columns);
    disposeVocabularyChunks(rows);
    tf.dispose([weightT, table]);
  });

  it("chunkedLogits equals the float64 product for every chunk width", async () => {
    const hidden = tf.tensor2d(hiddenValues, [N, C]);
    const weightT = tf.tensor2d(weightValues, [C, V]);
    const want = referenceLogits(hiddenValues, weightValues).flat();
    for (const width of [1, 8, 23, 100]) {
      const vocabulary = splitVocabularyColumns(weightT, width);
      const logits = chunkedLogits(hidden, vocabulary);
      expect(logits.shape).toEqual([N, V]);
      assertClose(await logits.data(), want, `logits, width ${width}`, { absolute: 1e-4, relative: 1e-5 });
      logits.dispose();
      disposeVocabularyChunks(vocabulary);
    }
    tf.dispose([hidden, weightT]);
  });

  it("chunkedTokenLogProbs equals a float64 log-softmax at the targets, for ids given as numbers or a tensor", async () => {
    const hidden = tf.tensor2d(hiddenValues, [N, C]);
    const weightT = tf.tensor2d(weightValues, [C, V]);
    const want = referenceLogits(hiddenValues, weightValues).map((row, n) => {
      const max = Math.max(...row);
      return row[targets[n]!]! - max - Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    });
    expect(Math.min(...want)).toBeLessThan(-5); // the case is not trivially near uniform
    for (const width of [1, 8, 100]) {
      const vocabulary = splitVocabularyColumns(weightT, width);
      const fromNumbers = chunkedTokenLogProbs(hidden, vocabulary, targets);
      const ids = tf.tensor1d(targets, "int32");
      const fromTensor = chunkedTokenLogProbs(hidden, vocabulary, ids);
      assertClose(await fromNumbers.data(), want, `log-probs, width ${width}`, { absolute: 2e-5, relative: 1e-5 });
      expect(Array.from(await fromTensor.data())).toEqual(Array.from(await fromNumbers.data()));
      tf.dispose([fromNumbers, fromTensor, ids]);
      disposeVocabularyChunks(vocabulary);
    }
    tf.dispose([hidden, weightT]);
  });

  it("gradients equal those of the unchunked log-softmax (hidden and a tied table)", async () => {
    const hidden = tf.tensor2d(hiddenValues, [N, C]);
    const table = tf.tensor2d(randomValues(V * C, 3), [V, C]);
    const oneHot = tf.oneHot(tf.tensor1d(targets, "int32"), V);
    const chunked = (h: tf.Tensor, t: tf.Tensor) => tf.tidy(() => {
      const vocabulary = splitVocabularyRows(t as tf.Tensor2D, 8); // made inside the tape
      return tf.sum(chunkedTokenLogProbs(h as tf.Tensor2D, vocabulary, targets)) as tf.Scalar;
    });
    const plain = (h: tf.Tensor, t: tf.Tensor) => tf.sum(tf.mul(tf.logSoftmax(tf.matMul(h, tf.transpose(t))), oneHot)) as tf.Scalar;
    const [dHidden, dTable] = tf.grads(chunked)([hidden, table]);
    const [wantHidden, wantTable] = tf.grads(plain)([hidden, table]);
    assertClose(await dHidden!.data(), await wantHidden!.data(), "d hidden", { absolute: 1e-5, relative: 1e-4 });
    assertClose(await dTable!.data(), await wantTable!.data(), "d table", { absolute: 1e-5, relative: 1e-4 });
    tf.dispose([dHidden!, dTable!, wantHidden!, wantTable!, hidden, table, oneHot]);
  });

  it("frozenChunkedTokenLogProbs equals the full-width log-softmax in value and gradient, for every block width", async () => {
    const hidden = tf.tensor2d(hiddenValues, [N, C]);
    const weightT = tf.tensor2d(weightValues, [C, V]);
    const oneHot = tf.oneHot(tf.tensor1d(targets, "int32"), V);
    const dy = tf.tensor1d([0.5, -1, 2, 0.25, 1.5]); // a weighted sum probes every row's gradient
    const full = (h: tf.Tensor) => tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(tf.matMul(h, weightT)), oneHot), 1), dy)) as tf.Scalar;
    const want = tf.valueAndGrad(full)(hidden);
    const logits = referenceLogits(hiddenValues, weightValues);
    const expected = targets.map((t, n) => logits[n]![t]! - Math.log(logits[n]!.reduce((s, z) => s + Math.exp(z), 0)));
    for (const columns of [1, 7, 8, 23, 64]) {
      const before = tf.memory().numTensors;
      const values = frozenChunkedTokenLogProbs(hidden, weightT, columns, targets);
      assertClose(await values.data(), expected, `values, ${columns} columns`, { absolute: 1e-4, relative: 1e-5 });
      const got = tf.valueAndGrad((h: tf.Tensor) => tf.sum(tf.mul(frozenChunkedTokenLogProbs(h as tf.Tensor2D, weightT, columns, targets), dy)) as tf.Scalar)(hidden);
      assertClose(await got.value.data(), await want.value.data(), `weighted sum, ${columns} columns`, { absolute: 1e-4, relative: 1e-5 });
      assertClose(await got.grad.data(), await want.grad.data(), `d hidden, ${columns} columns`, { absolute: 1e-5, relative: 1e-4 });
      tf.dispose([values, got.value, got.grad]);
      expect(tf.memory().numTensors).toBe(before);
    }
    expect(() => frozenChunkedTokenLogProbs(hidden, weightT, 8, [0, 1, 2, 3, 23])).toThrow("frozenChunkedTokenLogProbs: target 23 at row 4 is not a token id in 0..22");
    tf.dispose([hidden, weightT, oneHot, dy, want.value, want.grad]);
  });

  it("leaks no tensors", async () => {
    const hidden = tf.tensor2d(hiddenValues, [N, C]);
    const weightT = tf.tensor2d(weightValues, [C, V]);
    const vocabulary = splitVocabularyColumns(weightT, 8);
    await expectNoLeaks(() => [chunkedLogits(hidden, vocabulary), chunkedTokenLogProbs(hidden, vocabulary, targets)]);
    disposeVocabularyChunks(vocabulary);
    tf.dispose([hidden, weightT]);
  });
});

describe("chunk sizes and bad input", () => {
  it("vocabularyChunkColumns keeps a [C, Vc] block and [rows, Vc] logits under the byte limit", () => {
    // Qwen3-0.6B on lavapipe: 128 MiB / (4 · 1024) = 32,768 columns, 5 chunks for 151,936 ids.
    expect(vocabularyChunkColumns(1024, 151_936, 128 * 2 ** 20)).toBe(32_768);
    expect(vocabularyChunkColumns(1024, 151_936, 128 * 2 ** 20, 4096)).toBe(8192); // 4,096 rows of logits bound it
    expect(vocabularyChunkColumns(64, 384, 2 ** 30)).toBe(384);
    expect(() => vocabularyChunkColumns(1024, 100, 1000)).toThrow(/even one column of 1024 floats exceeds 1000 bytes/);
  });

  it("names wrong shapes and ids", async () => {
    await initBackend({ backend: "cpu", quiet: true });
    const weightT = tf.zeros([4, 10]) as tf.Tensor2D;
    const vocabulary = splitVocabularyColumns(weightT, 4);
    const hidden = tf.zeros([2, 4]) as tf.Tensor2D;
    expect(() => splitVocabularyColumns(weightT, 0)).toThrow("maxColumns must be a positive integer, got 0");
    expect(() => chunkedLogits(tf.zeros([2, 3]) as tf.Tensor2D, vocabulary)).toThrow("chunked logits: hidden must be [N, 4], got [2, 3]");
    expect(() => chunkedTokenLogProbs(hidden, vocabulary, [1])).toThrow("chunkedTokenLogProbs: 1 targets for 2 rows");
    expect(() => chunkedTokenLogProbs(hidden, vocabulary, [1, 10])).toThrow("chunkedTokenLogProbs: target 10 at row 1 is not a token id in 0..9");
    disposeVocabularyChunks(vocabulary);
    tf.dispose([weightT, hidden]);
  });
});

// Logits over a large vocabulary (Qwen: V = 151,936) in column chunks. One [C, V] unembedding
// is 622 MB at C = 1024, more than a GPU shader may bind at once on some adapters (lavapipe:
// 128 MiB), and [N, V] logits for a 512-token prefill are 311 MB more. Splitting the weight
// into [C, Vc] blocks (once, kept on the device) bounds every buffer; token log-probabilities
// are computed chunk by chunk with a running log-sum-exp so [N, V] never exists.
//
// Legend: N rows, C hidden, V vocabulary, Vc columns of one chunk.
import { matMul2d } from "./linear.js";
import { activeWasmKernels } from "./kernels/wasm-kernels.js";
import { batchMatMul } from "./kernels/batch-mat-mul.js";
import { SIMD_FORWARD_MAX_WEIGHTS } from "./kernels/mat-mul-2d.js";
import { tf } from "./tf.js";

/** An unembedding split into column blocks: chunk i holds vocabulary ids offsets[i] ..< offsets[i] + width. */
export interface VocabularyChunks {
  readonly chunks: readonly tf.Tensor2D[]; // [C, Vc] each
  readonly offsets: readonly number[];
  readonly vocabSize: number;
}

/**
 * Bytes per [C, Vc] block by default: 64 MiB, or on wasm SIMD_FORWARD_MAX_WEIGHTS floats (16 MiB),
 * so a block multiplied by many rows stays on the SIMD kernel instead of XNNPACK, which would keep
 * a packed copy of every block (a third copy of the unembedding).
 */
export function defaultVocabularyChunkBytes(): number {
  return activeWasmKernels() ? SIMD_FORWARD_MAX_WEIGHTS * 4 : 64 * 2 ** 20;
}

/** Columns per chunk so one [C, Vc] float32 block and `rows` [rows, Vc] logits each stay under `maxBytes`. */
export function vocabularyChunkColumns(hiddenSize: number, vocabSize: number, maxBytes: number, rows = 1): number {
  if (!(hiddenSize > 0 && vocabSize > 0 && maxBytes > 0 && rows > 0)) {
    throw new Error(`vocabularyChunkColumns: hiddenSize, vocabSize, maxBytes and rows must be > 0, got ${hiddenSize}, ${vocabSize}, ${maxBytes}, ${rows}`);
  }
  const columns = Math.floor(maxBytes / (4 * Math.max(hiddenSize, rows)));
  if (columns < 1) throw new Error(`vocabularyChunkColumns: even one column of ${Math.max(hiddenSize, rows)} floats exceeds ${maxBytes} bytes`);
  return Math.min(vocabSize, columns);
}

/**
 * Splits an unembedding stored [C, V] (e.g. `lmHeadT`) into [C, Vc] blocks of at most
 * `maxColumns` columns. The blocks are new tensors on the active backend; dispose the source if
 * it is no longer needed (`disposeVocabularyChunks` frees the blocks).
 */
export function splitVocabularyColumns(weightT: tf.Tensor2D, maxColumns: number): VocabularyChunks {
  const [C, V] = weightT.shape;
  checkColumns(maxColumns);
  const chunks: tf.Tensor2D[] = [];
  const offsets: number[] = [];
  for (let start = 0; start < V; start += maxColumns) {
    const width = Math.min(maxColumns, V - start);
    offsets.push(start);
    chunks.push(tf.slice(weightT, [0, start], [C, width])); // [C, Vc]
  }
  return { chunks, offsets, vocabSize: V };
}

/**
 * The same blocks made from an embedding table [V, C] (tied weights): each row block is
 * transposed on its own, so no [C, V] copy of the whole table is ever made. Differentiable when
 * called inside a gradient tape.
 */
export function splitVocabularyRows(table: tf.Tensor2D, maxColumns: number): VocabularyChunks {
  const [V, C] = table.shape;
  checkColumns(maxColumns);
  const chunks: tf.Tensor2D[] = [];
  const offsets: number[] = [];
  for (let start = 0; start < V; start += maxColumns) {
    const width = Math.min(maxColumns, V - start);
    offsets.push(start);
    chunks.push(tf.tidy(() => tf.transpose(tf.slice(table, [start, 0], [width, C])))); // [C, Vc]
  }
  return { chunks, offsets, vocabSize: V };
}

/** Frees the blocks. */
export function disposeVocabularyChunks(vocabulary: VocabularyChunks): void {
  tf.dispose([...vocabulary.chunks]);
}

/** Full logits [N, V] = hidden [N, C] · W, one [N, Vc] block at a time, concatenated. */
export function chunkedLogits(hidden: tf.Tensor2D, vocabulary: VocabularyChunks): tf.Tensor2D {
  checkHidden(hidden, vocabulary);
  return tf.tidy(() => {
    const blocks = vocabulary.chunks.map((chunk) => matMul2d(hidden, chunk)); // [N, Vc] each
    return blocks.length === 1 ? blocks[0]! : (tf.concat(blocks, 1) as tf.Tensor2D); // [N, V]
  });
}

/**
 * log softmax(hidden · W)[n, targets[n]] for every row, [N], without materialising [N, V]: a
 * running log-sum-exp over the chunks, and the target's logit picked in the chunk that holds it
 * (one-hot rows are all zero outside it). Differentiable with respect to `hidden` and the blocks.
 */
export function chunkedTokenLogProbs(hidden: tf.Tensor2D, vocabulary: VocabularyChunks, targets: tf.Tensor1D | readonly number[]): tf.Tensor1D {
  checkHidden(hidden, vocabulary);
  const N = hidden.shape[0];
  const targetIds = Array.isArray(targets) ? targets : null;
  if (targetIds) {
    if (targetIds.length !== N) throw new Error(`chunkedTokenLogProbs: ${targetIds.length} targets for ${N} rows`);
    const bad = targetIds.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= vocabulary.vocabSize);
    if (bad >= 0) throw new Error(`chunkedTokenLogProbs: target ${targetIds[bad]} at row ${bad} is not a token id in 0..${vocabulary.vocabSize - 1}`);
  } else {
    const t = targets as tf.Tensor1D;
    if (t.rank !== 1 || t.shape[0] !== N || t.dtype !== "int32") throw new Error(`chunkedTokenLogProbs: targets must be int32 [${N}], got ${t.dtype} [${t.shape.join(", ")}]`);
  }
  return tf.tidy(() => {
    const ids = targetIds ? tf.tensor1d([...targetIds], "int32") : (targets as tf.Tensor1D); // [N]
    let runningMax: tf.Tensor1D | null = null; // [N]
    let runningSum: tf.Tensor1D | null = null; // [N] Σ exp(logit − runningMax)
    let picked: tf.Tensor1D | null = null; // [N] the target's logit
    for (let i = 0; i < vocabulary.chunks.length; i++) {
      const chunk = vocabulary.chunks[i]!;
      const logits = matMul2d(hidden, chunk); // [N, Vc]
      // The max only stabilises exp; gradients through it cancel (∂lse/∂max = 0).
      const chunkMax = tf.max(logits, 1) as tf.Tensor1D; // [N]
      const newMax: tf.Tensor1D = runningMax ? tf.maximum(runningMax, chunkMax) : chunkMax;
      const chunkSum = tf.sum(tf.exp(tf.sub(logits, tf.expandDims(newMax, 1))), 1) as tf.Tensor1D; // [N]
      runningSum = runningSum && runningMax ? (tf.add(tf.mul(runningSum, tf.exp(tf.sub(runningMax, newMax))), chunkSum) as tf.Tensor1D) : chunkSum;
      runningMax = newMax;
      const offset = tf.scalar(vocabulary.offsets[i]!, "int32");
      const chunkPicked: tf.Tensor1D =
        chunk.shape[1] === 1 // tf.oneHot needs depth >= 2
          ? (tf.mul(tf.reshape(logits, [-1]), tf.cast(tf.equal(ids, offset), "float32")) as tf.Tensor1D)
          : (tf.sum(tf.mul(logits, tf.oneHot(tf.sub(ids, offset) as tf.Tensor1D, chunk.shape[1])), 1) as tf.Tensor1D); // ids outside the chunk: all-zero one-hot rows
      picked = picked ? (tf.add(picked, chunkPicked) as tf.Tensor1D) : chunkPicked;
    }
    const logSumExp = tf.add(runningMax!, tf.log(runningSum!)); // [N]
    return tf.sub(picked!, logSumExp) as tf.Tensor1D;
  });
}

function checkColumns(maxColumns: number): void {
  if (!Number.isInteger(maxColumns) || maxColumns < 1) throw new Error(`maxColumns must be a positive integer, got ${maxColumns}`);
}

function checkHidden(hidden: tf.Tensor2D, vocabulary: VocabularyChunks): void {
  const C = vocabulary.chunks[0]?.shape[0];
  if (C === undefined) throw new Error("chunked logits: the vocabulary has no chunks");
  if (hidden.rank !== 2 || hidden.shape[1] !== C) throw new Error(`chunked logits: hidden must be [N, ${C}], got [${hidden.shape.join(", ")}]`);
}

/**
 * log softmax(hidden · weightT)[n, targets[n]], [N], for a frozen unembedding weightT [C, V]
 * read `columns` vocabulary columns at a time, with a custom gradient (with respect to `hidden`
 * only) that recomputes each block instead of keeping it on the tape: no [C, V] copy of the
 * weight and no [N, V] logits exist, forward or backward, only one [C, Vc] block and its [N, Vc]
 * logits at a time (the block is a slice, freed after use). The gradient is
 *
 *   ∂/∂hidden = Σ_blocks (dy ⊙ (onehot_block − softmax_block)) · W_blockᵀ.
 *
 * Use it for the policy's and the reference's log-probs over a large vocabulary (Qwen: 151,936).
 */
export function frozenChunkedTokenLogProbs(hidden: tf.Tensor2D, weightT: tf.Tensor2D, columns: number, targets: readonly number[]): tf.Tensor1D {
  const [C, V] = weightT.shape;
  checkColumns(columns);
  if (hidden.rank !== 2 || hidden.shape[1] !== C) throw new Error(`frozenChunkedTokenLogProbs: hidden must be [N, ${C}], got [${hidden.shape.join(", ")}]`);
  const N = hidden.shape[0];
  if (targets.length !== N) throw new Error(`frozenChunkedTokenLogProbs: ${targets.length} targets for ${N} rows`);
  const bad = targets.findIndex((id) => !Number.isInteger(id) || id < 0 || id >= V);
  if (bad >= 0) throw new Error(`frozenChunkedTokenLogProbs: target ${targets[bad]} at row ${bad} is not a token id in 0..${V - 1}`);
  const starts: number[] = [];
  for (let start = 0; start < V; start += columns) starts.push(start);
  const block = (start: number) => tf.slice(weightT, [0, start], [C, Math.min(columns, V - start)]) as tf.Tensor2D; // [C, Vc]
  // [N, Vc] one-hot rows of the targets inside the block, zero rows outside (tf.oneHot needs depth ≥ 2).
  const oneHotOf = (start: number, width: number) =>
    tf.slice(tf.oneHot(tf.sub(tf.tensor1d([...targets], "int32"), tf.scalar(start, "int32")) as tf.Tensor1D, Math.max(2, width)), [0, 0], [N, width]);
  const op = tf.customGrad((input, save) => {
    const h = input as tf.Tensor2D;
    const { logSumExp, picked } = tf.tidy(() => {
      let runningMax: tf.Tensor1D | null = null; // [N]
      let runningSum: tf.Tensor1D | null = null; // [N] Σ exp(logit − runningMax)
      let pickedSum: tf.Tensor1D | null = null; // [N] the target's logit
      for (const start of starts) {
        const logits = tf.tidy(() => matMul2d(h, block(start))); // [N, Vc]
        const width = logits.shape[1];
        const chunkMax = tf.max(logits, 1) as tf.Tensor1D;
        const newMax: tf.Tensor1D = runningMax ? tf.maximum(runningMax, chunkMax) : chunkMax;
        const chunkSum = tf.sum(tf.exp(tf.sub(logits, tf.expandDims(newMax, 1))), 1) as tf.Tensor1D;
        runningSum = runningSum && runningMax ? (tf.add(tf.mul(runningSum, tf.exp(tf.sub(runningMax, newMax))), chunkSum) as tf.Tensor1D) : chunkSum;
        runningMax = newMax;
        const chunkPicked = tf.sum(tf.mul(logits, oneHotOf(start, width)), 1) as tf.Tensor1D;
        pickedSum = pickedSum ? (tf.add(pickedSum, chunkPicked) as tf.Tensor1D) : chunkPicked;
        logits.dispose();
      }
      return { logSumExp: tf.add(runningMax!, tf.log(runningSum!)) as tf.Tensor1D, picked: pickedSum! };
    });
    (save as tf.GradSaveFunc)([h, logSumExp]);
    const value = tf.sub(picked, logSumExp) as tf.Tensor1D;
    picked.dispose();
    return {
      value,
      gradFunc: (dy, saved) => {
        const [savedHidden, savedLse] = saved as [tf.Tensor2D, tf.Tensor1D];
        return tf.tidy(() => {
          let dHidden: tf.Tensor2D | null = null; // [N, C]
          for (const start of starts) {
            const step = tf.tidy(() => {
              const weights = block(start); // [C, Vc]
              const logits = matMul2d(savedHidden, weights); // [N, Vc]
              const probabilities = tf.exp(tf.sub(logits, tf.expandDims(savedLse, 1)));
              const dLogits = tf.mul(tf.expandDims(dy as tf.Tensor1D, 1), tf.sub(oneHotOf(start, logits.shape[1]), probabilities)) as tf.Tensor2D; // [N, Vc]
              return tf.squeeze(batchMatMul(tf.expandDims(dLogits, 0) as tf.Tensor3D, tf.expandDims(weights, 0) as tf.Tensor3D, { transposeB: true }), [0]) as tf.Tensor2D; // [N, C]
            });
            if (dHidden) {
              const sum: tf.Tensor2D = tf.add(dHidden, step);
              tf.dispose([dHidden, step]);
              dHidden = sum;
            } else dHidden = step;
          }
          return [dHidden!];
        });
      },
    };
  });
  return op(hidden) as tf.Tensor1D;
}

// Matrix products and embedding lookups that stay on the wasm fast path (ENGINE-NOTES pitfalls
// 2 and 3): only 2-D, non-transposed matMul is fast on wasm, and autodiff of tf.matMul emits
// transposed matmuls; gather's gradient needs UnsortedSegmentSum, which wasm lacks. Each op
// here has a custom gradient built from explicit transposes, plain 2-D matMuls and scatterND.
// M rows, K inner, N columns, V vocabulary, C channels.
import { tf } from "./tf.js";
import { batchMatMul, isRecordingGradients, activeWasmKernels } from "./kernels/index.js";
import { matMul2dKernel } from "./kernels/mat-mul-2d.js";

/**
 * a @ b for 2-D tensors (XNNPACK on wasm), with the gradients dA = dy @ bᵀ and dB = aᵀ @ dy
 * computed by the SIMD batchMatMul kernel, which reads the transposed operand in place.
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (a.rank !== 2 || b.rank !== 2 || a.shape[1] !== b.shape[0]) {
    throw new Error(`matMul2d: expected [M, K] @ [K, N], got [${a.shape.join(", ")}] @ [${b.shape.join(", ")}]`);
  }
  // On wasm: always the registered kernel (with a gradient), which streams the weight for a few
  // rows and uses XNNPACK only for a weight over SIMD_FORWARD_MAX_WEIGHTS times 8 rows or more:
  // XNNPACK keeps a packed copy of every weight it multiplies by, which for all of Qwen3-0.6B's
  // projections would not fit the 4 GiB heap. Elsewhere: tf.matMul, with the custom gradient
  // only while a tape records (it is a scope per call).
  const wasm = a.dtype === "float32" && b.dtype === "float32" && activeWasmKernels() !== null;
  if (wasm) return matMul2dKernel(a, b);
  return isRecordingGradients() ? matMul2dOp(a, b) : tf.matMul(a, b);
}

const matMul2dOp = tf.customGrad((a, b, save) => {
  const left = a as tf.Tensor2D; // [M, K]
  const right = b as tf.Tensor2D; // [K, N]
  (save as tf.GradSaveFunc)([left, right]);
  return {
    value: tf.matMul(left, right), // [M, N]
    gradFunc: (dy, saved) => {
      const [savedLeft, savedRight] = saved as [tf.Tensor2D, tf.Tensor2D];
      // The SIMD kernel reads transposed operands in place (no transpose copies); on other
      // backends batchMatMul is tf.matMul.
      const dy3 = tf.expandDims(dy as tf.Tensor2D, 0) as tf.Tensor3D; // [1, M, N]
      const dLeft = tf.squeeze(batchMatMul(dy3, tf.expandDims(savedRight, 0) as tf.Tensor3D, { transposeB: true }), [0]); // [M, K]
      const dRight = tf.squeeze(batchMatMul(tf.expandDims(savedLeft, 0) as tf.Tensor3D, dy3, { transposeA: true }), [0]); // [K, N]
      return [dLeft, dRight];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * x @ weightT + bias over the last axis: [..., K] @ [K, N] (+ [N]) -> [..., N]. The weight is
 * stored transposed ([in, out]) so the product is a plain matMul; Hugging Face stores
 * nn.Linear weights as [out, in], so transpose once at load time.
 */
export function linear(x: tf.Tensor, weightT: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor {
  const [K, N] = weightT.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) {
    throw new Error(`linear: input's last axis must be ${K} to match weightT [${K}, ${N}], got input [${x.shape.join(", ")}]`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== N)) {
    throw new Error(`linear: bias must be [${N}] to match weightT [${K}, ${N}], got [${bias.shape.join(", ")}]`);
  }
  return tf.tidy(() => {
    const leading = x.shape.slice(0, -1);
    const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, K]) as tf.Tensor2D; // [M, K]
    let y = matMul2d(flat, weightT); // [M, N]
    if (bias) y = tf.add(y, bias); // [M, N]
    return x.rank === 2 ? y : tf.reshape(y, [...leading, N]); // [..., N]
  });
}

/**
 * Rows of `table` [V, C] picked by int32 `ids` [M] -> [M, C] (tf.gather). The gradient for
 * the table scatters dy's rows back with scatterND, which sums repeated ids (wasm has no
 * UnsortedSegmentSum; scatterND measured ~200x faster than a one-hot matMul at V 512, M 2048,
 * C 128); ids get a zero gradient.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (table.rank !== 2) throw new Error(`embeddingLookup: table must be [V, C], got [${table.shape.join(", ")}]`);
  if (ids.rank !== 1 || ids.dtype !== "int32") {
    throw new Error(`embeddingLookup: ids must be a 1-D int32 tensor, got ${ids.dtype} [${ids.shape.join(", ")}]`);
  }
  const [V, C] = table.shape;
  if (!isRecordingGradients()) return tf.gather(table, ids); // no tape: skip the custom-gradient scope
  // ids go in as an input and are saved for the gradient: a closure would see them disposed
  // when they were made inside the differentiated function (tf.grads / variableGrads dispose
  // forward intermediates the tape does not save). The gradient goes to the table only.
  const lookup = tf.customGrad((tableInput, idsInput, save) => {
    (save as tf.GradSaveFunc)([idsInput as tf.Tensor1D]);
    return {
      value: tf.gather(tableInput as tf.Tensor2D, idsInput as tf.Tensor1D), // [M, C]
      gradFunc: (dy, saved) => {
        const [savedIds] = saved as [tf.Tensor1D];
        const dTable = tf.scatterND(tf.expandDims(savedIds, 1), dy as tf.Tensor2D, [V, C]); // [V, C], repeated ids summed
        return [dTable, tf.zerosLike(savedIds)];
      },
    };
  });
  return lookup(table, ids) as tf.Tensor2D;
}

// Stage 1's token KL without full-width logits (METHOD.md §2.6): per generated token, with
// student logits z = W_U · ĥ and teacher logits u = W_U · ĝ over V = 151,936 columns,
//
//   reverse: KL(p ‖ q) = Σ_v p_v (s_v − t_v)      forward: KL(q ‖ p) = Σ_v q_v (t_v − s_v)
//   s = z − lse(z) = log p,  t = u − lse(u) = log q,
//
// computed one vocabulary chunk [C, Vc] at a time: a first pass accumulates both log-sum-exps
// (running max), a second pass the sum. The gradient is a custom one that recomputes each
// chunk's logits instead of keeping them on the tape, so memory is O(M · Vc), not O(M · V):
//
//   reverse: ∂KL/∂z_j = p_j (s_j − t_j − KL)      forward: ∂KL/∂z_j = p_j − q_j
//   ∂/∂ĥ = Σ_chunks (∂KL/∂z_chunk) · W_chunkᵀ
//
// The unembedding is frozen (LoRA and heads never touch it) and the teacher has no gradient.
// Legend: M tokens, C hidden, V vocabulary, Vc columns of one chunk.
import { matMul2d, tf, type VocabularyChunks } from "@eecot/tensor-core";
import type { KlDirection } from "./config.js";

interface LogSumExps {
  readonly student: tf.Tensor1D; // [M]
  readonly teacher: tf.Tensor1D; // [M]
}

/** lse over the whole vocabulary of both sides, one chunk at a time (running max). */
function logSumExps(student: tf.Tensor2D, teacher: tf.Tensor2D, vocabulary: VocabularyChunks): LogSumExps {
  return tf.tidy(() => {
    const running = (hidden: tf.Tensor2D) => {
      let max: tf.Tensor1D | null = null;
      let sum: tf.Tensor1D | null = null;
      for (const chunk of vocabulary.chunks) {
        const logits = matMul2d(hidden, chunk); // [M, Vc]
        const newMax: tf.Tensor1D = max ? tf.maximum(max, tf.max(logits, 1)) : (tf.max(logits, 1) as tf.Tensor1D);
        const chunkSum = tf.sum(tf.exp(tf.sub(logits, tf.expandDims(newMax, 1))), 1) as tf.Tensor1D;
        sum = sum && max ? (tf.add(tf.mul(sum, tf.exp(tf.sub(max, newMax))), chunkSum) as tf.Tensor1D) : chunkSum;
        max = newMax;
      }
      return tf.add(max!, tf.log(sum!)) as tf.Tensor1D; // [M]
    };
    return { student: running(student), teacher: running(teacher) } as unknown as tf.TensorContainerObject;
  }) as unknown as LogSumExps;
}

/** Per-chunk log-probabilities s, t [M, Vc] of chunk `i`. */
function chunkLogProbs(student: tf.Tensor2D, teacher: tf.Tensor2D, chunk: tf.Tensor2D, lse: LogSumExps): { s: tf.Tensor2D; t: tf.Tensor2D } {
  const s = tf.sub(matMul2d(student, chunk), tf.expandDims(lse.student, 1)) as tf.Tensor2D; // [M, Vc]
  const t = tf.sub(matMul2d(teacher, chunk), tf.expandDims(lse.teacher, 1)) as tf.Tensor2D; // [M, Vc]
  return { s, t };
}

/**
 * Per-token KL [M] between the student's and the teacher's next-token distributions, from their
 * final-normed hidden states [M, C] and the unembedding in chunks. Differentiable in
 * `studentNormed` only (custom gradient, chunks recomputed); `teacherNormed` is a constant.
 */
export function chunkedTokenKl(studentNormed: tf.Tensor2D, teacherNormed: tf.Tensor2D, vocabulary: VocabularyChunks, direction: KlDirection): tf.Tensor1D {
  const C = vocabulary.chunks[0]?.shape[0];
  if (C === undefined) throw new Error("chunkedTokenKl: the vocabulary has no chunks");
  if (studentNormed.rank !== 2 || studentNormed.shape[1] !== C || teacherNormed.shape[0] !== studentNormed.shape[0] || teacherNormed.shape[1] !== C) {
    throw new Error(`chunkedTokenKl: student and teacher must both be [M, ${C}], got [${studentNormed.shape.join(", ")}] and [${teacherNormed.shape.join(", ")}]`);
  }
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [h, g, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    const value = tf.tidy(() => {
      const lse = logSumExps(h, g, vocabulary);
      let kl: tf.Tensor1D | null = null;
      for (const chunk of vocabulary.chunks) {
        const { s, t } = chunkLogProbs(h, g, chunk, lse);
        const part = (direction === "reverse" ? tf.sum(tf.mul(tf.exp(s), tf.sub(s, t)), 1) : tf.sum(tf.mul(tf.exp(t), tf.sub(t, s)), 1)) as tf.Tensor1D; // [M]
        kl = kl ? (tf.add(kl, part) as tf.Tensor1D) : part;
      }
      return kl!;
    });
    save([h, g, value]);
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [hs, gs, klValue] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
      return tf.tidy(() => {
        const lse = logSumExps(hs, gs, vocabulary);
        const upstream = tf.expandDims(dy, 1); // [M, 1]
        const kl = direction === "reverse" ? tf.expandDims(klValue, 1) : null; // [M, 1]
        let dh: tf.Tensor2D | null = null;
        for (const chunk of vocabulary.chunks) {
          const { s, t } = chunkLogProbs(hs, gs, chunk, lse);
          const p = tf.exp(s);
          const dz = tf.mul(direction === "reverse" ? tf.mul(p, tf.sub(tf.sub(s, t), kl!)) : tf.sub(p, tf.exp(t)), upstream) as tf.Tensor2D; // [M, Vc]
          const part = tf.matMul(dz, chunk, false, true) as tf.Tensor2D; // [M, C]
          dh = dh ? (tf.add(dh, part) as tf.Tensor2D) : part;
        }
        return [dh!, tf.zerosLike(gs)];
      });
    };
    return { value, gradFunc };
  });
  return op(studentNormed, teacherNormed) as tf.Tensor1D;
}

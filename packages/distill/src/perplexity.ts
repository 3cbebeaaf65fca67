// Perplexity of generated text under the frozen base model (a judge-free coherence proxy,
// METHOD.md §4): teacher-forced over prompt + completion at full depth,
//
//   perplexity = exp( Σ_t −log softmax(W_U · norm(h_L))[y_t] / N )      pooled over all N tokens
//
// Only generated positions are unembedded, in chunks of `chunkSize` rows.
//
// Legend: M generated tokens in a batch, n chunk rows, C hidden, V vocab.
import { tf } from "@eecot/tensor-core";
import { unembed, type QwenModel } from "@eecot/transformer";
import { replayBatch, residualRows, type TokenSequence } from "./divergence.js";

export interface PerplexityResult {
  /** exp(mean negative log-likelihood); NaN without tokens. */
  readonly perplexity: number;
  /** Mean −log p(y_t) in nats. */
  readonly meanNegativeLogLikelihood: number;
  /** Tokens scored. */
  readonly tokenCount: number;
}

/** −log p(y_t) of every generated token under the base model, per sequence. */
export async function tokenNegativeLogLikelihoods(
  base: QwenModel,
  sequences: readonly TokenSequence[],
  options: { batchSize?: number; chunkSize?: number; padTokenId?: number } = {},
): Promise<number[][]> {
  const batchSize = options.batchSize ?? 8;
  const chunkSize = options.chunkSize ?? 64;
  const V = base.config.vocabSize;
  const C = base.config.hiddenSize;
  const out: number[][] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const batch = sequences.slice(start, start + batchSize);
    const scored = batch.filter((s) => s.tokens.length > 0);
    const values: number[] = [];
    if (scored.length > 0) {
      const replay = replayBatch(scored, options.padTokenId ?? 0);
      const targets = scored.flatMap((s) => s.tokens);
      const [final] = residualRows(base, replay.ids, replay.attentionMask, [base.config.numLayers], replay.rows); // [M, C]
      try {
        for (let row = 0; row < targets.length; row += chunkSize) {
          const n = Math.min(chunkSize, targets.length - row);
          const picked = tf.tidy(() => {
            const logits = unembed(base.params, base.config, tf.slice(final!, [row, 0], [n, C])); // [n, V]
            const logProbs = tf.sub(logits, tf.logSumExp(logits, 1, true)); // [n, V]
            const index = targets.slice(row, row + n).map((y, i) => i * V + y);
            return tf.gather(tf.reshape(logProbs, [n * V]), tf.tensor1d(index, "int32")); // [n]
          });
          for (const x of await picked.data()) values.push(-x);
          picked.dispose();
        }
      } finally {
        final!.dispose();
      }
    }
    let offset = 0;
    for (const s of batch) {
      out.push(values.slice(offset, offset + s.tokens.length));
      offset += s.tokens.length;
    }
  }
  return out;
}

/** Pooled perplexity of the generated tokens of `sequences` under the base model. */
export async function perplexityUnderBase(
  base: QwenModel,
  sequences: readonly TokenSequence[],
  options: { batchSize?: number; chunkSize?: number; padTokenId?: number } = {},
): Promise<PerplexityResult> {
  const all = (await tokenNegativeLogLikelihoods(base, sequences, options)).flat();
  if (all.length === 0) return { perplexity: NaN, meanNegativeLogLikelihood: NaN, tokenCount: 0 };
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  return { perplexity: Math.exp(mean), meanNegativeLogLikelihood: mean, tokenCount: all.length };
}

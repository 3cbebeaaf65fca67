// The scaling bench's "100m" model (bench/scaling.ts; importing that file would run it) and one
// forward + backward without the optimizer, for train-100m.ts and profile-100m.ts.
import { tf } from "@eecot/tensor-core";
import { initQwenParams, languageModelLoss, parseQwenConfig, trainableVariables } from "@eecot/transformer";

export const HUNDRED_M_CONFIG = parseQwenConfig(
  { model_type: "qwen3", vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 64, rope_theta: 1_000_000, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 4096 },
  "100m",
);

/** Random weights and a function running forward + backward on B × T token ids (gradients disposed). */
export function hundredMStep(batch: number, length: number): () => void {
  const config = HUNDRED_M_CONFIG;
  const params = initQwenParams(config, 7);
  const variables = trainableVariables(config, params);
  const ids = Array.from({ length: batch }, (_, b) => Array.from({ length }, (_, t) => (b * 7919 + t * 104729) % config.vocabSize));
  const ones = ids.map((r) => r.map(() => 1));
  return () => {
    const { value, grads } = tf.variableGrads(() => languageModelLoss(params, config, { ids, attentionMask: ones, lossMask: ones }) as tf.Scalar, variables);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
}

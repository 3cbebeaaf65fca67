// One-off (issue 20): forward + backward of the scaling bench's "100m" model at 2 × 256 in a
// fresh process, without the optimizer: full-parameter Adam does not fit the 4 GiB wasm heap at
// 100M (1.34 GiB after the gradients; the first Adam step runs out). Usage: tsx bench/train-100m.ts THREADS
import { initBackend, tf, wasmHeapBytes } from "@eecot/tensor-core";
import { initQwenParams, languageModelLoss, parseQwenConfig, trainableVariables } from "@eecot/transformer";
const threads = Number(process.argv[2] ?? 1);
await initBackend({ backend: "wasm", quiet: true, threads });
// bench/scaling.ts's "100m" model (importing that file would run it).
const config = parseQwenConfig({ model_type: "qwen3", vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 64, rope_theta: 1_000_000, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 4096 }, "100m");
const [B, T] = [2, 256];
const params = initQwenParams(config, 7);
const variables = trainableVariables(config, params);
const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 7919 + t * 104729) % config.vocabSize));
const ones = ids.map((r) => r.map(() => 1));
const step = () => {
  const { value, grads } = tf.variableGrads(() => languageModelLoss(params, config, { ids, attentionMask: ones, lossMask: ones }) as tf.Scalar, variables);
  value.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
};
step();
let best = Infinity;
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  step();
  best = Math.min(best, performance.now() - t0);
}
console.log(JSON.stringify({ side: "ours", threads, shape: `${B}x${T}`, what: "forward+backward", msPerStep: Math.round(best), tokensPerSecond: +((B * T) / (best / 1000)).toFixed(1), wasmHeapGiB: +(wasmHeapBytes()! / 2 ** 30).toFixed(2) }));

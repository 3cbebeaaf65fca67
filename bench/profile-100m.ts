// Per-kernel profile of the largest training row measured (issue 20): forward + backward of the
// scaling bench's "100m" model at 1 × 256 on wasm (full-parameter Adam does not fit the 4 GiB
// heap at 100M). Usage: tsx bench/profile-100m.ts [THREADS]
import { initBackend, tf } from "@eecot/tensor-core";
import { initQwenParams, languageModelLoss, parseQwenConfig, trainableVariables } from "@eecot/transformer";
const threads = Number(process.argv[2] ?? 2);
await initBackend({ backend: "wasm", quiet: true, threads });
const config = parseQwenConfig({ model_type: "qwen3", vocab_size: 32000, hidden_size: 768, intermediate_size: 2048, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, head_dim: 64, rope_theta: 1_000_000, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 4096 }, "100m");
const params = initQwenParams(config, 7);
const variables = trainableVariables(config, params);
const ids = [Array.from({ length: 256 }, (_, t) => (t * 104729) % config.vocabSize)];
const ones = ids.map((r) => r.map(() => 1));
const step = () => {
  const { value, grads } = tf.variableGrads(() => languageModelLoss(params, config, { ids, attentionMask: ones, lossMask: ones }) as tf.Scalar, variables);
  value.dataSync();
  tf.dispose([value, ...Object.values(grads)]);
};
step();
const start = performance.now();
const info = await tf.profile(async () => step());
const wall = performance.now() - start;
const byKernel = new Map<string, { ms: number; calls: number }>();
for (const k of info.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.calls++;
  byKernel.set(k.name, e);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log(`100m forward + backward 1×256, ${threads} thread(s): ${wall.toFixed(0)} ms wall (profiled), ${total.toFixed(0)} ms in ${info.kernels.length} kernels`);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(`| ${name} | ${e.ms.toFixed(0)} | ${((100 * e.ms) / total).toFixed(1)} % | ${e.calls} |`);

// The webgpu fused kernels (packages/tensor-core/src/kernels/webgpu-fused.ts) and inference
// attention kernels (webgpu-attention.ts) in a real decode step: a small Qwen3 runs fewer kernels
// with each than without, and gives the same logits. Lives here, not in tensor-core, because it needs @eecot/transformer (the package
// graph forbids that import inside tensor-core). Skips without a WebGPU adapter.
import { describe, expect, it } from "vitest";
import {
  assertClose,
  fusedKernelsActive,
  inferenceKernelsAvailable,
  initBackend,
  probeWebgpu,
  tf,
  APPEND_KEY_VALUES_KERNEL,
  INFERENCE_ATTENTION_KERNEL,
  MASKED_SOFTMAX_GRAD_KERNEL,
  MASKED_SOFTMAX_KERNEL,
  RMS_NORM_GRAD_KERNEL,
  RMS_NORM_KERNEL,
  ROPE_KERNEL,
  SWIGLU_GRAD_KERNEL,
  SWIGLU_KERNEL,
} from "@eecot/tensor-core";
import { disposeCache, initQwenParams, paramTensors, parseQwenConfig, qwenForward } from "@eecot/transformer";

const FUSED_KERNELS = [RMS_NORM_KERNEL, RMS_NORM_GRAD_KERNEL, ROPE_KERNEL, SWIGLU_KERNEL, SWIGLU_GRAD_KERNEL, MASKED_SOFTMAX_KERNEL, MASKED_SOFTMAX_GRAD_KERNEL];
const ATTENTION_KERNELS = [APPEND_KEY_VALUES_KERNEL, INFERENCE_ATTENTION_KERNEL];

/** Runs fn with the webgpu registrations of `names` taken away for a moment. */
async function withoutWebgpuKernels<T>(names: readonly string[], fn: () => Promise<T>): Promise<T> {
  const saved = names.map((name) => tf.getKernel(name, "webgpu")!);
  for (const name of names) tf.unregisterKernel(name, "webgpu");
  try {
    return await fn();
  } finally {
    for (const kernel of saved) tf.registerKernel(kernel);
  }
}

/** Kernel name -> count, for the log. */
function histogram(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].map(([name, count]) => `${count} ${name}`).join(", ");
}

/** A small Qwen3 (qk-norm, GQA) for counting the kernels of a decode step. */
const SMALL_QWEN3 = {
  model_type: "qwen3",
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  rope_theta: 10000,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
  max_position_embeddings: 64,
};

const probe = await probeWebgpu();
const skipReason = probe.available ? null : probe.reason;
if (skipReason) console.warn(`webgpu-fused-decode.test.ts: skipping: ${skipReason}`);

describe.skipIf(skipReason !== null)(`webgpu fused kernels in a decode step${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  it("cut the kernels of a decode step of a small Qwen3, with the same logits", async () => {
    await initBackend({ backend: "webgpu", quiet: true });
    const config = parseQwenConfig(SMALL_QWEN3, "small qwen3");
    const params = initQwenParams(config, 5);
    const { cache } = qwenForward(params, config, [[3, 14, 15, 9]], { useCache: true, skipLogits: true });
    /** Kernels and logits of one cached decode step. */
    const decodeStep = async () => {
      let logits: tf.Tensor | null = null;
      const { kernels } = await tf.profile(() => {
        const out = qwenForward(params, config, [[26]], { cache, useCache: true, lastPositionOnly: true });
        logits = out.logits;
        disposeCache(out.cache);
        return logits!;
      });
      const names = kernels.map((k) => k.name);
      const values = await logits!.data();
      tf.dispose(logits!);
      return { names, dispatching: names.filter((name) => name !== "Reshape"), values };
    };
    expect(inferenceKernelsAvailable()).toBe(true);
    const attention = await decodeStep();
    // The fused ops without the attention kernels (qwen.ts's tf attention path), then the composites.
    const fused = await withoutWebgpuKernels(ATTENTION_KERNELS, async () => {
      expect(inferenceKernelsAvailable()).toBe(false);
      return decodeStep();
    });
    const composite = await withoutWebgpuKernels([...FUSED_KERNELS, ...ATTENTION_KERNELS], async () => {
      expect(fusedKernelsActive(RMS_NORM_KERNEL)).toBe(false);
      return decodeStep();
    });
    const layers = config.numLayers;
    const perLayer = (more: { dispatching: string[] }, fewer: { dispatching: string[] }) => ((more.dispatching.length - fewer.dispatching.length) / layers).toFixed(1);
    console.log(
      `webgpu-fused-decode.test.ts: decode step of ${layers} layers: ${composite.names.length} kernels (${composite.dispatching.length} not Reshape) with the composites, ` +
        `${fused.names.length} (${fused.dispatching.length}) fused, ${attention.names.length} (${attention.dispatching.length}) fused + attention kernels; ` +
        `per layer ~${perLayer(composite, fused)} fewer fused, ~${perLayer(fused, attention)} fewer again with the attention kernels\n` +
        `  fused: ${histogram(fused.dispatching)}\n  fused + attention: ${histogram(attention.dispatching)}`,
    );
    for (const name of [RMS_NORM_KERNEL, ROPE_KERNEL, SWIGLU_KERNEL, MASKED_SOFTMAX_KERNEL]) expect(fused.names, name).toContain(name);
    for (const name of [RMS_NORM_KERNEL, SWIGLU_KERNEL, ...ATTENTION_KERNELS]) expect(attention.names, name).toContain(name);
    // Per layer the attention kernels replace q/k RMSNorm, 2 RoPE, 4 Transpose, 2 Concat, 2 BatchMatMul and the masked softmax.
    for (const name of [ROPE_KERNEL, MASKED_SOFTMAX_KERNEL, "Concat", "Transpose"]) expect(attention.names, name).not.toContain(name);
    for (const name of ATTENTION_KERNELS) expect(fused.names, name).not.toContain(name);
    expect(composite.names).not.toContain(RMS_NORM_KERNEL);
    expect(fused.dispatching.length).toBeLessThan(composite.dispatching.length - 10 * layers);
    expect(attention.dispatching.length).toBeLessThanOrEqual(fused.dispatching.length - 10 * layers);
    const close = { absolute: 1e-5, relative: 1e-4 };
    assertClose(fused.values, composite.values, "decode-step logits, fused vs composite", close);
    assertClose(attention.values, fused.values, "decode-step logits, attention kernels vs fused", close);
    disposeCache(cache);
    tf.dispose(paramTensors(params));
  });

});

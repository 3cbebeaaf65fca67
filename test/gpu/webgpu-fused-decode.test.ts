// The webgpu fused kernels (packages/tensor-core/src/kernels/webgpu-fused.ts) in a real decode
// step: a small Qwen3 runs far fewer kernels with them than with the composites, and gives the
// same logits. Lives here, not in tensor-core, because it needs @eecot/transformer (the package
// graph forbids that import inside tensor-core). Skips without a WebGPU adapter.
import { describe, expect, it } from "vitest";
import {
  assertClose,
  fusedKernelsActive,
  initBackend,
  probeWebgpu,
  tf,
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

describe.skipIf(skipReason !== null)("webgpu fused kernels in a decode step", () => {
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
    const fused = await decodeStep();
    // The composites: the same step with the webgpu registrations taken away for a moment.
    const saved = FUSED_KERNELS.map((name) => tf.getKernel(name, "webgpu")!);
    for (const name of FUSED_KERNELS) tf.unregisterKernel(name, "webgpu");
    let composite: Awaited<ReturnType<typeof decodeStep>>;
    try {
      expect(fusedKernelsActive(RMS_NORM_KERNEL)).toBe(false);
      composite = await decodeStep();
    } finally {
      for (const kernel of saved) tf.registerKernel(kernel);
    }
    const layers = config.numLayers;
    console.log(
      `webgpu-fused-decode.test.ts: decode step of ${layers} layers: ${composite.names.length} kernels (${composite.dispatching.length} not Reshape) with the composites, ` +
        `${fused.names.length} (${fused.dispatching.length}) fused; per layer ~${((composite.dispatching.length - fused.dispatching.length) / layers).toFixed(1)} fewer`,
    );
    for (const name of [RMS_NORM_KERNEL, ROPE_KERNEL, SWIGLU_KERNEL, MASKED_SOFTMAX_KERNEL]) expect(fused.names, name).toContain(name);
    expect(composite.names).not.toContain(RMS_NORM_KERNEL);
    expect(fused.dispatching.length).toBeLessThan(composite.dispatching.length - 10 * layers);
    assertClose(fused.values, composite.values, "decode-step logits, fused vs composite", { absolute: 1e-5, relative: 1e-4 });
    disposeCache(cache);
    tf.dispose(paramTensors(params));
  });

});

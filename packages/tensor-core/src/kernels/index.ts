// Fast kernels for tfjs-wasm (SIMD AssemblyScript on tfjs-wasm's heap); plain tf ops on other
// backends, except the fused decoder ops (RMSNorm, RoPE, SwiGLU, masked softmax) and the
// inference attention kernels (cache append, attention), which also have WGSL programs for
// webgpu (webgpu-fused.ts, webgpu-attention.ts, registered by their dispatchers' files). See
// batch-mat-mul.ts, permute-axes.ts, rms-norm.ts, rope.ts, swiglu.ts, masked-softmax.ts,
// mat-mul-2d.ts, inference-attention.ts, wasm-kernels.ts, webgpu-fused.ts and webgpu-attention.ts.
export { batchMatMul, BATCH_MAT_MUL_KERNEL, type BatchMatMulOptions } from "./batch-mat-mul.js";
export { permuteAxes, planPermutation, PERMUTE_AXES_KERNEL, type PermutationPlan } from "./permute-axes.js";
export { rmsNormalize, rmsNormComposite, RMS_NORM_KERNEL, RMS_NORM_GRAD_KERNEL } from "./rms-norm.js";
export { rotaryEmbedding, ropeComposite, ROPE_KERNEL } from "./rope.js";
export { swiglu, swigluComposite, SWIGLU_KERNEL, SWIGLU_GRAD_KERNEL } from "./swiglu.js";
export { maskedSoftmax, maskedSoftmaxComposite, MASKED_SOFTMAX_KERNEL, MASKED_SOFTMAX_GRAD_KERNEL } from "./masked-softmax.js";
export {
  appendKeyValues,
  inferenceAttention,
  inferenceKernelsAvailable,
  APPEND_KEY_VALUES_KERNEL,
  INFERENCE_ATTENTION_KERNEL,
  type HeadPreparation,
} from "./inference-attention.js";
export { wasmKernelsFor, activeWasmKernels, isRecordingGradients, wasmHeapBytes, heapReport, WASM32_HEAP_MAX_BYTES } from "./wasm-kernels.js";
export { sharedIdentityRegistered } from "./shared-identity.js"; // importing it replaces tfjs-wasm's copying Identity
export { fusedKernelsActive } from "./webgpu-fused.js";
export { kernelThreads, setKernelThreads, stopKernelThreads, kernelThreadStats, MIN_PARALLEL_FLOPS, MIN_ROWS_PER_THREAD, MAX_KERNEL_THREADS } from "./threads.js";

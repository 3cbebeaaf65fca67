// @eecot/tensor-core: tensors, backends, safetensors, seeded RNG.
export { tf } from "./tf.js";
export {
  initBackend,
  currentBackend,
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendInfo,
  type InitBackendOptions,
} from "./backend.js";
export {
  probeWebgpu,
  webgpuAdapter,
  webgpuBufferPoolStats,
  mayHaveHardwareGpu,
  provideOptionalModule,
  WEBGPU_INSTALL,
  type WebgpuAdapter,
  type WebgpuProbe,
} from "./webgpu.js";
export { limitBufferPool, defaultMaxPooledBytes, type BufferPoolStats, type BufferManagerLike, type PooledBuffer } from "./webgpu-buffer-pool.js";
export {
  estimateMemory,
  countParameters,
  memoryBudget,
  checkMemory,
  assertMemoryFits,
  formatMemoryEstimate,
  formatBytes,
  resolveMemoryWorkload,
  MemoryEstimateError,
  DEFAULT_MEMORY_WORKLOAD,
  type DecoderShape,
  type MemoryWorkload,
  type MemoryEstimate,
  type MemoryBudget,
  type MemoryCheck,
  type BudgetBackend,
  type AssertMemoryOptions,
} from "./memory-estimate.js";
export {
  splitVocabularyColumns,
  splitVocabularyRows,
  disposeVocabularyChunks,
  chunkedLogits,
  chunkedTokenLogProbs,
  vocabularyChunkColumns,
  type VocabularyChunks,
} from "./chunked-logits.js";
export {
  openSafetensors,
  loadCheckpointTensors,
  writeSafetensors,
  writeSafetensorsStream,
  type SafetensorsStreamEntry,
  tensorsToRecords,
  SafetensorsFile,
  SafetensorsError,
  NonFiniteTensorError,
  findNonFinite,
  SAFETENSORS_DTYPE_BYTES,
  type SafetensorsDtype,
  type SafetensorsTensorInfo,
  type SafetensorsTensor,
  type LoadedTensor,
  type TensorData,
} from "./safetensors.js";
export {
  float16BitsToFloat32,
  bfloat16BitsToFloat32,
  float32ToFloat16Bits,
  float32ToBfloat16Bits,
} from "./half-precision.js";
export { matMul2d, linear, embeddingLookup } from "./linear.js";
export { Adam, DEFAULT_ADAM_CONSTANTS, globalGradientNorm, clipScale, type AdamConstants } from "./adam.js";
export { Rng, type RngState } from "./rng.js";
export {
  countTensorsDuring,
  expectNoLeaks,
  assertShape,
  assertClose,
  finiteDifferenceGradients,
  overwriteSafetensorsValue,
  type NoLeaksOptions,
  type CloseOptions,
  type FiniteDifferenceOptions,
} from "./testing.js";
export {
  batchMatMul,
  permuteAxes,
  rmsNormalize,
  rotaryEmbedding,
  swiglu,
  maskedSoftmax,
  appendKeyValues,
  inferenceAttention,
  inferenceKernelsAvailable,
  isRecordingGradients,
  fusedKernelsActive,
  RMS_NORM_KERNEL,
  RMS_NORM_GRAD_KERNEL,
  ROPE_KERNEL,
  SWIGLU_KERNEL,
  SWIGLU_GRAD_KERNEL,
  MASKED_SOFTMAX_KERNEL,
  MASKED_SOFTMAX_GRAD_KERNEL,
  APPEND_KEY_VALUES_KERNEL,
  INFERENCE_ATTENTION_KERNEL,
  type BatchMatMulOptions,
  type HeadPreparation,
} from "./kernels/index.js";
export { replaceDirectory } from "./atomic.js";
export { checkpointName, checkpointSteps, findLatestCheckpoint, removeOldCheckpoints } from "./checkpoint-folders.js";

// @eecot/tensor-core in a web page: everything that runs without Node (no fs, path, os,
// process or Buffer). index.ts re-exports all of it and adds the Node-only parts (backend
// selection with tfjs-node / Dawn, file reading and writing, memory checks).
export { tf } from "./tf.js";
export {
  splitVocabularyColumns,
  defaultVocabularyChunkBytes,
  splitVocabularyRows,
  disposeVocabularyChunks,
  chunkedLogits,
  chunkedTokenLogProbs,
  frozenChunkedTokenLogProbs,
  vocabularyChunkColumns,
  type VocabularyChunks,
} from "./chunked-logits.js";
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
  wasmHeapBytes,
  heapReport,
  WASM32_HEAP_MAX_BYTES,
  sharedIdentityRegistered,
  fusedKernelsActive,
  kernelThreads,
  setKernelThreads,
  stopKernelThreads,
  kernelThreadStats,
  MAX_KERNEL_THREADS,
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
export {
  SafetensorsBytes,
  SafetensorsError,
  NonFiniteTensorError,
  findNonFinite,
  loadCheckpointTensorsFrom,
  SAFETENSORS_DTYPE_BYTES,
  type SafetensorsReader,
  type SafetensorsDtype,
  type SafetensorsTensorInfo,
  type LoadedTensor,
  type TensorData,
} from "./safetensors-format.js";
export { urlFileSource, memoryFileSource, readSourceText, type FileSource, type FetchLike } from "./file-source.js";
export { initBrowserBackend, type BrowserBackendChoice, type BrowserBackendOptions, type BrowserBackendInfo } from "./browser-backend.js";

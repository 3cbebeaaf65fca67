// @eecot/tensor-core: tensors, backends, safetensors, seeded RNG. browser.ts is the part that
// also runs in a web page; this entry adds the Node-only parts.
export * from "./browser.js";
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
  WEBGPU_PACKAGES,
  webgpuInstallHint,
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
  openSafetensors,
  loadCheckpointTensors,
  writeSafetensors,
  writeSafetensorsStream,
  type SafetensorsStreamEntry,
  tensorsToRecords,
  SafetensorsFile,
  type SafetensorsTensor,
} from "./safetensors.js";
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
export { replaceDirectory } from "./atomic.js";
export { checkpointName, checkpointSteps, findLatestCheckpoint, removeOldCheckpoints } from "./checkpoint-folders.js";
export { writeFailureHint } from "./write-errors.js";
export { directoryFileSource } from "./directory-source.js";
export { wasmBinaryFiles } from "./wasm-files.js";

// Fast attention kernels for tfjs-wasm (SIMD AssemblyScript on tfjs-wasm's heap); plain tf ops
// on other backends. See batch-mat-mul.ts, permute-axes.ts and wasm-kernels.ts.
export { batchMatMul, BATCH_MAT_MUL_KERNEL, type BatchMatMulOptions } from "./batch-mat-mul.js";
export { permuteAxes, planPermutation, PERMUTE_AXES_KERNEL, type PermutationPlan } from "./permute-axes.js";
export { wasmKernelsFor, activeWasmKernels } from "./wasm-kernels.js";

// Kernel fixes for tfjs-backend-webgpu 4.22.0.
// - AddN binds every input as a storage buffer in one shader, so more inputs than the device's
//   maxStorageBuffersPerShaderStage − 1 (7 by default; 15 on lavapipe) fail validation and
//   return garbage: tf.addN over a model's gradients (a global gradient norm) hits this. The
//   wrapper adds in groups that fit, as the backend's own Concat already does.
// - BatchMatMul's split-K program (chosen for a small output and K >= 2000) computes wrong
//   values when B is transposed: [11, 4096] · [64, 4096]ᵀ differs from wasm by 275 at a scale of
//   190 (lavapipe; it is the same WGSL everywhere). Such calls use the small-output program the
//   backend picks otherwise; untransposed split-K is correct and kept.
import { tf } from "./tf.js";

interface WebgpuBackendLike {
  readonly device: { readonly limits: { readonly maxStorageBuffersPerShaderStage: number } };
  /** Workgroup count under which tfjs looks for more parallelism (8, or 16 on Intel gen 12+). */
  readonly thresholdToIncreaseWorkgroups?: number;
  disposeData(dataId: object): boolean;
}

let addNSplit = false;
let splitKGuarded = false;

const PROGRAM_TYPE_FLAG = "WEBGPU_MATMUL_PROGRAM_TYPE";
const SMALL_OUTPUT_SIZE_PROGRAM = 2; // tfjs-backend-webgpu's MatMulProgramType.MatMulSmallOutputSizeProgram

/** Whether tfjs 4.22's automatic choice (kernels/BatchMatMul_impl.ts) would be the split-K program. */
export function wouldUseSplitK(aShape: readonly number[], bShape: readonly number[], transposeA: boolean, transposeB: boolean, threshold = 8): boolean {
  const rankA = aShape.length;
  const rankB = bShape.length;
  const inner = transposeA ? aShape[rankA - 2]! : aShape[rankA - 1]!;
  const outerA = transposeA ? aShape[rankA - 1]! : aShape[rankA - 2]!;
  const outerB = transposeB ? bShape[rankB - 2]! : bShape[rankB - 1]!;
  const batch = Math.max(aShape.slice(0, -2).reduce((p, d) => p * d, 1), bShape.slice(0, -2).reduce((p, d) => p * d, 1));
  const workgroups = batch * Math.ceil(outerA / 32) * Math.ceil(outerB / 32);
  const fewWorkgroups = workgroups <= threshold || (outerA <= 8 && workgroups <= threshold * 2);
  return fewWorkgroups && batch * outerA * outerB > 128 && batch === 1 && inner >= 2000;
}

/** Wraps webgpu's BatchMatMul so transposed-B products never take the split-K program. Idempotent. */
export function avoidSplitKWithTransposedB(): void {
  if (splitKGuarded) return;
  const original = tf.getKernel("BatchMatMul", "webgpu");
  if (!original) return;
  tf.unregisterKernel("BatchMatMul", "webgpu");
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "webgpu",
    kernelFunc: (args) => {
      const { a, b } = args.inputs as unknown as { a: tf.TensorInfo; b: tf.TensorInfo };
      const transposeA = Boolean(args.attrs?.transposeA);
      const transposeB = Boolean(args.attrs?.transposeB);
      const flags = tf.env();
      const chosen = flags.getNumber(PROGRAM_TYPE_FLAG);
      const threshold = (args.backend as unknown as WebgpuBackendLike).thresholdToIncreaseWorkgroups ?? 8;
      if (!transposeB || chosen >= 0 || !wouldUseSplitK(a.shape, b.shape, transposeA, transposeB, threshold)) return original.kernelFunc(args);
      flags.set(PROGRAM_TYPE_FLAG, SMALL_OUTPUT_SIZE_PROGRAM);
      try {
        return original.kernelFunc(args);
      } finally {
        flags.set(PROGRAM_TYPE_FLAG, chosen);
      }
    },
  });
  splitKGuarded = true;
}

/** Replaces webgpu's AddN kernel with one that sums in groups fitting the storage-buffer limit. Idempotent. */
export function splitWebgpuAddN(): void {
  if (addNSplit) return;
  const original = tf.getKernel("AddN", "webgpu");
  if (!original) return;
  tf.unregisterKernel("AddN", "webgpu");
  tf.registerKernel({
    kernelName: "AddN",
    backendName: "webgpu",
    kernelFunc: (args) => {
      const inputs = args.inputs as unknown as tf.TensorInfo[];
      const backend = args.backend as unknown as WebgpuBackendLike;
      const group = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1); // one buffer is the output
      if (inputs.length <= group) return original.kernelFunc(args);
      const partials: tf.TensorInfo[] = [];
      let level = inputs;
      while (level.length > group) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < level.length; i += group) {
          const slice = level.slice(i, i + group);
          if (slice.length === 1) {
            next.push(slice[0]!);
            continue;
          }
          const sum = original.kernelFunc({ ...args, inputs: slice as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
          partials.push(sum);
          next.push(sum);
        }
        level = next;
      }
      const result = original.kernelFunc({ ...args, inputs: level as unknown as tf.NamedTensorInfoMap });
      // Freed once the queued work that reads them has been submitted (tfjs defers it).
      for (const partial of partials) backend.disposeData(partial.dataId);
      return result;
    },
  });
  addNSplit = true;
}

// Axis permutations (tf.transpose) that run fast on tfjs-wasm. Adjacent axes that stay adjacent
// are merged and size-1 axes dropped first; what remains of attention's reshapes is one of two
// forms with a SIMD kernel in assembly/kernels.ts:
//   [N, R, C] -> [N, C, R]        (keys to keysᵀ: the last axis moves)
//   [N, X, Y, L] -> [N, Y, X, L]  (heads to and from the batch: rows of L floats move)
// Any other permutation, any dtype but float32/int32, and every other backend use tf.transpose.
import { tf } from "../tf.js";
import { activeWasmKernels, heapOffset, wasmKernelsFor } from "./wasm-kernels.js";

export const PERMUTE_AXES_KERNEL = "EecotPermuteAxes";

/** A permutation reduced to one of the kernel forms, or null when no kernel fits. */
export type PermutationPlan =
  | { readonly kind: "copy" }
  | { readonly kind: "transposeLastTwo"; readonly batch: number; readonly rows: number; readonly columns: number }
  | { readonly kind: "swapMiddleAxes"; readonly batch: number; readonly x: number; readonly y: number; readonly length: number };

/** Checks that `perm` is a permutation of 0..rank-1. */
function validatePermutation(shape: readonly number[], perm: readonly number[]): void {
  const seen = new Set(perm);
  const valid = perm.length === shape.length && seen.size === perm.length && perm.every((axis) => Number.isInteger(axis) && axis >= 0 && axis < shape.length);
  if (!valid) throw new Error(`permuteAxes: [${perm.join(", ")}] is not a permutation of the ${shape.length} axes of [${shape.join(", ")}]`);
}

/**
 * Drops size-1 axes, merges input axes that stay adjacent and in order under `perm`, then
 * matches the remaining permutation against the kernel forms.
 */
export function planPermutation(shape: readonly number[], perm: readonly number[]): PermutationPlan | null {
  const keptAxes = shape.map((_, axis) => axis).filter((axis) => shape[axis] !== 1);
  const order = perm.filter((axis) => shape[axis] !== 1).map((axis) => keptAxes.indexOf(axis)); // output order
  const sizes = keptAxes.map((axis) => shape[axis]!); // input order
  // Runs of consecutive input axes, in output order: [first, last].
  const groups: [number, number][] = [];
  for (const axis of order) {
    const last = groups[groups.length - 1];
    if (last && last[1] + 1 === axis) last[1] = axis;
    else groups.push([axis, axis]);
  }
  const byInput = [...groups].sort((x, y) => x[0] - y[0]);
  const groupSizes = byInput.map(([first, last]) => sizes.slice(first, last + 1).reduce((product, size) => product * size, 1)); // input order
  const key = groups.map((group) => byInput.indexOf(group)).join(","); // merged perm
  const size = (inputPosition: number) => groupSizes[inputPosition]!;
  if (groups.length <= 1) return { kind: "copy" };
  if (key === "1,0") return { kind: "transposeLastTwo", batch: 1, rows: size(0), columns: size(1) };
  if (key === "0,2,1") return { kind: "transposeLastTwo", batch: size(0), rows: size(1), columns: size(2) };
  if (key === "1,0,2") return { kind: "swapMiddleAxes", batch: 1, x: size(0), y: size(1), length: size(2) };
  if (key === "0,2,1,3") return { kind: "swapMiddleAxes", batch: size(0), x: size(1), y: size(2), length: size(3) };
  return null;
}

/**
 * tf.transpose(x, perm) that runs as one SIMD kernel call on wasm for the permutations attention
 * uses (see the file comment); gradient: the inverse permutation.
 */
export function permuteAxes<T extends tf.Tensor>(x: T, perm: readonly number[]): T {
  validatePermutation(x.shape, perm);
  if ((x.dtype === "float32" || x.dtype === "int32") && activeWasmKernels()) {
    const plan = planPermutation(x.shape, perm);
    if (plan?.kind === "copy") return tf.reshape(x, permutedShape(x.shape, perm)) as T; // only size-1 axes move
    if (plan) return tf.engine().runKernel(PERMUTE_AXES_KERNEL, { x }, { perm: [...perm] }) as T;
  }
  return tf.transpose(x, [...perm]);
}

function permutedShape(shape: readonly number[], perm: readonly number[]): number[] {
  return perm.map((axis) => shape[axis]!);
}

/** The wasm backend kernel: one call into the matching SIMD kernel. */
function permuteAxesKernel({ inputs, backend, attrs }: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const x = inputs.x!;
  const perm = attrs?.perm as number[];
  const kernels = wasmKernelsFor(backend);
  if (!kernels) throw new Error(`${PERMUTE_AXES_KERNEL}: the wasm backend's heap is not reachable`);
  const plan = planPermutation(x.shape, perm);
  if (!plan) throw new Error(`${PERMUTE_AXES_KERNEL}: no kernel for [${x.shape.join(", ")}] permuted by [${perm.join(", ")}]`);
  const out = kernels.backend.makeOutput(permutedShape(x.shape, perm), x.dtype as "float32");
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  const source = heapOffset(kernels, x);
  const target = heapOffset(kernels, out);
  switch (plan.kind) {
    case "copy":
      kernels.exports.swapMiddleAxes(source, target, 1, 1, 1, tf.util.sizeFromShape(x.shape));
      break;
    case "transposeLastTwo":
      kernels.exports.transposeLastTwo(source, target, plan.batch, plan.rows, plan.columns);
      break;
    case "swapMiddleAxes":
      kernels.exports.swapMiddleAxes(source, target, plan.batch, plan.x, plan.y, plan.length);
      break;
  }
  return out;
}

function permuteAxesGradient(dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: tf.NamedAttrMap): { x: () => tf.Tensor } {
  const perm = attrs.perm as number[];
  const inverse = new Array<number>(perm.length);
  perm.forEach((axis, position) => (inverse[axis] = position));
  return { x: () => permuteAxes(dy as tf.Tensor, inverse) };
}

if (!tf.getKernel(PERMUTE_AXES_KERNEL, "wasm")) {
  tf.registerKernel({ kernelName: PERMUTE_AXES_KERNEL, backendName: "wasm", kernelFunc: permuteAxesKernel as unknown as tf.KernelFunc });
  tf.registerGradient({ kernelName: PERMUTE_AXES_KERNEL, gradFunc: permuteAxesGradient as unknown as tf.GradFunc });
}

// Test helpers for tensor code: leak checks, shape assertions, closeness with a readable max
// difference, and finite-difference gradients. They throw plain Errors, so they work in any
// test runner (and in scripts).
import { open } from "node:fs/promises";
import { float32ToBfloat16Bits, float32ToFloat16Bits } from "./half-precision.js";
import { tf } from "./tf.js";

/** Runs `fn` and reports tf.memory().numTensors before and after. */
export function countTensorsDuring<T>(fn: () => T): { result: T; before: number; after: number; created: number } {
  const before = tf.memory().numTensors;
  const result = fn();
  const after = tf.memory().numTensors;
  return { result, before, after, created: after - before };
}

export interface NoLeaksOptions {
  /** Measured calls. Default 3. */
  iterations?: number;
  /** Unmeasured calls first, for lazily created state (variables, caches). Default 1. */
  warmup?: number;
}

/**
 * Calls `fn` repeatedly and throws if the number of live tensors grows. Tensors `fn` returns
 * (a tensor or an array of tensors) are disposed for it; everything else it must clean up.
 */
export async function expectNoLeaks(fn: () => unknown, options: NoLeaksOptions = {}): Promise<void> {
  const { iterations = 3, warmup = 1 } = options;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`expectNoLeaks: iterations must be a positive integer, got ${iterations}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`expectNoLeaks: warmup must be a non-negative integer, got ${warmup}`);
  const call = async () => {
    const result = await fn();
    if (result instanceof tf.Tensor) result.dispose();
    else if (Array.isArray(result) && result.every((item) => item instanceof tf.Tensor)) tf.dispose(result as tf.Tensor[]);
  };
  for (let i = 0; i < warmup; i++) await call();
  const before = tf.memory().numTensors;
  for (let i = 0; i < iterations; i++) await call();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`tensor leak: ${after - before} tensors more after ${iterations} iterations (${before} before, ${after} after; ${((after - before) / iterations).toFixed(1)} per call)`);
  }
}

const formatShape = (shape: readonly (number | null)[]) => `[${shape.map((d) => (d === null ? "?" : d)).join(", ")}]`;

/**
 * Throws unless `tensor`'s shape matches `expected`, where null matches any size:
 * "attention scores: expected shape [2, 4, ?, 17], got [2, 4, 6, 16]".
 */
export function assertShape(tensor: tf.Tensor | { readonly shape: readonly number[] }, expected: readonly (number | null)[], name: string): void {
  const actual = tensor.shape;
  const ok = actual.length === expected.length && expected.every((d, i) => d === null || d === actual[i]);
  if (!ok) throw new Error(`${name}: expected shape ${formatShape(expected)}, got ${formatShape(actual)}`);
}

export interface CloseOptions {
  /** Absolute tolerance. Default 1e-5. */
  absolute?: number;
  /** Relative tolerance (times |expected|). Default 1e-4. */
  relative?: number;
}

/**
 * Throws unless |actual - expected| <= absolute + relative * |expected| everywhere, naming the
 * worst element and the largest difference. Returns the largest absolute difference.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, name: string, options: CloseOptions = {}): number {
  const { absolute = 1e-5, relative = 1e-4 } = options;
  if (actual.length !== expected.length) throw new Error(`${name}: expected ${expected.length} values, got ${actual.length}`);
  let maxDifference = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Object.is(a, e) || a === e) continue; // equal, same-signed infinities, or both NaN
    if (!Number.isFinite(a) || !Number.isFinite(e)) throw new Error(`${name}: element ${i} is ${a}, expected ${e}`);
    const difference = Math.abs(a - e);
    maxDifference = Math.max(maxDifference, difference);
    const excess = difference - (absolute + relative * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Error(`${name}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (max abs difference ${maxDifference.toExponential(3)}; tolerance ${absolute} + ${relative}·|expected|)`);
  }
  return maxDifference;
}

export interface FiniteDifferenceOptions {
  /** Perturbation h of the central difference (f(x+h) - f(x-h)) / 2h. Default 1e-2 (float32). */
  step?: number;
  /** Indices of the inputs to differentiate. Default: every float32 input. */
  wrt?: readonly number[];
}

/**
 * Central finite-difference gradients of the scalar `f(...inputs)`, one Float64Array per input
 * (empty for inputs not in `wrt`). Costs 2 evaluations of f per element: for small tensors.
 */
export async function finiteDifferenceGradients(
  f: (...inputs: tf.Tensor[]) => tf.Scalar | tf.Tensor,
  inputs: readonly tf.Tensor[],
  options: FiniteDifferenceOptions = {},
): Promise<Float64Array[]> {
  const step = options.step ?? 1e-2;
  const wrt = options.wrt ?? inputs.flatMap((input, i) => (input.dtype === "float32" ? [i] : []));
  const evaluate = async (replaced: number, values: Float32Array): Promise<number> => {
    const out = tf.tidy(() => {
      const args = inputs.map((input, i) => (i === replaced ? tf.tensor(values, input.shape, "float32") : input));
      const y = f(...args);
      if (y.size !== 1) throw new Error(`finiteDifferenceGradients: f must return a scalar, got shape [${y.shape.join(", ")}]`);
      return tf.reshape(y, []);
    });
    const [value] = await out.data();
    out.dispose();
    return value!;
  };
  const gradients: Float64Array[] = [];
  for (let index = 0; index < inputs.length; index++) {
    const input = inputs[index]!;
    if (!wrt.includes(index)) {
      gradients.push(new Float64Array(0));
      continue;
    }
    if (input.dtype !== "float32") throw new Error(`finiteDifferenceGradients: input ${index} is ${input.dtype}, not float32`);
    const base = Float32Array.from(await input.data<"float32">());
    const gradient = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) {
      const original = base[i]!;
      base[i] = original + step;
      const up = base[i]!; // the float32 actually used
      const plus = await evaluate(index, base);
      base[i] = original - step;
      const down = base[i]!;
      const minus = await evaluate(index, base);
      base[i] = original;
      gradient[i] = (plus - minus) / (up - down);
    }
    gradients.push(gradient);
  }
  return gradients;
}

/**
 * Overwrites element `index` of float tensor `name` inside the safetensors file at `path` with
 * `value` (e.g. NaN or Infinity), in the tensor's own dtype: for fault tests on saved files.
 */
export async function overwriteSafetensorsValue(path: string, name: string, value: number, index = 0): Promise<void> {
  const handle = await open(path, "r+");
  try {
    const prefix = Buffer.alloc(8);
    await handle.read(prefix, 0, 8, 0);
    const headerLength = Number(prefix.readBigUInt64LE(0));
    const header = Buffer.alloc(headerLength);
    await handle.read(header, 0, headerLength, 8);
    const entry = (JSON.parse(header.toString("utf8")) as Record<string, { dtype: string; data_offsets: [number, number] }>)[name];
    if (!entry) throw new Error(`overwriteSafetensorsValue: no tensor ${name} in ${path}`);
    const float = new Float32Array([value]);
    const bytes =
      entry.dtype === "F32" ? new Uint8Array(float.buffer)
      : entry.dtype === "BF16" ? new Uint8Array(float32ToBfloat16Bits(float).buffer)
      : entry.dtype === "F16" ? new Uint8Array(float32ToFloat16Bits(float).buffer)
      : null;
    if (!bytes) throw new Error(`overwriteSafetensorsValue: tensor ${name} in ${path} is ${entry.dtype}, not a float`);
    const position = 8 + headerLength + entry.data_offsets[0] + index * bytes.length;
    if (position + bytes.length > 8 + headerLength + entry.data_offsets[1]) throw new Error(`overwriteSafetensorsValue: index ${index} is outside tensor ${name}`);
    await handle.write(bytes, 0, bytes.length, position);
  } finally {
    await handle.close();
  }
}

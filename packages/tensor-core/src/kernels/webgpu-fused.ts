// WGSL versions of the fused decoder kernels (RMSNorm, RoPE, SwiGLU, masked softmax and their
// gradients) for tfjs-backend-webgpu 4.22. On webgpu a decode step is dispatch-bound (each tfjs
// op costs ~0.1 ms of JS and Dawn work whatever its size), so one program per op instead of the
// 3–6 of each tf composite is what counts. The dispatchers (rms-norm.ts, rope.ts, swiglu.ts,
// masked-softmax.ts) register these functions for backendName "webgpu" under the same kernel
// names as their wasm kernels, so the registered gradients (backend-independent) apply.
//
// A program is a plain object in tfjs-webgpu's WebGPUProgram form, run with
// `backend.runWebGPUProgram(program, inputs, dtype, uniforms)`. tfjs writes the shader header:
// `result` (the output buffer), one read-only storage array per name in `variableNames`, a
// `uniforms` struct (xShape, ..., outShape, size, then the program's own `uniforms` fields), and
// calls `main(index)` with the global invocation index. The programs here index the flat arrays
// directly; inputs are passed with 1-D or 2-D shapes of our choosing (the data is not copied).
// Nothing here imports tfjs-backend-webgpu (an optional dependency): the backend arrives as the
// kernel's `backend` argument.
// R rows, D row width (normalised axis), N heads, S keys; WG threads per workgroup.
import { tf } from "../tf.js";
import { activeWasmKernels } from "./wasm-kernels.js";

/** The part of tfjs-webgpu's WebGPUProgram these programs fill in. */
export interface WebgpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  variableNames: string[];
  uniforms?: string;
  size?: boolean;
  getUserCode(): string;
}

/** One field of the program's own uniforms: one entry per scalar (tfjs aligns an entry of n values as a vecn). */
export type ProgramUniform = { type: "float32" | "int32"; data: number[] };
export const integer = (value: number): ProgramUniform => ({ type: "int32", data: [value] });
export const float = (value: number): ProgramUniform => ({ type: "float32", data: [value] });

/** The part of tfjs-webgpu's WebGPUBackend used here (not in tfjs-core's typings). */
export interface WebgpuBackendLike {
  runWebGPUProgram(program: WebgpuProgram, inputs: tf.TensorInfo[], outputDtype: "float32", uniforms?: ProgramUniform[]): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** Threads per workgroup for elementwise programs. */
const ELEMENTWISE_WORKGROUP = 64;

/**
 * WGSL of the workgroup reductions the row programs share: `partial` (WG floats of workgroup
 * memory; the program defines `const WG`) and `rowSum(value, tid)` / `rowMax(value, tid)`, which
 * every thread of the workgroup must call (they hold barriers).
 */
export const WORKGROUP_REDUCTIONS_WGSL = `
      var<workgroup> partial : array<f32, WG>;
      fn rowSum(value : f32, tid : i32) -> f32 {
        workgroupBarrier(); // earlier readers of partial are done
        partial[tid] = value;
        workgroupBarrier();
        for (var stride = WG / 2; stride > 0; stride = stride / 2) {
          if (tid < stride) {
            partial[tid] = partial[tid] + partial[tid + stride];
          }
          workgroupBarrier();
        }
        return partial[0];
      }
      fn rowMax(value : f32, tid : i32) -> f32 {
        workgroupBarrier();
        partial[tid] = value;
        workgroupBarrier();
        for (var stride = WG / 2; stride > 0; stride = stride / 2) {
          if (tid < stride) {
            partial[tid] = max(partial[tid], partial[tid + stride]);
          }
          workgroupBarrier();
        }
        return partial[0];
      }
`;

/** Threads per workgroup for one-row-per-workgroup programs (tfjs's own softmax uses 64 / 256). */
function rowWorkgroup(width: number): number {
  return width >= 1024 ? 256 : 64;
}

/** The same data viewed with another shape (no copy; tfjs-webgpu's Reshape does the same). */
export function view(tensor: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: tensor.dataId, shape, dtype: tensor.dtype };
}

export function webgpuBackend(backend: unknown, kernelName: string): WebgpuBackendLike {
  const candidate = backend as Partial<WebgpuBackendLike> | null;
  if (!candidate || typeof candidate.runWebGPUProgram !== "function") throw new Error(`${kernelName}: the active backend is not tfjs-backend-webgpu (no runWebGPUProgram)`);
  return candidate as WebgpuBackendLike;
}

/**
 * True when `kernelName` runs as one fused kernel on the active backend: wasm (the SIMD kernels,
 * when tfjs-wasm's heap is reachable) or webgpu (the WGSL programs here, once registered). cpu
 * and tensorflow keep the tf composites.
 */
export function fusedKernelsActive(kernelName: string): boolean {
  const name = tf.getBackend();
  if (name === "wasm") return activeWasmKernels() !== null;
  return name === "webgpu" && tf.getKernel(kernelName, "webgpu") !== undefined;
}

/** A flat program with one thread per output element; `body` assigns `result[index]`. */
export function elementwiseProgram(shaderKey: string, variableNames: string[], outputShape: number[], uniforms: string, helpers: string, body: string): WebgpuProgram {
  const size = tf.util.sizeFromShape(outputShape);
  return {
    outputShape,
    shaderKey,
    dispatchLayout: { x: outputShape.map((_, axis) => axis) },
    dispatch: [Math.ceil(size / ELEMENTWISE_WORKGROUP), 1, 1],
    workgroupSize: [ELEMENTWISE_WORKGROUP, 1, 1],
    variableNames,
    uniforms,
    size: true,
    getUserCode: () => `
      ${helpers}
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/**
 * One workgroup per row of `outputShape` [rows, width] (the rows in `outputShape[0]`). `body`
 * runs with `row`, `tid`, `rows`, `width` and the helper `rowSum(value)`, which sums one value
 * per thread over the workgroup (every thread must call it: it holds barriers). Rows past
 * `rows` (a dispatch tfjs reshaped over the 65535 limit) compute on clamped reads and write
 * nothing.
 */
function rowProgram(shaderKey: string, variableNames: string[], outputShape: [number, number], width: number, uniforms: string, body: string): WebgpuProgram {
  const workgroup = rowWorkgroup(width);
  return {
    outputShape,
    shaderKey,
    dispatchLayout: { x: [0, 1] },
    dispatch: [outputShape[0], 1, 1],
    workgroupSize: [workgroup, 1, 1],
    variableNames,
    uniforms,
    getUserCode: () => `
      const WG = ${workgroup};
      ${WORKGROUP_REDUCTIONS_WGSL}
      fn main(index : i32) {
        let row = index / WG;
        let tid = i32(localId.x);
        let rows = uniforms.outShape[0];
        let width = uniforms.outShape[1];
        let valid = row < rows;
        ${body}
      }`,
  };
}

/** Rows and width of a tensor normalised over its last axis. */
function rowsOf(shape: readonly number[]): [number, number] {
  const width = shape[shape.length - 1] ?? 1;
  return [width === 0 ? 0 : tf.util.sizeFromShape(shape as number[]) / width, width];
}

// ---------------------------------------------------------------------------------------------
// RMSNorm: y = x · rsqrt(mean(x²) + ε) · w, x [R, D], w [D]

/** y [R, D]: one workgroup per row (sum of squares reduced in shared memory). */
export function rmsNormWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, weight } = inputs as { x: tf.TensorInfo; weight: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotRmsNorm (webgpu)");
  const [R, D] = rowsOf(x.shape);
  const program = rowProgram("eecotRmsNorm", ["x", "w"], [R, D], D, "eps : f32,", `
        let base = row * width;
        var squares = 0.0;
        if (valid) {
          for (var c = tid; c < width; c += WG) { let v = x[base + c]; squares += v * v; }
        }
        let scale = inverseSqrt(rowSum(squares, tid) / f32(width) + uniforms.eps);
        if (valid) {
          for (var c = tid; c < width; c += WG) { result[base + c] = x[base + c] * scale * w[c]; }
        }`);
  const out = gpu.runWebGPUProgram(program, [view(x, [R, D]), weight], "float32", [float(Number(attrs?.eps))]);
  return view(out, [...x.shape]);
}

/**
 * [dx, dweight] for dy [R, D]: three programs. r = rsqrt(mean(x²) + ε) per row [R]; then
 * dx = r · w · dy − x · r³ · Σ(dy · w · x) / D (one workgroup per row), and
 * dweight = Σ_rows dy · x · r (one thread per column).
 */
export function rmsNormGradWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { dy, x, weight } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; weight: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotRmsNormGrad (webgpu)");
  const [R, D] = rowsOf(x.shape);
  const eps: ProgramUniform[] = [float(Number(attrs?.eps))];
  const x2 = view(x, [R, D]);
  const dy2 = view(dy, [R, D]);
  // r [R] (as [R, 1]): each workgroup reads a row of x but writes one value.
  const inverseRms = gpu.runWebGPUProgram(
    rowProgram("eecotRmsNormInverse", ["x"], [R, 1], D, "eps : f32, width : i32,", `
        let base = row * uniforms.width;
        var squares = 0.0;
        if (valid) {
          for (var c = tid; c < uniforms.width; c += WG) { let v = x[base + c]; squares += v * v; }
        }
        let total = rowSum(squares, tid);
        if (valid && tid == 0) { result[row] = inverseSqrt(total / f32(uniforms.width) + uniforms.eps); }`),
    [x2], "float32", [...eps, integer(D)],
  );
  const dx = gpu.runWebGPUProgram(
    rowProgram("eecotRmsNormGradX", ["dy", "x", "w", "r"], [R, D], D, "", `
        let base = row * width;
        var projection = 0.0;
        if (valid) {
          for (var c = tid; c < width; c += WG) { projection += dy[base + c] * w[c] * x[base + c]; }
        }
        let total = rowSum(projection, tid);
        if (valid) {
          let scale = r[row];
          let correction = scale * scale * scale * total / f32(width);
          for (var c = tid; c < width; c += WG) {
            result[base + c] = scale * w[c] * dy[base + c] - x[base + c] * correction;
          }
        }`),
    [dy2, x2, weight, inverseRms], "float32",
  );
  const dWeight =
    R === 0
      ? gpu.runWebGPUProgram(elementwiseProgram("eecotZeros", [], [D], "", "", "result[index] = 0.0;"), [], "float32")
      : gpu.runWebGPUProgram(
          elementwiseProgram("eecotRmsNormGradWeight", ["dy", "x", "r"], [D], "rows : i32, width : i32,", "", `
          var total = 0.0;
          for (var row = 0; row < uniforms.rows; row++) {
            let at = row * uniforms.width + index;
            total += dy[at] * x[at] * r[row];
          }
          result[index] = total;`),
          [dy2, x2, inverseRms], "float32", [integer(R), integer(D)],
        );
  gpu.disposeData(inverseRms.dataId); // freed once the queued programs that read it are submitted
  return [view(dx, [...x.shape]), dWeight];
}

// ---------------------------------------------------------------------------------------------
// RoPE (rotate half): y = x · cos + rotate_half(x) · sin, x [R, N, D], tables [R, D], h = D / 2

/**
 * y [B, T, N, D]. Element d of a head pairs with p = d ± h: y_d = x_d·cos_d − x_p·sin_d (d < h)
 * or x_d·cos_d + x_p·sin_d (d ≥ h). `inverse` applies the transpose (the gradient):
 * dx_d = dy_d·cos_d + dy_p·sin_p (d < h) or dy_d·cos_d − dy_p·sin_p (d ≥ h).
 */
export function ropeWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, cos, sin } = inputs as { x: tf.TensorInfo; cos: tf.TensorInfo; sin: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotRope (webgpu)");
  const [B, T, N, D] = x.shape as [number, number, number, number];
  const size = B * T * N * D;
  const inverse = attrs?.inverse ? 1 : 0;
  const program = elementwiseProgram("eecotRope", ["x", "cosTable", "sinTable"], [size], "heads : i32, width : i32, inverse : i32,", "", `
          let width = uniforms.width;
          let halfWidth = width / 2;
          let d = index % width;
          let table = (index / (uniforms.heads * width)) * width;
          let first = d < halfWidth;
          let partner = select(index - halfWidth, index + halfWidth, first);
          let direction = select(1.0, -1.0, first);
          let c = cosTable[table + d];
          if (uniforms.inverse == 0) {
            result[index] = x[index] * c + direction * x[partner] * sinTable[table + d];
          } else {
            let p = select(d - halfWidth, d + halfWidth, first);
            result[index] = x[index] * c - direction * x[partner] * sinTable[table + p];
          }`);
  const tables = [view(cos, [B * T * D]), view(sin, [B * T * D])];
  const out = gpu.runWebGPUProgram(program, [view(x, [size]), ...tables], "float32", [integer(N), integer(D), integer(inverse)]);
  return view(out, [B, T, N, D]);
}

// ---------------------------------------------------------------------------------------------
// SwiGLU: y = g · σ(g) · u, elementwise

const SIGMOID = "1.0 / (1.0 + exp(-1.0 * g))"; // tfjs-webgpu's own Sigmoid

/** y = g · σ(g) · u. */
export function swigluWebgpu({ inputs, backend }: KernelArgs): tf.TensorInfo {
  const { gate, up } = inputs as { gate: tf.TensorInfo; up: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotSwiglu (webgpu)");
  const size = tf.util.sizeFromShape(gate.shape);
  const program = elementwiseProgram("eecotSwiglu", ["gate", "up"], [size], "", "", `
          let g = gate[index];
          result[index] = g * (${SIGMOID}) * up[index];`);
  return view(gpu.runWebGPUProgram(program, [view(gate, [size]), view(up, [size])], "float32"), [...gate.shape]);
}

/** [dgate, dup]: dgate = dy · u · σ(g) · (1 + g · (1 − σ(g))), dup = dy · g · σ(g); one program each. */
export function swigluGradWebgpu({ inputs, backend }: KernelArgs): tf.TensorInfo[] {
  const { dy, gate, up } = inputs as { dy: tf.TensorInfo; gate: tf.TensorInfo; up: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotSwigluGrad (webgpu)");
  const size = tf.util.sizeFromShape(gate.shape);
  const flat = [view(dy, [size]), view(gate, [size]), view(up, [size])];
  const dGate = elementwiseProgram("eecotSwigluGradGate", ["dy", "gate", "up"], [size], "", "", `
          let g = gate[index];
          let s = ${SIGMOID};
          result[index] = dy[index] * up[index] * s * (1.0 + g * (1.0 - s));`);
  // Every declared input must be read: the shader's layout drops unused bindings.
  const dUp = elementwiseProgram("eecotSwigluGradUp", ["dy", "gate"], [size], "", "", `
          let g = gate[index];
          result[index] = dy[index] * g * (${SIGMOID});`);
  return [gpu.runWebGPUProgram(dGate, flat, "float32"), gpu.runWebGPUProgram(dUp, flat.slice(0, 2), "float32")].map((t) => view(t, [...gate.shape]));
}

// ---------------------------------------------------------------------------------------------
// Masked softmax: y = softmax(x · scale + mask), x [B, H, T, S], mask [B, T, S] shared by the heads

/** y [B, H, T, S]: one workgroup per row of S (max, then sum of exponentials, in shared memory). */
export function maskedSoftmaxWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { scores, mask } = inputs as { scores: tf.TensorInfo; mask: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotMaskedSoftmax (webgpu)");
  const [B, H, T, S] = scores.shape as [number, number, number, number];
  const R = B * H * T;
  const program = rowProgram("eecotMaskedSoftmax", ["x", "mask"], [R, S], S, "heads : i32, positions : i32, scale : f32,", `
        let base = row * width;
        let t = row % uniforms.positions;
        let b = row / (uniforms.heads * uniforms.positions);
        let maskBase = (b * uniforms.positions + t) * width;
        var largest = -3.402823e+38f;
        if (valid) {
          for (var c = tid; c < width; c += WG) { largest = max(largest, x[base + c] * uniforms.scale + mask[maskBase + c]); }
        }
        let top = rowMax(largest, tid);
        var total = 0.0;
        if (valid) {
          for (var c = tid; c < width; c += WG) { total += exp(x[base + c] * uniforms.scale + mask[maskBase + c] - top); }
        }
        let sum = rowSum(total, tid);
        if (valid) {
          for (var c = tid; c < width; c += WG) { result[base + c] = exp(x[base + c] * uniforms.scale + mask[maskBase + c] - top) / sum; }
        }`);
  const uniforms: ProgramUniform[] = [integer(H), integer(T), float(Number(attrs?.scale))];
  const out = gpu.runWebGPUProgram(program, [view(scores, [R, S]), view(mask, [B * T * S])], "float32", uniforms);
  return view(out, [B, H, T, S]);
}

/** dx = scale · y · (dy − Σ dy·y) per row of S: one workgroup per row. */
export function maskedSoftmaxGradWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { dy, y } = inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotMaskedSoftmaxGrad (webgpu)");
  const [R, S] = rowsOf(y.shape);
  const program = rowProgram("eecotMaskedSoftmaxGrad", ["dy", "y"], [R, S], S, "scale : f32,", `
        let base = row * width;
        var projection = 0.0;
        if (valid) {
          for (var c = tid; c < width; c += WG) { projection += dy[base + c] * y[base + c]; }
        }
        let total = rowSum(projection, tid);
        if (valid) {
          for (var c = tid; c < width; c += WG) { result[base + c] = uniforms.scale * y[base + c] * (dy[base + c] - total); }
        }`);
  const out = gpu.runWebGPUProgram(program, [view(dy, [R, S]), view(y, [R, S])], "float32", [float(Number(attrs?.scale))]);
  return view(out, [...y.shape]);
}

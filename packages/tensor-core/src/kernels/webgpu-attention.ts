// WGSL versions of the inference-only attention kernels (inference-attention.ts) for
// tfjs-backend-webgpu 4.22: the cache append (keys q/k-normed and rotated on the way, optionally
// one slab of a stack) and grouped-query softmax attention over the cache. A decode step on
// webgpu is dispatch-bound (~0.1 ms per op whatever its size), so these replace a layer's
// RMSNorm + RoPE + 2 Transpose + 2 Concat (append) and RMSNorm + RoPE + Transpose + 2
// BatchMatMul + masked softmax + Transpose (attention) with 2 + 1 programs. No gradients; the
// dispatcher (inference-attention.ts) runs them only while no tape records, and registers them
// for backendName "webgpu" under the wasm kernels' names.
//
// Program form as in webgpu-fused.ts: a plain WebGPUProgram object run by
// `backend.runWebGPUProgram(program, inputs, dtype, uniforms)`, flat buffers indexed directly,
// one uniform entry per scalar, every declared input read (unused bindings break the bind
// group). Code baked into a shader (head dim, workgroup size, which inputs exist) is part of its
// shaderKey: tfjs caches pipelines by shaderKey and input ranks only.
// B batch, T new positions, P cached positions, S = P + T, H query heads, K kv heads, D head dim,
// L stacked layers (the slab form), WG threads per workgroup.
import { tf } from "../tf.js";
import { elementwiseProgram, float, integer, view, webgpuBackend, WORKGROUP_REDUCTIONS_WGSL, type KernelArgs, type WebgpuProgram } from "./webgpu-fused.js";

/** Attention weights held in shared memory at a time (S is walked in tiles of this many keys). */
const KEY_TILE = 256;

/** Which preparation inputs exist (flags: 1 norm, 2 rope; norm only together with rope). */
function preparationOf(inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap | undefined): { norm: boolean; rope: boolean; eps: number } {
  const flags = Number(attrs?.flags ?? 0);
  return { norm: (flags & 1) !== 0 && inputs.normWeight !== undefined, rope: (flags & 2) !== 0 && inputs.cos !== undefined, eps: Number(attrs?.eps ?? 0) };
}

/** Preparation inputs in program order, viewed flat: normWeight [D], then cos, sin [B*T*D]. */
function preparationTensors(inputs: tf.NamedTensorInfoMap, norm: boolean, rope: boolean): tf.TensorInfo[] {
  const flat = (t: tf.TensorInfo) => view(t, [tf.util.sizeFromShape(t.shape)]);
  const tensors: tf.TensorInfo[] = [];
  if (norm) tensors.push(flat(inputs.normWeight!));
  if (rope) tensors.push(flat(inputs.cos!), flat(inputs.sin!));
  return tensors;
}

/**
 * WGSL for component d of a prepared head vector read from `source` at `base` (D values):
 * RMSNorm by normWeight (x · rsqrt(mean(x²) + ε) · w, as rmsNormWebgpu) when `norm`, then
 * rotate-half RoPE by the table row at `tableBase` (x_d·cos_d ∓ x_p·sin_d, p = d ± D/2, as
 * ropeWebgpu) when `rope`. Defines `fn prepared(base : i32, d : i32, tableBase : i32) -> f32`,
 * reading the width from `uniforms.width` and ε from `uniforms.eps`.
 */
function preparedComponentCode(source: string, norm: boolean, rope: boolean): string {
  return `
      fn normed(base : i32, d : i32) -> f32 {
        ${norm ? `
        var squares = 0.0;
        for (var c = 0; c < uniforms.width; c++) { let x = ${source}[base + c]; squares += x * x; }
        let scale = inverseSqrt(squares / f32(uniforms.width) + uniforms.eps);
        return ${source}[base + d] * scale * normWeight[d];` : `
        return ${source}[base + d];`}
      }
      fn prepared(base : i32, d : i32, tableBase : i32) -> f32 {
        ${rope ? `
        let halfWidth = uniforms.width / 2;
        let first = d < halfWidth;
        let partner = select(d - halfWidth, d + halfWidth, first);
        let direction = select(1.0, -1.0, first);
        return normed(base, d) * cosTable[tableBase + d] + direction * normed(base, partner) * sinTable[tableBase + d];` : `
        return normed(base, d);`}
      }`;
}

// ---------------------------------------------------------------------------------------------
// Cache append: k, v [B, T, K, D] (or slab l of [L, B, T, K, D]) after keysT [B*K, D, P] and
// values [B*K, P, D] -> keysT [B*K, D, S], values [B*K, S, D]

/**
 * [keysT, values]: two programs, one thread per output element. Element s < P of a cache row
 * copies the past; s ≥ P is new position t = s − P, its key prepared (normed and rotated) on
 * the way (each thread re-reads its key's D values for the norm: D² reads per key, nothing at
 * decode sizes).
 */
export function appendKeyValuesWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo[] {
  const { k, v, pastKeysT, pastValues } = inputs as { k: tf.TensorInfo; v: tf.TensorInfo; pastKeysT?: tf.TensorInfo; pastValues?: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotAppendKeyValues (webgpu)");
  const [B, T, K, D] = k.shape.slice(-4) as [number, number, number, number];
  const slabBase = Number(attrs?.slab ?? 0) * B * T * K * D; // elements into a stack [L, B, T, K, D]
  const P = pastKeysT && pastValues ? pastKeysT.shape[2]! : 0;
  const S = P + T;
  const hasPast = P > 0;
  const { norm, rope, eps } = preparationOf(inputs, attrs);
  const uniforms = "kvHeads : i32, positions : i32, past : i32, keys : i32, width : i32, slabBase : i32, eps : f32,";
  const uniformValues = [integer(K), integer(T), integer(P), integer(S), integer(D), integer(slabBase), float(eps)];
  const variant = `${hasPast ? "p" : ""}${norm ? "n" : ""}${rope ? "r" : ""}`;
  // Where new position t of cache row bk (= b·K + kh) starts in the keys / values stack.
  const newRow = `
          let b = bk / uniforms.kvHeads;
          let t = s - uniforms.past;
          let sourceRow = uniforms.slabBase + ((b * uniforms.positions + t) * uniforms.kvHeads + bk % uniforms.kvHeads) * uniforms.width;`;

  // keysT [B*K, D, S]: index = (bk·D + d)·S + s.
  const keysProgram = elementwiseProgram(
    `eecotAppendKeys_${variant}`,
    ["k", ...(hasPast ? ["pastKeysT"] : []), ...(norm ? ["normWeight"] : []), ...(rope ? ["cosTable", "sinTable"] : [])],
    [B * K, D, S],
    uniforms,
    preparedComponentCode("k", norm, rope),
    `
          let s = index % uniforms.keys;
          let d = (index / uniforms.keys) % uniforms.width;
          let bk = index / (uniforms.keys * uniforms.width);
          ${hasPast ? `if (s < uniforms.past) {
            result[index] = pastKeysT[(bk * uniforms.width + d) * uniforms.past + s];
            return;
          }` : ""}
          ${newRow}
          result[index] = prepared(sourceRow, d, (b * uniforms.positions + t) * uniforms.width);`,
  );
  // values [B*K, S, D]: index = (bk·S + s)·D + d.
  const valuesProgram = elementwiseProgram(
    `eecotAppendValues_${hasPast ? "p" : ""}`,
    ["v", ...(hasPast ? ["pastValues"] : [])],
    [B * K, S, D],
    uniforms,
    "",
    `
          let d = index % uniforms.width;
          let s = (index / uniforms.width) % uniforms.keys;
          let bk = index / (uniforms.keys * uniforms.width);
          ${hasPast ? `if (s < uniforms.past) {
            result[index] = pastValues[(bk * uniforms.past + s) * uniforms.width + d];
            return;
          }` : ""}
          ${newRow}
          result[index] = v[sourceRow + d];`,
  );
  const flat = (t: tf.TensorInfo) => view(t, [tf.util.sizeFromShape(t.shape)]);
  const keysInputs = [flat(k), ...(hasPast ? [flat(pastKeysT!)] : []), ...preparationTensors(inputs, norm, rope)];
  const valuesInputs = [flat(v), ...(hasPast ? [flat(pastValues!)] : [])];
  // The values program declares no eps / preparation use; its uniforms are the same struct.
  return [gpu.runWebGPUProgram(keysProgram, keysInputs, "float32", uniformValues), gpu.runWebGPUProgram(valuesProgram, valuesInputs, "float32", uniformValues)];
}

// ---------------------------------------------------------------------------------------------
// Attention: out [B, T, H, D] = softmax(q_prepared · keysT · scale + mask) · values per query head

/** Threads per attention workgroup: a power of two ≥ D where possible (one output component each), 64..256. */
function attentionWorkgroup(D: number): number {
  let threads = 64;
  while (threads < D && threads < 256) threads *= 2;
  return threads;
}

/**
 * out [B, T, H, D]: one workgroup per (b, t, h) row. The prepared query goes to shared memory;
 * pass 1 takes the largest masked score (threads over keys, scores coalesced along keysT's S
 * axis); pass 2 walks S in tiles of KEY_TILE: threads over keys put exp(score − max) in shared
 * memory, then threads over d accumulate Σ weight · values[s, d]; the sum of the weights divides
 * at the end. Query head h reads kv head h / (H / K); the mask row b·T + t is shared by the heads.
 */
export function inferenceAttentionWebgpu({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { q, keysT, values, mask } = inputs as { q: tf.TensorInfo; keysT: tf.TensorInfo; values: tf.TensorInfo; mask: tf.TensorInfo };
  const gpu = webgpuBackend(backend, "EecotInferenceAttention (webgpu)");
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const S = keysT.shape[2]!;
  const K = keysT.shape[0]! / B;
  const R = B * T * H;
  if (R * D > 0 && S === 0) throw new Error("EecotInferenceAttention (webgpu): no keys to attend to");
  const { norm, rope, eps } = preparationOf(inputs, attrs);
  const WG = attentionWorkgroup(D);
  const accumulators = Math.ceil(D / WG);
  const program: WebgpuProgram = {
    outputShape: [R, D],
    shaderKey: `eecotInferenceAttention_${D}_${WG}_${norm ? "n" : ""}${rope ? "r" : ""}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [R, 1, 1],
    workgroupSize: [WG, 1, 1],
    variableNames: ["q", "keysT", "valueRows", "scoreMask", ...(norm ? ["normWeight"] : []), ...(rope ? ["cosTable", "sinTable"] : [])],
    uniforms: "heads : i32, kvHeads : i32, positions : i32, keys : i32, scale : f32, eps : f32,",
    getUserCode: () => `
      const WG = ${WG};
      const HEAD_DIM = ${D};
      const ACCUMULATORS = ${accumulators};
      const KEY_TILE = ${KEY_TILE};
      ${WORKGROUP_REDUCTIONS_WGSL}
      var<workgroup> normedQuery : array<f32, HEAD_DIM>;
      var<workgroup> query : array<f32, HEAD_DIM>;
      var<workgroup> weights : array<f32, KEY_TILE>;
      // Masked, scaled score of key s: (Σ_d query_d · keysT[d, s]) · scale + mask_s.
      fn score(keyBase : i32, maskBase : i32, s : i32) -> f32 {
        var dot = 0.0;
        for (var d = 0; d < HEAD_DIM; d++) { dot += query[d] * keysT[keyBase + d * uniforms.keys + s]; }
        return dot * uniforms.scale + scoreMask[maskBase + s];
      }
      fn main(index : i32) {
        let row = index / WG;
        let tid = i32(localId.x);
        let rows = uniforms.outShape[0];
        let valid = row < rows;
        let r = min(row, rows - 1); // rows past R (a reshaped dispatch) read row R − 1, write nothing
        let S = uniforms.keys;
        let h = r % uniforms.heads;
        let bt = r / uniforms.heads; // b·T + t
        let b = bt / uniforms.positions;
        let bk = b * uniforms.kvHeads + h / (uniforms.heads / uniforms.kvHeads);
        let queryBase = r * HEAD_DIM;
        // The prepared query: RMSNorm (as rmsNormWebgpu), then RoPE (as ropeWebgpu).
        ${norm ? `
        var squares = 0.0;
        for (var d = tid; d < HEAD_DIM; d += WG) { let x = q[queryBase + d]; squares += x * x; }
        let inverseRms = inverseSqrt(rowSum(squares, tid) / f32(HEAD_DIM) + uniforms.eps);
        for (var d = tid; d < HEAD_DIM; d += WG) { normedQuery[d] = q[queryBase + d] * inverseRms * normWeight[d]; }` : `
        for (var d = tid; d < HEAD_DIM; d += WG) { normedQuery[d] = q[queryBase + d]; }`}
        workgroupBarrier();
        ${rope ? `
        let tableBase = bt * HEAD_DIM;
        for (var d = tid; d < HEAD_DIM; d += WG) {
          let first = d < HEAD_DIM / 2;
          let partner = select(d - HEAD_DIM / 2, d + HEAD_DIM / 2, first);
          let direction = select(1.0, -1.0, first);
          query[d] = normedQuery[d] * cosTable[tableBase + d] + direction * normedQuery[partner] * sinTable[tableBase + d];
        }` : `
        for (var d = tid; d < HEAD_DIM; d += WG) { query[d] = normedQuery[d]; }`}
        workgroupBarrier();
        let keyBase = bk * HEAD_DIM * S;
        let valueBase = bk * S * HEAD_DIM;
        let maskBase = bt * S;
        // Pass 1: the largest score.
        var largest = -3.402823e+38f;
        for (var s = tid; s < S; s += WG) { largest = max(largest, score(keyBase, maskBase, s)); }
        let top = rowMax(largest, tid);
        // Pass 2: weights tile by tile, then Σ weight · values.
        var total = 0.0;
        var accumulator : array<f32, ACCUMULATORS>;
        for (var start = 0; start < S; start += KEY_TILE) {
          for (var j = tid; j < KEY_TILE; j += WG) {
            var weight = 0.0;
            if (start + j < S) { weight = exp(score(keyBase, maskBase, start + j) - top); }
            weights[j] = weight;
            total += weight;
          }
          workgroupBarrier();
          let count = min(KEY_TILE, S - start);
          for (var a = 0; a < ACCUMULATORS; a++) {
            let d = tid + a * WG;
            if (d < HEAD_DIM) {
              var sum = accumulator[a];
              for (var j = 0; j < count; j++) { sum += weights[j] * valueRows[valueBase + (start + j) * HEAD_DIM + d]; }
              accumulator[a] = sum;
            }
          }
          workgroupBarrier(); // the tile is read before the next one overwrites it
        }
        let weightSum = rowSum(total, tid);
        if (valid) {
          for (var a = 0; a < ACCUMULATORS; a++) {
            let d = tid + a * WG;
            if (d < HEAD_DIM) { result[row * HEAD_DIM + d] = accumulator[a] / weightSum; }
          }
        }
      }`,
  };
  const flat = (t: tf.TensorInfo) => view(t, [tf.util.sizeFromShape(t.shape)]);
  const programInputs = [flat(q), flat(keysT), flat(values), flat(mask), ...preparationTensors(inputs, norm, rope)];
  const uniforms = [integer(H), integer(K), integer(T), integer(S), float(Number(attrs?.scale)), float(eps)];
  return view(gpu.runWebGPUProgram(program, programInputs, "float32", uniforms), [B, T, H, D]);
}

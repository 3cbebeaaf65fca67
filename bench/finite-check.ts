// Cost of the finite check every safetensors read runs (issue 19), on the tensor set of
// Qwen3-0.6B (28 layers, C 1024, F 3072, 16/8 heads of 128, vocab 151936, tied): random BF16
// bits per tensor, timed as load does it: BF16 → float32 decode, then `findNonFinite`.
//
//   npx -y pnpm@10 exec tsx bench/finite-check.ts
import { bfloat16BitsToFloat32, findNonFinite, float32ToBfloat16Bits } from "@eecot/tensor-core";

const C = 1024, F = 3072, H = 16, K = 8, D = 128, V = 151936, L = 28;
const shapes: number[] = [V * C, C];
for (let l = 0; l < L; l++) shapes.push(C, C, H * D * C, K * D * C, K * D * C, C * H * D, D, D, F * C, F * C, C * F);
const elements = shapes.reduce((a, b) => a + b, 0);

// One random BF16 buffer as large as the largest tensor; every tensor reads a prefix of it.
const largest = Math.max(...shapes);
const random = new Float32Array(largest);
for (let i = 0; i < largest; i++) random[i] = (Math.random() - 0.5) * 0.1;
const bits = float32ToBfloat16Bits(random);

let decodeMs = 0;
let checkMs = 0;
let found = 0;
for (const size of shapes) {
  const t0 = performance.now();
  const values = bfloat16BitsToFloat32(bits.subarray(0, size));
  const t1 = performance.now();
  if (findNonFinite(values) !== null) found++;
  const t2 = performance.now();
  decodeMs += t1 - t0;
  checkMs += t2 - t1;
}
console.log(`Qwen3-0.6B tensor set: ${shapes.length} tensors, ${(elements / 1e6).toFixed(1)}M values (${found} non-finite tensors)`);
console.log(`BF16 → float32 decode ${(decodeMs / 1000).toFixed(2)} s; finite check ${(checkMs / 1000).toFixed(2)} s (${((1e3 * elements) / checkMs / 1e9).toFixed(2)} G values/s, ${((100 * checkMs) / decodeMs).toFixed(0)}% of the decode)`);

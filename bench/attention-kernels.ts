// `npx tsx bench/attention-kernels.ts`: GFLOP/s of tf.matMul vs the SIMD batchMatMul (and
// tf.transpose vs permuteAxes) on the tiny Qwen's attention shapes, on the wasm backend.
// B 16, T 128, K 2 kv heads, G 2 groups, D 32: batch N = B*K = 32, rows G*T = 256; decoding
// has G*T = 2 rows over S up to 512 keys. The VM's speed drifts, so each pair is timed back to
// back, alternating, and the best of several rounds is kept; compare the ratios.
import { initBackend, tf } from "@eecot/tensor-core";
import { batchMatMul, permuteAxes } from "../packages/tensor-core/src/kernels/index.js";

const ROUNDS = 5;

/** Best milliseconds per call of `a` and `b`, alternating rounds so drift hits both alike. */
function timePair(a: () => tf.Tensor, b: () => tf.Tensor, targetMs = 40): [number, number] {
  const calls = (fn: () => tf.Tensor) => {
    const start = performance.now();
    fn().dispose();
    return Math.max(1, Math.min(200, Math.round(targetMs / Math.max(performance.now() - start, 1e-3))));
  };
  const [callsA, callsB] = [calls(a), calls(b)];
  const best = [Infinity, Infinity];
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, fn, count] of [[0, a, callsA], [1, b, callsB]] as const) {
      const start = performance.now();
      for (let i = 0; i < count; i++) fn().dispose();
      best[index] = Math.min(best[index]!, (performance.now() - start) / count);
    }
  }
  return [best[0]!, best[1]!];
}

const row = (cells: string[]) => console.log(cells.map((cell, i) => (i === 0 ? cell.padEnd(60) : cell.padStart(12))).join(""));

await initBackend({ backend: "wasm", quiet: true });
console.log(`tfjs ${tf.version_core}, backend ${tf.getBackend()}, best of ${ROUNDS} alternating rounds\n`);

row(["matMul [N, M, K] @ [N, K, P]", "tf GFLOP/s", "ours GFLOP/s", "ratio"]);
const matMulCases: [string, number, number, number, number, boolean, boolean][] = [
  ["scores q·kᵀ (forward)", 32, 256, 32, 128, false, false],
  ["weights·v (forward)", 32, 256, 128, 32, false, false],
  ["d weights = dOut·vᵀ", 32, 256, 32, 128, false, true],
  ["d v = weightsᵀ·dOut", 32, 128, 256, 32, true, false],
  ["d q = dScores·k", 32, 256, 128, 32, false, true],
  ["d kᵀ = qᵀ·dScores", 32, 32, 256, 128, true, false],
  ["decode scores, S 512", 32, 2, 32, 512, false, false],
  ["decode weights·v, S 512", 32, 2, 512, 32, false, false],
  ["decode scores, S 64", 32, 2, 32, 64, false, false],
  ["linear dW = xᵀ·dy [2048,128]ᵀ[2048,384]", 1, 128, 2048, 384, true, false],
  ["linear forward [2048,128]·[128,384]", 1, 2048, 128, 384, false, false],
];
for (const [name, N, M, K, P, transposeA, transposeB] of matMulCases) {
  const a = tf.randomNormal(transposeA ? [N, K, M] : [N, M, K]) as tf.Tensor3D;
  const b = tf.randomNormal(transposeB ? [N, P, K] : [N, K, P]) as tf.Tensor3D;
  const [tfMs, oursMs] = timePair(() => tf.matMul(a, b, transposeA, transposeB), () => batchMatMul(a, b, { transposeA, transposeB }));
  const gflops = (ms: number) => ((2 * N * M * K * P) / ms / 1e6).toFixed(1);
  const flags = `${transposeA ? "ᵀ" : ""}${transposeB ? " ·ᵀ" : ""}`;
  row([`${name} ${N}x${M}x${K}x${P}${flags ? ` (${flags.trim()})` : ""}`, gflops(tfMs), gflops(oursMs), `${(tfMs / oursMs).toFixed(1)}x`]);
  tf.dispose([a, b]);
}

console.log();
row(["permutation", "tf ms", "ours ms", "ratio"]);
const permutationCases: [string, number[], number[]][] = [
  ["[32, 256, 128] last two axes", [32, 256, 128], [0, 2, 1]],
  ["queries [B, T, K, G, D] -> [B, K, G, T, D]", [16, 128, 2, 2, 32], [0, 2, 3, 1, 4]],
  ["keys [B, T, K, D] -> [B, K, D, T]", [16, 128, 2, 32], [0, 2, 3, 1]],
  ["values [B, T, K, D] -> [B, K, T, D]", [16, 128, 2, 32], [0, 2, 1, 3]],
  ["linear gradient [2048, 384] -> [384, 2048]", [2048, 384], [1, 0]],
];
for (const [name, shape, perm] of permutationCases) {
  const x = tf.randomNormal(shape);
  const [tfMs, oursMs] = timePair(() => tf.transpose(x, perm), () => permuteAxes(x, perm));
  row([name, tfMs.toFixed(3), oursMs.toFixed(3), `${(tfMs / oursMs).toFixed(1)}x`]);
  x.dispose();
}

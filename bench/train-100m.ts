// One-off (issue 20): forward + backward of the scaling bench's "100m" model at 2 × 256 in a
// fresh process, without the optimizer: full-parameter Adam does not fit the 4 GiB wasm heap at
// 100M (1.34 GiB after the gradients; the first Adam step runs out). Usage: tsx bench/train-100m.ts THREADS
import { initBackend, wasmHeapBytes } from "@eecot/tensor-core";
import { hundredMStep } from "./hundred-m.js";
const threads = Number(process.argv[2] ?? 1);
await initBackend({ backend: "wasm", quiet: true, threads });
const step = hundredMStep(2, 256);
step();
let best = Infinity;
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  step();
  best = Math.min(best, performance.now() - t0);
}
console.log(JSON.stringify({ side: "ours", threads, shape: "2x256", what: "forward+backward", msPerStep: Math.round(best), tokensPerSecond: +(512 / (best / 1000)).toFixed(1), wasmHeapGiB: +(wasmHeapBytes()! / 2 ** 30).toFixed(2) }));

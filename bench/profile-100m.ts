// Per-kernel profile of the largest training row measured (issue 20): forward + backward of the
// scaling bench's "100m" model at 1 × 256 on wasm (full-parameter Adam does not fit the 4 GiB
// heap at 100M). Usage: tsx bench/profile-100m.ts [THREADS]
import { initBackend, tf } from "@eecot/tensor-core";
import { hundredMStep } from "./hundred-m.js";
const threads = Number(process.argv[2] ?? 2);
await initBackend({ backend: "wasm", quiet: true, threads });
const step = hundredMStep(1, 256);
step();
const start = performance.now();
const info = await tf.profile(async () => step());
const wall = performance.now() - start;
const byKernel = new Map<string, { ms: number; calls: number }>();
for (const k of info.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.calls++;
  byKernel.set(k.name, e);
}
const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
console.log(`100m forward + backward 1×256, ${threads} thread(s): ${wall.toFixed(0)} ms wall (profiled), ${total.toFixed(0)} ms in ${info.kernels.length} kernels`);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(`| ${name} | ${e.ms.toFixed(0)} | ${((100 * e.ms) / total).toFixed(1)} % | ${e.calls} |`);

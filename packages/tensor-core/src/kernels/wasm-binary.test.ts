// The committed kernel binary: safe to run inside tfjs-wasm's heap, correct on its own, and
// identical to a fresh build of assembly/kernels.ts (skipped when assemblyscript is missing).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from "./wasm-binary.js";

const packageRoot = fileURLToPath(new URL("../..", import.meta.url));
const binary = Buffer.from(KERNELS_WASM_BASE64, "base64");
const hasAssemblyScript = existsSync(`${packageRoot}/node_modules/assemblyscript/package.json`);

/** Ids of the module's sections (1 type, 2 import, 3 function, 7 export, 8 start, 10 code, 11 data, 12 data count). */
function sectionIds(bytes: Uint8Array): number[] {
  const ids: number[] = [];
  let offset = 8;
  while (offset < bytes.length) {
    ids.push(bytes[offset++]!);
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[offset++]!;
      size |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
    }
    offset += size;
  }
  return ids;
}

describe("kernel binary", () => {
  it("imports only env.memory, has no data segments or start function, exports the kernels", () => {
    const module = new WebAssembly.Module(binary);
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: "env", name: "memory", kind: "memory" }]);
    expect(WebAssembly.Module.exports(module).map((entry) => entry.name).sort()).toEqual([
      "appendKeyValues",
      "attentionNoGrad",
      "batchMatMul",
      "maskedSoftmax",
      "maskedSoftmaxGrad",
      "rmsNorm",
      "rmsNormGrad",
      "rope",
      "streamColumns",
      "swapMiddleAxes",
      "swiglu",
      "swigluGrad",
      "transposeLastTwo",
    ]);
    const ids = sectionIds(binary);
    expect(ids).not.toContain(8);
    expect(ids).not.toContain(11);
  });

  it("has a shared-memory twin with the same exports that instantiates only on a shared memory", () => {
    const shared = new WebAssembly.Module(Buffer.from(KERNELS_SHARED_WASM_BASE64, "base64"));
    expect(WebAssembly.Module.exports(shared).map((entry) => entry.name).sort()).toEqual(WebAssembly.Module.exports(new WebAssembly.Module(binary)).map((entry) => entry.name).sort());
    expect(sectionIds(Buffer.from(KERNELS_SHARED_WASM_BASE64, "base64"))).not.toContain(11);
    expect(() => new WebAssembly.Instance(shared, { env: { memory: new WebAssembly.Memory({ initial: 1 }) } })).toThrow();
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const kernels = new WebAssembly.Instance(shared, { env: { memory } }).exports as unknown as { batchMatMul: (...args: number[]) => void };
    const floats = new Float32Array(memory.buffer);
    floats.set([1, 2, 3, 4, 5, 6], 256); // A [2, 3]
    floats.set([1, 0, 0, 1, 2, -1], 512); // B [3, 2]
    kernels.batchMatMul(1024, 2048, 3072, 4096, 1, 2, 3, 2, 6, 6, 0, 0, 1, 2); // row 1 only
    expect(Array.from(floats.subarray(768, 772))).toEqual([0, 0, 16, -1]);
  });

  it("computes on a plain WebAssembly.Memory and touches only its output and scratch", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const kernels = new WebAssembly.Instance(new WebAssembly.Module(binary), { env: { memory } }).exports as unknown as {
      batchMatMul: (...args: number[]) => void;
      transposeLastTwo: (...args: number[]) => void;
    };
    const floats = new Float32Array(memory.buffer);
    floats.fill(-7);
    const [a, b, c, scratch] = [1024, 2048, 3072, 4096]; // byte offsets
    floats.set([1, 2, 3, 4, 5, 6], a / 4); // [1, 2, 3]
    floats.set([1, 0, 0, 1, 2, -1], b / 4); // [1, 3, 2]
    kernels.batchMatMul(a, b, c, scratch, 1, 2, 3, 2, 6, 6, 0, 0, 0, 2);
    expect(Array.from(floats.subarray(c / 4, c / 4 + 4))).toEqual([7, -1, 16, -1]);
    kernels.transposeLastTwo(a, c, 1, 2, 3);
    expect(Array.from(floats.subarray(c / 4, c / 4 + 6))).toEqual([1, 4, 2, 5, 3, 6]);
    const untouched = [...floats.subarray(0, a / 4), ...floats.subarray(c / 4 + 6, scratch / 4), ...floats.subarray(scratch / 4 + 64)];
    expect(untouched.every((value) => value === -7)).toBe(true);
    expect(memory.buffer.byteLength).toBe(65536); // never grew
  });

  it.skipIf(!hasAssemblyScript)(`equals a fresh build of assembly/kernels.ts${hasAssemblyScript ? "" : " (skipped: assemblyscript is not installed in packages/tensor-core)"}`, () => {
    const output = execFileSync(process.execPath, ["scripts/build-kernels.mjs", "--check"], { cwd: packageRoot, encoding: "utf8" });
    expect(output).toContain("matches a fresh build");
  });
});

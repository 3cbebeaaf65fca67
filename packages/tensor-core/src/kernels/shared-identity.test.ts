import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend.js";
import { matMul2d } from "../linear.js";
import { Rng } from "../rng.js";
import { assertClose, expectNoLeaks } from "../testing.js";
import { tf } from "../tf.js";
import { sharedIdentityRegistered } from "./shared-identity.js";
import { heapOffset, heapReport, wasmKernelsFor } from "./wasm-kernels.js";

function randomMatrix(rows: number, cols: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Float32Array.from({ length: rows * cols }, () => rng.normal()), [rows, cols]);
}

/** Sizes of the wasm heap allocations made while `fn` runs and `recording()` is true. */
function mallocSizesDuring(fn: () => void, recording: () => boolean): number[] {
  const wasm = (tf.backend() as unknown as { wasm: { _malloc: (bytes: number) => number } }).wasm;
  const original = wasm._malloc;
  const sizes: number[] = [];
  wasm._malloc = (bytes: number) => {
    if (recording()) sizes.push(bytes);
    return original(bytes);
  };
  try {
    fn();
  } finally {
    wasm._malloc = original;
  }
  return sizes;
}

describe("Identity on wasm shares its input's data", () => {
  beforeAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
    expect(tf.getBackend()).toBe("wasm");
  });

  it("replaces the stock kernel: tf.clone points at the same heap bytes", () => {
    expect(sharedIdentityRegistered()).toBe(true);
    const kernels = wasmKernelsFor(tf.backend())!;
    const a = randomMatrix(3, 5, 1);
    const b = tf.clone(a);
    expect(heapOffset(kernels, b)).toBe(heapOffset(kernels, a));
    tf.dispose([a, b]);
  });

  it("keeps tensor semantics: a clone outlives its source, and survives the source variable's assign", async () => {
    const a = randomMatrix(4, 4, 2);
    const want = Array.from(await a.data());
    const b = tf.clone(a);
    a.dispose();
    expect(Array.from(await b.data())).toEqual(want); // data freed only with its last reference
    const v = tf.variable(b);
    const c = tf.clone(v);
    v.assign(tf.zeros([4, 4]));
    expect(Array.from(await c.data())).toEqual(want);
    expect(Array.from(await v.data())).toEqual(new Array(16).fill(0));
    tf.dispose([b, c, v]);
    await expectNoLeaks(() => tf.tidy(() => tf.clone(randomMatrix(2, 2, 3))));
  });

  it("a training step no longer copies a frozen weight for the tape (the copy that overflowed Qwen3-0.6B's heap)", async () => {
    // x [2, 64] trainable, W [64, 4096] frozen (1 MiB): the tape saves both inputs of the product.
    const w = randomMatrix(64, 4096, 4);
    const x = tf.variable(randomMatrix(2, 64, 5));
    const weightBytes = 64 * 4096 * 4;
    let grads: tf.NamedTensorMap = {};
    let forward = true; // the backward pass packs Wᵀ into scratch (freed at once): not counted
    const sizes = mallocSizesDuring(() => {
      const loss = () => {
        const y = tf.sum(matMul2d(x as tf.Tensor2D, w)) as tf.Scalar;
        forward = false;
        return y;
      };
      grads = tf.variableGrads(loss, [x]).grads;
    }, () => forward);
    expect(sizes.length).toBeGreaterThan(0); // the product's output
    expect(sizes.filter((bytes) => bytes >= weightBytes)).toEqual([]); // the stock Identity allocated weightBytes here
    // dx = 1 · Wᵀ: row sums of W, for each of the two rows.
    const rowSums = (await tf.sum(w, 1).data()) as Float32Array;
    assertClose(await grads[x.name]!.data(), [...rowSums, ...rowSums], "dx", { absolute: 1e-4, relative: 1e-5 });
    tf.dispose([w, x, ...Object.values(grads)]);
  });

  it("a failed heap allocation names the heap's size and ceiling", () => {
    expect(heapReport()).toMatch(/^the wasm heap is \d+ MiB of its 4096 MiB wasm32 ceiling; tfjs counts \d+ MiB in \d+ tensors/);
    // tfjs-wasm's makeOutput keeps malloc's 0 (no room) as the offset: a kernel must not write there.
    const dataId = {};
    const kernels = { backend: { dataIdMap: new Map([[dataId, { memoryOffset: 0 }]]) } } as unknown as Parameters<typeof heapOffset>[0];
    expect(() => heapOffset(kernels, { dataId, shape: [2, 3], dtype: "float32" })).toThrow(/^wasm-kernels: no room in the wasm heap for a tensor \[2, 3\] \(24 bytes\): the wasm heap is \d+ MiB of its 4096 MiB/);
  });
});

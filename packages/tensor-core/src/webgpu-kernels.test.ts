import { describe, expect, it } from "vitest";
import { wouldUseSplitK } from "./webgpu-kernels.js";

// The kernels themselves need a WebGPU adapter: test/gpu/webgpu.test.ts runs them. Here, the
// shape rule that decides when the split-K guard steps in (tfjs 4.22, BatchMatMul_impl.ts).
describe("wouldUseSplitK", () => {
  it("small outputs with K >= 2000 and batch 1 take split-K; everything else does not", () => {
    expect(wouldUseSplitK([11, 4096], [64, 4096], false, true)).toBe(true); // [11, 64] output, 2 workgroups of 32×32
    expect(wouldUseSplitK([11, 4096], [4096, 64], false, false)).toBe(true);
    expect(wouldUseSplitK([11, 1999], [64, 1999], false, true)).toBe(false); // K too small
    expect(wouldUseSplitK([8, 4096], [16, 4096], false, true)).toBe(false); // 128 outputs: the reduce program
    expect(wouldUseSplitK([2, 11, 4096], [2, 64, 4096], false, true)).toBe(false); // batched
    expect(wouldUseSplitK([1, 1024], [151_936, 1024], false, true)).toBe(false); // a decode step's logits: many workgroups
    expect(wouldUseSplitK([4, 4096], [500, 4096], false, true)).toBe(true); // outerA <= 8 doubles the threshold: 16 workgroups
    expect(wouldUseSplitK([4, 4096], [600, 4096], false, true)).toBe(false); // 19 workgroups
    expect(wouldUseSplitK([4, 4096], [600, 4096], false, true, 16)).toBe(true); // Intel gen 12+ threshold
  });
});

import { describe, expect, it } from "vitest";
import { contextLengthsFromPrompts, countFlops, layerFlops, type ModelDimensions } from "./flops.js";

// C = 2, I = 3, H = 2, K = 1, D = 1, V = 5, L = 3. Hand-computed:
//   F(n) = 8C + 4CHD + 4CKD + 4HDn + 6CI = 16 + 16 + 8 + 8n + 36 = 76 + 8n
//   G = 4C + 4CKD = 16,  R = 4C + 2CV = 28,  X = 4C² + 4C = 24
const tiny: ModelDimensions = { hidden: 2, intermediate: 3, numHeads: 2, numKvHeads: 1, headDim: 1, vocab: 5, numLayers: 3 };

describe("countFlops", () => {
  it("matches a hand count with exit heads", () => {
    // token A: x = 1, n = 3: 1·100 + 2·16 + 28 + 1·24 = 184 (full: 3·100 + 28 = 328)
    // token B: x = 3, n = 4: 3·108 + 0 + 28 + 2·24 = 400 (full: 3·108 + 28 = 352)
    const a = countFlops(tiny, [[1, 3]], [[3, 4]], { exitableLayers: [1, 2] });
    expect(a.tokenCount).toBe(2);
    expect(a.flopsSpent).toBe(584);
    expect(a.flopsFullDepth).toBe(680);
    expect(a.flopsExitHeads).toBe(72);
    expect(a.flopsSaved).toBe(96);
    expect(a.savedFraction).toBeCloseTo(96 / 680, 12);
    expect(a.flopsSpentPerToken).toBe(292);
  });

  it("full depth without heads saves nothing; exiting at 1 saves (L−1)(F−G) per token", () => {
    expect(countFlops(tiny, [[3, 3]], [[1, 2]]).flopsSaved).toBe(0);
    const a = countFlops(tiny, [[1]], [[5]]);
    const { full, keyValueOnly } = layerFlops(tiny, 5);
    expect(a.flopsSaved).toBe(2 * (full - keyValueOnly));
  });

  it("full-layer matmul FLOPs equal 2 × the projection parameter count (independent count)", () => {
    const qwen: ModelDimensions = { hidden: 1536, intermediate: 8960, numHeads: 12, numKvHeads: 2, headDim: 128, vocab: 151936, numLayers: 28 };
    const { hidden: C, intermediate: I, numHeads: H, numKvHeads: K, headDim: D } = qwen;
    // weight shapes [out, in] of one Qwen2 layer
    const shapes = [[H * D, C], [K * D, C], [K * D, C], [C, H * D], [I, C], [I, C], [C, I]];
    const params = shapes.reduce((sum, [o, i]) => sum + o! * i!, 0);
    const n = 100;
    const { full, keyValueOnly } = layerFlops(qwen, n);
    expect(full - 4 * H * D * n - 8 * C).toBe(2 * params);
    expect(keyValueOnly - 4 * C).toBe(2 * (2 * K * D * C));
  });

  it("rejects bad shapes and exits with clear errors", () => {
    expect(() => countFlops(tiny, [[1, 2]], [[1]])).toThrow(/sequence 0 has 2 exit layers but 1 context lengths/);
    expect(() => countFlops(tiny, [[4]], [[1]])).toThrow(/exit layer 4/);
    expect(() => countFlops(tiny, [[2]], [[1]], { exitableLayers: [1] })).toThrow(/exit layer 2/);
    expect(() => countFlops(tiny, [[1]], [[0]])).toThrow(/context length 0/);
    expect(() => countFlops({ ...tiny, headDim: 0 }, [[1]], [[1]])).toThrow(/headDim/);
    expect(() => countFlops(tiny, [[]], [[]])).toThrow(/no generated tokens/);
  });

  it("builds context lengths from prompt lengths", () => {
    expect(contextLengthsFromPrompts([3, 1], [2, 3])).toEqual([[4, 5], [2, 3, 4]]);
  });
});

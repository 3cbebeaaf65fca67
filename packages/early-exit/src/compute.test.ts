// Compute accounting against a hand count (same tiny dimensions as @eecot/eval's FLOPs test).
import { describe, expect, test } from "vitest";
import type { QwenConfig } from "@eecot/transformer";
import { accountCompute, layerFlops, loraLayerFlops, tracesOfGeneration } from "./compute.js";

// C = 2, F = 3, H = 2, K = 1, D = 1, V = 5, L = 3. By hand:
//   full F(n) = 8C + 4CHD + 4CKD + 4HDn + 6CF = 16 + 16 + 8 + 8n + 36 = 76 + 8n
//   K/V-only G = 4C + 4CKD = 16,  readout R = 4C + 2CV = 28,  head X = 4C² + 4C = 24
const tiny = { hiddenSize: 2, intermediateSize: 3, numHeads: 2, numKvHeads: 1, headDim: 1, vocabSize: 5, numLayers: 3 } as QwenConfig;

describe("accountCompute", () => {
  test("hand count: an exited token pays K/V in later layers, not attention or MLP", () => {
    expect(layerFlops(tiny, 3)).toEqual({ full: 100, keyValueOnly: 16 });
    // token A: x = 1, n = 3, 1 head: 1·100 + 2·16 + 28 + 24 = 184 (full: 3·100 + 28 = 328)
    // token B: x = 3, n = 4, 2 heads: 3·108 + 28 + 48 = 400 (full: 3·108 + 28 = 352)
    const a = accountCompute(tiny, [
      { exitLayer: 1, contextLength: 3, headsEvaluated: 1 },
      { exitLayer: 3, contextLength: 4, headsEvaluated: 2 },
    ]);
    expect(a).toMatchObject({ tokenCount: 2, layersUsed: 4, layersFullDepth: 6, flopsSpent: 584, flopsFullDepth: 680, flopsExitHeads: 72, flopsLora: 0, flopsSaved: 96 });
    expect(a.averageLayerSavings).toBeCloseTo(1 - 4 / 6, 12);
    expect(a.savedFraction).toBeCloseTo(96 / 680, 12);
  });

  test("LoRA: every adapter in full layers, only k/v adapters in K/V-only layers", () => {
    // q: [2, 2] → 2·r·4; k, v: [2, 1] → 2·r·3 each; r = 2: q 16, k 12, v 12
    const lora = { rank: 2, targetModules: ["q_proj", "k_proj", "v_proj"] as const };
    expect(loraLayerFlops(tiny, lora)).toEqual({ full: 40, keyValueOnly: 24 });
    const a = accountCompute(tiny, [{ exitLayer: 1, contextLength: 3, headsEvaluated: 0 }], { lora });
    expect(a.flopsLora).toBe(40 + 2 * 24);
    expect(a.flopsSpent).toBe(100 + 2 * 16 + 28 + 88);
    expect(accountCompute(tiny, [{ exitLayer: 1, contextLength: 3, headsEvaluated: 0 }], { lora, includeLora: false }).flopsLora).toBe(0);
  });

  test("traces from a generation result and clear errors", () => {
    const traces = tracesOfGeneration({
      promptLengths: [4],
      sequences: [{ exitLayers: [1, 3], headProbabilities: [[0.5, Number.NaN], [0.1, 0.2]] }],
    });
    expect(traces).toEqual([
      { exitLayer: 1, contextLength: 4, headsEvaluated: 1 },
      { exitLayer: 3, contextLength: 5, headsEvaluated: 2 },
    ]);
    expect(() => accountCompute(tiny, [{ exitLayer: 4, contextLength: 1, headsEvaluated: 0 }])).toThrow(/token 0 has exit layer 4, not in 1..3/);
    expect(() => accountCompute(tiny, [{ exitLayer: 1, contextLength: 0, headsEvaluated: 0 }])).toThrow(/context length 0/);
  });
});

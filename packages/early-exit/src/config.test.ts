import { describe, expect, test } from "vitest";
import { DEFAULT_EARLY_EXIT_CONFIG, everyNthLayer, resolveEarlyExitConfig } from "./config.js";

describe("resolveEarlyExitConfig", () => {
  test("default E is every 5th layer below L (METHOD.md §1 examples)", () => {
    expect(resolveEarlyExitConfig({ numLayers: 28 }).exitLayers).toEqual([5, 10, 15, 20, 25]);
    expect(resolveEarlyExitConfig({ numLayers: 36 }).exitLayers).toEqual([5, 10, 15, 20, 25, 30, 35]);
    expect(resolveEarlyExitConfig({ numLayers: 25 }).exitLayers).toEqual([5, 10, 15, 20]); // 25 = L is the catch-all
    expect(resolveEarlyExitConfig({ numLayers: 4 }).exitLayers).toEqual([]);
    expect(everyNthLayer(6, 2)).toEqual([2, 4]);
  });

  test("defaults: gate 0.1, offset 0, LoRA r 8 α 16 on q,k,v,o", () => {
    const config = resolveEarlyExitConfig({ numLayers: 28 });
    expect(config.minExitProb).toBe(0.1);
    expect(config.exitOffset).toBe(0);
    expect(config.lora).toEqual({ rank: 8, alpha: 16, dropout: 0, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj"] });
    expect(config.numLayers).toBe(28);
    expect(DEFAULT_EARLY_EXIT_CONFIG.exitLayers).toBeNull();
  });

  test("explicit list > checkpoint's early_exit_layers > exitEvery", () => {
    expect(resolveEarlyExitConfig({ numLayers: 6, exitLayers: [1, 3] }).exitLayers).toEqual([1, 3]);
    expect(resolveEarlyExitConfig({ numLayers: 6, exitLayers: [1, 3] }, { exitLayers: [2, 4] }).exitLayers).toEqual([2, 4]);
    expect(resolveEarlyExitConfig({ numLayers: 6, exitLayers: null }, { exitEvery: 2 }).exitLayers).toEqual([2, 4]);
  });

  test("LoRA fields override one by one", () => {
    const config = resolveEarlyExitConfig({ numLayers: 6 }, { lora: { rank: 4, targetModules: ["q_proj", "gate_proj", "down_proj"] } });
    expect(config.lora).toEqual({ rank: 4, alpha: 16, dropout: 0, targetModules: ["q_proj", "gate_proj", "down_proj"] });
  });

  test("bad values fail with clear messages", () => {
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { exitLayers: [2, 6] })).toThrow(/exitLayers must be strictly increasing integers in 1..5.*got \[2, 6\]/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { exitLayers: [3, 2] })).toThrow(/strictly increasing/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6, exitLayers: [0] })).toThrow(/early_exit_layers \(config.json\)/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { exitEvery: 0 })).toThrow(/exitEvery/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { minExitProb: 1 })).toThrow(/minExitProb must be in \[0, 1\)/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { exitOffset: Number.NaN })).toThrow(/exitOffset/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { lora: { rank: 0 } })).toThrow(/lora.rank/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { lora: { dropout: 1 } })).toThrow(/lora.dropout/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { lora: { targetModules: ["w_proj" as never] } })).toThrow(/unknown projection "w_proj"/);
    expect(() => resolveEarlyExitConfig({ numLayers: 6 }, { lora: { targetModules: ["q_proj", "q_proj"] } })).toThrow(/duplicates/);
  });
});

import { describe, expect, it } from "vitest";
import { DEFAULT_RLOO_CONFIG, resolveRlooConfig } from "./config.js";

describe("resolveRlooConfig", () => {
  it("returns the defaults and merges overrides, learning rates per group", () => {
    expect(resolveRlooConfig()).toEqual(DEFAULT_RLOO_CONFIG);
    const config = resolveRlooConfig({ samplesPerPrompt: 8, learningRates: { heads: 1e-3 }, exitPenalty: undefined });
    expect(config.samplesPerPrompt).toBe(8);
    expect(config.learningRates).toEqual({ lora: 1e-5, heads: 1e-3 });
    expect(config.exitPenalty).toBe(1.5);
    expect(DEFAULT_RLOO_CONFIG.klCoefficient).toBe(0.05);
    expect(DEFAULT_RLOO_CONFIG.baseline).toBe("leave-one-out");
  });

  it("names the field and the rule on bad values", () => {
    const cases: [Parameters<typeof resolveRlooConfig>[0], RegExp][] = [
      [{ samplesPerPrompt: 1 }, /RlooConfig\.samplesPerPrompt must be an integer ≥ 2 \(got 1\)/],
      [{ samplesPerPrompt: 2.5 }, /samplesPerPrompt must be an integer/],
      [{ promptsPerStep: 0 }, /promptsPerStep must be an integer ≥ 1/],
      [{ maxNewTokens: 0 }, /maxNewTokens/],
      [{ temperature: 0 }, /temperature must be a finite number > 0 \(got 0\)/],
      [{ exitPenalty: -1 }, /exitPenalty must be a finite number ≥ 0 \(got -1\)/],
      [{ klCoefficient: Number.NaN }, /klCoefficient must be a finite number ≥ 0 \(got NaN\)/],
      [{ baseline: "mean" as never }, /baseline must be "leave-one-out" or "group-mean" \(got "mean"\)/],
      [{ learningRates: { lora: -1e-5 } }, /learningRates\.lora must be a finite number ≥ 0/],
      [{ maxGradNorm: 0 }, /maxGradNorm must be a number > 0/],
      [{ steps: -1 }, /steps must be an integer ≥ 0/],
      [{ checkpointEvery: 1.5 }, /checkpointEvery/],
      [{ evalEvery: -2 }, /evalEvery/],
      [{ seed: 0.5 }, /seed must be an integer/],
      [{ samplesPerPromt: 4 } as never, /unknown field "samplesPerPromt"/],
      [{ learningRates: { head: 1 } } as never, /unknown field "learningRates\.head"/],
    ];
    for (const [overrides, message] of cases) expect(() => resolveRlooConfig(overrides)).toThrow(message);
  });

  it("accepts Infinity as 'no clipping'", () => {
    expect(resolveRlooConfig({ maxGradNorm: Infinity }).maxGradNorm).toBe(Infinity);
  });
});

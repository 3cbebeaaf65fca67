// Appendix A.1 generation: without exits it is greedy base generation; with target exits,
// replaying teacher-forced with the same exits (early-exit's parallel form, LoRA off) gives the
// same logits, so later tokens really attend to frozen residuals; the drawn exits follow the
// recorded targets; the sweep's rows have eval's shape; no leaks.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { expectNoLeaks, initBackend, tf } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel, replayInputs } from "@eecot/early-exit";
import { resolveJudgeConfig } from "@eecot/eval";
import { PROMPTS, fixturePath, maxAbsDiff } from "../test/helpers.js";
import { sweepKlFactors } from "./kl-sweep.js";
import { generateWithTargetExits } from "./target-generation.js";
import { targetExitDistribution } from "./targets.js";

const FIXTURES = [
  { name: "qwen3-tiny-f32", exitLayers: [2, 4] },
  { name: "qwen2-tiny-f32", exitLayers: [1, 2, 3] },
] as const;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

for (const fixture of FIXTURES) {
  describe(fixture.name, () => {
    let base: QwenModel;
    beforeAll(async () => {
      base = await loadQwenModel(fixturePath(fixture.name));
    });
    afterAll(() => disposeModel(base));

    test("klFactor null is greedy base generation (left-padded batch)", async () => {
      const ours = await generateWithTargetExits(base, fixture.exitLayers, PROMPTS, { klFactor: null, maxNewTokens: 8 });
      const reference = await generateTokens(base.params, base.config, PROMPTS, { maxNewTokens: 8 });
      ours.forEach((row, b) => {
        expect(row.tokens).toEqual(reference.tokens[b]);
        expect(row.exitLayers.every((x) => x === base.config.numLayers)).toBe(true);
      });
    });

    test("replayed teacher-forced with the same exits, the logits are the same (frozen K/V)", async () => {
      // These random-weight fixtures have KL ≈ 0.03–0.15, so f = 15 spreads the exits over E ∪ {L}.
      const rows = await generateWithTargetExits(base, fixture.exitLayers, PROMPTS, { klFactor: 15, maxNewTokens: 12, seed: 3, recordLogits: true });
      const model = EarlyExitModel.create(base, { exitLayers: fixture.exitLayers });
      const seen = new Set<number>();
      rows.forEach((row, b) => {
        const prompt = PROMPTS[b]!;
        row.exitLayers.forEach((x) => seen.add(x));
        const { ids, exits } = replayInputs(prompt, row.tokens, row.exitLayers, base.config.numLayers);
        const out = model.forwardPrescribed([ids], [exits], { loraEnabled: false });
        const logits = out.logits!.arraySync()[0]!;
        tf.dispose([out.logits!, out.hidden, out.exitLogits]);
        row.tokens.forEach((_, t) => expect(maxAbsDiff(logits[prompt.length - 1 + t]!, row.logits![t]!)).toBeLessThan(1e-4));
        // Each recorded target is the heuristic of its recorded divergences.
        row.targets.forEach((q, t) => expect(maxAbsDiff(q, targetExitDistribution(row.divergences[t]!, 15))).toBe(0));
      });
      expect([...seen].sort((a, b) => a - b)).toEqual([...fixture.exitLayers, base.config.numLayers]);
      model.dispose();
    });

    test("no tensor leaks", async () => {
      await expectNoLeaks(() => generateWithTargetExits(base, fixture.exitLayers, PROMPTS, { klFactor: 0.1, maxNewTokens: 5, seed: 1 }), { iterations: 2 });
    });
  });
}

describe("sweepKlFactors", () => {
  let base: QwenModel;
  let server: Server;
  let url: string;
  let judged = 0;
  beforeAll(async () => {
    base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
    // A local OpenAI-compatible judge that always answers the same scores.
    server = createServer((_request, response) => {
      judged++;
      const content = JSON.stringify({ coherence: 7, completeness: 5, clarity: 6, repetition_avoidance: 8 });
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ choices: [{ message: { content } }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/v1`;
  });
  afterAll(async () => {
    disposeModel(base);
    await new Promise((resolve) => server.close(resolve));
  });

  test("rows per factor then base, with exits, ALS, proxies, perplexity and judge scores", async () => {
    const result = await sweepKlFactors(
      base,
      [2, 4],
      PROMPTS.map((p) => ({ promptTokens: p })),
      { factors: [0.01, 100], maxNewTokens: 6, decode: (ids) => ids.map((id) => `t${id}`).join(" "), judge: resolveJudgeConfig({ baseUrl: url, model: "fake" }), batchSize: 3 },
    );
    expect(result.rows.map((r) => r.klFactor)).toEqual([0.01, 100, "base"]);
    const [low, high, plain] = result.rows;
    expect(plain!.earlyExitRate).toBe(0);
    expect(plain!.averageLayerSavings).toBe(0);
    expect(low!.earlyExitRate).toBeGreaterThan(high!.earlyExitRate);
    expect(low!.averageLayerSavings).toBeGreaterThan(0);
    for (const row of result.rows) {
      expect(row.coherence.proxies!.textCount).toBe(PROMPTS.length);
      expect(row.coherence.proxies!.perplexity).toBeGreaterThan(1);
      expect(row.coherence.judge!.coherence).toBe(7);
    }
    expect(judged).toBe(3 * PROMPTS.length);
    expect(result.details[2]!.exits.tokenCount).toBe(result.details[2]!.sequences.reduce((a, s) => a + s.tokens.length, 0));
  });
});

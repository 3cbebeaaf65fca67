// Batched early-exit rollouts on webgpu (lavapipe in CI): 32 prompts of different lengths
// (left padding), one KV-cached batch, per-row seeds, give the same tokens and exits as 32
// one-row generations with the same seeds, and the policy's rollouts do not depend on its
// generation batch size. Reduced size: the 6-layer tiny fixture, 4 new tokens.
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { initBackend, probeWebgpu, Rng, tf } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { EarlyExitModel, EarlyExitPolicy, rolloutSeed } from "@eecot/early-exit";
import { randomizeHeads, randomizeLora } from "../../packages/early-exit/test/helpers.js";

const probe = await probeWebgpu();
const skipReason = probe.available ? null : probe.reason;
if (skipReason && process.env.EECOT_REQUIRE_WEBGPU === "1") throw new Error(`EECOT_REQUIRE_WEBGPU=1 but ${skipReason}`);
if (skipReason) console.warn(`test/gpu/batched-rollouts.test.ts: skipping: ${skipReason}`);

const fixture = fileURLToPath(new URL("../../packages/transformer/test/fixtures/qwen3-tiny-f32", import.meta.url));
const ROWS = 32;
const NEW_TOKENS = 4;

describe.skipIf(skipReason !== null)(`batched early-exit rollouts on webgpu${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  let base: QwenModel;
  let model: EarlyExitModel;

  beforeAll(async () => {
    await initBackend({ backend: "webgpu", quiet: true });
    base = await loadQwenModel(fixture);
    model = EarlyExitModel.create(base, { exitLayers: [2, 4], seed: 3, exitOffset: 4 });
    randomizeLora(model, 0.1, 7);
    randomizeHeads(model, 0.3, 7, [-4, -4]); // p ≈ 0.5 at each exitable layer: exits really vary
  });

  afterAll(async () => {
    model.dispose();
    disposeModel(base);
    await initBackend({ backend: "wasm", quiet: true });
  });

  test(`batch ${ROWS} gives the same tokens and exits as one-by-one generation with the same seeds`, async () => {
    const rng = new Rng(11);
    const prompts = Array.from({ length: ROWS }, () => Array.from({ length: 1 + rng.int(9) }, () => rng.int(380))); // 1..9 tokens: left padding
    const seeds = prompts.map((_, b) => 1000 + b);
    const options = { maxNewTokens: NEW_TOKENS, temperature: 1, stopTokenIds: [382], padTokenId: 0 };
    const before = tf.memory().numTensors;
    const batched = await model.generate(prompts, { ...options, rowSeeds: seeds });
    const single = [];
    for (const [b, prompt] of prompts.entries()) single.push((await model.generate([prompt], { ...options, rowSeeds: [seeds[b]!] })).sequences[0]!);
    expect(tf.memory().numTensors).toBe(before);
    for (const [b, s] of batched.sequences.entries()) {
      expect(s.tokens, `row ${b} tokens`).toEqual(single[b]!.tokens);
      expect(s.exitLayers, `row ${b} exits`).toEqual(single[b]!.exitLayers);
      s.logProbs.forEach((lp, t) => expect(Math.abs(lp - single[b]!.logProbs[t]!), `row ${b} log-prob ${t}`).toBeLessThan(1e-4));
    }
    const exits = new Set(batched.sequences.flatMap((s) => s.exitLayers));
    expect(exits.size).toBeGreaterThan(1); // tokens exited at more than one depth
  }, 300_000);

  test("the policy's rollouts are the same at generation batch 32 and 8", async () => {
    const codec = { encode: (text: string) => [...text].map((c) => c.charCodeAt(0) % 380), decode: (ids: readonly number[]) => ids.join(" ") };
    const request = { prompts: ["abc", "de", "fghij", "k", "lmnopq", "rs", "tuv", "wxyz"], samplesPerPrompt: 4, maxNewTokens: NEW_TOKENS, temperature: 1, seed: 5 };
    const rollouts = async (generationBatchSize: number) => {
      const policy = new EarlyExitPolicy(model, { codec, useChatTemplate: false, stopTokenIds: [382], generationBatchSize });
      try {
        return (await policy.sampleRollouts(request)).map((r) => ({ tokens: r.tokens, exitLayers: r.exitLayers }));
      } finally {
        policy.dispose();
      }
    };
    expect(await rollouts(32)).toEqual(await rollouts(8));
    expect(rolloutSeed(5, 3)).toBe(5 * 65536 + 3);
  }, 300_000);
});

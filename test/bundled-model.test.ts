// The bundled tiny reasoner: loaded through the same code path as a downloaded Qwen3 folder,
// its weights unchanged (sha256 recorded beside them), and its greedy answers parse.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, test } from "vitest";
import { rewardFor } from "@eecot/datasets";
import { initBackend } from "@eecot/tensor-core";
import { loadQwenModel, loadTokenizer, generateTokens, type QwenModel, type Tokenizer } from "@eecot/transformer";
import { gsmExamples, promptIds, tomExamples } from "@eecot/cli";

const dir = fileURLToPath(new URL("../models/tiny-reasoner", import.meta.url));

describe("models/tiny-reasoner", () => {
  let model: QwenModel;
  let tokenizer: Tokenizer;
  beforeAll(async () => {
    await initBackend({ backend: "wasm", quiet: true });
    model = await loadQwenModel(dir);
    tokenizer = await loadTokenizer(dir);
  });

  test("the checkpoint is the recorded one (sha256)", () => {
    const recorded = readFileSync(`${dir}/model.safetensors.sha256`, "utf8").split(/\s+/)[0];
    const actual = createHash("sha256").update(readFileSync(`${dir}/model.safetensors`)).digest("hex");
    expect(actual).toBe(recorded);
  });

  test("is a Qwen3 checkpoint with declared exitable layers and a chat template", () => {
    expect(model.config.modelType).toBe("qwen3");
    expect(model.config.qkNorm).toBe(true);
    expect(model.config.tieWordEmbeddings).toBe(true);
    expect(model.config.exitLayers).toEqual([2, 4, 6]);
    expect(tokenizer.hasChatTemplate).toBe(true);
  });

  test("greedy answers to fixed held-out prompts parse in the required format", async () => {
    const examples = [...gsmExamples(4, 424242), ...tomExamples(4, 424242, 1)];
    const result = await generateTokens(model.params, model.config, examples.map((e) => promptIds(tokenizer, e)), {
      maxNewTokens: 96,
      stopTokenIds: tokenizer.eosTokenIds,
      padTokenId: tokenizer.padTokenId ?? 0,
    });
    const parsed = examples.map((e, i) => rewardFor(e.task)(tokenizer.decode(result.tokens[i]!, { skipSpecialTokens: true }), e.reference));
    // Every answer ends with its answer line ("#### N" / "Answer: X"), and the model solves some.
    expect(parsed.every((p) => p.parts.formatOk)).toBe(true);
    expect(parsed.some((p) => p.parts.correct)).toBe(true);
    expect(result.finished.every(Boolean)).toBe(true);
  });
});

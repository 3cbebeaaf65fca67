import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  PRINTABLE_ASCII,
  buildTokenizer,
  createTokenizerConfig,
  resolveBuildTokenizerConfig,
  writeTokenizerFolder,
} from "./build-tokenizer.js";
import { Tokenizer, type TokenizerJson } from "./tokenizer.js";
import { loadTokenizer } from "./model-folder.js";

// A small deterministic corpus in the shape of the project's data: GSM8K-style worked solutions
// and theory-of-mind stories.
const NAMES = ["Tom", "Anne", "Sally", "Max", "Lena", "Omar", "Priya", "Jack"];
const OBJECTS = ["apples", "pencils", "cookies", "marbles", "books", "stickers"];
const PLACES = ["basket", "box", "drawer", "cupboard", "bag", "shelf"];

function corpus(size: number): string[] {
  const texts: string[] = [];
  for (let i = 0; i < size; i++) {
    const name = NAMES[i % NAMES.length]!;
    const other = NAMES[(i * 3 + 1) % NAMES.length]!;
    const object = OBJECTS[i % OBJECTS.length]!;
    const a = (i * 7) % 50;
    const b = (i * 13) % 30;
    texts.push(
      `${name} has ${a} ${object}. ${name} buys ${b} more. How many ${object} does ${name} have now?\n` +
        `${name} has ${a}+${b}=<<${a}+${b}=${a + b}>>${a + b} ${object}.\n#### ${a + b}`,
    );
    const from = PLACES[i % PLACES.length]!;
    const to = PLACES[(i + 2) % PLACES.length]!;
    texts.push(
      `${name} puts the ball in the ${from}. ${name} leaves the room. ${other} moved the ball to the ${to}.\n` +
        `Where will ${name} look for the ball?\nAnswer: ${from}`,
    );
  }
  return texts;
}

const TEXTS = corpus(400);
let tokenizerJson: TokenizerJson;
let tokenizer: Tokenizer;
let scratch: string;

beforeAll(async () => {
  tokenizerJson = buildTokenizer(TEXTS, { vocabSize: 512 });
  scratch = await mkdtemp(join(tmpdir(), "eecot-build-tokenizer-"));
  await writeTokenizerFolder(join(scratch, "tiny"), tokenizerJson);
  tokenizer = await loadTokenizer(join(scratch, "tiny"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function vocabOf(json: TokenizerJson): Record<string, number> {
  return json.model.vocab as Record<string, number>;
}

describe("buildTokenizer: hand-computed BPE", () => {
  // Pre-tokens of "ab ab ab abc": "ab", " ab", " ab", " abc". Pair counts: (a,b) 4, (" ",a) 3,
  // (b,c) 1. Merge 1 is (a,b); then (" ",ab) 3 and (ab,c) 1; merge 2 is (" ",ab); then only
  // (" ab",c) with count 1 < minPairCount 2 remains.
  const options = { baseAlphabet: "", vocabSize: 100 };

  it("learns the most frequent pairs in order and stops at minPairCount", () => {
    const json = buildTokenizer(["ab ab ab abc"], options);
    expect(json.model.merges).toEqual([["a", "b"], [" ", "ab"]]);
    expect(vocabOf(json)).toEqual({
      "<|endoftext|>": 0,
      "<|im_start|>": 1,
      "<|im_end|>": 2,
      "<think>": 3,
      "</think>": 4,
      "<|unk|>": 5,
      " ": 6,
      a: 7,
      b: 8,
      c: 9,
      ab: 10,
      " ab": 11,
    });
    const tiny = new Tokenizer({ tokenizerJson: json, tokenizerConfig: createTokenizerConfig(json) });
    expect(tiny.encode("ab abc")).toEqual([10, 11, 9]);
  });

  it("respects vocabSize", () => {
    const json = buildTokenizer(["ab ab ab abc"], { ...options, vocabSize: 11 });
    expect(json.model.merges).toEqual([["a", "b"]]);
    expect(Object.keys(vocabOf(json))).toHaveLength(11);
  });

  it("breaks ties by the lexicographically smaller pair", () => {
    // (x,y) and (p,q) both occur twice; (p,q) sorts first.
    expect(buildTokenizer(["xy", "pq", "xy", "pq"], { ...options, vocabSize: 6 + 4 + 1 }).model.merges).toEqual([["p", "q"]]);
  });
});

describe("buildTokenizer: a tokenizer for the project's text", () => {
  it("fills the requested vocabulary, or stops when no pair occurs twice", () => {
    expect(Object.keys(vocabOf(buildTokenizer(TEXTS, { vocabSize: 200 })))).toHaveLength(200);
    // This small corpus runs out of repeated pairs before 512 pieces; a larger budget changes nothing.
    const size = Object.keys(vocabOf(tokenizerJson)).length;
    expect(size).toBeLessThan(512);
    expect(tokenizer.vocabSize).toBe(size);
    expect(JSON.stringify(buildTokenizer(TEXTS, { vocabSize: 1000 }))).toBe(JSON.stringify(tokenizerJson));
  });

  it("round-trips GSM-style solutions and theory-of-mind stories exactly", () => {
    const texts = [
      "Tom has 3 apples. He buys 4 more. 3+4=<<3+4=7>>7\n#### 7",
      "Anne moved the ball to the box.\nAnswer: basket",
      ...TEXTS.slice(0, 50),
      // unseen words and numbers fall back to smaller pieces and characters
      "Zed's 1,234,567.89 quizzical {json: [true, null]} ~`|\\ ^_^",
      "  double  spaces,\ttabs\t\tand\n\n\nnewlines  \n",
    ];
    for (const text of texts) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it("gives frequent words one token and splits every number into single digits", () => {
    expect(tokenizer.decodeTokens(tokenizer.encode(" apples"))).toEqual([" apples"]);
    expect(tokenizer.decodeTokens(tokenizer.encode("3+4=<<3+4=7>>7\n#### 7"))).toEqual(
      ["3", "+", "4", "=<<", "3", "+", "4", "=", "7", ">>", "7", "\n", "####", " ", "7"],
    );
    expect(tokenizer.decodeTokens(tokenizer.encode("12045"))).toEqual(["1", "2", "0", "4", "5"]);
    for (const piece of Object.keys(vocabOf(tokenizerJson))) {
      if (/\p{N}/u.test(piece)) expect([...piece], `piece ${JSON.stringify(piece)}`).toHaveLength(1);
    }
  });

  it("keeps every printable ASCII character and maps unseen characters to <|unk|>", () => {
    const vocab = vocabOf(tokenizerJson);
    for (const character of PRINTABLE_ASCII) expect(vocab[character], JSON.stringify(character)).toBeDefined();
    const unk = tokenizer.tokenId("<|unk|>");
    expect(tokenizer.encode("☃")).toEqual([unk]);
    expect(tokenizer.decode(tokenizer.encode("a☃b"))).toBe("a<|unk|>b");
  });

  it("has ChatML special tokens with single ids, and think tags that survive skipSpecialTokens", () => {
    const ids = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"].map((token) => tokenizer.tokenId(token));
    expect(ids).toEqual([0, 1, 2, 3, 4]);
    const text = "<|im_start|>assistant\n<think>\n3+4=7\n</think>\n\n7<|im_end|>";
    const encoded = tokenizer.encode(text);
    expect(encoded.slice(0, 1)).toEqual([1]);
    expect(encoded).toContain(3);
    expect(tokenizer.decode(encoded)).toBe(text);
    expect(tokenizer.decode(encoded, { skipSpecialTokens: true })).toBe("assistant\n<think>\n3+4=7\n</think>\n\n7");
    expect(tokenizer.eosTokenIds).toEqual([2]);
    expect(tokenizer.padTokenId).toBe(0);
    expect([...tokenizer.specialTokens.keys()].sort()).toEqual(["<|endoftext|>", "<|im_end|>", "<|im_start|>", "<|unk|>"]);
  });

  it("is deterministic and independent of text order", () => {
    const again = buildTokenizer(TEXTS, { vocabSize: 512 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(tokenizerJson));
    const reversed = buildTokenizer([...TEXTS].reverse(), { vocabSize: 512 });
    expect(JSON.stringify(reversed)).toBe(JSON.stringify(tokenizerJson));
  });

  it("never learns pieces across added tokens in the training text", () => {
    const json = buildTokenizer(["<think>x</think>".repeat(20), "<|im_start|>user<|im_end|>".repeat(20)], { vocabSize: 200 });
    for (const piece of Object.keys(vocabOf(json))) expect(piece.includes("<think") && piece !== "<think>").toBe(false);
    const tiny = new Tokenizer({ tokenizerJson: json, tokenizerConfig: createTokenizerConfig(json) });
    expect(tiny.encode("<think>x</think>")).toEqual([3, tiny.tokenId("x"), 4]);
  });
});

describe("writeTokenizerFolder", () => {
  it("writes tokenizer.json and tokenizer_config.json only, with a Qwen-style chat template", async () => {
    expect((await readdir(join(scratch, "tiny"))).sort()).toEqual(["tokenizer.json", "tokenizer_config.json"]);
    const written = JSON.parse(await readFile(join(scratch, "tiny", "tokenizer.json"), "utf8")) as TokenizerJson;
    expect(written).toEqual(tokenizerJson);
    const prompt = tokenizer.applyChatTemplate(
      [
        { role: "system", content: "Solve the problem." },
        { role: "user", content: "Tom has 3 apples. He buys 4 more." },
      ],
      { addGenerationPrompt: true, enableThinking: false },
    );
    expect(prompt).toBe(
      "<|im_start|>system\nSolve the problem.<|im_end|>\n<|im_start|>user\nTom has 3 apples. He buys 4 more.<|im_end|>\n" +
        "<|im_start|>assistant\n<think>\n\n</think>\n\n",
    );
    expect(tokenizer.decode(tokenizer.encode(prompt))).toBe(prompt);
  });

  it("leaves the chat template out when the config has none", () => {
    const { chat_template: _, ...config } = createTokenizerConfig(tokenizerJson);
    const plain = new Tokenizer({ tokenizerJson, tokenizerConfig: config, source: "plain" });
    expect(plain.hasChatTemplate).toBe(false);
    expect(() => plain.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true })).toThrow(
      /plain: no chat template/,
    );
  });

  it("refuses a tokenizer that does not load, writing nothing", async () => {
    const broken = { ...tokenizerJson, model: { type: "NoSuchModel" } };
    const dir = join(scratch, "broken");
    await expect(writeTokenizerFolder(dir, broken, createTokenizerConfig(tokenizerJson))).rejects.toThrow(/cannot load tokenizer.json/);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });
});

describe("resolveBuildTokenizerConfig", () => {
  it("validates sizes and added tokens", () => {
    expect(() => resolveBuildTokenizerConfig({ vocabSize: 0 })).toThrow(/vocabSize must be a positive integer/);
    expect(() => resolveBuildTokenizerConfig({ vocabSize: 10, minPairCount: 0 })).toThrow(/minPairCount/);
    expect(() => resolveBuildTokenizerConfig({ vocabSize: 10, textTokens: ["<|im_end|>"] })).toThrow(/listed twice/);
    expect(() => buildTokenizer(["hello"], { vocabSize: 50 })).toThrow(/vocabSize 50 is smaller than the 6 added tokens plus the 97-character alphabet/);
    expect(() => createTokenizerConfig(tokenizerJson, { eosToken: "</s>" })).toThrow(/eosToken "<\/s>" is not an added token/);
  });
});

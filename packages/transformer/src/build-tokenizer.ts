// Train a small BPE tokenizer from text, saved as a real Hugging Face tokenizer folder.
//
// Design (every piece decodes exactly, so decode(encode(text)) === text for text in the alphabet):
//   added tokens  ChatML controls (<|endoftext|>, <|im_start|>, <|im_end|>), Qwen3's think tags
//                 (<think>, </think>: added but not special, as in Qwen3) and <|unk|>; ids 0..
//   pre-tokenizer Qwen's split regex minus the English contractions: words with their leading
//                 space or punctuation mark (" apples"), every digit alone, punctuation runs,
//                 whitespace runs. Numbers therefore always become single digits.
//   model         BPE over characters (no byte-level remapping, no normalizer): the alphabet is
//                 every character of the training text plus printable ASCII; merges are learned
//                 greedily by pair frequency, so frequent words become one piece and rare words
//                 fall back to smaller pieces and finally characters. Unseen characters -> <|unk|>.
//   decoder       Fuse: pieces are the raw text, so decoding concatenates them.
// The output is a tokenizer.json that @huggingface/tokenizers (and the Rust `tokenizers`)
// loads; writeTokenizerFolder adds a tokenizer_config.json with a ChatML chat template, so
// loadTokenizer(dir) treats it like any Hugging Face model folder.

import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SplitPreTokenizer } from "@huggingface/tokenizers";
import { CHATML_CHAT_TEMPLATE } from "./chat-template.js";
import { Tokenizer, type AddedTokenJson, type TokenizerConfigJson, type TokenizerJson } from "./tokenizer.js";

/** Control tokens of ChatML, as in Qwen: end of text, start and end of a turn. */
export const CHATML_SPECIAL_TOKENS: readonly string[] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/** Qwen3's reasoning delimiters: added tokens that decode keeps even when skipping special tokens. */
export const THINK_TOKENS: readonly string[] = ["<think>", "</think>"];

/** Printable ASCII, newline and tab: always in the alphabet so prompts never hit <|unk|>. */
export const PRINTABLE_ASCII = Array.from({ length: 0x7f - 0x20 }, (_, offset) => String.fromCharCode(0x20 + offset)).join("") + "\n\t";

/**
 * Pre-tokenizer regex (Oniguruma syntax, as tokenizer.json stores it). Qwen2/3's pattern without
 * the `'s|'t|...` contractions: a letter run with one optional leading non-letter (" apples",
 * "(x"), one digit, a punctuation run with optional leading space and trailing newlines,
 * newline runs, whitespace before a word (all but the last space), other whitespace.
 */
export const PRE_TOKENIZER_PATTERN = "[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export interface BuildTokenizerConfig {
  /** Largest vocabulary: added tokens + alphabet + merged pieces (fewer if pairs run out). Example: 768. */
  readonly vocabSize: number;
  /** Control tokens, matched whole and dropped by decode({ skipSpecialTokens: true }). Default CHATML_SPECIAL_TOKENS. */
  readonly specialTokens: readonly string[];
  /** Tokens matched whole but kept by skipSpecialTokens (Qwen3's think tags). Default THINK_TOKENS. */
  readonly textTokens: readonly string[];
  /** Stands for characters outside the alphabet (special). Default "<|unk|>". */
  readonly unknownToken: string;
  /** Characters in the alphabet even if the texts lack them. Default PRINTABLE_ASCII. */
  readonly baseAlphabet: string;
  /** Stop merging once the most frequent pair occurs fewer times than this. Default 2. */
  readonly minPairCount: number;
}

export const DEFAULT_BUILD_TOKENIZER_CONFIG: Omit<BuildTokenizerConfig, "vocabSize"> = {
  specialTokens: CHATML_SPECIAL_TOKENS,
  textTokens: THINK_TOKENS,
  unknownToken: "<|unk|>",
  baseAlphabet: PRINTABLE_ASCII,
  minPairCount: 2,
};

/** Merges overrides into the defaults and validates the result. */
export function resolveBuildTokenizerConfig(
  overrides: Partial<BuildTokenizerConfig> & Pick<BuildTokenizerConfig, "vocabSize">,
): BuildTokenizerConfig {
  const config: BuildTokenizerConfig = { ...DEFAULT_BUILD_TOKENIZER_CONFIG, ...overrides };
  if (!Number.isInteger(config.vocabSize) || config.vocabSize < 1) {
    throw new Error(`buildTokenizer: vocabSize must be a positive integer, got ${config.vocabSize}`);
  }
  if (!Number.isInteger(config.minPairCount) || config.minPairCount < 1) {
    throw new Error(`buildTokenizer: minPairCount must be a positive integer, got ${config.minPairCount}`);
  }
  const added = [...config.specialTokens, ...config.textTokens, config.unknownToken];
  for (const token of added) {
    if (typeof token !== "string" || [...token].length < 2) {
      throw new Error(`buildTokenizer: added token ${JSON.stringify(token)} must be a string of 2+ characters`);
    }
  }
  const duplicate = added.find((token, index) => added.indexOf(token) !== index);
  if (duplicate !== undefined) throw new Error(`buildTokenizer: added token ${JSON.stringify(duplicate)} is listed twice`);
  if (typeof config.baseAlphabet !== "string") throw new Error("buildTokenizer: baseAlphabet must be a string");
  return config;
}

/**
 * Trains a BPE tokenizer on `texts` and returns its tokenizer.json. Deterministic: the same
 * texts (in any order) give the same file; ties between equally frequent pairs go to the
 * lexicographically smaller pair.
 */
export function buildTokenizer(
  texts: Iterable<string>,
  options: Partial<BuildTokenizerConfig> & Pick<BuildTokenizerConfig, "vocabSize">,
): TokenizerJson {
  const config = resolveBuildTokenizerConfig(options);
  const addedContents = [...config.specialTokens, ...config.textTokens, config.unknownToken];

  // 1. Count pre-tokens ("words") in the text between added tokens.
  const preTokenizerJson = { type: "Split", pattern: { Regex: PRE_TOKENIZER_PATTERN }, behavior: "Isolated", invert: false };
  const preTokenizer = new SplitPreTokenizer(preTokenizerJson as ConstructorParameters<typeof SplitPreTokenizer>[0]);
  const addedTokenPattern = new RegExp(
    [...addedContents].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"),
    "u",
  );
  const wordCounts = new Map<string, number>();
  let textIndex = 0;
  for (const text of texts) {
    if (typeof text !== "string") throw new Error(`buildTokenizer: texts[${textIndex}] is ${typeof text}, not a string`);
    for (const section of text.split(addedTokenPattern)) {
      if (section === "") continue;
      for (const word of preTokenizer.pre_tokenize_text(section)) wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
    }
    textIndex++;
  }

  // 2. Alphabet: base characters plus every character seen, in code point order.
  const characters = new Set<string>(config.baseAlphabet);
  for (const word of wordCounts.keys()) for (const character of word) characters.add(character);
  const alphabet = [...characters].sort(compareCodePoints);
  if (addedContents.length + alphabet.length > config.vocabSize) {
    throw new Error(
      `buildTokenizer: vocabSize ${config.vocabSize} is smaller than the ${addedContents.length} added tokens ` +
        `plus the ${alphabet.length}-character alphabet; raise vocabSize or clean the texts`,
    );
  }

  // 3. Learn merges until the vocabulary is full or no pair is frequent enough.
  const vocab = new Map<string, number>();
  for (const token of [...addedContents, ...alphabet]) vocab.set(token, vocab.size);
  const merges = learnMerges(wordCounts, config.vocabSize - vocab.size, config.minPairCount, new Set(addedContents));
  for (const [left, right] of merges) if (!vocab.has(left + right)) vocab.set(left + right, vocab.size);

  const addedTokens: AddedTokenJson[] = addedContents.map((content) => ({
    id: vocab.get(content) ?? -1,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: !config.textTokens.includes(content),
  }));
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizerJson,
    post_processor: null,
    decoder: { type: "Fuse" },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: config.unknownToken,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}

interface Pair {
  readonly left: string;
  readonly right: string;
  count: number;
  /** Indices of the words where the pair occurs. */
  readonly words: Set<number>;
}

/**
 * Greedy BPE training: repeatedly merge the most frequent adjacent pair of symbols, counting each
 * word once per occurrence in the text. Returns at most `maxNewTokens` merges that create new pieces.
 */
function learnMerges(
  wordCounts: ReadonlyMap<string, number>,
  maxNewTokens: number,
  minPairCount: number,
  forbidden: ReadonlySet<string>,
): [string, string][] {
  const words = [...wordCounts].map(([word, count]) => ({ symbols: Array.from(word), count }));
  const pairs = new Map<string, Pair>();
  const pairKey = (left: string, right: string) => JSON.stringify([left, right]);
  const countPairs = (wordIndex: number, sign: 1 | -1) => {
    const word = words[wordIndex]!;
    for (let i = 0; i + 1 < word.symbols.length; i++) {
      const left = word.symbols[i]!;
      const right = word.symbols[i + 1]!;
      const key = pairKey(left, right);
      let pair = pairs.get(key);
      if (pair === undefined) {
        pair = { left, right, count: 0, words: new Set() };
        pairs.set(key, pair);
      }
      pair.count += sign * word.count;
      if (sign > 0) pair.words.add(wordIndex);
      else pair.words.delete(wordIndex); // the word's pairs are all re-added after merging
      if (pair.count === 0) pairs.delete(key);
    }
  };
  words.forEach((_, index) => countPairs(index, 1));

  const merges: [string, string][] = [];
  const created = new Set<string>();
  while (created.size < maxNewTokens) {
    let best: Pair | undefined;
    for (const pair of pairs.values()) {
      if (forbidden.has(pair.left + pair.right)) continue;
      if (
        best === undefined ||
        pair.count > best.count ||
        (pair.count === best.count && (pair.left < best.left || (pair.left === best.left && pair.right < best.right)))
      ) {
        best = pair;
      }
    }
    if (best === undefined || best.count < minPairCount) break;
    const { left, right } = best;
    merges.push([left, right]);
    created.add(left + right);
    for (const wordIndex of [...best.words]) {
      countPairs(wordIndex, -1);
      const word = words[wordIndex]!;
      const merged: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (word.symbols[i] === left && word.symbols[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else {
          merged.push(word.symbols[i]!);
        }
      }
      word.symbols = merged;
      countPairs(wordIndex, 1);
    }
  }
  return merges;
}

export interface TokenizerConfigOptions {
  /** Jinja chat template. Default CHATML_CHAT_TEMPLATE. */
  readonly chatTemplate?: string;
  /** Token that ends an assistant turn and generation. Default "<|im_end|>" (as Qwen3). */
  readonly eosToken?: string;
  /** Padding token. Default "<|endoftext|>" (as Qwen3). */
  readonly padToken?: string;
  /** Longest sequence the model takes, written as model_max_length when given. Example: 1024. */
  readonly modelMaxLength?: number;
}

/** The tokenizer_config.json for a tokenizer.json from buildTokenizer: special tokens and the ChatML template. */
export function createTokenizerConfig(tokenizerJson: TokenizerJson, options: TokenizerConfigOptions = {}): TokenizerConfigJson {
  const eosToken = options.eosToken ?? "<|im_end|>";
  const padToken = options.padToken ?? "<|endoftext|>";
  const contents = new Set(tokenizerJson.added_tokens.map((token) => token.content));
  for (const [name, token] of [["eosToken", eosToken], ["padToken", padToken]] as const) {
    if (!contents.has(token)) throw new Error(`createTokenizerConfig: ${name} ${JSON.stringify(token)} is not an added token`);
  }
  const unkToken = typeof tokenizerJson.model.unk_token === "string" ? tokenizerJson.model.unk_token : null;
  const config: TokenizerConfigJson = {
    tokenizer_class: "PreTrainedTokenizerFast",
    bos_token: null,
    eos_token: eosToken,
    pad_token: padToken,
    unk_token: unkToken,
    additional_special_tokens: tokenizerJson.added_tokens
      .filter((token) => token.special && ![eosToken, padToken, unkToken].includes(token.content))
      .map((token) => token.content),
    added_tokens_decoder: Object.fromEntries(
      tokenizerJson.added_tokens.map(({ id, ...token }) => [String(id), token]),
    ),
    clean_up_tokenization_spaces: false,
    split_special_tokens: false,
    chat_template: options.chatTemplate ?? CHATML_CHAT_TEMPLATE,
  };
  if (options.modelMaxLength !== undefined) config.model_max_length = options.modelMaxLength;
  return config;
}

/**
 * Writes tokenizer.json and tokenizer_config.json into `dir` (created if missing), each
 * atomically. Checks first that the pair loads, so a broken folder is never written.
 */
export async function writeTokenizerFolder(
  dir: string,
  tokenizerJson: TokenizerJson,
  config: TokenizerConfigJson = createTokenizerConfig(tokenizerJson),
): Promise<void> {
  new Tokenizer({ tokenizerJson, tokenizerConfig: config, source: dir });
  await mkdir(dir, { recursive: true });
  await writeFileAtomically(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson, null, 2) + "\n");
  await writeFileAtomically(join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
}

async function writeFileAtomically(path: string, contents: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, contents, "utf8");
  await rename(temporary, path);
}

function compareCodePoints(a: string, b: string): number {
  return (a.codePointAt(0) ?? 0) - (b.codePointAt(0) ?? 0);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

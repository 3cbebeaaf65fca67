// Tokenizer: text <-> token ids for a Hugging Face model folder, plus its chat template.
//
// Reads the folder's own files (tokenizer.json, tokenizer_config.json, optional
// generation_config.json and chat_template.jinja); nothing is downloaded at run time.
// Encoding and decoding are @huggingface/tokenizers (byte-level BPE for Qwen, any format it
// supports for others); prompts are the folder's Jinja chat template (see chat-template.ts).

import { readSourceText, type FileSource } from "@eecot/tensor-core";
import { Tokenizer as HuggingFaceTokenizer } from "@huggingface/tokenizers";
import { ChatTemplate, type ChatMessage, type ChatTemplateOptions } from "./chat-template.js";

/** One entry of tokenizer.json's `added_tokens`: a string matched whole before the model runs. */
export interface AddedTokenJson {
  /** Token id, e.g. 151644. */
  id: number;
  /** Exact text, e.g. "<|im_start|>". */
  content: string;
  /** Match only as a whole word. */
  single_word: boolean;
  /** Swallow whitespace on the left. */
  lstrip: boolean;
  /** Swallow whitespace on the right. */
  rstrip: boolean;
  /** Match after normalization instead of on the raw text. */
  normalized: boolean;
  /** Control token: dropped by decode({ skipSpecialTokens: true }). Qwen3's `<think>` is not special. */
  special: boolean;
}

/** The tokenizer.json file of the `tokenizers` library (the parts we read or write). */
export interface TokenizerJson {
  version?: string;
  truncation?: unknown;
  padding?: unknown;
  added_tokens: AddedTokenJson[];
  normalizer: unknown;
  pre_tokenizer: unknown;
  post_processor: unknown;
  decoder: unknown;
  /** The subword model, e.g. `{ type: "BPE", vocab: { "a": 0, ... }, merges: [["a", "b"], ...] }`. */
  model: { type?: string; [key: string]: unknown };
}

/** A special token in tokenizer_config.json: a plain string or transformers' AddedToken dict. */
export type SpecialTokenField = string | { content: string } | null;

/** The tokenizer_config.json file of transformers (the parts we read or write). */
export interface TokenizerConfigJson {
  /** Jinja prompt template, or named templates (we use the one named "default"). */
  chat_template?: string | { name: string; template: string }[];
  bos_token?: SpecialTokenField;
  /** End of a turn/sequence, e.g. "<|im_end|>". */
  eos_token?: SpecialTokenField;
  pad_token?: SpecialTokenField;
  unk_token?: SpecialTokenField;
  additional_special_tokens?: string[];
  /** Remove spaces before punctuation when decoding (transformers' default is true; Qwen sets false). */
  clean_up_tokenization_spaces?: boolean;
  model_max_length?: number;
  tokenizer_class?: string;
  [key: string]: unknown;
}

/** generation_config.json (the parts we read). */
export interface GenerationConfigJson {
  /** One id or several, e.g. Qwen3's [151645, 151643]. */
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
  bos_token_id?: number | null;
  [key: string]: unknown;
}

/** Parsed files of a tokenizer folder. */
export interface TokenizerFiles {
  /** tokenizer.json. */
  readonly tokenizerJson: TokenizerJson;
  /** tokenizer_config.json. */
  readonly tokenizerConfig: TokenizerConfigJson;
  /** generation_config.json, when the folder has one (its eos ids come first). */
  readonly generationConfig?: GenerationConfigJson;
  /** chat_template.jinja, when the folder has one (it takes precedence over tokenizerConfig.chat_template). */
  readonly chatTemplate?: string;
  /** Where the files came from, named in error messages. Example: "models/Qwen3-0.6B". */
  readonly source?: string;
}

export interface EncodeOptions {
  /** Apply the tokenizer's post-processor (BOS/EOS insertion; Qwen adds none). Default true, as transformers. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (those marked `special`, e.g. "<|im_end|>"; Qwen3's "<think>" stays). Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** Text <-> ids for one model, plus its chat template. Build with `loadTokenizer(dir)`, `loadTokenizerFrom(source)` or `new Tokenizer(files)`. */
export class Tokenizer {
  /** Embedding rows the ids need: highest token id + 1 (Qwen3: 151669; its checkpoint pads to 151936). */
  readonly vocabSize: number;
  /** Ids that end generation: generation_config.json's eos_token_id (int or list), then tokenizer_config's eos_token. */
  readonly eosTokenIds: readonly number[];
  /** Padding id: tokenizer_config's pad_token, else generation_config's pad_token_id, else undefined. */
  readonly padTokenId: number | undefined;
  /** Control tokens (added tokens marked special, plus additional_special_tokens): content -> id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  /** Where the files came from, as named in error messages. */
  readonly source: string;

  private readonly tokenizer: HuggingFaceTokenizer;
  private readonly config: TokenizerConfigJson;
  private readonly chatTemplate: ChatTemplate | undefined;
  private readonly addedTokens: ReadonlyMap<number, string>;
  /** Token strings are GPT-2 byte-level symbols ("Ġ" for a space) that decodeTokens maps back to bytes. */
  private readonly byteLevel: boolean;

  constructor(files: TokenizerFiles) {
    this.source = files.source ?? "tokenizer";
    const { tokenizerJson, tokenizerConfig } = files;
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model) || !Array.isArray(tokenizerJson.added_tokens)) {
      throw new Error(`${this.source}: tokenizer.json must be an object with "model" and "added_tokens"`);
    }
    if (!isObject(tokenizerConfig)) throw new Error(`${this.source}: tokenizer_config.json must be an object`);
    try {
      this.tokenizer = new HuggingFaceTokenizer(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new Error(`${this.source}: @huggingface/tokenizers cannot load tokenizer.json: ${errorMessage(error)}`);
    }
    this.config = tokenizerConfig;

    let highestId = -1;
    for (const [, id] of this.tokenizer.get_vocab(true)) highestId = Math.max(highestId, id);
    this.vocabSize = highestId + 1;

    this.addedTokens = new Map(tokenizerJson.added_tokens.map((token) => [token.id, token.content]));
    const specialTokens = new Map<string, number>();
    for (const token of tokenizerJson.added_tokens) if (token.special) specialTokens.set(token.content, token.id);
    for (const content of tokenizerConfig.additional_special_tokens ?? []) {
      specialTokens.set(content, this.tokenId(content));
    }
    this.specialTokens = specialTokens;

    this.eosTokenIds = this.readEosTokenIds(files.generationConfig);
    const padToken = specialTokenContent(tokenizerConfig.pad_token);
    const generationPad = files.generationConfig?.pad_token_id;
    this.padTokenId =
      padToken !== undefined ? this.tokenId(padToken) : typeof generationPad === "number" ? generationPad : undefined;

    this.byteLevel = usesByteLevelDecoder(tokenizerJson.decoder);
    const chatTemplateSource = files.chatTemplate ?? defaultChatTemplate(tokenizerConfig.chat_template);
    this.chatTemplate =
      chatTemplateSource === undefined ? undefined : new ChatTemplate(chatTemplateSource, `${this.source} chat template`);
  }

  /** Text -> token ids. Special tokens written in the text ("<|im_start|>") become their single ids. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== "string") throw new Error(`${this.source}: encode expects a string, got ${typeof text}`);
    const { ids } = this.tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    return ids;
  }

  /** Token ids -> text. Exact inverse of encode for the Qwen tokenizers and the ones buildTokenizer trains. */
  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    this.checkIds(ids);
    // Ids past the tokenizer (a checkpoint's padded embedding rows) decode to nothing, as in
    // Hugging Face tokenizers.
    const known = ids.filter((id) => this.isKnown(id));
    if (known.length === 0) return "";
    return this.tokenizer.decode(known, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * One readable string per id, for token-by-token views: byte-level pieces become text
   * ("Ġapples" -> " apples"), added tokens stay as written ("<|im_start|>"), and bytes that do
   * not form a whole UTF-8 character (a token holding half of "你") show as "<0xE4>".
   */
  decodeTokens(ids: readonly number[]): string[] {
    this.checkIds(ids);
    return ids.map((id) => {
      if (!this.isKnown(id)) return "";
      const added = this.addedTokens.get(id);
      if (added !== undefined) return added;
      const piece = this.tokenizer.id_to_token(id) ?? "";
      if (!this.byteLevel) {
        return this.tokenizer.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      }
      const bytes: number[] = [];
      for (const symbol of piece) {
        const byte = BYTE_LEVEL_DECODER.get(symbol);
        if (byte === undefined) return piece; // not a byte-level symbol: show the piece as stored
        bytes.push(byte);
      }
      return readableUtf8(bytes);
    });
  }

  /** The id of one vocabulary entry or added token, e.g. tokenId("<|im_end|>") = 151645. Throws if absent. */
  tokenId(token: string): number {
    const id = this.tokenizer.token_to_id(token);
    if (id === undefined) throw new Error(`${this.source}: token ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  }

  /** Whether the folder has a chat template (applyChatTemplate throws without one). */
  get hasChatTemplate(): boolean {
    return this.chatTemplate !== undefined;
  }

  /**
   * Renders a conversation with the folder's chat template (tokenizer_config.json's
   * `chat_template`, or chat_template.jinja). Encode the result with encode(prompt).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions): string {
    if (this.chatTemplate === undefined) {
      throw new Error(
        `${this.source}: no chat template (neither tokenizer_config.json "chat_template" nor chat_template.jinja)`,
      );
    }
    const variables: Record<string, unknown> = {};
    for (const name of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const content = specialTokenContent(this.config[name]);
      if (content !== undefined) variables[name] = content;
    }
    return this.chatTemplate.render(messages, options, variables);
  }

  private readEosTokenIds(generationConfig: GenerationConfigJson | undefined): number[] {
    const ids: number[] = [];
    const fromGeneration = generationConfig?.eos_token_id;
    for (const id of fromGeneration === undefined || fromGeneration === null ? [] : [fromGeneration].flat()) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`${this.source}: generation_config.json eos_token_id ${JSON.stringify(id)} is not a token id`);
      }
      ids.push(id);
    }
    const eosToken = specialTokenContent(this.config.eos_token);
    if (eosToken !== undefined) ids.push(this.tokenId(eosToken));
    return [...new Set(ids)];
  }

  private isKnown(id: number): boolean {
    return id < this.vocabSize && this.tokenizer.id_to_token(id) !== undefined;
  }

  private checkIds(ids: readonly number[]): void {
    if (!Array.isArray(ids)) throw new Error(`${this.source}: token ids must be an array`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0) {
        throw new Error(`${this.source}: token id ${id} is not a valid id (a non-negative integer)`);
      }
    }
  }
}

/**
 * Loads the tokenizer of a Hugging Face model folder (local, served, or picked in a browser):
 * tokenizer.json and tokenizer_config.json (required), generation_config.json and
 * chat_template.jinja (used when present).
 */
export async function loadTokenizerFrom(source: FileSource): Promise<Tokenizer> {
  const tokenizerJson = await readJsonFile<TokenizerJson>(source, "tokenizer.json", true);
  const tokenizerConfig = await readJsonFile<TokenizerConfigJson>(source, "tokenizer_config.json", true);
  const generationConfig = await readJsonFile<GenerationConfigJson>(source, "generation_config.json", false);
  const chatTemplate = await readTextFile(source, "chat_template.jinja", false);
  return new Tokenizer({ tokenizerJson, tokenizerConfig, generationConfig, chatTemplate, source: source.label });
}

async function readTextFile(source: FileSource, name: string, required: true): Promise<string>;
async function readTextFile(source: FileSource, name: string, required: boolean): Promise<string | undefined>;
async function readTextFile(source: FileSource, name: string, required: boolean): Promise<string | undefined> {
  const path = source.describe(name);
  let text: string | null;
  try {
    text = await readSourceText(source, name);
  } catch (error) {
    throw new Error(`${path}: cannot read: ${errorMessage(error)}`);
  }
  if (text !== null) return text;
  if (!required) return undefined;
  throw new Error(
    `${path} not found: the tokenizer is read from the model folder and nothing is downloaded at run time; ` +
      `put the model's tokenizer.json and tokenizer_config.json there`,
  );
}

async function readJsonFile<T>(source: FileSource, name: string, required: true): Promise<T>;
async function readJsonFile<T>(source: FileSource, name: string, required: boolean): Promise<T | undefined>;
async function readJsonFile<T>(source: FileSource, name: string, required: boolean): Promise<T | undefined> {
  const text = await readTextFile(source, name, required);
  if (text === undefined) return undefined;
  const path = source.describe(name);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: invalid JSON: ${errorMessage(error)}`);
  }
  if (!isObject(value)) throw new Error(`${path}: expected a JSON object`);
  return value as T;
}

function defaultChatTemplate(field: TokenizerConfigJson["chat_template"]): string | undefined {
  if (typeof field === "string") return field;
  if (Array.isArray(field)) return field.find((entry) => entry.name === "default")?.template;
  return undefined;
}

function specialTokenContent(field: SpecialTokenField | undefined): string | undefined {
  if (typeof field === "string") return field;
  if (isObject(field) && typeof field.content === "string") return field.content;
  return undefined;
}

function usesByteLevelDecoder(decoder: unknown): boolean {
  if (!isObject(decoder)) return false;
  if (decoder.type === "ByteLevel") return true;
  return decoder.type === "Sequence" && Array.isArray(decoder.decoders) && decoder.decoders.some(usesByteLevelDecoder);
}

/**
 * GPT-2's byte-level alphabet: every byte maps to a printable character (printable Latin-1 maps
 * to itself, the rest to U+0100 onwards, so a space is "Ġ" and a newline "Ċ"). Inverse map here.
 */
const BYTE_LEVEL_DECODER: ReadonlyMap<string, number> = (() => {
  const decoder = new Map<string, number>();
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable = (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || byte >= 0xae;
    decoder.set(String.fromCodePoint(printable ? byte : next++), byte);
  }
  return decoder;
})();

/** UTF-8 bytes -> text, with bytes that are not part of a complete character written as "<0xNN>". */
function readableUtf8(bytes: readonly number[]): string {
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  let text = "";
  let start = 0;
  while (start < bytes.length) {
    const lead = bytes[start] ?? 0;
    const length = utf8SequenceLength(lead);
    if (length > 0 && start + length <= bytes.length) {
      try {
        text += utf8.decode(new Uint8Array(bytes.slice(start, start + length)));
        start += length;
        continue;
      } catch {
        // invalid continuation bytes: fall through and show the lead byte
      }
    }
    text += `<0x${lead.toString(16).toUpperCase().padStart(2, "0")}>`;
    start += 1;
  }
  return text;
}

/** Bytes in the UTF-8 sequence that `lead` starts; 0 for a byte that cannot start one. */
function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead < 0xe0) return 2;
  if (lead >= 0xe0 && lead < 0xf0) return 3;
  if (lead >= 0xf0 && lead < 0xf5) return 4;
  return 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Reading a local Hugging Face model folder (Node only). The same readers over any FileSource
// (a URL, files picked in a browser) are readQwenConfigFrom, loadTokenizerFrom and
// loadQwenModelFrom; index.ts exports both, browser.ts only those.
import { stat } from "node:fs/promises";
import { directoryFileSource, loadCheckpointTensors } from "@eecot/tensor-core";
import { readQwenConfigFrom, type QwenConfig } from "./config.js";
import { CheckpointError, paramsFromTensors, type LoadedTensor, type QwenModel } from "./load.js";
import { loadTokenizerFrom, type Tokenizer } from "./tokenizer.js";

/** Read `DIR/config.json` and parse it. */
export function readQwenConfig(modelDir: string): Promise<QwenConfig> {
  return readQwenConfigFrom(directoryFileSource(modelDir));
}

/**
 * Loads the tokenizer of a Hugging Face model folder: tokenizer.json and tokenizer_config.json
 * (required), generation_config.json and chat_template.jinja (used when present).
 */
export function loadTokenizer(modelDir: string): Promise<Tokenizer> {
  return loadTokenizerFrom(directoryFileSource(modelDir));
}

/** Load `config.json` and the safetensors weights (single file or sharded) of a Hugging Face folder. */
export async function loadQwenModel(modelDir: string): Promise<QwenModel> {
  try {
    const info = await stat(modelDir);
    if (!info.isDirectory()) throw new CheckpointError(`model folder ${modelDir} is not a directory`);
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    throw new CheckpointError(
      `model folder not found: ${modelDir} (nothing is downloaded at run time: pass the path of a local Hugging Face checkpoint folder, e.g. one made with \`huggingface-cli download Qwen/Qwen3-4B --local-dir DIR\`)`,
    );
  }
  const config = await readQwenConfig(modelDir);
  const tensors = await loadCheckpointTensors(modelDir);
  return { config, params: paramsFromTensors(config, tensors as ReadonlyMap<string, LoadedTensor>, modelDir), directory: modelDir };
}

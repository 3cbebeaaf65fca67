// `eecot generate`: KV-cached generation from a prompt (chat-formatted when the model has a
// chat template) or raw token ids.
import type { Command } from "commander";
import { generateTokens } from "@eecot/transformer";
import { loadModelFolder, parseIds, requireTokenizer, startBackend, validateVocabulary } from "../setup.js";

interface GenerateOptions {
  model: string;
  prompt?: string;
  ids?: string;
  raw?: boolean;
  maxNewTokens: string;
  temperature: string;
  topP: string;
  seed: string;
  json?: boolean;
}

function number(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new Error(`${flag} must be a number, got "${value}"`);
  return parsed;
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate a continuation (KV cache; greedy, temperature or top-p; seeded)")
    .requiredOption("--model <dir>", "Hugging Face model folder (config.json + safetensors)")
    .option("--prompt <string>", "prompt text (needs tokenizer.json); wrapped in the chat template unless --raw")
    .option("--ids <list>", "prompt token ids, comma-separated")
    .option("--raw", "do not apply the chat template to --prompt")
    .option("--max-new-tokens <n>", "new tokens at most", "64")
    .option("--temperature <t>", "0 = greedy", "0")
    .option("--top-p <p>", "nucleus sampling threshold", "1")
    .option("--seed <s>", "sampling seed", "0")
    .option("--json", "print one JSON document on stdout")
    .action(async (options: GenerateOptions, command: Command) => {
      if (!options.prompt === !options.ids) throw new Error("generate needs exactly one of --prompt or --ids");
      const backend = await startBackend(command);
      const loaded = await loadModelFolder(options.model);
      const { config, params } = loaded.model;
      const tokenizer = options.prompt ? requireTokenizer(loaded, "--prompt") : loaded.tokenizer;
      let promptIds: number[];
      if (options.ids) promptIds = parseIds(options.ids);
      else if (options.raw || !tokenizer!.hasChatTemplate) promptIds = tokenizer!.encode(options.prompt!);
      else promptIds = tokenizer!.encode(tokenizer!.applyChatTemplate([{ role: "user", content: options.prompt! }], { addGenerationPrompt: true }));
      validateVocabulary(promptIds, config.vocabSize);
      const maxNewTokens = number(options.maxNewTokens, "--max-new-tokens");
      const started = performance.now();
      const result = await generateTokens(params, config, [promptIds], {
        maxNewTokens,
        temperature: number(options.temperature, "--temperature"),
        topP: number(options.topP, "--top-p"),
        seed: number(options.seed, "--seed"),
        stopTokenIds: tokenizer?.eosTokenIds ?? config.eosTokenIds,
        padTokenId: tokenizer?.padTokenId ?? 0,
      });
      const seconds = (performance.now() - started) / 1000;
      const tokens = result.tokens[0]!;
      const text = tokenizer ? tokenizer.decode(tokens, { skipSpecialTokens: true }) : null;
      if (options.json) {
        process.stdout.write(JSON.stringify({ model: options.model, backend: backend.name, promptIds, tokens, text, finished: result.finished[0], seconds }) + "\n");
        return;
      }
      process.stdout.write(`${text ?? tokens.join(",")}\n`);
      process.stderr.write(`${tokens.length} tokens in ${seconds.toFixed(2)} s (${(tokens.length / seconds).toFixed(1)} tok/s)\n`);
    });
}

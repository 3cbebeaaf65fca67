// `eecot generate`: KV-cached generation from a prompt (chat-formatted when the model has a
// chat template) or raw token ids.
import type { Command } from "commander";
import { assertFitsContext, generateTokens } from "@eecot/transformer";
import { EarlyExitModel, loadEarlyExitAdapters, accountCompute, tracesOfGeneration } from "@eecot/early-exit";
import { FRESH_HEADS_HELP, loadModelFolder, parseIds, requireTokenizer, startBackend, validateVocabulary } from "../setup.js";
import { choiceFlag, integerFlag, numberFlag, optionalFlag, positiveIntegerFlag } from "../flags.js";
import { bundledModelDir } from "../bundled.js";

/** Said when exits are on without --adapter: fresh heads start with an exit probability below the gate. */
export const UNTRAINED_HEADS_NOTE =
  "no --adapter, so the exit heads are untrained and no token exits early (their exit probability, about 2%, is below the --min-exit-prob gate of 0.1); " +
  "for learned exits pass --adapter runs/<timestamp>/stage2/adapter (written by eecot demo; eecot rl writes <out>/adapter)";

interface GenerateOptions {
  model?: string;
  prompt?: string;
  ids?: string;
  raw?: boolean;
  maxNewTokens: string;
  temperature: string;
  topP: string;
  seed: string;
  json?: boolean;
  adapter?: string;
  freshHeads?: boolean;
  exits?: string;
  exitOffset?: string;
  minExitProb?: string;
  threshold?: string;
}

export function registerGenerate(program: Command): void {
  program
    .command("generate")
    .description("generate a continuation (KV cache; greedy, temperature or top-p; seeded)")
    .option("--model <dir>", "Hugging Face model folder (config.json + safetensors) (default: the bundled models/tiny-reasoner)")
    .option("--prompt <string>", "prompt text (needs tokenizer.json); wrapped in the chat template unless --raw")
    .option("--ids <list>", "prompt token ids, comma-separated")
    .option("--raw", "do not apply the chat template to --prompt")
    .option("--max-new-tokens <n>", "new tokens at most", "64")
    .option("--temperature <t>", "0 = greedy", "0")
    .option("--top-p <p>", "nucleus sampling threshold", "1")
    .option("--seed <s>", "sampling seed", "0")
    .option("--adapter <dir>", "early-exit adapter folder (PEFT LoRA + exit heads) to apply")
    .option("--fresh-heads", FRESH_HEADS_HELP)
    .option("--exits <mode>", "exit rule: sample (stochastic), threshold, none; default sample with --adapter, none without")
    .option("--exit-offset <x>", "added to every exit logit (positive = exit earlier)")
    .option("--min-exit-prob <p>", "gate: exits with probability below this are impossible")
    .option("--threshold <p>", "with --exits threshold: exit at the first layer whose probability reaches p", "0.5")
    .option("--json", "print one JSON document on stdout")
    .action(async (options: GenerateOptions, command: Command) => {
      options.model ??= bundledModelDir();
      if (!options.prompt === !options.ids) throw new Error("generate needs exactly one of --prompt or --ids");
      // Flags are checked before the backend starts and the model loads.
      const maxNewTokens = positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens");
      const temperature = numberFlag(options.temperature, "--temperature", { min: 0 });
      const topP = numberFlag(options.topP, "--top-p", { above: 0, max: 1 });
      const seed = integerFlag(options.seed, "--seed");
      const mode = choiceFlag(options.exits ?? (options.adapter !== undefined ? "sample" : "none"), "--exits", ["sample", "threshold", "none"] as const);
      const threshold = numberFlag(options.threshold ?? "0.5", "--threshold", { above: 0, below: 1 });
      const exitOffset = optionalFlag(options.exitOffset, (value) => numberFlag(value, "--exit-offset"));
      const minExitProb = optionalFlag(options.minExitProb, (value) => numberFlag(value, "--min-exit-prob", { min: 0, max: 1 }));
      // The memory check's workload: this prompt (a byte-level BPE token is at least one UTF-8
      // byte; 64 more for the chat template) plus the new tokens, one row.
      const promptBound = options.ids ? parseIds(options.ids).length : Buffer.byteLength(options.prompt!, "utf8") + (options.raw ? 0 : 64);
      const backend = await startBackend(command);
      const loaded = await loadModelFolder(options.model, { batchSize: 1, sequenceLength: promptBound + maxNewTokens, positionsPerCall: promptBound, trainableParameters: 0 });
      const { config, params } = loaded.model;
      const tokenizer = options.prompt ? requireTokenizer(loaded, "--prompt") : loaded.tokenizer;
      let promptIds: number[];
      if (options.ids) promptIds = parseIds(options.ids);
      else if (options.raw) promptIds = tokenizer!.encode(options.prompt!);
      else if (!tokenizer!.hasChatTemplate) throw new Error(`--prompt: ${tokenizer!.source} has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); pass --raw to send the prompt as plain text`);
      else promptIds = tokenizer!.encode(tokenizer!.applyChatTemplate([{ role: "user", content: options.prompt! }], { addGenerationPrompt: true }));
      validateVocabulary(promptIds, config.vocabSize);
      assertFitsContext(config, promptIds.length, maxNewTokens, "--max-new-tokens");
      const stopTokenIds = tokenizer?.eosTokenIds ?? config.eosTokenIds;
      const padTokenId = tokenizer?.padTokenId ?? 0;
      const earlyExit = options.adapter !== undefined || mode !== "none";
      const started = performance.now();
      let tokens: number[];
      let exitLayers: number[] | null = null;
      let finished: boolean;
      let compute: ReturnType<typeof accountCompute> | null = null;
      if (earlyExit) {
        if (!options.adapter) process.stderr.write(`generate: ${UNTRAINED_HEADS_NOTE}\n`);
        const model = options.adapter ? await loadEarlyExitAdapters(options.adapter, loaded.model, { allowMissingHeads: options.freshHeads === true }) : EarlyExitModel.create(loaded.model);
        const result = await model.generate([promptIds], {
          maxNewTokens,
          temperature,
          topP,
          seed,
          stopTokenIds,
          padTokenId,
          mode,
          threshold,
          ...(exitOffset !== undefined ? { exitOffset } : {}),
          ...(minExitProb !== undefined ? { minExitProb } : {}),
        });
        const sequence = result.sequences[0]!;
        tokens = sequence.tokens;
        exitLayers = sequence.exitLayers;
        finished = sequence.finished;
        compute = accountCompute(config, tracesOfGeneration(result));
        model.dispose();
      } else {
        const result = await generateTokens(params, config, [promptIds], { maxNewTokens, temperature, topP, seed, stopTokenIds, padTokenId });
        tokens = result.tokens[0]!;
        finished = result.finished[0]!;
      }
      const seconds = (performance.now() - started) / 1000;
      const text = tokenizer ? tokenizer.decode(tokens, { skipSpecialTokens: true }) : null;
      const pieces = tokenizer ? tokenizer.decodeTokens(tokens) : tokens.map(String);
      if (options.json) {
        process.stdout.write(
          JSON.stringify({ model: options.model, adapter: options.adapter ?? null, backend: backend.name, promptIds, tokens, pieces, exitLayers, numLayers: config.numLayers, text, finished, seconds, compute }) + "\n",
        );
        return;
      }
      if (exitLayers) {
        process.stdout.write(`token → exit layer (of ${config.numLayers})\n`);
        pieces.forEach((piece, i) => process.stdout.write(`${JSON.stringify(piece).padEnd(16)} ${exitLayers![i]}\n`));
        const early = exitLayers.filter((l) => l < config.numLayers).length;
        process.stdout.write(`\n${text ?? tokens.join(",")}\n`);
        process.stderr.write(
          `early-exit rate ${((100 * early) / Math.max(1, exitLayers.length)).toFixed(1)}%, layers saved ${(100 * (compute?.averageLayerSavings ?? 0)).toFixed(1)}%, FLOPs saved ${(100 * (compute?.savedFraction ?? 0)).toFixed(1)}%\n`,
        );
      } else {
        process.stdout.write(`${text ?? tokens.join(",")}\n`);
      }
      process.stderr.write(`${tokens.length} tokens in ${seconds.toFixed(2)} s (${(tokens.length / seconds).toFixed(1)} tok/s)\n`);
    });
}

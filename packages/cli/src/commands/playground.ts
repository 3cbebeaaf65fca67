// `eecot playground`: writes a self-contained static folder that runs the model (and an adapter)
// live in a browser, and with --serve serves it on 127.0.0.1.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { formatBytes } from "@eecot/tensor-core";
import { bundledModelDir } from "../bundled.js";
import { integerFlag, numberFlag, positiveIntegerFlag } from "../flags.js";
import { FRESH_HEADS_HELP } from "../setup.js";
import { DEFAULT_PLAYGROUND_DEFAULTS, servePlayground, writePlayground } from "../playground/build.js";

interface PlaygroundCommandOptions {
  model?: string;
  adapter?: string;
  out: string;
  serve?: boolean;
  port: string;
  prompt: string;
  seed: string;
  temperature: string;
  maxNewTokens: string;
  freshHeads?: boolean;
}

export function registerPlayground(program: Command): void {
  program
    .command("playground")
    .description("write a static web page that runs the model live in the browser (sampled exits, depth colours, exit-offset slider); --serve serves it")
    .option("--model <dir>", "Hugging Face model folder (default: the bundled models/tiny-reasoner)")
    .option("--adapter <dir>", "early-exit adapter folder (from eecot calibrate / rl / demo); default: untrained exit heads")
    .option("--fresh-heads", FRESH_HEADS_HELP)
    .option("--out <dir>", "folder to write (replaced)", "playground")
    .option("--serve", "serve the folder on 127.0.0.1 and print its URL (Ctrl-C stops)")
    .option("--port <n>", "port for --serve (0 = any free port)", "8765")
    .option("--prompt <text>", "the page's starting prompt", DEFAULT_PLAYGROUND_DEFAULTS.prompt)
    .option("--seed <s>", "the page's starting seed", String(DEFAULT_PLAYGROUND_DEFAULTS.seed))
    .option("--temperature <t>", "the page's starting temperature", String(DEFAULT_PLAYGROUND_DEFAULTS.temperature))
    .option("--max-new-tokens <n>", "the page's starting number of new tokens", String(DEFAULT_PLAYGROUND_DEFAULTS.maxNewTokens))
    .action(async (options: PlaygroundCommandOptions) => {
      const port = integerFlag(options.port, "--port", { min: 0, max: 65535 });
      const adapter = options.adapter;
      if (adapter !== undefined && options.freshHeads !== true && existsSync(join(adapter, "adapter_config.json")) && !existsSync(join(adapter, "early_exit_config.json")) && !existsSync(join(adapter, "exit_heads.safetensors"))) {
        throw new Error(`${adapter}: no early_exit_config.json or exit_heads.safetensors (a plain PEFT LoRA folder?); pass --fresh-heads to start the page with fresh exit heads`);
      }
      const summary = await writePlayground({
        model: options.model ?? bundledModelDir(),
        adapter: options.adapter ?? null,
        out: options.out,
        defaults: {
          prompt: options.prompt,
          seed: integerFlag(options.seed, "--seed"),
          temperature: numberFlag(options.temperature, "--temperature", { min: 0 }),
          maxNewTokens: positiveIntegerFlag(options.maxNewTokens, "--max-new-tokens"),
        },
      });
      process.stdout.write(
        `wrote ${summary.out}: JavaScript ${formatBytes(summary.javascriptBytes)} minified (+ ${formatBytes(summary.webgpuChunkBytes)} webgpu chunk, loaded only with WebGPU), ` +
          `wasm ${formatBytes(summary.wasmBytes)}, model ${formatBytes(summary.modelBytes)}${summary.adapterBytes ? `, adapter ${formatBytes(summary.adapterBytes)}` : ""}\n`,
      );
      if (!options.serve) {
        process.stdout.write(`serve it with: eecot playground --serve (or any static server, e.g. python3 -m http.server -d ${summary.out})\n`);
        return;
      }
      const server = await servePlayground(summary.out, port);
      process.stdout.write(`playground at ${server.url} (Ctrl-C stops)\n`);
      await new Promise<void>((resolve) => process.once("SIGINT", () => void server.close().then(resolve)));
    });
}

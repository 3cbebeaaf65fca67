// Every command checks its flags before the backend starts or a model loads: the errors name the
// flag as typed and quote the value. The model folder given does not exist, so an error about
// the model would mean a flag was checked too late. Also: inputs that used to be accepted
// silently (a tokenizer from another model, a prompt without a chat template, a directory as a
// data file) are refused with a message that names the file and says what to do.
import { mkdtemp, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { bundledModelDir } from "./bundled.js";
import { runCli } from "./program.js";

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);
const NO_MODEL = ["--model", "/nonexistent/eecot-model"];

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

/** A copy of the bundled model folder (files linked) with some files replaced. */
async function modelFolderWith(replace: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "eecot-model-"));
  for (const name of ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
    if (name in replace) await writeFile(join(dir, name), replace[name]!);
    else await symlink(join(bundledModelDir(), name), join(dir, name));
  }
  return dir;
}

describe("numeric and choice flags, checked before anything loads", () => {
  const cases: [string[], string][] = [
    [["eval", ...NO_MODEL, "--data", "tom:2", "--max-new-tokens", "abc"], '--max-new-tokens must be a positive integer, got "abc"'],
    [["eval", ...NO_MODEL, "--data", "tom:2", "--temperature", "-1"], '--temperature must be a finite number ≥ 0, got "-1"'],
    [["eval", ...NO_MODEL, "--data", "tom:2", "--seed", "x"], '--seed must be an integer, got "x"'],
    [["eval", ...NO_MODEL, "--data", "tom:2", "--exit-offset", "up"], '--exit-offset must be a number, got "up"'],
    [["sweep-kl", ...NO_MODEL, "--data", "tom:2", "--max-new-tokens", "0"], '--max-new-tokens must be a positive integer, got "0"'],
    [["sweep-kl", ...NO_MODEL, "--data", "tom:2", "--batch-size", "1.5"], '--batch-size must be a positive integer, got "1.5"'],
    [["sweep-kl", ...NO_MODEL, "--data", "tom:2", "--seed", ""], '--seed must be an integer, got ""'],
    [["sweep-kl", ...NO_MODEL, "--data", "tom:2", "--exit-layers", "0"], '--exit-layers must be comma-separated positive integers, got "0"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--max-new-tokens", "many"], '--max-new-tokens must be a positive integer, got "many"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--temperature", "abc"], '--temperature must be a finite number ≥ 0, got "abc"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--top-p", "0"], '--top-p must be a finite number in (0, 1], got "0"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--top-p", "1.5"], '--top-p must be a finite number in (0, 1], got "1.5"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--seed", "1.5"], '--seed must be an integer, got "1.5"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--exits", "fast"], '--exits must be "sample", "threshold" or "none", got "fast"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--exits", "threshold", "--threshold", "5"], '--threshold must be a finite number in (0, 1), got "5"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--exits", "threshold", "--threshold", "0"], '--threshold must be a finite number in (0, 1), got "0"'],
    [["generate", ...NO_MODEL, "--ids", "1,2", "--min-exit-prob", "2"], '--min-exit-prob must be a finite number in [0, 1], got "2"'],
    [["generate", ...NO_MODEL, "--ids", "1,x"], '--ids must be comma-separated non-negative integers, got "1,x"'],
    [["--threads", "0", "generate", ...NO_MODEL, "--ids", "1,2"], '--threads must be an integer in [1, 16], got "0"'],
    [["--threads", "two", "generate", ...NO_MODEL, "--ids", "1,2"], '--threads must be an integer in [1, 16], got "two"'],
    [["lens", ...NO_MODEL, "--ids", "1,2", "--top", "0"], '--top must be a positive integer, got "0"'],
    [["lens", ...NO_MODEL, "--ids", "1,2", "--top", "-2"], '--top must be a positive integer, got "-2"'],
    [["lens", ...NO_MODEL, "--ids", "1,2", "--top", "abc"], '--top must be a positive integer, got "abc"'],
    [["demo", ...NO_MODEL, "--quick", "--seed", "x"], '--seed must be an integer, got "x"'],
    [["demo", ...NO_MODEL, "--quick", "--kl-factor", "0"], '--kl-factor must be a finite number > 0, got "0"'],
    [["demo", ...NO_MODEL, "--quick", "--exit-penalty", "-1"], '--exit-penalty must be a finite number ≥ 0, got "-1"'],
    [["externalisation", ...NO_MODEL, "--quick", "--seed", "x"], '--seed must be an integer, got "x"'],
    [["train-tiny", "--out", "/nonexistent/never", "--steps", "0"], '--steps must be a positive integer, got "0"'],
    [["train-tiny", "--out", "/nonexistent/never", "--resume", "--more-steps", "abc"], '--more-steps must be a positive integer, got "abc"'],
    [["make-checkpoint", "--preset", "qwen3-0.6b", "--out", "/nonexistent/never", "--shard-size-gb", "0"], '--shard-size-gb must be a finite number > 0, got "0"'],
  ];
  test.each(cases)("%j", async (args, message) => {
    await expect(run(...args)).rejects.toThrow(message);
  });
});

describe("inputs that were accepted silently", () => {
  test("a tokenizer with ids past the model's vocab_size is refused before the weights load; a padded vocab_size is fine", async () => {
    const config = JSON.parse(await readFile(join(bundledModelDir(), "config.json"), "utf8")) as { vocab_size: number };
    // The bundled tokenizer's highest id is below config.json's vocab_size of 640 (padded, as Qwen does): it loads.
    const tokenizer = JSON.parse(await readFile(join(bundledModelDir(), "tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> }; added_tokens: { id: number }[] };
    const highest = Math.max(...Object.values(tokenizer.model.vocab), ...tokenizer.added_tokens.map((t) => t.id));
    expect(highest).toBeLessThan(config.vocab_size);
    const dir = await modelFolderWith({ "config.json": JSON.stringify({ ...config, vocab_size: 500 }) });
    await expect(run("lens", "--model", dir, "--ids", "1,2")).rejects.toThrow(
      `${join(dir, "tokenizer.json")} has token ids up to ${highest}, but the model has only 500 embedding rows (vocab_size in ${join(dir, "config.json")}): the tokenizer belongs to another model; put the model's own tokenizer.json in the folder`,
    );
  });

  test("generate --prompt without a chat template is refused unless --raw (as eval refuses it)", async () => {
    const tokenizerConfig = JSON.parse(await readFile(join(bundledModelDir(), "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    delete tokenizerConfig.chat_template;
    const dir = await modelFolderWith({ "tokenizer_config.json": JSON.stringify(tokenizerConfig) });
    await expect(run("generate", "--model", dir, "--prompt", "What is 2 + 3?", "--max-new-tokens", "2")).rejects.toThrow(
      /^--prompt: .* has no chat template \(tokenizer_config.json "chat_template" or chat_template.jinja\); pass --raw to send the prompt as plain text$/,
    );
    const chunks: string[] = [];
    const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      await run("generate", "--model", dir, "--prompt", "What is 2 + 3?", "--raw", "--max-new-tokens", "2", "--json");
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    expect(JSON.parse(chunks.join("")).tokens).toHaveLength(2);
  });

  test("a directory given as a data file names the path and says it is a directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "eecot-data-dir-"));
    await mkdir(join(dir, "test.jsonl"));
    await expect(run("eval", ...NO_MODEL, "--data", `gsm8k:${join(dir, "test.jsonl")}`)).rejects.toThrow(`GSM8K file ${join(dir, "test.jsonl")} is a directory, not a file; pass the file inside it`);
    await expect(run("eval", ...NO_MODEL, "--data", `tom-csv:${dir}`)).rejects.toThrow(`ExploreToM file ${dir} is a directory, not a file; pass the file inside it`);
  });
});

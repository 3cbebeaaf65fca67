// Faults from outside, through the `eecot` command in process: a generation longer than the
// model's context, head-less PEFT adapters (--fresh-heads), runs sharing an output folder,
// resumes with changed flags and a full disk. Each has a message that says what to do.
import { mkdtemp, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test, vi } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { disposeModel, loadQwenModel } from "@eecot/transformer";
import { EarlyExitModel, saveEarlyExitAdapters } from "@eecot/early-exit";
import { buildProgram, runCli } from "./program.js";
import { bundledModelDir } from "./bundled.js";

const run = (...args: string[]) => runCli(["node", "eecot", "--backend", "wasm", ...args]);

/** Runs the CLI with stdout captured; returns what it printed. */
async function stdoutOf(...args: string[]): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await run(...args);
  } finally {
    spy.mockRestore();
  }
  return chunks.join("");
}

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
});

describe("generation longer than the context", () => {
  test("--max-new-tokens past max_position_embeddings is refused with the largest allowed value", async () => {
    // The bundled model's context is 512 positions; ids 5,6,7 are a 3-token prompt.
    await expect(run("generate", "--ids", "5,6,7", "--max-new-tokens", "100000")).rejects.toThrow(
      "--max-new-tokens 100000 with a 3-token prompt needs 100003 positions, more than the model's context of 512 (max_position_embeddings in config.json); use --max-new-tokens 509 or less",
    );
    await expect(run("generate", "--ids", "5,6,7", "--max-new-tokens", "510", "--adapter", "/nonexistent")).rejects.toThrow(/use --max-new-tokens 509 or less/);
  });
});

describe("--fresh-heads: a plain PEFT LoRA folder (no exit heads) in every --adapter command", () => {
  let peft: string;
  beforeAll(async () => {
    const base = await loadQwenModel(bundledModelDir());
    const model = EarlyExitModel.create(base, { lora: { rank: 2 } });
    peft = join(await mkdtemp(join(tmpdir(), "eecot-peft-")), "adapter");
    await saveEarlyExitAdapters(peft, model);
    await unlink(join(peft, "exit_heads.safetensors"));
    await unlink(join(peft, "early_exit_config.json"));
    model.dispose();
    disposeModel(base);
  });

  test("every command that takes --adapter has --fresh-heads", () => {
    const commands = buildProgram().commands.filter((c) => c.options.some((o) => o.long === "--adapter"));
    expect(commands.map((c) => c.name()).sort()).toEqual(["eval", "externalisation", "generate", "playground", "rl"]);
    for (const command of commands) expect(command.options.some((o) => o.long === "--fresh-heads"), command.name()).toBe(true);
  });

  test("without the flag the error names the folder and the flag; with it generate runs on fresh heads", async () => {
    await expect(run("generate", "--ids", "5,6,7", "--max-new-tokens", "4", "--adapter", peft)).rejects.toThrow(
      `${peft}: no early_exit_config.json or exit_heads.safetensors (a plain PEFT LoRA folder?); pass --fresh-heads (API: allowMissingHeads) to start with fresh exit heads`,
    );
    const document = JSON.parse(await stdoutOf("generate", "--ids", "5,6,7", "--max-new-tokens", "4", "--adapter", peft, "--fresh-heads", "--json"));
    expect(document.tokens).toHaveLength(4);
    expect(document.exitLayers).toHaveLength(4);
    await expect(run("eval", "--data", "tom:2", "--max-new-tokens", "4", "--adapter", peft)).rejects.toThrow(/pass --fresh-heads/);
    const evaluation = JSON.parse(await stdoutOf("eval", "--data", "tom:2", "--max-new-tokens", "4", "--adapter", peft, "--fresh-heads", "--json"));
    expect(evaluation.results.map((r: { label: string }) => r.label)).toEqual(["early-exit"]);
    const page = join(await mkdtemp(join(tmpdir(), "eecot-peft-page-")), "page");
    await expect(run("playground", "--adapter", peft, "--out", page)).rejects.toThrow(`${peft}: no early_exit_config.json or exit_heads.safetensors (a plain PEFT LoRA folder?); pass --fresh-heads`);
  }, 120_000);
});

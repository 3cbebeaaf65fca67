// Helpers shared by the examples: argument parsing and the model/backend set-up.
import { parseArgs } from "node:util";
import { initBackend, type BackendChoice } from "@eecot/tensor-core";
import { bundledModelDir, loadModelFolder, requireTokenizer, type LoadedModel } from "@eecot/cli";

export interface ExampleArgs {
  /** Local Hugging Face folder; absent = the bundled tiny model. */
  readonly model: string | null;
  /** GSM8K JSONL (train/test) path; absent = synthetic GSM-style problems. */
  readonly gsm8k: string | null;
  readonly backend: BackendChoice;
  readonly quick: boolean;
  readonly out: string;
  readonly seed: number;
}

export function parseExampleArgs(argv: readonly string[], name: string): ExampleArgs {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      model: { type: "string" },
      gsm8k: { type: "string" },
      backend: { type: "string", default: "auto" },
      quick: { type: "boolean", default: false },
      out: { type: "string" },
      seed: { type: "string", default: "0" },
    },
  });
  return {
    model: values.model ?? null,
    gsm8k: values.gsm8k ?? null,
    backend: values.backend as BackendChoice,
    quick: values.quick ?? false,
    out: values.out ?? `runs/${name}-${new Date().toISOString().replace(/[:.]/g, "-")}`,
    seed: Number(values.seed),
  };
}

export async function setUp(args: ExampleArgs): Promise<LoadedModel & { tokenizer: NonNullable<LoadedModel["tokenizer"]> }> {
  await initBackend({ backend: args.backend });
  const loaded = await loadModelFolder(args.model ?? bundledModelDir());
  return { ...loaded, tokenizer: requireTokenizer(loaded, "this example") };
}

// Helpers shared by the examples: the command line (commander, as the `eecot` command uses:
// --help, "did you mean" for a mistyped flag, errors without stack traces, exit code 1), the
// model/backend set-up and the GSM8K data of a run.
import { gsm8kToTaskExample, loadGsm8k, type TaskExample } from "@eecot/datasets";
import { initBackend, type BackendChoice } from "@eecot/tensor-core";
import { bundledModelDir, loadModelFolder, requireTokenizer, scriptCommand, type Command, type LoadedModel } from "@eecot/cli";

export interface ExampleArgs {
  /** Local Hugging Face folder; absent = the bundled tiny model. */
  readonly model: string | null;
  /** GSM8K JSONL (train/test) path; absent = synthetic GSM-style problems. */
  readonly gsm8k: string | null;
  readonly backend: BackendChoice;
  readonly quick: boolean;
  readonly out: string;
  /** True when --out was given (a default folder has a fresh timestamp). */
  readonly outGiven: boolean;
  readonly seed: number;
}

interface CommonOptions {
  model?: string;
  gsm8k?: string;
  backend: string;
  quick?: boolean;
  out?: string;
  seed: string;
}

/** A command with the flags every example has; add its own flags, then `parseExample`. */
export function exampleCommand(name: string, description: string): Command {
  return scriptCommand(name, description)
    .option("--model <dir>", "local Hugging Face model folder (default: the bundled models/tiny-reasoner)")
    .option("--gsm8k <file>", "GSM8K JSONL (github.com/openai/grade-school-math); default: synthetic GSM-style problems")
    .option("--backend <name>", "tensor backend: auto, wasm, cpu, tensorflow, webgpu", "auto")
    .option("--quick", "same code path with tiny sizes: a smoke run on the bundled model (what the test suite runs)")
    .option("--out <dir>", `run folder (default runs/${name}-<timestamp>)`)
    .option("--seed <s>", "seed", "0");
}

/** Parse argv (user arguments only); a --help or a bad flag throws CommanderError after commander printed it. */
export function parseExample<T>(command: Command, argv: readonly string[]): ExampleArgs & { readonly options: T } {
  command.parse([...argv], { from: "user" });
  const values = command.opts<CommonOptions>();
  const seed = Number(values.seed);
  if (values.seed.trim() === "" || !Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${JSON.stringify(values.seed)}`);
  const backends = ["auto", "wasm", "cpu", "tensorflow", "webgpu"];
  if (!backends.includes(values.backend)) throw new Error(`--backend must be one of ${backends.join(", ")}, got ${JSON.stringify(values.backend)}`);
  return {
    model: values.model ?? null,
    gsm8k: values.gsm8k ?? null,
    backend: values.backend as BackendChoice,
    quick: values.quick ?? false,
    out: values.out ?? `runs/${command.name()}-${new Date().toISOString().replace(/[:.]/g, "-")}`,
    outGiven: values.out !== undefined,
    seed,
    options: values as unknown as T,
  };
}

export async function setUp(args: ExampleArgs): Promise<LoadedModel & { tokenizer: NonNullable<LoadedModel["tokenizer"]> }> {
  await initBackend({ backend: args.backend });
  const loaded = await loadModelFolder(args.model ?? bundledModelDir());
  return { ...loaded, tokenizer: requireTokenizer(loaded, "this example") };
}

/** GSM8K problems of one JSONL file as task examples (file errors name the file and line). */
export function gsm8kExamples(path: string): TaskExample[] {
  return loadGsm8k(path).examples.map((e) => gsm8kToTaskExample(e, path));
}

/**
 * `count` examples from `from` on, refusing when none are there and saying how many were found
 * when fewer (`what` names the use and the file, e.g. "held-out prompts from test.jsonl").
 */
export function takeExamples(examples: readonly TaskExample[], from: number, count: number, what: string, log: (line: string) => void, hint = ""): TaskExample[] {
  const taken = examples.slice(from, from + count);
  if (count > 0 && taken.length === 0) {
    throw new Error(`${what}: none found (the file has ${examples.length} problems and ${from} are used before these)${hint ? `; ${hint}` : ""}`);
  }
  if (taken.length < count) log(`${what}: only ${taken.length} of ${count} found (the file has ${examples.length} problems and ${from} are used before these)`);
  return taken;
}

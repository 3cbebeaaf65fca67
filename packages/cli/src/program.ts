// Command registry for `eecot`: each command lives in ./commands/<name>.ts.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerLens } from "./commands/lens.js";
import { registerGenerate } from "./commands/generate.js";
import { registerTrainTiny } from "./commands/train-tiny.js";
import { registerEval } from "./commands/eval.js";
import { registerRl } from "./commands/rl.js";
import { registerReport } from "./commands/report.js";
import { registerDemo } from "./commands/demo.js";
import { registerCalibrate } from "./commands/calibrate.js";
import { registerSweepKl } from "./commands/sweep-kl.js";
import { registerExternalisation } from "./commands/externalisation.js";
import { registerMakeCheckpoint } from "./commands/make-checkpoint.js";
import { registerPlayground } from "./commands/playground.js";
import { registerJudge } from "./judge-run.js";
import { heldRunLocks, releaseRunLocks } from "./run-lock.js";
import { registerReplicate } from "./commands/replicate.js";

/** This package's version (package.json sits one folder above both src/ and dist/). */
export function cliVersion(): string {
  return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("eecot")
    .description("Early-exit chain-of-thought: make language models externalise their reasoning")
    .version(cliVersion(), "-V, --version", "print the version")
    .option("--backend <name>", "tensor backend: auto, wasm, cpu, tensorflow, webgpu (or EECOT_BACKEND)")
    .option("--threads <n>", "wasm: threads for the matMul kernels, 1 turns them off (or EECOT_THREADS; default: the cores, at most 4)")
    .option("--verbose", "also print informative lines, such as a memory estimate that fits easily")
    .showHelpAfterError();
  registerLens(program);
  registerGenerate(program);
  registerTrainTiny(program);
  registerEval(program);
  registerRl(program);
  registerReport(program);
  registerDemo(program);
  registerCalibrate(program);
  registerSweepKl(program);
  registerExternalisation(program);
  registerMakeCheckpoint(program);
  registerPlayground(program);
  registerJudge(program);
  registerReplicate(program);
  return program;
}

/** Run one `eecot` command; the run-folder locks it took are released when it returns or throws. */
export async function runCli(argv: readonly string[]): Promise<void> {
  const before = heldRunLocks();
  try {
    await buildProgram().parseAsync([...argv]);
  } finally {
    releaseRunLocks(before);
  }
}

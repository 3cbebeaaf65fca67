// Command registry for `eecot`: each command lives in ./commands/<name>.ts.
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
import { registerMakeCheckpoint } from "./commands/make-checkpoint.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("eecot")
    .description("Early-exit chain-of-thought: make language models externalise their reasoning")
    .option("--backend <name>", "tensor backend: auto, wasm, cpu, tensorflow, webgpu (or EECOT_BACKEND)")
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
  registerMakeCheckpoint(program);
  return program;
}

export async function runCli(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}

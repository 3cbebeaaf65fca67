// Pipeline scripts built on the CLI (the examples): the same argument handling as `eecot`
// (commander: --help, "did you mean" for a mistyped flag, errors without stack traces, exit code 1).
import { Command, CommanderError } from "commander";
import { installErrorHandlers, reportError } from "./errors.js";

export { Command, CommanderError };

/** A command for a script named `name`: parse errors and --help throw CommanderError (after printing) instead of exiting. */
export function scriptCommand(name: string, description: string): Command {
  return new Command(name).description(description).allowExcessArguments(false).showHelpAfterError("(run with --help for the flags)").exitOverride();
}

/**
 * Run a script's main: our error handlers, "name: message" and exit code 1 on an error (the
 * stack with EECOT_DEBUG=1), commander's own exit code after --help or a bad flag.
 */
export async function runScript(name: string, main: () => Promise<void>): Promise<void> {
  installErrorHandlers(name);
  try {
    await main();
  } catch (error) {
    if (error instanceof CommanderError) process.exitCode = error.exitCode;
    else {
      reportError(name, error);
      process.exitCode = 1;
    }
  }
}

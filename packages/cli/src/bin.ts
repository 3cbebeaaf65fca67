#!/usr/bin/env node
// The `eecot` command.
import { runCli } from "./program.js";

runCli(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`eecot: ${message}\n`);
  if (process.env.EECOT_DEBUG && error instanceof Error && error.stack) process.stderr.write(error.stack + "\n");
  process.exitCode = 1;
});

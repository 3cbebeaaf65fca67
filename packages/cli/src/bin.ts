#!/usr/bin/env node
// The `eecot` command.
import { installErrorHandlers, reportError } from "./errors.js";
import { runCli } from "./program.js";

installErrorHandlers("eecot");
runCli(process.argv).catch((error: unknown) => {
  reportError("eecot", error);
  process.exitCode = 1;
});

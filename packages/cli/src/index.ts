// @eecot/cli: the `eecot` command as a library (for tests and embedding).
export { buildProgram, runCli } from "./program.js";

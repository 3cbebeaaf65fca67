// Our own last-resort error handlers: an uncaught exception or an unhandled rejection prints
// "eecot: <message>" (the stack with EECOT_DEBUG=1) and exits with code 1. The wasm backend's
// Emscripten runtime installs handlers that rethrow (`throw ex;`), which Node reports as a crash
// inside tf-backend-wasm.node.js with exit code 7; `reclaimErrorHandlers` removes them once the
// backend has started.

type ErrorHandler = (error: unknown) => void;

let installed: { readonly name: string; readonly handler: ErrorHandler } | null = null;

/** "eecot: message" (+ the stack with EECOT_DEBUG) on stderr. */
export function reportError(name: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${name}: ${message}\n`);
  if (process.env.EECOT_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
}

/** Install the handlers for a command named `name` (idempotent). */
export function installErrorHandlers(name: string): void {
  if (installed) return;
  const handler: ErrorHandler = (error) => {
    reportError(name, error);
    process.exit(1);
  };
  installed = { name, handler };
  process.on("uncaughtException", handler);
  process.on("unhandledRejection", handler);
}

/** Remove every other uncaught-error handler (the wasm runtime's); no-op unless installed. */
export function reclaimErrorHandlers(): void {
  if (!installed) return;
  const ours = installed.handler;
  for (const listener of process.listeners("uncaughtException")) if (listener !== ours) process.removeListener("uncaughtException", listener);
  for (const listener of process.listeners("unhandledRejection")) if (listener !== ours) process.removeListener("unhandledRejection", listener);
}

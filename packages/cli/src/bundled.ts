// Where the bundled tiny model lives: the default of every command whose --model is optional.
// The model is the @eecot/tiny-reasoner package (models/tiny-reasoner in a clone, a registry
// dependency of @eecot/cli otherwise), so `npx @eecot/cli demo` finds it without a clone.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { modelDir } from "@eecot/tiny-reasoner";

/** The bundled model: models/tiny-reasoner under the working directory, else the @eecot/tiny-reasoner package. */
export function bundledModelDir(): string {
  const candidates = [resolve("models/tiny-reasoner"), modelDir];
  const found = candidates.find((dir) => existsSync(join(dir, "config.json")));
  if (!found) throw new Error(`the bundled model was not found (looked in ${candidates.join(", ")}); pass --model DIR`);
  return found;
}

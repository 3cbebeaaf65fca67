// Where the bundled tiny model lives: the default of every command whose --model is optional.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The bundled model: models/tiny-reasoner under the working directory, else in this clone of the repository. */
export function bundledModelDir(): string {
  const candidates = [
    resolve("models/tiny-reasoner"),
    fileURLToPath(new URL("../../../models/tiny-reasoner", import.meta.url)), // packages/cli/{src,dist}/ in a clone
  ];
  const found = candidates.find((dir) => existsSync(join(dir, "config.json")));
  if (!found) throw new Error(`the bundled model was not found (looked in ${candidates.join(", ")}); pass --model DIR`);
  return found;
}

// A FileSource over a local folder (Node only; see file-source.ts for the browser sources).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { FileSource } from "./file-source.js";

/** Files of local folder `dir`; a missing file reads as null, other errors throw with the path. */
export function directoryFileSource(dir: string): FileSource {
  const describe = (name: string) => join(dir, name);
  return {
    label: dir,
    describe,
    async read(name) {
      try {
        const bytes = await readFile(describe(name));
        return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") return null;
        throw new Error(`${describe(name)}: cannot read (${code ?? (error as Error).message})`);
      }
    },
  };
}

// Atomic replacement of a folder: write everything into a staging folder beside the target,
// then swap it in, so a crash never leaves a half-written checkpoint where a good one was.
import { rename, rm } from "node:fs/promises";

/** Move a fully written `staging` folder over `target`: the old one is renamed aside first, then removed. */
export async function replaceDirectory(staging: string, target: string): Promise<void> {
  const old = `${target}.old-${process.pid}-${Date.now()}`;
  let moved = false;
  try {
    await rename(target, old);
    moved = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await rename(staging, target);
  if (moved) await rm(old, { recursive: true, force: true });
}

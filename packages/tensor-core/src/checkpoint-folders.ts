// Numbered checkpoint folders (`<dir>/step-000120/`), shared by stage 1 (distill) and stage 2
// (rloo): naming, listing, the newest one, and retention. A folder named step-NNNNNN is always
// complete, because writers build it under a temporary name and rename it into place.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/** Folder name of the checkpoint after `step` steps, e.g. "step-000025". */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, "0")}`;
}

/** Steps of the complete checkpoints in `directory`, increasing ([] when it does not exist). */
export async function checkpointSteps(directory: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return [];
  }
  return names
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
}

/** The newest complete checkpoint folder in `directory`, or null when there is none. */
export async function findLatestCheckpoint(directory: string): Promise<string | null> {
  const steps = await checkpointSteps(directory);
  return steps.length > 0 ? join(directory, checkpointName(steps[steps.length - 1]!)) : null;
}

/** Remove all but the newest `keep` checkpoints in `directory` (Infinity keeps every one). */
export async function removeOldCheckpoints(directory: string, keep: number): Promise<void> {
  const steps = await checkpointSteps(directory);
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) await rm(join(directory, checkpointName(old)), { recursive: true, force: true });
}

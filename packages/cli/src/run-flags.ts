// The flags a run folder was started with (<out>/run.json), so that --resume with flags that
// change the run (seed, learning rates, data, λ, KL factor, lengths...) is refused, naming each
// changed flag with its old and new value, unless --allow-changed says the change is meant; then
// the change is recorded in run.json. Flags that only say where or how often things are written
// (--out, --resume, --json, --checkpoint-every, --keep-checkpoints, --cache) are not compared:
// a resumed run with other values of these trains exactly as before.
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";

/** The record of a run folder's flags. */
export const RUN_FLAGS_FILE = "run.json";

/** Options (attribute names) that do not change what a run computes. */
const OUTPUT_ONLY = new Set(["out", "resume", "allowChanged", "json", "checkpointEvery", "keepCheckpoints", "cache", "quiet"]);

/** Help of --allow-changed. */
export const ALLOW_CHANGED_HELP = "with --resume: continue even though flags that change the run (seed, learning rates, data...) differ from the run's first start (recorded in <out>/run.json)";

/** A flag value as recorded: the string typed (or the default), true for a switch, null when unset. */
export type FlagValue = string | boolean | null;

/** Contents of run.json. */
export interface RunFlagsRecord {
  readonly command: string;
  readonly started: string;
  /** Long flag name ("--seed") → value, for every flag that changes the run. */
  readonly flags: Readonly<Record<string, FlagValue>>;
  /** Changes accepted with --allow-changed, oldest first. */
  readonly changes?: readonly { readonly at: string; readonly flags: Readonly<Record<string, readonly [FlagValue, FlagValue]>> }[];
}

/** The run-changing flags of a parsed command: every long option but the output-only ones. */
export function runChangingFlags(command: Command): Record<string, FlagValue> {
  const values = command.opts() as Record<string, unknown>;
  const flags: Record<string, FlagValue> = {};
  for (const option of command.options) {
    const key = option.attributeName();
    if (!option.long || OUTPUT_ONLY.has(key)) continue;
    const value = values[key];
    flags[option.long] = value === undefined ? null : typeof value === "boolean" ? value : String(value);
  }
  return flags;
}

/** Each flag whose value differs, as [old, new] (a flag new to the program compares as unset). */
export function changedFlags(before: Readonly<Record<string, FlagValue>>, after: Readonly<Record<string, FlagValue>>): Record<string, [FlagValue, FlagValue]> {
  const changed: Record<string, [FlagValue, FlagValue]> = {};
  for (const flag of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const old = before[flag] ?? null;
    const now = after[flag] ?? null;
    if (old !== now) changed[flag] = [old, now];
  }
  return changed;
}

const show = (value: FlagValue) => (value === null ? "(not set)" : value === true ? "(set)" : value === false ? "(not set)" : JSON.stringify(value));

async function writeRecord(path: string, record: RunFlagsRecord, command: string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, JSON.stringify(record, null, 2) + "\n");
    await rename(temporary, path);
  } catch (error) {
    throw new Error(`${command}: cannot write ${path}: ${(error as Error).message}`);
  }
}

async function readRecord(path: string, command: string): Promise<RunFlagsRecord | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`${command}: cannot read ${path}: ${(error as Error).message}`);
  }
  let record: RunFlagsRecord;
  try {
    record = JSON.parse(text) as RunFlagsRecord;
  } catch (error) {
    throw new Error(`${command}: ${path} is not valid JSON (${(error as Error).message}); restore it, or resume with --allow-changed to record this run's flags`);
  }
  if (typeof record?.flags !== "object" || record.flags === null) throw new Error(`${command}: ${path} has no "flags" object; restore it, or resume with --allow-changed to record this run's flags`);
  return record;
}

export interface RunFlagsOptions {
  /** The run continues from a checkpoint of the folder (false: it starts fresh). */
  readonly continuing: boolean;
  readonly allowChanged?: boolean;
  readonly log?: (line: string) => void;
}

/**
 * Record `flags` in <outDir>/run.json when the run starts fresh; when it continues a checkpoint,
 * refuse flags that differ from the recorded ones (each named, old and new value) unless
 * `allowChanged`, which records the change. A folder without run.json (written by an older
 * version) gets one, with a note.
 */
export async function checkRunFlags(command: string, outDir: string, flags: Readonly<Record<string, FlagValue>>, options: RunFlagsOptions): Promise<void> {
  const path = join(outDir, RUN_FLAGS_FILE);
  const log = options.log ?? (() => {});
  const now = new Date().toISOString();
  if (!options.continuing) {
    await writeRecord(path, { command, started: now, flags }, command);
    return;
  }
  let record: RunFlagsRecord | null;
  try {
    record = await readRecord(path, command);
  } catch (error) {
    if (!options.allowChanged) throw error;
    record = null;
  }
  if (record === null) {
    log(`${command}: ${path} is missing or unreadable: this run's flags are recorded there now, earlier ones could not be compared`);
    await writeRecord(path, { command, started: now, flags }, command);
    return;
  }
  const changed = changedFlags(record.flags, flags);
  const names = Object.keys(changed);
  if (names.length === 0) return;
  const list = names.map((flag) => `${flag} ${show(changed[flag]![0])} → ${show(changed[flag]![1])}`).join(", ");
  if (!options.allowChanged) {
    throw new Error(`${command} --resume: ${names.length === 1 ? "a flag differs" : `${names.length} flags differ`} from the run in ${outDir} (${path}): ${list}; resume with the same flags, pass --allow-changed to continue with the new ones, or choose a new --out folder`);
  }
  log(`${command}: --allow-changed: continuing with ${list}`);
  await writeRecord(path, { ...record, flags, changes: [...(record.changes ?? []), { at: now, flags: changed }] }, command);
}

// Teacher trajectories: greedy answers equal generateTokens one prompt at a time; the disk cache
// is written, reused when the key matches, bypassed when it does not, and a corrupt file fails
// with its path and line.
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { initBackend } from "@eecot/tensor-core";
import { disposeModel, generateTokens, loadQwenModel, type QwenModel } from "@eecot/transformer";
import { PROMPTS, fixturePath } from "../test/helpers.js";
import { buildTeacherTrajectories, type TeacherPrompt } from "./teacher.js";

let base: QwenModel;
let folder: string;
const prompts: TeacherPrompt[] = PROMPTS.map((p, i) => ({ id: `p${i}`, promptTokens: p }));

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  base = await loadQwenModel(fixturePath("qwen3-tiny-f32"));
  folder = await mkdtemp(join(tmpdir(), "distill-teacher-"));
});
afterAll(async () => {
  disposeModel(base);
  await rm(folder, { recursive: true, force: true });
});

test("greedy answers equal unbatched generateTokens, with stop tokens and decoded text", async () => {
  const { trajectories, fromCache, cachePath } = await buildTeacherTrajectories(base, prompts, {
    maxNewTokens: 6,
    stopTokenIds: [382],
    batchSize: 3,
    decode: (ids) => ids.join(" "),
  });
  expect(fromCache).toBe(false);
  expect(cachePath).toBeNull();
  for (const [i, p] of PROMPTS.entries()) {
    const alone = await generateTokens(base.params, base.config, [p], { maxNewTokens: 6, stopTokenIds: [382] });
    expect(trajectories[i]!.id).toBe(`p${i}`);
    expect(trajectories[i]!.promptTokens).toEqual(p);
    expect(trajectories[i]!.tokens).toEqual(alone.tokens[0]);
    expect(trajectories[i]!.finished).toBe(alone.finished[0]);
    expect(trajectories[i]!.text).toBe(alone.tokens[0]!.join(" "));
  }
});

test("the cache is written once, reused when the key matches, and keyed by settings", async () => {
  const cacheDir = join(folder, "cache");
  const options = { maxNewTokens: 4, stopTokenIds: [], cacheDir, cacheKey: { dataSpec: "fixture" } };
  const first = await buildTeacherTrajectories(base, prompts, options);
  expect(first.fromCache).toBe(false);
  expect(first.cachePath).not.toBeNull();
  const second = await buildTeacherTrajectories(base, prompts, options);
  expect(second.fromCache).toBe(true);
  expect(second.cachePath).toBe(first.cachePath);
  expect(second.trajectories).toEqual(first.trajectories);
  // Other generation settings, data spec or prompts: a different file.
  const longer = await buildTeacherTrajectories(base, prompts, { ...options, maxNewTokens: 5 });
  const otherSpec = await buildTeacherTrajectories(base, prompts, { ...options, cacheKey: { dataSpec: "other" } });
  const fewer = await buildTeacherTrajectories(base, prompts.slice(1), options);
  for (const result of [longer, otherSpec, fewer]) {
    expect(result.fromCache).toBe(false);
    expect(result.cachePath).not.toBe(first.cachePath);
  }
  expect((await readdir(cacheDir)).filter((f) => f.endsWith(".jsonl"))).toHaveLength(4);
  expect((await readdir(cacheDir)).some((f) => f.includes(".tmp-"))).toBe(false);

  // A corrupt line is an error naming the file and line.
  const text = await readFile(first.cachePath!, "utf8");
  const lines = text.split("\n");
  lines[2] = "{not json";
  await writeFile(first.cachePath!, lines.join("\n"));
  await expect(buildTeacherTrajectories(base, prompts, options)).rejects.toThrow(new RegExp(`${first.cachePath!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3: not JSON`));
});

test("bad prompts are rejected with the prompt id", async () => {
  await expect(buildTeacherTrajectories(base, [{ id: "empty", promptTokens: [] }], { maxNewTokens: 2, stopTokenIds: [] })).rejects.toThrow(/prompt empty is empty/);
  await expect(buildTeacherTrajectories(base, [{ id: "big", promptTokens: [1, 99999] }], { maxNewTokens: 2, stopTokenIds: [] })).rejects.toThrow(/prompt big has token id 99999/);
});

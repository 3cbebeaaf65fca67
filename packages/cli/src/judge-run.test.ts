// The judge against a local OpenAI-compatible server on 127.0.0.1: `eecot eval` saves its
// generations before the judge runs, so a hanging judge (the timeout fires) loses nothing and
// `eecot judge FILE` scores the saved responses without generating again; an HTTP 500, a body
// that is not JSON and scores off the 0–10 scale fail with their reason, the file named and the
// scores of earlier batches kept.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { resolveJudgeConfig } from "@eecot/eval";
import { initBackend } from "@eecot/tensor-core";
import type { EvaluationMetrics } from "./evaluate-model.js";
import { judgeSavedEvaluation, readEvaluation, saveEvaluation, type SavedEvaluation } from "./judge-run.js";
import { runCli } from "./program.js";

type Behaviour = (request: IncomingMessage, response: ServerResponse) => void;
const queue: Behaviour[] = [];
let received = 0;
let server: Server;
let baseUrl = "";

const chat = (content: string): Behaviour => (_, response) => {
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content } }] }));
};
const status = (code: number, body = "internal error"): Behaviour => (_, response) => {
  response.writeHead(code);
  response.end(body);
};
const hang: Behaviour = () => {};
const scores = (coherence: number | string) => `{"coherence": ${coherence}, "completeness": 7, "clarity": 6, "repetition_avoidance": 9, "justification": "ok"}`;

beforeAll(async () => {
  await initBackend({ backend: "wasm", quiet: true });
  server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      received += 1;
      (queue.shift() ?? status(599, "queue empty"))(request, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  queue.length = 0;
  received = 0;
  vi.stubEnv("EECOT_JUDGE_URL", baseUrl);
  vi.stubEnv("EECOT_JUDGE_MODEL", "judge-model");
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** Runs the CLI with stdout and stderr captured. */
async function quietly(...args: string[]): Promise<string> {
  const chunks: string[] = [];
  const stdout = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => (chunks.push(String(chunk)), true));
  const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    await runCli(["node", "eecot", "--backend", "wasm", ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return chunks.join("");
}

describe("eecot eval with a judge, then eecot judge", () => {
  test("a hanging judge: the timeout fires, the generations are already saved, and eecot judge scores them without generating", async () => {
    const out = join(await mkdtemp(join(tmpdir(), "eecot-judge-")), "eval.json");
    queue.push(hang, hang);
    await expect(quietly("eval", "--data", "tom:2", "--max-new-tokens", "4", "--out", out, "--judge-timeout", "0.2", "--judge-retries", "0")).rejects.toThrow(
      new RegExp(`timed out after 200 ms\\nthe generations and metrics are saved in ${out} \\(0 of 2 responses judged\\); judge the rest with: eecot judge ${out}$`),
    );
    const saved = await readEvaluation(out);
    expect(saved.judge).toEqual({ status: "pending", model: "judge-model" });
    expect(saved.results.map((r) => r.label)).toEqual(["base"]);
    expect(saved.results[0]!.metrics.judge).toBeNull();
    expect(saved.samples.base).toHaveLength(2);
    const completions = saved.samples.base!.map((s) => s.completion);

    queue.push(chat(scores(8)), chat(scores(4)));
    const printed = JSON.parse(await quietly("judge", out, "--json"));
    expect(received).toBe(2 + 2);
    expect(printed.results[0].judge).toEqual({ count: 2, coherence: 6, completeness: 7, clarity: 6, repetitionAvoidance: 9, overall: 7 });
    const judged = await readEvaluation(out);
    expect(judged.judge.status).toBe("done");
    expect(judged.results[0]!.metrics.judge).toEqual(printed.results[0].judge);
    expect(judged.results[0]!.metrics.accuracy).toBe(saved.results[0]!.metrics.accuracy);
    expect(judged.samples.base!.map((s) => s.completion)).toEqual(completions);
    expect(judged.samples.base!.map((s) => s.judge?.coherence)).toEqual([8, 4]);
  }, 120_000);

  test("judge flags and env are checked before the model loads", async () => {
    const out = join(tmpdir(), "eecot-judge-never.json");
    await expect(quietly("eval", "--model", "/nonexistent/eecot-model", "--data", "tom:2", "--out", out, "--judge-timeout", "abc")).rejects.toThrow('--judge-timeout must be a finite number > 0, got "abc"');
    await expect(quietly("eval", "--model", "/nonexistent/eecot-model", "--data", "tom:2", "--out", out, "--judge-retries", "-1")).rejects.toThrow('--judge-retries must be an integer ≥ 0, got "-1"');
    vi.stubEnv("EECOT_JUDGE_TIMEOUT_MS", "soon");
    await expect(quietly("eval", "--model", "/nonexistent/eecot-model", "--data", "tom:2", "--out", out)).rejects.toThrow('judge config: EECOT_JUDGE_TIMEOUT_MS must be a number > 0, got "soon"');
    vi.stubEnv("EECOT_JUDGE_URL", "");
    vi.stubEnv("EECOT_JUDGE_MODEL", "");
    await expect(quietly("judge", out)).rejects.toThrow("judge: no judge configured; set EECOT_JUDGE_URL and EECOT_JUDGE_MODEL");
  });
});

describe("judgeSavedEvaluation on a saved file", () => {
  /** A saved evaluation of `count` hand-written responses (no model involved). */
  async function savedFile(count: number): Promise<string> {
    const path = join(await mkdtemp(join(tmpdir(), "eecot-judge-file-")), "eval.json");
    const sample = (i: number) => ({
      id: `q${i}`, task: "gsm8k", prompt: `What is ${i} + 1?`, reference: String(i + 1), completion: `${i} + 1 = ${i + 1}. The answer is ${i + 1}.`,
      correct: true, formatOk: true, reward: 1, pieces: [], exitLayers: [], headProbabilities: [],
    });
    const document: SavedEvaluation = {
      model: "m", adapter: null, data: "gsm-synthetic:10", settings: {},
      results: [{ label: "base", metrics: { prompts: count, accuracy: 1, judge: null } as unknown as EvaluationMetrics }],
      samples: { base: Array.from({ length: count }, (_, i) => sample(i)) },
      judge: { status: "pending", model: "judge-model" },
    };
    await saveEvaluation(path, document);
    return path;
  }
  const config = (maxRetries = 0) => resolveJudgeConfig({ baseUrl, model: "judge-model", maxRetries, timeoutMs: 5_000, initialBackoffMs: 1 });

  test("HTTP 500 after the first batch: the first batch's scores are kept and a rerun judges only the rest", async () => {
    const path = await savedFile(10);
    queue.push(...Array.from({ length: 8 }, () => chat(scores(5))), status(500), status(500));
    await expect(judgeSavedEvaluation(path, config(), { quiet: true })).rejects.toThrow(
      new RegExp(`answered HTTP 500: internal error\\nthe generations and metrics are saved in ${path} \\(8 of 10 responses judged\\); judge the rest with: eecot judge ${path}$`),
    );
    expect((await readEvaluation(path)).samples.base!.filter((s) => s.judge !== undefined)).toHaveLength(8);
    received = 0;
    queue.push(chat(scores(10)), chat(scores(10)));
    const done = await judgeSavedEvaluation(path, config(), { quiet: true });
    expect(received).toBe(2);
    expect(done.results[0]!.metrics.judge).toMatchObject({ count: 10, coherence: (8 * 5 + 2 * 10) / 10 });
    // --again scores all ten again.
    received = 0;
    queue.push(...Array.from({ length: 10 }, () => chat(scores(1))));
    expect((await judgeSavedEvaluation(path, config(), { again: true, quiet: true })).results[0]!.metrics.judge).toMatchObject({ count: 10, coherence: 1 });
    expect(received).toBe(10);
  });

  test("a body that is not JSON, and scores off the 0–10 scale (42, −5, 1e9, \"11/10\"), fail with the reason; nothing is clamped into the summary", async () => {
    const path = await savedFile(1);
    queue.push(status(200, "{not json"));
    await expect(judgeSavedEvaluation(path, config(), { quiet: true })).rejects.toThrow(/is not JSON: "\{not json"\nthe generations and metrics are saved in/);
    for (const [value, shown] of [["42", "42"], ["-5", "-5"], ["1e9", "1000000000"], ['"11/10"', "11"]] as const) {
      queue.push(chat(scores(value)));
      await expect(judgeSavedEvaluation(path, config(), { quiet: true })).rejects.toThrow(`judge reply gives coherence = ${shown}, outside the 0–10 scale`);
    }
    const saved = await readEvaluation(path);
    expect(saved.results[0]!.metrics.judge).toBeNull();
    expect(saved.samples.base![0]!.judge).toBeUndefined();
  });

  test("a file that is not an evaluation is named", async () => {
    const path = join(await mkdtemp(join(tmpdir(), "eecot-judge-bad-")), "x.json");
    await writeFile(path, '{"rows": []}');
    await expect(judgeSavedEvaluation(path, config(), { quiet: true })).rejects.toThrow(`${path} has no "results" and "samples": it was not written by eecot eval --out`);
    await expect(readFile(path, "utf8")).resolves.toBe('{"rows": []}');
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { judgeConfigFromEnv, judgeResponse, judgeResponses, resolveJudgeConfig, summarizeJudgeScores, type JudgeConfig } from "./judge.js";

// A local OpenAI-compatible stand-in: each request takes the next behaviour from the queue.
type Behaviour = (request: IncomingMessage, response: ServerResponse) => void;
const queue: Behaviour[] = [];
const received: { url: string; authorization?: string; body: { model: string; messages: { role: string; content: string }[] } }[] = [];
let server: Server;
let baseUrl = "";

const chat = (content: string): Behaviour => (_, response) => {
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content } }] }));
};
const status = (code: number, body = "oops"): Behaviour => (_, response) => {
  response.writeHead(code);
  response.end(body);
};
const hang: Behaviour = () => {}; // never answers
const GOOD = '{"coherence": 8, "completeness": 7, "clarity": 6, "repetition_avoidance": 9, "justification": "fine"}';

beforeAll(async () => {
  server = createServer((request, response) => {
    let data = "";
    request.on("data", (chunk) => (data += chunk));
    request.on("end", () => {
      received.push({ url: request.url ?? "", authorization: request.headers.authorization, body: JSON.parse(data) });
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
  received.length = 0;
});

const config = (overrides: Partial<JudgeConfig> = {}): JudgeConfig =>
  resolveJudgeConfig({ baseUrl, model: "judge-model", apiKey: "sk-test", initialBackoffMs: 1, timeoutMs: 10_000, ...overrides });
const request = { question: "What is 2 + 2?", response: "2 + 2 = 4. The answer is 4." };

describe("judgeResponse against a local server", () => {
  it("scores a good reply and sends a proper request", async () => {
    queue.push(chat(GOOD));
    const result = await judgeResponse(config(), request);
    expect(result).toMatchObject({ coherence: 8, completeness: 7, clarity: 6, repetitionAvoidance: 9, overall: 7.5, attempts: 1 });
    expect(received).toHaveLength(1);
    expect(received[0]!.url).toBe("/v1/chat/completions");
    expect(received[0]!.authorization).toBe("Bearer sk-test");
    expect(received[0]!.body.model).toBe("judge-model");
    expect(received[0]!.body.messages.at(-1)!.content).toContain("The answer is 4.");
  });

  it("parses fenced JSON", async () => {
    queue.push(chat("Sure.\n```json\n" + GOOD + "\n```\nDone."));
    expect((await judgeResponse(config(), request)).clarity).toBe(6);
  });

  it("retries after HTTP 500 and succeeds", async () => {
    queue.push(status(500), chat(GOOD));
    const retries: string[] = [];
    const result = await judgeResponse(config(), request, { onRetry: (error) => retries.push(error.message) });
    expect(result.attempts).toBe(2);
    expect(retries[0]).toMatch(/HTTP 500/);
  });

  it("times out each attempt and gives up with a clear error", async () => {
    queue.push(hang, hang);
    await expect(judgeResponse(config({ timeoutMs: 100, maxRetries: 1 }), request)).rejects.toThrow(
      /giving up after 2 attempt\(s\): judge: request to .* timed out after 100 ms/,
    );
    expect(received).toHaveLength(2);
  });

  it("retries a garbage reply, then fails naming the problem", async () => {
    queue.push(chat("I like turtles."), chat("Still turtles."));
    await expect(judgeResponse(config({ maxRetries: 1 }), request)).rejects.toThrow(
      /giving up after 2 attempt\(s\): judge reply has no score for coherence, completeness, clarity, repetitionAvoidance; reply began: "Still turtles."/,
    );
  });

  it("retries a reply with a score outside 0..10, then fails naming the field and value", async () => {
    queue.push(chat('{"coherence": 42, "completeness": 7, "clarity": 6, "repetition_avoidance": 9}'), chat(GOOD));
    expect((await judgeResponse(config({ maxRetries: 1 }), request)).attempts).toBe(2);
    queue.push(chat('{"coherence": 8, "completeness": -5, "clarity": 6, "repetition_avoidance": 9}'));
    await expect(judgeResponse(config({ maxRetries: 0 }), request)).rejects.toThrow(/giving up after 1 attempt\(s\): judge reply gives completeness = -5, outside the 0–10 scale/);
  });

  it("does not retry client errors, and rejects non-JSON bodies", async () => {
    queue.push(status(401, "bad key"));
    await expect(judgeResponse(config(), request)).rejects.toThrow(/HTTP 401: bad key/);
    expect(received).toHaveLength(1);
    queue.push(status(200, "<html>"));
    await expect(judgeResponse(config({ maxRetries: 0 }), request)).rejects.toThrow(/is not JSON/);
  });

  it("scores many responses in order and averages them", async () => {
    queue.push(chat(GOOD), chat('{"coherence": 2, "completeness": 3, "clarity": 4, "repetition_avoidance": 5}'));
    const results = await judgeResponses(config(), [request, request], { concurrency: 1 });
    expect(results.map((r) => r.coherence)).toEqual([8, 2]);
    expect(summarizeJudgeScores(results)).toEqual({ count: 2, coherence: 5, completeness: 5, clarity: 5, repetitionAvoidance: 7, overall: 5.5 });
  });
});

describe("judge config", () => {
  it("is null when not configured, and read from env otherwise", () => {
    expect(judgeConfigFromEnv({})).toBeNull();
    const c = judgeConfigFromEnv({ EECOT_JUDGE_URL: "http://127.0.0.1:1/v1", EECOT_JUDGE_MODEL: "m", EECOT_JUDGE_API_KEY: "k" });
    expect(c).toMatchObject({ baseUrl: "http://127.0.0.1:1/v1", model: "m", apiKey: "k", maxRetries: 3 });
    expect(judgeConfigFromEnv({ EECOT_JUDGE_URL: "http://x/v1", EECOT_JUDGE_MODEL: "m" })?.apiKey).toBeUndefined();
  });

  it("rejects half-set env and bad values", () => {
    expect(() => judgeConfigFromEnv({ EECOT_JUDGE_URL: "http://x/v1" })).toThrow(/EECOT_JUDGE_MODEL is not/);
    expect(() => judgeConfigFromEnv({ EECOT_JUDGE_MODEL: "m" })).toThrow(/EECOT_JUDGE_URL is not/);
    expect(() => resolveJudgeConfig({ baseUrl: "ftp://x", model: "m" })).toThrow(/not an http\(s\) URL/);
    expect(() => resolveJudgeConfig({ baseUrl: "http://x", model: "m", maxRetries: -1 })).toThrow(/maxRetries/);
  });

  it("reads the timeout and retries from env; flags (overrides) win; bad values name the variable", () => {
    const env = { EECOT_JUDGE_URL: "http://x/v1", EECOT_JUDGE_MODEL: "m", EECOT_JUDGE_TIMEOUT_MS: "2500", EECOT_JUDGE_RETRIES: "0" };
    expect(judgeConfigFromEnv(env)).toMatchObject({ timeoutMs: 2500, maxRetries: 0 });
    expect(judgeConfigFromEnv(env, { timeoutMs: 100, maxRetries: 5 })).toMatchObject({ timeoutMs: 100, maxRetries: 5 });
    expect(judgeConfigFromEnv({ EECOT_JUDGE_URL: "http://x/v1", EECOT_JUDGE_MODEL: "m" })).toMatchObject({ timeoutMs: 60_000, maxRetries: 3 });
    expect(() => judgeConfigFromEnv({ ...env, EECOT_JUDGE_TIMEOUT_MS: "soon" })).toThrow('judge config: EECOT_JUDGE_TIMEOUT_MS must be a number > 0, got "soon"');
    expect(() => judgeConfigFromEnv({ ...env, EECOT_JUDGE_TIMEOUT_MS: "0" })).toThrow('judge config: EECOT_JUDGE_TIMEOUT_MS must be a number > 0, got "0"');
    expect(() => judgeConfigFromEnv({ ...env, EECOT_JUDGE_RETRIES: "1.5" })).toThrow('judge config: EECOT_JUDGE_RETRIES must be an integer ≥ 0, got "1.5"');
  });
});

// LLM-judge coherence scores (METHOD.md §4) from any OpenAI-compatible chat-completions API.
//
// POST {baseUrl}/chat/completions with our scorer prompt; the reply is parsed by
// parseJudgeReply. Network errors, timeouts, HTTP 408/429/5xx and unparseable replies are
// retried with exponential backoff (initialBackoffMs · 2^attempt, capped); other HTTP errors
// fail at once. Configure from options or env: EECOT_JUDGE_URL, EECOT_JUDGE_MODEL,
// EECOT_JUDGE_API_KEY, EECOT_JUDGE_TIMEOUT_MS, EECOT_JUDGE_RETRIES.

import { JudgeParseError, parseJudgeReply, type JudgeScores } from "./judge-parse.js";

/** Judge client configuration. */
export interface JudgeConfig {
  /** API base URL, without /chat/completions. Example: "https://api.openai.com/v1". */
  readonly baseUrl: string;
  /** Model name sent in the request. Example: "gpt-5". */
  readonly model: string;
  /** Bearer token; omitted from the request when undefined (local servers). */
  readonly apiKey?: string;
  /** Retries after the first attempt. Default 3. */
  readonly maxRetries: number;
  /** Per-request timeout (connect to end of body), ms. Default 60_000. */
  readonly timeoutMs: number;
  /** Backoff before the first retry, ms; doubles each retry. Default 1_000. */
  readonly initialBackoffMs: number;
  /** Backoff cap, ms. Default 30_000. */
  readonly maxBackoffMs: number;
  /** Sampling temperature; omitted when undefined (some models accept only their default). */
  readonly temperature?: number;
  /** max_tokens for the reply; omitted when undefined. Example: 400. */
  readonly maxTokens?: number;
}

/** Defaults for the optional fields of {@link JudgeConfig}. */
export const DEFAULT_JUDGE_CONFIG = {
  maxRetries: 3,
  timeoutMs: 60_000,
  initialBackoffMs: 1_000,
  maxBackoffMs: 30_000,
} as const;

/** Merge overrides into the defaults and validate. */
export function resolveJudgeConfig(options: Partial<JudgeConfig> & Pick<JudgeConfig, "baseUrl" | "model">): JudgeConfig {
  const config: JudgeConfig = { ...DEFAULT_JUDGE_CONFIG, ...options };
  try {
    const url = new URL(config.baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    throw new Error(`judge config: baseUrl ${JSON.stringify(config.baseUrl)} is not an http(s) URL`);
  }
  if (config.model.trim() === "") throw new Error("judge config: model is empty");
  if (!Number.isInteger(config.maxRetries) || config.maxRetries < 0) throw new Error(`judge config: maxRetries must be an integer ≥ 0, got ${config.maxRetries}`);
  for (const key of ["timeoutMs", "initialBackoffMs", "maxBackoffMs"] as const) {
    if (!Number.isFinite(config[key]) || config[key] < 0) throw new Error(`judge config: ${key} must be ≥ 0, got ${config[key]}`);
  }
  if (config.timeoutMs === 0) throw new Error("judge config: timeoutMs must be > 0");
  if (config.maxTokens !== undefined && (!Number.isInteger(config.maxTokens) || config.maxTokens < 1)) {
    throw new Error(`judge config: maxTokens must be a positive integer, got ${config.maxTokens}`);
  }
  return config;
}

/** A millisecond count (> 0) or retry count (integer ≥ 0) from an environment variable; undefined when unset or empty. */
function envNumber(env: Readonly<Record<string, string | undefined>>, name: string, kind: "positive" | "count"): number | undefined {
  const text = env[name]?.trim();
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  const valid = kind === "positive" ? Number.isFinite(value) && value > 0 : Number.isSafeInteger(value) && value >= 0;
  if (!valid) throw new Error(`judge config: ${name} must be ${kind === "positive" ? "a number > 0" : "an integer ≥ 0"}, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Judge config from EECOT_JUDGE_URL, EECOT_JUDGE_MODEL and the optional EECOT_JUDGE_API_KEY,
 * EECOT_JUDGE_TIMEOUT_MS (per attempt, default 60 000) and EECOT_JUDGE_RETRIES (default 3);
 * `overrides` (command-line flags) win over the environment. Null when neither URL nor model
 * is set (judge off). Setting only one of them is an error.
 */
export function judgeConfigFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<JudgeConfig> = {},
): JudgeConfig | null {
  const baseUrl = env.EECOT_JUDGE_URL?.trim() || undefined;
  const model = env.EECOT_JUDGE_MODEL?.trim() || undefined;
  if (baseUrl === undefined && model === undefined) return null;
  if (baseUrl === undefined) throw new Error("judge config: EECOT_JUDGE_MODEL is set but EECOT_JUDGE_URL is not");
  if (model === undefined) throw new Error("judge config: EECOT_JUDGE_URL is set but EECOT_JUDGE_MODEL is not");
  const apiKey = env.EECOT_JUDGE_API_KEY?.trim() || undefined;
  const timeoutMs = envNumber(env, "EECOT_JUDGE_TIMEOUT_MS", "positive");
  const maxRetries = envNumber(env, "EECOT_JUDGE_RETRIES", "count");
  return resolveJudgeConfig({
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(maxRetries !== undefined ? { maxRetries } : {}),
    ...overrides,
    baseUrl,
    model,
    ...(apiKey ? { apiKey } : {}),
  });
}

/** A chat message. */
export interface ChatMessage {
  readonly role: "system" | "user" | "assistant";
  readonly content: string;
}

/** Our scorer prompt: four 0–10 scores as one JSON object. */
export function buildJudgeMessages(question: string, response: string): ChatMessage[] {
  const system =
    "You are a careful, strict evaluator of text written by language models. " +
    "You grade the writing of a response to a question; you do not grade whether its final answer is correct.";
  const user = [
    "Rate the RESPONSE to the QUESTION on four dimensions, each an integer from 0 (worst) to 10 (best):",
    "- coherence: fluent, grammatical, logically connected text; no garbled words, broken sentences or non sequiturs.",
    "- completeness: the reasoning is carried through to a final answer, without stopping midway or skipping essential steps.",
    "- clarity: each step is easy to follow; wording and notation are clear and unambiguous.",
    "- repetition_avoidance: no loops, restated sentences or padding with repeated content (10 = no needless repetition).",
    "",
    "Reply with only this JSON object and nothing else:",
    '{"coherence": <0-10>, "completeness": <0-10>, "clarity": <0-10>, "repetition_avoidance": <0-10>, "justification": "<one sentence>"}',
    "",
    "QUESTION:",
    "<<<",
    question,
    ">>>",
    "",
    "RESPONSE:",
    "<<<",
    response,
    ">>>",
  ].join("\n");
  return [
    { role: "system", content: system },
    { role: "user", content: user },
  ];
}

/** Why a judge call failed. */
export type JudgeErrorKind = "http" | "timeout" | "network" | "parse";

/** A failed judge call; `retryable` says whether another attempt may help. */
export class JudgeError extends Error {
  override name = "JudgeError";
  constructor(
    message: string,
    readonly kind: JudgeErrorKind,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

/** One response to score. */
export interface JudgeRequest {
  /** The question/prompt the model answered. */
  readonly question: string;
  /** The model's response (chain of thought and answer). */
  readonly response: string;
}

/** Scores of one response, with how they were obtained. */
export interface JudgeResult extends JudgeScores {
  /** Attempts used (1 = first try succeeded). */
  readonly attempts: number;
  /** The judge's raw reply text. */
  readonly reply: string;
}

/** Hooks for tests and callers. */
export interface JudgeCallOptions {
  /** fetch implementation. Default: global fetch. */
  readonly fetch?: typeof fetch;
  /** Backoff sleep. Default: setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called before each retry with the error that caused it. */
  readonly onRetry?: (error: JudgeError, attempt: number) => void;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Text of the first choice of a chat-completions response body. */
function replyText(body: unknown, endpoint: string): string {
  const content = (body as { choices?: { message?: { content?: unknown } }[] } | null)?.choices?.[0]?.message?.content;
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "string" ? part : typeof part?.text === "string" ? part.text : "")).join("");
  }
  throw new JudgeError(`judge: response from ${endpoint} has no choices[0].message.content`, "parse", true);
}

/** One HTTP attempt: request, read, parse. Throws JudgeError. */
async function attemptOnce(config: JudgeConfig, messages: ChatMessage[], fetchImpl: typeof fetch): Promise<{ scores: JudgeScores; reply: string }> {
  const endpoint = `${config.baseUrl.replace(/\/+$/, "")}/chat/completions`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.timeoutMs);
  let status = 0;
  let text = "";
  try {
    const response = await fetchImpl(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
      },
      body: JSON.stringify({
        model: config.model,
        messages,
        ...(config.temperature !== undefined ? { temperature: config.temperature } : {}),
        ...(config.maxTokens !== undefined ? { max_tokens: config.maxTokens } : {}),
      }),
      signal: controller.signal,
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (controller.signal.aborted) throw new JudgeError(`judge: request to ${endpoint} timed out after ${config.timeoutMs} ms`, "timeout", true);
    throw new JudgeError(`judge: request to ${endpoint} failed: ${(error as Error).message}`, "network", true);
  } finally {
    clearTimeout(timer);
  }
  if (status < 200 || status >= 300) {
    const retryable = status === 408 || status === 429 || status >= 500;
    throw new JudgeError(`judge: ${endpoint} answered HTTP ${status}: ${text.slice(0, 300)}`, "http", retryable);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new JudgeError(`judge: response from ${endpoint} is not JSON: ${JSON.stringify(text.slice(0, 120))}`, "parse", true);
  }
  const reply = replyText(body, endpoint);
  try {
    return { scores: parseJudgeReply(reply), reply };
  } catch (error) {
    if (error instanceof JudgeParseError) throw new JudgeError(error.message, "parse", true);
    throw error;
  }
}

/** Score one response, retrying transient failures; throws JudgeError after the last attempt. */
export async function judgeResponse(config: JudgeConfig, request: JudgeRequest, options: JudgeCallOptions = {}): Promise<JudgeResult> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const sleep = options.sleep ?? defaultSleep;
  const messages = buildJudgeMessages(request.question, request.response);
  for (let attempt = 0; ; attempt++) {
    try {
      const { scores, reply } = await attemptOnce(config, messages, fetchImpl);
      return { ...scores, attempts: attempt + 1, reply };
    } catch (error) {
      const judgeError = error instanceof JudgeError ? error : new JudgeError(`judge: ${(error as Error).message}`, "network", true);
      if (!judgeError.retryable) throw judgeError;
      if (attempt >= config.maxRetries) {
        throw new JudgeError(`judge: giving up after ${attempt + 1} attempt(s): ${judgeError.message}`, judgeError.kind, false);
      }
      options.onRetry?.(judgeError, attempt + 1);
      await sleep(Math.min(config.maxBackoffMs, config.initialBackoffMs * 2 ** attempt));
    }
  }
}

/** Score many responses with bounded concurrency; results keep the input order. */
export async function judgeResponses(
  config: JudgeConfig,
  requests: readonly JudgeRequest[],
  options: JudgeCallOptions & { concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<JudgeResult[]> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`judgeResponses: concurrency must be a positive integer, got ${concurrency}`);
  const results = new Array<JudgeResult>(requests.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const index = next++;
      results[index] = await judgeResponse(config, requests[index]!, options);
      options.onProgress?.(++done, requests.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  return results;
}

/** Mean judge scores over responses. */
export interface JudgeScoreSummary extends JudgeScores {
  /** Number of responses scored. */
  readonly count: number;
}

/** Average each dimension (and overall) over scored responses. */
export function summarizeJudgeScores(scores: readonly JudgeScores[]): JudgeScoreSummary {
  if (scores.length === 0) throw new Error("summarizeJudgeScores: no scores given");
  const mean = (key: keyof JudgeScores): number => scores.reduce((sum, s) => sum + s[key], 0) / scores.length;
  return {
    count: scores.length,
    coherence: mean("coherence"),
    completeness: mean("completeness"),
    clarity: mean("clarity"),
    repetitionAvoidance: mean("repetitionAvoidance"),
    overall: mean("overall"),
  };
}

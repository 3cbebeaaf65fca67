// Paper appendix A.1 table: for each KL factor f (and the base model), generate with exits drawn
// from the target itself (target-generation.ts) and measure early-exit rate, ALS (eval's
// summarizeExits), judge-free coherence proxies (repeated n-grams, distinct-n, eval's
// computeCoherenceProxies), perplexity of the text under the base model, and LLM-judge scores
// when a judge is configured. Rows have the shape of eval's ReportData.klSweep.rows.
import type { QwenModel } from "@eecot/transformer";
import {
  computeCoherenceProxies,
  judgeResponses,
  summarizeExits,
  summarizeJudgeScores,
  type ExitSummary,
  type JudgeConfig,
  type JudgeScoreSummary,
  type KlSweepRow,
} from "@eecot/eval";
import { perplexityUnderBase, type PerplexityResult } from "./perplexity.js";
import { generateWithTargetExits, type TargetExitSequence } from "./target-generation.js";

/** The paper's factors. */
export const DEFAULT_KL_FACTORS: readonly number[] = [0.25, 0.5, 1, 2, 4];

/** One prompt of the sweep. */
export interface KlSweepPrompt {
  /** Prompt token ids (chat-formatted). */
  readonly promptTokens: readonly number[];
  /** The question as text, for the judge; default decode(promptTokens). */
  readonly question?: string;
}

export interface KlSweepOptions {
  /** KL factors, default [0.25, 0.5, 1, 2, 4]. */
  readonly factors?: readonly number[];
  /** Add the base model's row (every token at L), default true. */
  readonly includeBase?: boolean;
  /** New tokens at most per prompt, e.g. 64. */
  readonly maxNewTokens: number;
  /** Tokens that end a row, e.g. tokenizer.eosTokenIds. */
  readonly stopTokenIds?: readonly number[];
  /** Id for left padding, default 0. */
  readonly padTokenId?: number;
  /** Prompts per generation batch, default 16. */
  readonly batchSize?: number;
  /** Seed of the exit draws (the same for every f), default 0. */
  readonly seed?: number;
  /** Token temperature, default 0 (greedy). */
  readonly temperature?: number;
  /** Text of generated ids; needed for the word proxies and the judge. */
  readonly decode?: (ids: readonly number[]) => string;
  /** Judge endpoint (e.g. judgeConfigFromEnv()); null/absent = no judge. */
  readonly judge?: JudgeConfig | null;
  /** Concurrent judge requests, default 4. */
  readonly judgeConcurrency?: number;
  /** Progress: (row label, prompts done, prompts total). */
  readonly onProgress?: (label: string, done: number, total: number) => void;
}

/** Everything measured for one row. */
export interface KlSweepDetail {
  readonly klFactor: number | "base";
  readonly exits: ExitSummary;
  readonly perplexity: PerplexityResult;
  readonly judge?: JudgeScoreSummary;
  /** Generated rows, in prompt order. */
  readonly sequences: readonly TargetExitSequence[];
  /** Decoded text per row ("" without decode). */
  readonly texts: readonly string[];
}

export interface KlSweepResult {
  /** Rows for eval's ReportData.klSweep.rows, factors in the given order, then "base". */
  readonly rows: KlSweepRow[];
  readonly details: KlSweepDetail[];
  readonly promptCount: number;
  readonly numLayers: number;
  readonly exitLayers: readonly number[];
}

/** Run the A.1 sweep over KL factors on `prompts`. */
export async function sweepKlFactors(base: QwenModel, exitLayers: readonly number[], prompts: readonly KlSweepPrompt[], options: KlSweepOptions): Promise<KlSweepResult> {
  const factors = options.factors ?? DEFAULT_KL_FACTORS;
  const batchSize = options.batchSize ?? 16;
  const L = base.config.numLayers;
  if (prompts.length === 0) throw new Error("sweepKlFactors: no prompts");
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`sweepKlFactors: batchSize must be a positive integer, got ${batchSize}`);
  if (options.judge && !options.decode) throw new Error("sweepKlFactors: the judge needs `decode` to read the responses");
  const settings: (number | "base")[] = [...factors, ...(options.includeBase === false ? [] : (["base"] as const))];

  const rows: KlSweepRow[] = [];
  const details: KlSweepDetail[] = [];
  for (const setting of settings) {
    const label = setting === "base" ? "base" : `f=${setting}`;
    const sequences: TargetExitSequence[] = [];
    for (let start = 0; start < prompts.length; start += batchSize) {
      const batch = prompts.slice(start, start + batchSize);
      sequences.push(
        ...(await generateWithTargetExits(
          base,
          exitLayers,
          batch.map((p) => p.promptTokens),
          {
            klFactor: setting === "base" ? null : setting,
            maxNewTokens: options.maxNewTokens,
            stopTokenIds: options.stopTokenIds,
            padTokenId: options.padTokenId,
            seed: (options.seed ?? 0) + start,
            temperature: options.temperature,
          },
        )),
      );
      options.onProgress?.(label, Math.min(prompts.length, start + batchSize), prompts.length);
    }
    const texts = sequences.map((s) => (options.decode ? options.decode(s.tokens) : ""));
    const exits = summarizeExits(
      sequences.map((s) => s.exitLayers),
      { numLayers: L, exitableLayers: exitLayers },
    );
    const perplexity = await perplexityUnderBase(
      base,
      sequences.map((s, i) => ({ promptTokens: prompts[i]!.promptTokens, tokens: s.tokens })),
      { padTokenId: options.padTokenId },
    );
    const proxies = computeCoherenceProxies(sequences.map((s, i) => ({ text: texts[i]!, tokenIds: s.tokens })));
    let judge: JudgeScoreSummary | undefined;
    if (options.judge) {
      const results = await judgeResponses(
        options.judge,
        prompts.map((p, i) => ({ question: p.question ?? options.decode!(p.promptTokens), response: texts[i]! })),
        { concurrency: options.judgeConcurrency ?? 4 },
      );
      judge = summarizeJudgeScores(results);
    }
    rows.push({
      klFactor: setting,
      earlyExitRate: exits.earlyExitRate,
      averageLayerSavings: exits.averageLayerSavings,
      coherence: { ...(judge ? { judge } : {}), proxies: { ...proxies, ...(Number.isFinite(perplexity.perplexity) ? { perplexity: perplexity.perplexity } : {}) } },
    });
    details.push({ klFactor: setting, exits, perplexity, ...(judge ? { judge } : {}), sequences, texts });
  }
  return { rows, details, promptCount: prompts.length, numLayers: L, exitLayers: [...exitLayers] };
}

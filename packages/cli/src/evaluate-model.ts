// METHOD.md §4 evaluation of a model with or without early exits: task accuracy, format rate,
// early-exit rate, ALS, average and total compute, FLOPs and wall-clock actually saved,
// coherence proxies (repeated n-grams, perplexity under the base model) and, when configured,
// an LLM judge.
import { rewardFor, type TaskExample } from "@eecot/datasets";
import { accountCompute, EarlyExitModel, tracesOfGeneration } from "@eecot/early-exit";
import { computeCoherenceProxies, judgeConfigFromEnv, judgeResponses, summarizeExits, summarizeJudgeScores, type JudgeScoreSummary } from "@eecot/eval";
import { tf } from "@eecot/tensor-core";
import { qwenForward, type QwenModel, type Tokenizer } from "@eecot/transformer";
import { promptIds } from "./chat.js";
import { createProgress } from "./progress.js";

export interface EvaluationOptions {
  /** Token temperature (0 = greedy tokens; exits are still sampled from the heads). */
  readonly temperature?: number;
  readonly maxNewTokens?: number;
  readonly batchSize?: number;
  readonly seed?: number;
  /** Exit rule for early-exit models. */
  readonly exitMode?: "sample" | "threshold" | "none";
  readonly exitOffset?: number;
  readonly label?: string;
  readonly quiet?: boolean;
  /** Ask the judge configured by EECOT_JUDGE_* (default: when configured). */
  readonly judge?: boolean;
}

export interface EvaluationSample {
  readonly id: string;
  readonly task: string;
  readonly prompt: string;
  readonly reference: string;
  readonly completion: string;
  readonly correct: boolean;
  readonly formatOk: boolean;
  readonly reward: number;
  /** Per generated token: its text piece, exit layer and the head probabilities (NaN → null). */
  readonly pieces: string[];
  readonly exitLayers: number[];
  readonly headProbabilities: (number | null)[][];
}

export interface EvaluationMetrics {
  readonly prompts: number;
  readonly accuracy: number;
  readonly formatRate: number;
  readonly earlyExitRate: number;
  readonly averageLayerSavings: number;
  readonly averageCompute: number;
  readonly totalCompute: number;
  readonly meanLength: number;
  readonly flopsSavedFraction: number;
  readonly wallClockMsPerToken: number;
  readonly repeatedNgramRate: number;
  readonly distinctN: number;
  readonly perplexity: number;
  readonly judge: JudgeScoreSummary | null;
  /** Per task: accuracy and format rate. */
  readonly byTask: Record<string, { prompts: number; accuracy: number; formatRate: number }>;
}

export interface EvaluationResult {
  readonly metrics: EvaluationMetrics;
  readonly samples: EvaluationSample[];
}

/** Mean per-token perplexity of completions under the base model (LoRA off, no exits). */
export async function basePerplexity(base: QwenModel, rows: readonly { prompt: number[]; completion: number[] }[]): Promise<number> {
  let nll = 0;
  let count = 0;
  for (const row of rows) {
    if (row.completion.length === 0) continue;
    const ids = [...row.prompt, ...row.completion];
    const out = qwenForward(base.params, base.config, [ids]);
    const picked = tf.tidy(() => {
      const P = row.prompt.length;
      const T = row.completion.length;
      const logits = tf.reshape(tf.slice(out.logits!, [0, P - 1, 0], [1, T, base.config.vocabSize]), [T, base.config.vocabSize]);
      const logProbs = tf.logSoftmax(logits);
      return tf.sum(tf.mul(logProbs, tf.oneHot(tf.tensor1d(row.completion, "int32"), base.config.vocabSize)));
    });
    out.logits!.dispose();
    const value = (await picked.data())[0]!;
    picked.dispose();
    nll -= value;
    count += row.completion.length;
  }
  return Math.exp(nll / Math.max(1, count));
}

/**
 * Generate for every example (batched) with the early-exit model (or the plain base model when
 * `model` is null, i.e. exits off and no LoRA) and score it.
 */
export async function evaluateModel(
  base: QwenModel,
  model: EarlyExitModel | null,
  tokenizer: Tokenizer,
  examples: readonly TaskExample[],
  options: EvaluationOptions = {},
): Promise<EvaluationResult> {
  const config = base.config;
  const batchSize = options.batchSize ?? 16;
  const samples: EvaluationSample[] = [];
  const perplexityRows: { prompt: number[]; completion: number[] }[] = [];
  let generatedTokens = 0;
  let generationMs = 0;
  let flopsSpent = 0;
  let flopsFull = 0;
  const progress = createProgress(options.label ?? "evaluate", examples.length, { unit: "prompts", quiet: options.quiet });
  // The plain model is the early-exit wrapper with exits and LoRA off (bit-identical to the base
  // model), so one code path measures both.
  const plain = model ? null : EarlyExitModel.create(base);
  for (let start = 0; start < examples.length; start += batchSize) {
    const batch = examples.slice(start, start + batchSize);
    const prompts = batch.map((e) => promptIds(tokenizer, e));
    const t0 = performance.now();
    const result = await (model ?? plain!).generate(prompts, {
      maxNewTokens: options.maxNewTokens ?? 96,
      temperature: options.temperature ?? 0,
      stopTokenIds: tokenizer.eosTokenIds,
      padTokenId: tokenizer.padTokenId ?? 0,
      seed: (options.seed ?? 0) + start,
      mode: model ? (options.exitMode ?? "sample") : "none",
      loraEnabled: model !== null,
      ...(options.exitOffset !== undefined ? { exitOffset: options.exitOffset } : {}),
    });
    generationMs += performance.now() - t0;
    const account = accountCompute(config, tracesOfGeneration(result));
    flopsSpent += account.flopsSpent;
    flopsFull += account.flopsFullDepth;
    batch.forEach((example, i) => {
      const sequence = result.sequences[i]!;
      generatedTokens += sequence.tokens.length;
      const completion = tokenizer.decode(sequence.tokens, { skipSpecialTokens: true });
      const scored = rewardFor(example.task)(completion, example.reference);
      perplexityRows.push({ prompt: prompts[i]!, completion: sequence.tokens });
      samples.push({
        id: example.id,
        task: example.task,
        prompt: example.prompt,
        reference: example.reference,
        completion,
        correct: scored.parts.correct,
        formatOk: scored.parts.formatOk,
        reward: scored.reward,
        pieces: tokenizer.decodeTokens(sequence.tokens),
        exitLayers: sequence.exitLayers,
        headProbabilities: sequence.headProbabilities.map((row) => row.map((p) => (Number.isNaN(p) ? null : p))),
      });
    });
    progress.update(Math.min(examples.length, start + batchSize), { acc: samples.filter((s) => s.correct).length / samples.length });
  }
  progress.stop();
  plain?.dispose();

  const exits = summarizeExits(
    samples.map((s) => (s.exitLayers.length > 0 ? s.exitLayers : [config.numLayers])),
    { numLayers: config.numLayers, exitableLayers: model ? [...model.exitLayers] : [] },
  );
  const proxies = computeCoherenceProxies(samples.map((s) => ({ text: s.completion })));
  let judge: JudgeScoreSummary | null = null;
  const judgeConfig = options.judge === false ? null : judgeConfigFromEnv();
  if (judgeConfig) {
    const scores = await judgeResponses(judgeConfig, samples.map((s) => ({ question: s.prompt, response: s.completion })));
    judge = summarizeJudgeScores(scores);
  }
  const byTask: EvaluationMetrics["byTask"] = {};
  for (const task of new Set(samples.map((s) => s.task))) {
    const of = samples.filter((s) => s.task === task);
    byTask[task] = { prompts: of.length, accuracy: of.filter((s) => s.correct).length / of.length, formatRate: of.filter((s) => s.formatOk).length / of.length };
  }
  const n = Math.max(1, samples.length);
  return {
    metrics: {
      prompts: samples.length,
      accuracy: samples.filter((s) => s.correct).length / n,
      formatRate: samples.filter((s) => s.formatOk).length / n,
      earlyExitRate: exits.earlyExitRate,
      averageLayerSavings: exits.averageLayerSavings,
      averageCompute: exits.averageCompute,
      totalCompute: exits.totalCompute,
      meanLength: exits.meanGeneratedLength,
      flopsSavedFraction: flopsFull > 0 ? 1 - flopsSpent / flopsFull : 0,
      wallClockMsPerToken: generationMs / Math.max(1, generatedTokens),
      repeatedNgramRate: proxies.words.repeatedNgramRate,
      distinctN: proxies.words.distinctN,
      perplexity: await basePerplexity(base, perplexityRows),
      judge,
      byTask,
    },
    samples,
  };
}

/** A metrics table for the terminal. */
export function formatMetrics(rows: readonly { label: string; metrics: EvaluationMetrics }[]): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const fields: [string, (m: EvaluationMetrics) => string][] = [
    ["accuracy", (m) => pct(m.accuracy)],
    ["format rate", (m) => pct(m.formatRate)],
    ["early-exit rate", (m) => pct(m.earlyExitRate)],
    ["ALS (layer savings)", (m) => pct(m.averageLayerSavings)],
    ["average compute", (m) => pct(m.averageCompute)],
    ["total compute (tokens)", (m) => m.totalCompute.toFixed(1)],
    ["mean length (tokens)", (m) => m.meanLength.toFixed(1)],
    ["FLOPs saved", (m) => pct(m.flopsSavedFraction)],
    ["wall-clock ms/token", (m) => m.wallClockMsPerToken.toFixed(2)],
    ["repeated 3-gram rate", (m) => pct(m.repeatedNgramRate)],
    ["perplexity (base model)", (m) => m.perplexity.toFixed(2)],
    ["judge coherence", (m) => (m.judge ? m.judge.coherence.toFixed(2) : "judge off")],
  ];
  const widths = [Math.max(...fields.map(([f]) => f.length)), ...rows.map((r) => Math.max(r.label.length, 10))];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  const out = [line(["metric", ...rows.map((r) => r.label)]), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const [name, get] of fields) out.push(line([name, ...rows.map((r) => get(r.metrics))]));
  return out.join("\n");
}

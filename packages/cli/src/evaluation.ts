// Greedy task evaluation of a plain decoder: accuracy and format rate per task.
import { rewardFor, type TaskExample } from "@eecot/datasets";
import { generateTokens, type QwenModel, type Tokenizer } from "@eecot/transformer";
import { promptIds } from "./chat.js";
import { createProgress } from "./progress.js";

export interface EvaluatedSample {
  readonly id: string;
  readonly task: string;
  readonly prompt: string;
  readonly reference: string;
  readonly completion: string;
  readonly reward: number;
  readonly correct: boolean;
  readonly formatOk: boolean;
  readonly tokens: number;
}

export interface TaskScores {
  readonly count: number;
  readonly accuracy: number;
  readonly formatRate: number;
  readonly meanReward: number;
  readonly meanLength: number;
}

export function summarise(samples: readonly EvaluatedSample[]): TaskScores {
  const n = Math.max(1, samples.length);
  return {
    count: samples.length,
    accuracy: samples.filter((s) => s.correct).length / n,
    formatRate: samples.filter((s) => s.formatOk).length / n,
    meanReward: samples.reduce((a, s) => a + s.reward, 0) / n,
    meanLength: samples.reduce((a, s) => a + s.tokens, 0) / n,
  };
}

/** Greedy generation for every example (batched, left-padded) and task rewards. */
export async function evaluateGreedy(
  model: QwenModel,
  tokenizer: Tokenizer,
  examples: readonly TaskExample[],
  options: { maxNewTokens?: number; batchSize?: number; label?: string; quiet?: boolean } = {},
): Promise<EvaluatedSample[]> {
  const batchSize = options.batchSize ?? 16;
  const samples: EvaluatedSample[] = [];
  const progress = createProgress(options.label ?? "evaluate", examples.length, { unit: "prompts", quiet: options.quiet });
  for (let start = 0; start < examples.length; start += batchSize) {
    const batch = examples.slice(start, start + batchSize);
    const result = await generateTokens(model.params, model.config, batch.map((e) => promptIds(tokenizer, e)), {
      maxNewTokens: options.maxNewTokens ?? 96,
      temperature: 0,
      stopTokenIds: tokenizer.eosTokenIds,
      padTokenId: tokenizer.padTokenId ?? 0,
    });
    batch.forEach((example, i) => {
      const completion = tokenizer.decode(result.tokens[i]!, { skipSpecialTokens: true });
      const scored = rewardFor(example.task)(completion, example.reference);
      samples.push({
        id: example.id,
        task: example.task,
        prompt: example.prompt,
        reference: example.reference,
        completion,
        reward: scored.reward,
        correct: scored.parts.correct,
        formatOk: scored.parts.formatOk,
        tokens: result.tokens[i]!.length,
      });
    });
    progress.update(Math.min(examples.length, start + batchSize), { acc: summarise(samples).accuracy });
  }
  progress.stop();
  return samples;
}
